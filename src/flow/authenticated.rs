//! [`Authenticated`]: a verified session that hands out access tokens and
//! refreshes itself (docs/protocol.md §5).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use url::Url;

use crate::client::AuthenticationClient;
use crate::dpop::DpopKey;
use crate::error::{Error, Result};
use crate::id_token::IdTokenClaims;
use crate::introspection::Introspection;
use crate::logout::LogoutParams;
use crate::secret::{AccessToken, ExposeSecret as _, IdToken, RefreshToken};
use crate::token_set::TokenSet;
use crate::userinfo::UserInfo;

use super::saved::{SavedSession, version_for};
use super::store::{LeaseOptions, PersistenceStore, SaveCondition, SessionStore};
use crate::authorization_details::{AuthorizationDetail, TokenRequestExtras};

mod claims;
mod refresh;
mod resource;
mod shared;

use claims::StoredClaims;

/// The default refresh margin: an access token is refreshed when it has less
/// than this left (or 10% of its lifetime, whichever is smaller).
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// How long before expiry a token is renewed: the configured margin, or 10%
/// of the token's lifetime when that is smaller (a 60 s margin on a 30 s
/// token would refresh on every call).
pub(crate) fn refresh_margin(configured_secs: u64, lifetime_secs: Option<u64>) -> u64 {
    lifetime_secs.map_or(configured_secs, |l| configured_secs.min(l / 10))
}

/// The future a [`TokenPersistence`] hook returns.
pub type PersistFuture<'a> = Pin<Box<dyn Future<Output = std::result::Result<(), String>> + Send + 'a>>;

/// Where a session's rotated tokens are saved before anyone uses them.
///
/// Called after every successful refresh with the whole new session, before
/// the new access token is handed out. If it fails, the caller gets
/// [`Error::Persist`] and the session still holds the new tokens in memory,
/// so nothing is lost; the next refresh calls it again.
pub trait TokenPersistence: Send + Sync + 'static {
    /// Saves the session (e.g. to a session store or a file).
    fn persist<'a>(&'a self, session: &'a SavedSession) -> PersistFuture<'a>;
}

/// An access token that is valid now, with its remaining lifetime.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionToken {
    /// The access token.
    pub access_token: AccessToken,
    /// How long it remains valid, when the provider said.
    pub expires_in: Option<Duration>,
}

impl SessionToken {
    pub(crate) fn new(access_token: AccessToken, expires_in_secs: Option<u64>) -> Self {
        SessionToken {
            access_token,
            expires_in: expires_in_secs.map(Duration::from_secs),
        }
    }
}

/// A verified login: the token set, the verified id_token claims, and what
/// refresh needs. Cheap to clone; clones share one session, so any number of
/// tasks can ask it for an access token and at most one refresh is sent per
/// expiry.
#[derive(Clone)]
pub struct Authenticated {
    inner: Arc<Session>,
}

struct Session {
    client: AuthenticationClient,
    tokens: RwLock<Tokens>,
    /// Held while refreshing, and while revoking: concurrent callers queue here and share
    /// the outcome, and the tokens a revocation reads are the last ones the session held.
    gate: tokio::sync::Mutex<LastAttempt>,
    /// Held while a refresh checks that the session has not ended and commits its tokens,
    /// and while `revoke` marks the session ended: a refresh never commits into a session
    /// that ended while the provider was answering (and `revoke` does not wait for that answer).
    commit: tokio::sync::Mutex<()>,
    /// Where the session is saved and whose lease guards its refresh: a shared
    /// [`SessionStore`], or the [`TokenPersistence`] hook as one.
    store: RwLock<Option<Attached>>,
    margin_secs: AtomicU64,
    /// The DPoP key the tokens are bound to (RFC 9449), for the whole session:
    /// refreshes keep using it, so a bound refresh token stays usable.
    dpop: Option<Arc<DpopKey>>,
    /// What every refresh repeats of the login (RFC 8707 `resource`, RFC 9396
    /// `authorization_details`; docs/protocol.md §2.3.4).
    token_extras: TokenRequestExtras,
}

/// The store a session is attached to, under which key.
#[derive(Clone)]
struct Attached {
    store: Arc<dyn SessionStore>,
    key: String,
    lease: LeaseOptions,
}

