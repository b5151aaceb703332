//! The two requests of OpenID Connect Client-Initiated Backchannel
//! Authentication (CIBA Core 1.0, poll mode), each one call on
//! [`AuthenticationClient`]: the authentication request (§7.1) and one poll
//! of the token endpoint (§10.1). The typed flow that waits for the user
//! with them is [`crate::flow::BackchannelLogin`].

use serde::Deserialize;

use crate::client::{AuthenticationClient, Endpoint, token_set_of};
use crate::error::{Error, Result};
use crate::http::{Body, Form, Reply};
use crate::secret::{AuthReqId, ExposeSecret as _, IdToken};
use crate::token_set::{TokenSet, lenient_u64};

/// The grant type of CIBA Core §10.1.
pub const GRANT_TYPE: &str = "urn:openid:params:grant-type:ciba";

/// The polling interval when the provider names none (CIBA Core §7.3).
pub const DEFAULT_INTERVAL_SECS: u64 = 5;

/// Who is to authenticate (CIBA Core §7.1: exactly one hint).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum UserHint {
    /// `login_hint`: an e-mail address, a phone number, a user name…
    LoginHint(String),
    /// `id_token_hint`: an id_token the provider issued to this client before.
    IdTokenHint(IdToken),
}

/// A backchannel authentication request (CIBA Core §7.1). Values go on the
/// wire as given.
#[derive(Debug, Clone)]
#[must_use]
pub struct BackchannelAuthenticationRequest {
    pub(crate) hint: UserHint,
    pub(crate) scope: String,
    pub(crate) binding_message: Option<String>,
    pub(crate) acr_values: Option<String>,
    pub(crate) requested_expiry: Option<u64>,
}

impl BackchannelAuthenticationRequest {
    /// A request for the user `hint` names, with scope `openid` (always
    /// present: CIBA is an OpenID Connect flow).
    pub fn new(hint: UserHint) -> Self {
        BackchannelAuthenticationRequest {
            hint,
            scope: "openid".to_owned(),
            binding_message: None,
            acr_values: None,
            requested_expiry: None,
        }
    }

    /// The scope, sent byte for byte as given. CIBA Core §7.1 requires
    /// `openid` in it: a scope without is refused when the request is sent
    /// ([`Error::InvalidInput`], before any request), never rewritten.
    pub fn scope(mut self, scope: &str) -> Self {
        self.scope = scope.to_owned();
        self
    }

    /// `binding_message`: shown on both the consumption and the
    /// authentication device, so the user can tell the request is theirs.
    pub fn binding_message(mut self, message: impl Into<String>) -> Self {
        self.binding_message = Some(message.into());
        self
    }

    /// `acr_values`.
    pub fn acr_values(mut self, acr_values: impl Into<String>) -> Self {
        self.acr_values = Some(acr_values.into());
        self
    }

    /// `requested_expiry`, in seconds.
    pub fn requested_expiry(mut self, seconds: u64) -> Self {
        self.requested_expiry = Some(seconds);
        self
    }

    /// The scope as sent.
    pub fn scope_str(&self) -> &str {
        &self.scope
    }
}

/// The answer of a backchannel authentication request (CIBA Core §7.3).
/// `Debug` never shows the `auth_req_id`.
#[derive(Clone)]
#[non_exhaustive]
pub struct BackchannelAuthenticationResponse {
    /// What the client polls with (secret).
    pub auth_req_id: AuthReqId,
    /// Lifetime of the request, in seconds.
    pub expires_in: u64,
    /// How long to wait between polls, in seconds ([`DEFAULT_INTERVAL_SECS`]
    /// when the provider sent none).
    pub interval: u64,
}

impl std::fmt::Debug for BackchannelAuthenticationResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackchannelAuthenticationResponse")
            .field("auth_req_id", &self.auth_req_id)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish()
    }
}

#[derive(Deserialize)]
struct Raw {
    auth_req_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    expires_in: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    interval: Option<u64>,
}

/// The checks of CIBA Core §7.3 on an authentication request's answer (the
/// request sent the client's credentials and maybe an `id_token_hint`: an
/// error never quotes them).
pub(crate) fn ciba_answer_from(reply: Reply) -> Result<BackchannelAuthenticationResponse> {
    let reply = reply.error_for_status(Body::Sensitive)?;
    let raw: Raw = reply.json(Body::Sensitive)?;
    let invalid = |reason: &str| Error::InvalidResponse {
        endpoint: reply.endpoint.clone(),
        reason: reason.to_owned(),
    };
    let auth_req_id = raw
        .auth_req_id
        .filter(|s| !s.is_empty())
        .map(AuthReqId::new)
        .ok_or_else(|| invalid("the answer has no auth_req_id"))?;
    let expires_in = raw
        .expires_in
        .filter(|e| *e > 0)
        .ok_or_else(|| invalid("the answer has no positive expires_in"))?;
    Ok(BackchannelAuthenticationResponse {
        auth_req_id,
        expires_in,
        interval: raw.interval.unwrap_or(DEFAULT_INTERVAL_SECS),
    })
}

impl AuthenticationClient {
    /// Starts a backchannel authentication (CIBA Core §7.1): `POST
    /// backchannel_authentication_endpoint` with the scope, the hint, the
    /// optional binding message, and the token endpoint's client
    /// authentication. The endpoint comes from discovery.
    pub async fn backchannel_authentication(
        &self,
        request: &BackchannelAuthenticationRequest,
    ) -> Result<BackchannelAuthenticationResponse> {
        let url = self.endpoint(Endpoint::BackchannelAuthentication)?;
        crate::authorize::require_openid(&request.scope, "backchannel authentication")?;
        let mut form = Form::new();
        form.push("scope", request.scope.as_str());
        match &request.hint {
            UserHint::LoginHint(h) => {
                if h.is_empty() {
                    return Err(Error::input("login_hint is empty"));
                }
                form.push("login_hint", h.as_str());
            }
            UserHint::IdTokenHint(t) => {
                form.push_secret("id_token_hint", t.expose_secret());
            }
        }
        if let Some(m) = &request.binding_message {
            form.push("binding_message", m.as_str());
        }
        if let Some(a) = &request.acr_values {
            form.push("acr_values", a.as_str());
        }
        if let Some(e) = request.requested_expiry {
            form.push("requested_expiry", e.to_string());
        }
        let authorization = self.authenticate(self.inner.token_auth, &mut form)?;
        let reply = self
            .http()
            .post_form("backchannel_authentication", url, &form, authorization)
            .await?;
        ciba_answer_from(reply)
    }

    /// One poll of the token endpoint with an `auth_req_id` (CIBA Core
    /// §10.1). While the user has not answered this is an [`Error::Op`] with
    /// `authorization_pending` or `slow_down`;
    /// [`crate::flow::BackchannelAuthentication::wait`] polls and interprets
    /// them. The id_token is not verified here.
    pub async fn poll_ciba_token(&self, auth_req_id: &AuthReqId) -> Result<TokenSet> {
        let mut form = Form::new();
        form.push("grant_type", GRANT_TYPE)
            .push_secret("auth_req_id", auth_req_id.expose_secret());
        let reply = self
            .token_reply("poll_ciba_token", form, Some(self.inner.token_auth), None)
            .await?;
        token_set_of(&reply, false)
    }
}
