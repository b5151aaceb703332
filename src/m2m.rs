//! Machine-to-machine tokens (`client_credentials`), cached and renewed
//! before they expire, shared across tasks.

use std::sync::{Arc, RwLock};

use crate::client::AuthenticationClient;
use crate::error::{Error, Result};
use crate::flow::authenticated::refresh_margin;
use crate::flow::{DEFAULT_REFRESH_MARGIN, SessionToken};
use crate::secret::{AccessSecret, AccessToken};

/// A cached `client_credentials` token for one programmatic access account.
///
/// [`token`](Self::token) returns the cached token while it is valid for at
/// least the margin (default 60 s, or 10% of its lifetime if smaller), and
/// otherwise fetches a new one. Cheap to clone; clones share the cache, and
/// concurrent callers share one request.
///
/// ```no_run
/// # async fn run(client: authing_oidc::AuthenticationClient) -> Result<(), authing_oidc::Error> {
/// use authing_oidc::{AccessSecret, m2m::ClientCredentialsSource};
/// let source = ClientCredentialsSource::new(client, "api:read", "ACCESS_KEY", AccessSecret::new("SECRET"))?;
/// let token = source.token().await?; // cached until it nears expiry
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ClientCredentialsSource {
    inner: Arc<Source>,
}

struct Source {
    client: AuthenticationClient,
    scope: String,
    access_key: String,
    access_secret: AccessSecret,
    cached: RwLock<Option<Cached>>,
    gate: tokio::sync::Mutex<()>,
}

struct Cached {
    token: AccessToken,
    expires_at: Option<u64>,
    lifetime: Option<u64>,
}

impl Cached {
    fn margin(&self) -> u64 {
        refresh_margin(DEFAULT_REFRESH_MARGIN.as_secs(), self.lifetime)
    }
}

impl std::fmt::Debug for ClientCredentialsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentialsSource")
            .field("scope", &self.inner.scope)
            .field("access_key", &self.inner.access_key)
            .finish_non_exhaustive()
    }
}

impl ClientCredentialsSource {
    /// A source for `scope` with this access key pair. `scope` must not be empty.
    pub fn new(
        client: AuthenticationClient,
        scope: impl Into<String>,
        access_key: impl Into<String>,
        access_secret: AccessSecret,
    ) -> Result<Self> {
        let scope = scope.into();
        if scope.split_whitespace().next().is_none() {
            return Err(Error::input("client credentials need a non-empty scope"));
        }
        Ok(ClientCredentialsSource {
            inner: Arc::new(Source {
                client,
                scope,
                access_key: access_key.into(),
                access_secret,
                cached: RwLock::new(None),
                gate: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// A token valid for at least the margin, fetched only when the cached one
    /// is not.
    pub async fn token(&self) -> Result<SessionToken> {
        if let Some(t) = self.cached() {
            return Ok(t);
        }
        let _gate = self.inner.gate.lock().await;
        // Whoever held the gate before us may have fetched one.
        if let Some(t) = self.cached() {
            return Ok(t);
        }
        let clock = self.inner.client.clock();
        let tokens = self
            .inner
            .client
            .get_access_token_by_client_credentials(
                &self.inner.scope,
                &self.inner.access_key,
                &self.inner.access_secret,
            )
            .await?;
        let now = clock.unix_now();
        let cached = Cached {
            token: tokens.access_token,
            expires_at: tokens.expires_in.map(|e| now.saturating_add(e)),
            lifetime: tokens.expires_in,
        };
        let out = SessionToken::new(
            cached.token.clone(),
            cached.expires_at.map(|e| e.saturating_sub(now)),
        );
        *self.inner.cached.write().unwrap_or_else(|p| p.into_inner()) = Some(cached);
        tracing::debug!(scope = %self.inner.scope, "client credentials token fetched");
        Ok(out)
    }

    fn cached(&self) -> Option<SessionToken> {
        let now = self.inner.client.clock().unix_now();
        let guard = self.inner.cached.read().unwrap_or_else(|p| p.into_inner());
        let c = guard.as_ref()?;
        match c.expires_at {
            Some(exp) if now.saturating_add(c.margin()) >= exp => None,
            exp => Some(SessionToken::new(
                c.token.clone(),
                exp.map(|e| e.saturating_sub(now)),
            )),
        }
    }
}
