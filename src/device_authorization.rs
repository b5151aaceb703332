//! The two requests of the OAuth 2.0 Device Authorization Grant (RFC 8628),
//! each one call on [`AuthenticationClient`]: the device authorization
//! request (§3.1) and one poll of the token endpoint (§3.4). The typed flow
//! that waits for the user with them is [`crate::flow::DeviceLogin`].

use serde::Deserialize;

use crate::client::{AuthenticationClient, Endpoint, token_set_of};
use crate::config::provider_url;
use crate::error::{Error, Result};
use crate::http::{Body, Form, Reply};
use crate::secret::{DeviceCode, ExposeSecret as _};
use crate::token_set::{TokenSet, lenient_u64};

/// The grant type of RFC 8628 §3.4.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The polling interval when the provider names none (RFC 8628 §3.2).
pub const DEFAULT_INTERVAL_SECS: u64 = 5;

/// The device authorization answer (RFC 8628 §3.2), checked: every required
/// member present, the URIs fit for a browser (https, or loopback), a
/// positive lifetime. `Debug` never shows the device code.
#[derive(Clone)]
#[non_exhaustive]
pub struct DeviceAuthorizationResponse {
    /// The code the device polls with (secret).
    pub device_code: DeviceCode,
    /// The code the user types at `verification_uri`.
    pub user_code: String,
    /// Where the user goes to enter the code.
    pub verification_uri: String,
    /// The same with the code filled in (for a QR code or a link), if sent.
    pub verification_uri_complete: Option<String>,
    /// Lifetime of both codes, in seconds.
    pub expires_in: u64,
    /// How long to wait between polls, in seconds ([`DEFAULT_INTERVAL_SECS`]
    /// when the provider sent none).
    pub interval: u64,
}

impl std::fmt::Debug for DeviceAuthorizationResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorizationResponse")
            .field("device_code", &self.device_code)
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("verification_uri_complete", &self.verification_uri_complete)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish()
    }
}

#[derive(Deserialize)]
struct Raw {
    device_code: Option<String>,
    user_code: Option<String>,
    verification_uri: Option<String>,
    verification_uri_complete: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    expires_in: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    interval: Option<u64>,
}

/// The checks of RFC 8628 §3.2 on a device authorization answer (the
/// request sent the client's credentials: an error never quotes them).
pub(crate) fn device_answer_from(reply: Reply, insecure_http: bool) -> Result<DeviceAuthorizationResponse> {
    let reply = reply.error_for_status(Body::Sensitive)?;
    let raw: Raw = reply.json(Body::Sensitive)?;
    let invalid = |reason: String| Error::InvalidResponse {
        endpoint: reply.endpoint.clone(),
        reason: reply.provider_text(&reason),
    };
    let required = |v: Option<String>, name: &str| {
        v.filter(|s| !s.is_empty())
            .ok_or_else(|| invalid(format!("the device authorization answer has no {name}")))
    };
    let device_code = DeviceCode::new(required(raw.device_code, "device_code")?);
    let user_code = required(raw.user_code, "user_code")?;
    let verification_uri = required(raw.verification_uri, "verification_uri")?;
    // The provider's URIs are its answer, not our configuration: a bad one is an invalid
    // answer, and its text goes through the scrubbing of what we sent (a provider could echo
    // the client secret into it).
    let browser_url = |what: &str, u: &str| {
        provider_url(what, u, insecure_http)
            .map(drop)
            .map_err(|e| invalid(e.to_string()))
    };
    browser_url("verification_uri", &verification_uri)?;
    if let Some(u) = &raw.verification_uri_complete {
        browser_url("verification_uri_complete", u)?;
    }
    let expires_in = raw
        .expires_in
        .filter(|e| *e > 0)
        .ok_or_else(|| invalid("the device authorization answer has no positive expires_in".to_owned()))?;
    Ok(DeviceAuthorizationResponse {
        device_code,
        user_code,
        verification_uri,
        verification_uri_complete: raw.verification_uri_complete,
        expires_in,
        interval: raw.interval.unwrap_or(DEFAULT_INTERVAL_SECS),
    })
}

impl AuthenticationClient {
    /// Asks for a device code and a user code (RFC 8628 §3.1): `POST
    /// device_authorization_endpoint` with `scope` and the token endpoint's
    /// client authentication. The endpoint comes from discovery; the Authing
    /// preset has none (a configuration error).
    pub async fn device_authorization(&self, scope: &str) -> Result<DeviceAuthorizationResponse> {
        let url = self.endpoint(Endpoint::DeviceAuthorization)?;
        let mut form = Form::new();
        if !scope.trim().is_empty() {
            form.push("scope", scope);
        }
        let authorization = self.authenticate(self.inner.token_auth, &mut form)?;
        let reply = self
            .http()
            .post_form("device_authorization", url, &form, authorization)
            .await?;
        device_answer_from(reply, self.inner.insecure_http)
    }

    /// One poll of the token endpoint with a device code (RFC 8628 §3.4).
    /// While the user has not answered this is an [`Error::Op`] whose
    /// [`oauth_error`](Error::oauth_error) is `authorization_pending` or
    /// `slow_down`; [`crate::flow::DeviceAuthorization::wait`] does the
    /// polling and interprets them. The id_token, if any, is not verified here.
    pub async fn poll_device_token(&self, device_code: &DeviceCode) -> Result<TokenSet> {
        let mut form = Form::new();
        form.push("grant_type", GRANT_TYPE)
            .push_secret("device_code", device_code.expose_secret());
        let reply = self
            .token_reply("poll_device_token", form, Some(self.inner.token_auth), None)
            .await?;
        token_set_of(&reply, false)
    }
}