struct Tokens {
    access_token: AccessToken,
    expires_at: Option<u64>,
    lifetime: Option<u64>,
    refresh_token: Option<RefreshToken>,
    id_token: IdToken,
    /// The claims of `id_token` (or, restored, those saved with it).
    claims: StoredClaims,
    scope: Option<String>,
    /// The `authorization_details` granted with the access token (RFC 9396 §7).
    authorization_details: Option<Vec<AuthorizationDetail>>,
    /// Bumped by every refresh attempt, successful or not.
    generation: u64,
    /// Refresh answers that changed the tokens since the login, across saves and restores.
    refreshes: u64,
    /// Why the session ended, once it has.
    ended: Option<String>,
    /// Saving these tokens failed: the save is retried, under this condition
    /// (the stored copy they replace), before they are handed out.
    unpersisted: Option<SaveCondition>,
}

/// The error of the last refresh attempt, for callers who waited on it.
#[derive(Default)]
struct LastAttempt {
    error: Option<Error>,
}

impl Tokens {
    fn margin(&self, configured: u64) -> u64 {
        refresh_margin(configured, self.lifetime)
    }

    /// Valid for at least the margin.
    fn fresh(&self, now: u64, configured_margin: u64) -> bool {
        self.expires_at
            .is_none_or(|exp| now.saturating_add(self.margin(configured_margin)) < exp)
    }

    /// The verified claims (read from `id_token` unless kept apart).
    fn claims(&self) -> IdTokenClaims {
        self.claims.get(&self.id_token)
    }

    /// Not expired.
    fn valid(&self, now: u64) -> bool {
        self.expires_at.is_none_or(|exp| now < exp)
    }

    fn token(&self, now: u64) -> SessionToken {
        SessionToken {
            access_token: self.access_token.clone(),
            expires_in: self
                .expires_at
                .map(|exp| Duration::from_secs(exp.saturating_sub(now))),
        }
    }
}

impl std::fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.read();
        f.debug_struct("Authenticated")
            .field("issuer", &self.inner.client.issuer())
            .field("sub", &t.claims().sub)
            .field("expires_at", &t.expires_at)
            .field("has_refresh_token", &t.refresh_token.is_some())
            .field("dpop", &self.inner.dpop)
            .field("ended", &t.ended)
            .finish_non_exhaustive()
    }
}

impl Authenticated {
    pub(super) fn from_verified(
        client: AuthenticationClient,
        tokens: TokenSet,
        id_token: IdToken,
        claims: IdTokenClaims,
        dpop: Option<Arc<DpopKey>>,
        token_extras: TokenRequestExtras,
    ) -> Self {
        let now = client.clock().unix_now();
        let state = Tokens {
            expires_at: tokens.expires_in.map(|e| now.saturating_add(e)),
            lifetime: tokens.expires_in,
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            claims: StoredClaims::new(&id_token, claims),
            id_token,
            scope: tokens.scope,
            authorization_details: tokens.authorization_details,
            generation: 0,
            refreshes: 0,
            ended: None,
            unpersisted: None,
        };
        Self::from_tokens(client, state, dpop, token_extras)
    }

