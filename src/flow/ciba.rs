//! CIBA poll mode (OpenID CIBA Core 1.0) as typed states:
//! [`BackchannelLogin`] → [`BackchannelAuthentication`] (holding the
//! `auth_req_id`) → [`Authenticated`].

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::{Authenticated, poll};
use crate::ciba::{BackchannelAuthenticationRequest, BackchannelAuthenticationResponse, UserHint};
use crate::client::AuthenticationClient;
use crate::error::Result;

/// The start of a backchannel login: the client names the user (a
/// `login_hint` or an `id_token_hint`), the provider asks them on their own
/// device. Configure it, then [`start`](Self::start) it.
#[derive(Debug, Clone)]
#[must_use]
pub struct BackchannelLogin {
    client: AuthenticationClient,
    request: BackchannelAuthenticationRequest,
}

impl BackchannelLogin {
    /// A backchannel login of the user `hint` names, with scope `openid`.
    pub fn new(client: AuthenticationClient, hint: UserHint) -> Self {
        BackchannelLogin {
            client,
            request: BackchannelAuthenticationRequest::new(hint),
        }
    }

    /// The scope, sent byte for byte as given; it must contain `openid` (CIBA
    /// Core §7.1): [`start`](Self::start) refuses a scope without it
    /// ([`Error::InvalidInput`](crate::Error::InvalidInput), before any
    /// request) rather than rewrite it.
    pub fn scope(mut self, scope: &str) -> Self {
        self.request = self.request.scope(scope);
        self
    }

    /// A short message shown on both devices, so the user can tell the
    /// request is theirs.
    pub fn binding_message(mut self, message: impl Into<String>) -> Self {
        self.request = self.request.binding_message(message);
        self
    }

    /// Sends the authentication request (CIBA Core §7.1).
    pub async fn start(self) -> Result<BackchannelAuthentication> {
        let answer = self.client.backchannel_authentication(&self.request).await?;
        tracing::info!(
            issuer = %self.client.issuer(),
            expires_in = answer.expires_in,
            interval = answer.interval,
            "backchannel authentication started"
        );
        Ok(BackchannelAuthentication {
            client: self.client,
            answer,
            started: Instant::now(),
        })
    }
}

/// A backchannel login waiting for the user's answer on their device. Holds
/// the `auth_req_id`, which it never hands out.
#[must_use = "a backchannel authentication does nothing until waited on"]
pub struct BackchannelAuthentication {
    client: AuthenticationClient,
    answer: BackchannelAuthenticationResponse,
    started: Instant,
}

impl std::fmt::Debug for BackchannelAuthentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackchannelAuthentication")
            .field("issuer", &self.client.issuer())
            .field("answer", &self.answer)
            .finish_non_exhaustive()
    }
}

impl BackchannelAuthentication {
    /// The request's lifetime as the provider gave it.
    pub fn expires_in(&self) -> Duration {
        Duration::from_secs(self.answer.expires_in)
    }

    /// The interval the provider asked for between polls.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.answer.interval)
    }

    /// Polls the token endpoint until the user answers (CIBA Core §7.3,
    /// §11), exactly as the device flow does: `interval`, `slow_down` (+5 s),
    /// `authorization_pending`, `access_denied`
    /// ([`Error::Authorization`](crate::Error::Authorization)),
    /// `expired_token` and local expiry
    /// ([`Error::AuthorizationExpired`](crate::Error::AuthorizationExpired)).
    /// The id_token is verified (no nonce). Dropping the future stops the
    /// polling.
    pub async fn wait(self) -> Result<Authenticated> {
        let deadline = poll::deadline(self.started, self.expires_in());
        let client = self.client.clone();
        let id = self.answer.auth_req_id.clone();
        let tokens = poll::until_answered(
            "backchannel authentication request",
            self.interval(),
            deadline,
            || {
                let (client, id) = (client.clone(), id.clone());
                async move { client.poll_ciba_token(&id).await }
            },
        )
        .await?;
        poll::session_of(self.client, tokens).await
    }

    /// [`wait`](Self::wait), ended with
    /// [`Error::Cancelled`](crate::Error::Cancelled) as soon as `cancel`
    /// completes.
    pub async fn wait_until(self, cancel: impl Future<Output = ()>) -> Result<Authenticated> {
        poll::cancellable(self.wait(), cancel).await
    }
}
