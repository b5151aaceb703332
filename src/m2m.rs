//! Machine-to-machine tokens (`client_credentials`), cached and renewed
//! before they expire, shared across tasks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::builder::AuthenticationClientBuilder;
use crate::client::AuthenticationClient;
use crate::error::{Error, Result};
use crate::flow::authenticated::refresh_margin;
use crate::flow::{DEFAULT_REFRESH_MARGIN, SessionToken};
use crate::secret::{AccessSecret, AccessToken, ExposeSecret as _, ct_eq_str};

/// How long a token is cached when the provider's answer gave no
/// `expires_in`, by default. RFC 6749 §5.1 only recommends `expires_in`; a
/// token cached forever would outlive its revocation or the account's
/// rights.
pub const DEFAULT_UNSTATED_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// A cached `client_credentials` token for one programmatic access account.
///
/// [`token`](Self::token) returns the cached token while it is valid for at
/// least the margin (default 60 s, or 10% of its lifetime if smaller;
/// [`set_refresh_margin`](Self::set_refresh_margin)), and otherwise fetches a
/// new one. A token whose answer gave no `expires_in` is cached for
/// [`DEFAULT_UNSTATED_LIFETIME`]
/// ([`set_unstated_lifetime`](Self::set_unstated_lifetime)). An API that
/// answers 401 to a cached token gets it evicted with
/// [`invalidate`](Self::invalidate). Cheap to clone; clones share the cache,
/// and concurrent callers share one request.
///
/// A service that only calls APIs needs nothing but where the provider is and the access key
/// pair ([`for_app_host`](Self::for_app_host), [`discover`](Self::discover)); a service that
/// also logs users in can share its application's client ([`new`](Self::new)).
///
/// ```no_run
/// # async fn run() -> Result<(), authing_oidc::Error> {
/// use authing_oidc::{AccessSecret, m2m::ClientCredentialsSource};
/// let source = ClientCredentialsSource::for_app_host(
///     "https://sample-app.authing.cn", "api:read", "ACCESS_KEY", AccessSecret::new("SECRET"))?;
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
    margin_secs: AtomicU64,
    unstated_lifetime_secs: AtomicU64,
}

