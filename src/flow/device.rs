//! The device flow (RFC 8628) as typed states: [`DeviceLogin`] →
//! [`DeviceAuthorization`] (holding the device code, showing the user code)
//! → [`Authenticated`].

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::{Authenticated, poll};
use crate::client::AuthenticationClient;
use crate::device_authorization::DeviceAuthorizationResponse;
use crate::error::Result;

/// The start of a device login, for a device that cannot show a browser (a
/// CLI, a TV): configure the scope, then [`start`](Self::start) it.
#[derive(Debug, Clone)]
#[must_use]
pub struct DeviceLogin {
    client: AuthenticationClient,
    scope: String,
}

impl DeviceLogin {
    /// A device login for this client (built by discovery: the endpoint is
    /// the provider's `device_authorization_endpoint`), with scope `openid`.
    pub fn new(client: AuthenticationClient) -> Self {
        DeviceLogin {
            client,
            scope: "openid".to_owned(),
        }
    }

    /// The scope, sent byte for byte as given. It must contain `openid`:
    /// the flow ends in a session with a verified id_token, so
    /// [`start`](Self::start) refuses a scope without it
    /// ([`Error::InvalidInput`](crate::Error::InvalidInput), before any
    /// request) rather than rewrite it. An OAuth-only device grant is
    /// [`AuthenticationClient::device_authorization`] with
    /// [`AuthenticationClient::poll_device_token`].
    pub fn scope(mut self, scope: &str) -> Self {
        self.scope = scope.to_owned();
        self
    }

    /// Sends the device authorization request (RFC 8628 §3.1) and returns
    /// what to show the user.
    pub async fn start(self) -> Result<DeviceAuthorization> {
        crate::authorize::require_openid(&self.scope, "device login")?;
        let answer = self.client.device_authorization(&self.scope).await?;
        let started = Instant::now();
        tracing::info!(
            issuer = %self.client.issuer(),
            expires_in = answer.expires_in,
            interval = answer.interval,
            "device authorization started"
        );
        Ok(DeviceAuthorization {
            client: self.client,
            answer,
            started,
        })
    }
}

/// A device login waiting for the user: show them [`user_code`](Self::user_code)
/// and [`verification_uri`](Self::verification_uri) (or
/// [`verification_uri_complete`](Self::verification_uri_complete) as a link
/// or QR code), then [`wait`](Self::wait). It holds the device code, which it
/// never hands out.
#[must_use = "a device authorization does nothing until waited on"]
pub struct DeviceAuthorization {
    client: AuthenticationClient,
    answer: DeviceAuthorizationResponse,
    started: Instant,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("issuer", &self.client.issuer())
            .field("answer", &self.answer)
            .finish_non_exhaustive()
    }
}

impl DeviceAuthorization {
    /// The code the user enters.
    pub fn user_code(&self) -> &str {
        &self.answer.user_code
    }

    /// Where the user enters it.
    pub fn verification_uri(&self) -> &str {
        &self.answer.verification_uri
    }

    /// The verification URI with the code filled in, if the provider sent one.
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.answer.verification_uri_complete.as_deref()
    }

    /// The codes' lifetime as the provider gave it.
    pub fn expires_in(&self) -> Duration {
        Duration::from_secs(self.answer.expires_in)
    }

    /// How long is left before the codes expire.
    pub fn remaining(&self) -> Duration {
        self.expires_in().saturating_sub(self.started.elapsed())
    }

    /// The interval the provider asked for between polls.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.answer.interval)
    }

    /// Polls the token endpoint until the user answers (RFC 8628 §3.4, §3.5):
    /// at the provider's `interval`, 5 s more after each `slow_down`, on while
    /// `authorization_pending`. Ends with the verified session (the id_token
    /// is checked without a nonce, which this grant does not carry), or
    /// [`Error::Authorization`](crate::Error::Authorization) with
    /// `access_denied` when the user refused, or
    /// [`Error::AuthorizationExpired`](crate::Error::AuthorizationExpired)
    /// when the codes expired first. Dropping the future stops the polling.
    pub async fn wait(self) -> Result<Authenticated> {
        let deadline = poll::deadline(self.started, self.expires_in());
        let client = self.client.clone();
        let device_code = self.answer.device_code.clone();
        let tokens = poll::until_answered("device authorization", self.interval(), deadline, || {
            let (client, device_code) = (client.clone(), device_code.clone());
            async move { client.poll_device_token(&device_code).await }
        })
        .await?;
        poll::session_of(self.client, tokens).await
    }

    /// [`wait`](Self::wait), ended with
    /// [`Error::Cancelled`](crate::Error::Cancelled) as soon as `cancel`
    /// completes (a shutdown signal, a "Cancel" button, a
    /// `CancellationToken::cancelled()`).
    pub async fn wait_until(self, cancel: impl Future<Output = ()>) -> Result<Authenticated> {
        poll::cancellable(self.wait(), cancel).await
    }
}