    fn from_tokens(
        client: AuthenticationClient,
        tokens: Tokens,
        dpop: Option<Arc<DpopKey>>,
        token_extras: TokenRequestExtras,
    ) -> Self {
        Authenticated {
            inner: Arc::new(Session {
                client,
                tokens: RwLock::new(tokens),
                gate: tokio::sync::Mutex::new(LastAttempt::default()),
                commit: tokio::sync::Mutex::new(()),
                store: RwLock::new(None),
                margin_secs: AtomicU64::new(DEFAULT_REFRESH_MARGIN.as_secs()),
                dpop,
                token_extras,
            }),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Tokens> {
        self.inner.tokens.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Tokens> {
        self.inner.tokens.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The client this session belongs to.
    pub fn client(&self) -> &AuthenticationClient {
        &self.inner.client
    }

    /// The verified claims of the id_token (updated by refreshes that return one).
    pub fn claims(&self) -> IdTokenClaims {
        self.read().claims()
    }

    /// The RFC 7638 thumbprint of the DPoP key this session's tokens are
    /// bound to (their `cnf.jkt`), when it uses DPoP.
    pub fn dpop_thumbprint(&self) -> Option<&str> {
        self.inner.dpop.as_deref().map(DpopKey::thumbprint)
    }

    /// The user's id at the provider.
    pub fn subject(&self) -> String {
        self.read().claims().sub
    }

    /// The provider's session id from the id_token (`sid`, OpenID
    /// Back-Channel Logout 1.0 §2.1), when it sent one: index the session
    /// under it so a logout token naming it can end the session. Kept in
    /// saved state with the claims.
    pub fn sid(&self) -> Option<String> {
        self.read().claims().sid().map(str::to_owned)
    }

    /// The current raw id_token (for `id_token_hint`).
    pub fn id_token(&self) -> IdToken {
        self.read().id_token.clone()
    }

    /// How many refresh answers changed the tokens since the login (a new
    /// access token, or only a rotated refresh token), counting those before a
    /// save and restore: of two saved copies of one session (two replicas), the
    /// one with the higher count is newer.
    pub fn refresh_count(&self) -> u64 {
        self.read().refreshes
    }

    /// The access token held now, without refreshing it; it may be expired.
    /// [`access_token`](Self::access_token) is what to send to an API.
    pub fn current_access_token(&self) -> SessionToken {
        let now = self.inner.client.clock().unix_now();
        self.read().token(now)
    }

    /// The current refresh token, if the provider issued one.
    pub fn refresh_token(&self) -> Option<RefreshToken> {
        self.read().refresh_token.clone()
    }

    /// The granted scope, if the provider said.
    pub fn scope(&self) -> Option<String> {
        self.read().scope.clone()
    }

    /// When the access token expires, in seconds since the epoch.
    pub fn expires_at(&self) -> Option<u64> {
        self.read().expires_at
    }

    /// The `authorization_details` granted with the current access token
    /// (RFC 9396 §7), typed: from the login's token response, then from each
    /// refresh answer that carries them (one that omits them keeps the
    /// previous ones, as for `scope`). Kept in saved state.
    pub fn authorization_details(&self) -> Option<Vec<AuthorizationDetail>> {
        self.read().authorization_details.clone()
    }

    /// What every refresh of this session sends besides the grant: the
    /// `resource` values and `authorization_details` chosen at the login
    /// (docs/protocol.md §2.3.4).
    pub fn token_extras(&self) -> &TokenRequestExtras {
        &self.inner.token_extras
    }

    /// Calls `hook` with the new session after every refresh, before the new
    /// tokens are handed out (see [`TokenPersistence`]).
    ///
    /// The hook is a [`SessionStore`] with nothing to load and a lease that is
    /// this session's own single-flight gate: one refresh mechanism for both.
    /// It replaces a store set with [`set_session_store`](Self::set_session_store).
    pub fn set_persistence(&self, hook: Arc<dyn TokenPersistence>) {
        self.attach(Attached {
            store: Arc::new(PersistenceStore(hook)),
            key: String::new(),
            lease: LeaseOptions::default(),
        });
    }

    fn attach(&self, attached: Attached) {
        *self.inner.store.write().unwrap_or_else(|p| p.into_inner()) = Some(attached);
    }

    fn attached(&self) -> Option<Attached> {
        self.inner.store.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Refresh when the access token has less than `margin` left (or 10% of
    /// its lifetime, whichever is smaller). Default 60 s.
    pub fn set_refresh_margin(&self, margin: Duration) {
        self.inner.margin_secs.store(margin.as_secs(), Ordering::Relaxed);
    }

    /// Ends the session. Called with the refresh gate held (a refresh that ends it), or by
    /// `revoke` with the commit lock held, so that it is ordered with every refresh.
    fn end(&self, reason: &str) -> Error {
        let mut t = self.write();
        t.ended = Some(reason.to_owned());
        t.generation += 1;
        Error::ReauthenticationRequired(reason.to_owned())
    }

    /// The user's claims from the userinfo endpoint, with a fresh access
    /// token; userinfo's `sub` must equal the id_token's (OIDC Core §5.3.2).
    pub async fn userinfo(&self) -> Result<UserInfo> {
        let token = self.access_token().await?;
        let info = self
            .inner
            .client
            .userinfo_with(&token.access_token, self.inner.dpop.as_deref())
            .await?;
        if info.sub != self.read().claims().sub {
            return Err(Error::SubMismatch);
        }
        Ok(info)
    }

    /// Introspects the current access token (RFC 7662).
    pub async fn introspect(&self) -> Result<Introspection> {
        let token = self.read().access_token.clone();
        self.inner.client.introspect_token(&token).await
    }

    /// Introspects the refresh token, if there is one.
    pub async fn introspect_refresh_token(&self) -> Result<Option<Introspection>> {
        let Some(token) = self.refresh_token() else {
            return Ok(None);
        };
        self.inner.client.introspect_token(&token).await.map(Some)
    }

    /// Ends the session, then revokes its refresh token (which ends its grant
    /// at most providers) and its access token (RFC 7009).
    ///
    /// The session ends before any request and whatever the provider answers:
    /// every later call is [`Error::ReauthenticationRequired`]. A refresh in
    /// flight does not bring it back: the tokens it receives are revoked, not
    /// kept, and never reach the persistence hook. An error means the provider
    /// may still hold a token; calling `revoke` again sends the revocations
    /// again.
    pub async fn revoke(&self) -> Result<()> {
        {
            let _commit = self.inner.commit.lock().await;
            self.end("the session was revoked");
        }
        // Once the gate is ours no refresh is in flight: these are the session's last tokens.
        let _gate = self.inner.gate.lock().await;
        let (access, refresh) = {
            let t = self.read();
            (t.access_token.clone(), t.refresh_token.clone())
        };
        if let Some(rt) = refresh {
            self.inner.client.revoke_token(&rt).await?;
        }
        self.inner.client.revoke_token(&access).await
    }

    /// The provider's logout URL for this session: RP-Initiated Logout with
    /// `id_token_hint` (Authing's `/oidc/session/end`, or the discovered
    /// `end_session_endpoint`).
    pub fn logout_url(&self, post_logout_redirect_uri: &str, state: Option<&str>) -> Result<Url> {
        let mut params = LogoutParams::expert(self.id_token(), post_logout_redirect_uri);
        if let Some(s) = state {
            params = params.with_state(s);
        }
        self.inner.client.build_logout_url(params)
    }

    fn saved(&self, t: &Tokens) -> SavedSession {
        SavedSession {
            issuer: self.inner.client.issuer().to_owned(),
            client_id: self.inner.client.app_id().to_owned(),
            access_token: t.access_token.expose_secret().to_owned(),
            expires_at: t.expires_at,
            lifetime_secs: t.lifetime,
            refresh_token: t.refresh_token.as_ref().map(|r| r.expose_secret().to_owned()),
            id_token: t.id_token.expose_secret().to_owned(),
            scope: t.scope.clone(),
            claims: t.claims(),
            refresh_count: t.refreshes,
            version: version_for(
                self.inner.dpop.is_some(),
                !self.inner.token_extras.is_empty() || t.authorization_details.is_some(),
            ),
            dpop_key: self.inner.dpop.as_ref().map(|k| k.export_with_secrets()),
            token_resource: self.inner.token_extras.resource.clone(),
            token_authorization_details: self.inner.token_extras.authorization_details.clone(),
            token_authorization_details_json: super::saved::details_json(
                self.inner.token_extras.authorization_details.as_ref(),
            ),
            authorization_details: t.authorization_details.clone(),
        }
    }

    /// **Exports secrets.** A versioned, serde-able copy of the session,
    /// tokens included, for a session store or a file. Keep it server-side or
    /// encrypted. Take it back with
    /// [`restore_from_trusted_store`](Self::restore_from_trusted_store).
    pub fn export_with_secrets(&self) -> SavedSession {
        self.saved(&self.read())
    }

    /// Takes back a session saved with
    /// [`export_with_secrets`](Self::export_with_secrets). The store is
    /// trusted: the saved claims are not re-verified (the id_token may have
    /// expired since). One made for another issuer or client id is refused.
    pub fn restore_from_trusted_store(client: AuthenticationClient, saved: SavedSession) -> Result<Self> {
        saved.check(&client)?;
        let dpop = saved.restore_dpop_key()?;
        let token_extras = saved.restore_token_extras()?;
        let lifetime = saved.lifetime_secs;
        let id_token = IdToken::new(saved.id_token);
        Ok(Self::from_tokens(
            client,
            Tokens {
                access_token: AccessToken::new(saved.access_token),
                expires_at: saved.expires_at,
                lifetime,
                refresh_token: saved.refresh_token.map(RefreshToken::new),
                claims: StoredClaims::new(&id_token, saved.claims),
                id_token,
                scope: saved.scope,
                authorization_details: saved.authorization_details,
                generation: 0,
                refreshes: saved.refresh_count,
                ended: None,
                unpersisted: None,
            },
            dpop,
            token_extras,
        ))
    }

    /// **Insecure.** A session from tokens whose id_token was NOT verified:
    /// its claims are read as they are, with no signature, issuer, audience,
    /// expiry or nonce check. For tests and for tokens verified by other
    /// means only.
    pub fn insecure_from_unverified_tokens(client: AuthenticationClient, tokens: TokenSet) -> Result<Self> {
        let id_token = tokens
            .id_token
            .clone()
            .ok_or_else(|| Error::input("the token set has no id_token"))?;
        let claims = decode_unverified(&id_token)?;
        Ok(Self::from_verified(
            client,
            tokens,
            id_token,
            claims,
            None,
            TokenRequestExtras::new(),
        ))
    }
}

fn decode_unverified(id_token: &IdToken) -> Result<IdTokenClaims> {
    claims::read_payload(id_token)
        .ok_or_else(|| Error::IdToken(crate::IdTokenError::Malformed("not a compact JWT".to_owned())))
}