struct Cached {
    token: AccessToken,
    /// When the cache lets go of it: the provider's expiry, or the unstated lifetime.
    expires_at: u64,
    lifetime: u64,
    /// Whether the provider gave the lifetime (reported to callers only then).
    stated: bool,
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
                margin_secs: AtomicU64::new(DEFAULT_REFRESH_MARGIN.as_secs()),
                unstated_lifetime_secs: AtomicU64::new(DEFAULT_UNSTATED_LIFETIME.as_secs()),
            }),
        })
    }

    /// A source for the Authing application at `app_host` (e.g.
    /// `https://sample-app.authing.cn`), authenticated by the access key pair alone: no
    /// application id or secret is needed, since the key pair is what the token request
    /// sends as `client_id` / `client_secret`.
    ///
    /// # Errors
    ///
    /// An unusable `app_host` (as [`AuthenticationClientBuilder::build`]), an empty scope or
    /// access key.
    pub fn for_app_host(
        app_host: &str,
        scope: impl Into<String>,
        access_key: impl Into<String>,
        access_secret: AccessSecret,
    ) -> Result<Self> {
        Self::from_builder(
            AuthenticationClient::builder().app_host(app_host),
            scope,
            access_key,
            access_secret,
        )
    }

    /// A source for any OpenID Provider, found from its `issuer` by OpenID Connect Discovery,
    /// authenticated by the access key pair alone.
    ///
    /// # Errors
    ///
    /// As [`AuthenticationClientBuilder::discover`], an empty scope or access key.
    pub async fn discover(
        issuer: &str,
        scope: impl Into<String>,
        access_key: impl Into<String>,
        access_secret: AccessSecret,
    ) -> Result<Self> {
        let access_key = access_key.into();
        let client = Self::key_pair_client(AuthenticationClient::builder(), &access_key, &access_secret)?
            .discover(issuer)
            .await?;
        Self::new(client, scope, access_key, access_secret)
    }

    /// As [`for_app_host`](Self::for_app_host) from a builder that already says where the
    /// provider is ([`app_host`](AuthenticationClientBuilder::app_host)) and, perhaps, how to
    /// reach it (timeout, HTTP client, clock). Its application id and secret, if set, are
    /// replaced by the key pair.
    ///
    /// # Errors
    ///
    /// As [`for_app_host`](Self::for_app_host).
    pub fn from_builder(
        builder: AuthenticationClientBuilder,
        scope: impl Into<String>,
        access_key: impl Into<String>,
        access_secret: AccessSecret,
    ) -> Result<Self> {
        let access_key = access_key.into();
        let client = Self::key_pair_client(builder, &access_key, &access_secret)?.build()?;
        Self::new(client, scope, access_key, access_secret)
    }

    /// The client of a programmatic access account: the key pair is its identity.
    fn key_pair_client(
        builder: AuthenticationClientBuilder,
        access_key: &str,
        access_secret: &AccessSecret,
    ) -> Result<AuthenticationClientBuilder> {
        if access_key.trim().is_empty() {
            return Err(Error::input("access_key is empty"));
        }
        Ok(builder.app_id(access_key).secret(access_secret.expose_secret()))
    }

    /// Fetch a new token when the cached one has less than `margin` left (or
    /// 10% of its lifetime, whichever is smaller). Default 60 s.
    pub fn set_refresh_margin(&self, margin: Duration) {
        self.inner.margin_secs.store(margin.as_secs(), Ordering::Relaxed);
    }

    /// How long to cache a token whose answer gave no `expires_in`. Default
    /// [`DEFAULT_UNSTATED_LIFETIME`]. Applies to tokens fetched from now on.
    pub fn set_unstated_lifetime(&self, lifetime: Duration) {
        self.inner
            .unstated_lifetime_secs
            .store(lifetime.as_secs(), Ordering::Relaxed);
    }

    /// Evicts `rejected` from the cache, when it is still the cached token:
    /// call it when an API answers 401 to it (revoked, or the account's
    /// rights changed), and the next [`token`](Self::token) fetches a new one.
    /// Comparing with the rejected token means that many tasks reporting the
    /// same 401 evict it once, not the new token one of them already fetched.
    pub fn invalidate(&self, rejected: &AccessToken) {
        let mut cached = self.inner.cached.write().unwrap_or_else(|p| p.into_inner());
        if cached
            .as_ref()
            .is_some_and(|c| ct_eq_str(c.token.expose_secret(), rejected.expose_secret()))
        {
            *cached = None;
            tracing::debug!(scope = %self.inner.scope, "client credentials token invalidated");
        }
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
        let lifetime = tokens
            .expires_in
            .unwrap_or_else(|| self.inner.unstated_lifetime_secs.load(Ordering::Relaxed));
        let cached = Cached {
            token: tokens.access_token,
            expires_at: now.saturating_add(lifetime),
            lifetime,
            stated: tokens.expires_in.is_some(),
        };
        let out = cached.session_token(now);
        *self.inner.cached.write().unwrap_or_else(|p| p.into_inner()) = Some(cached);
        tracing::debug!(scope = %self.inner.scope, "client credentials token fetched");
        Ok(out)
    }

    fn cached(&self) -> Option<SessionToken> {
        let now = self.inner.client.clock().unix_now();
        let guard = self.inner.cached.read().unwrap_or_else(|p| p.into_inner());
        let c = guard.as_ref()?;
        let margin = refresh_margin(self.inner.margin_secs.load(Ordering::Relaxed), Some(c.lifetime));
        (now.saturating_add(margin) < c.expires_at).then(|| c.session_token(now))
    }
}

impl Cached {
    /// What callers see: the remaining lifetime only when the provider stated one.
    fn session_token(&self, now: u64) -> SessionToken {
        SessionToken::new(
            self.token.clone(),
            self.stated.then(|| self.expires_at.saturating_sub(now)),
        )
    }
}
