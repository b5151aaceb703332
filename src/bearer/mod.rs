//! Bearer tokens at a resource server: JWT access tokens verified locally,
//! opaque ones introspected, both cached (docs/protocol.md §4.6).
//!
//! A [`BearerVerifier`] answers one question for an API: does this
//! `Authorization: Bearer` token grant access here, and to whom? It is
//! framework-neutral (the axum layer in `authing-oidc-axum` is a thin shell
//! around it) and cheap to clone: clones share the caches.
//!
//! - A token that looks like a JWS (three dot-separated parts) is verified
//!   locally by the [`AccessTokenVerifier`](crate::access_token) (RFC 9068:
//!   `typ`, asymmetric algorithms only, `iss`, `aud`, `exp`, …). Once it has
//!   passed, its claims are kept under a keyed digest of the token until its
//!   `exp`, so a token seen again costs a digest and a lookup instead of a
//!   signature check ([`BearerVerifier::try_cached`] is that lookup alone).
//! - Any other token is asked about at the introspection endpoint
//!   (RFC 7662). The answer is kept until the earlier of the token's `exp`
//!   and the configured TTL (so a revocation is seen within the TTL); a
//!   refusal for the negative TTL; a failure to reach the provider not at
//!   all. However many requests bring the same new token at once, one
//!   introspection request is made and all of them wait for its answer.
//! - Both kinds must be for one of the verifier's audiences, from one of its
//!   `client_id`s when an allow-list is set, and, presented as `Bearer`, not
//!   sender-constrained (a token with `cnf`, i.e. bound to a DPoP key or a
//!   certificate, is not a bearer token, RFC 9449 §7.1, RFC 8705 §3).
//! - A DPoP-bound token comes with `Authorization: DPoP` and a proof, checked
//!   by [`BearerVerifier::verify_dpop`] when the verifier is built with
//!   [`DpopMode::Accepted`] or [`DpopMode::Required`] ([`dpop`]
//!   lists the checks).
//!
//! Both caches are bounded in entries and hold digests, never tokens.
//! Scope checks are the caller's ([`BearerClaims::has_scope`]): the same
//! token may be enough for one route and not for another.

mod cache;
pub mod dpop;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::OnceCell;

use crate::access_token::{AccessTokenClaims, AccessTokenVerifier, TypPolicy};
use crate::client::AuthenticationClient;
use crate::config::SigningAlgorithm;
use crate::error::{Error, IdTokenError, Result};
use crate::introspection::Introspection;
use crate::jose::jws::Compact;
use crate::jose::replay::ReplayCache;
use crate::secret::{AccessToken, ExposeSecret as _};
use cache::{Digester, TokenCache, TokenDigest};
pub use dpop::{DpopMode, DpopRequest};

/// The default [`BearerVerifierBuilder::introspection_ttl`].
pub const DEFAULT_INTROSPECTION_TTL: Duration = Duration::from_secs(30);
/// The default [`BearerVerifierBuilder::negative_ttl`].
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(5);
/// The default [`BearerVerifierBuilder::max_entries`], for each cache.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;

/// What an accepted bearer token says: the claims of a verified JWT, or the
/// introspection answer for an opaque token.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BearerClaims {
    /// A JWT access token verified locally (RFC 9068).
    Jwt(AccessTokenClaims),
    /// An opaque token the provider says is active (RFC 7662).
    Introspected(Introspection),
}

impl BearerClaims {
    /// The subject: the user, or the client of a client-credentials token.
    pub fn sub(&self) -> Option<&str> {
        match self {
            BearerClaims::Jwt(c) => c.sub.as_deref(),
            BearerClaims::Introspected(i) => i.sub.as_deref(),
        }
    }

    /// The client the token was issued to.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            BearerClaims::Jwt(c) => c.client_id.as_deref(),
            BearerClaims::Introspected(i) => i.client_id.as_deref(),
        }
    }

    /// The space-separated scope, as issued.
    pub fn scope(&self) -> Option<&str> {
        match self {
            BearerClaims::Jwt(c) => c.scope.as_deref(),
            BearerClaims::Introspected(i) => i.scope.as_deref(),
        }
    }

    /// The scopes, split on spaces.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
    }

    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    /// Expiry, seconds since the epoch (an introspection answer may omit it).
    pub fn exp(&self) -> Option<i64> {
        match self {
            BearerClaims::Jwt(c) => Some(c.exp),
            BearerClaims::Introspected(i) => i.exp,
        }
    }

    /// The audiences.
    pub fn audiences(&self) -> Vec<&str> {
        match self {
            BearerClaims::Jwt(c) => c.aud.iter().map(String::as_str).collect(),
            BearerClaims::Introspected(i) => audiences_of(i.aud.as_ref()),
        }
    }

    /// The RFC 7638 thumbprint of the DPoP key the token is bound to
    /// (`cnf.jkt`, RFC 9449 §6), if it is.
    pub fn jkt(&self) -> Option<&str> {
        self.get("cnf")?.get("jkt")?.as_str()
    }

    /// Whether the token is sender-constrained: it has `cnf` (a DPoP key or a
    /// certificate), or the provider introspected it as a `DPoP` token.
    fn sender_constrained(&self) -> bool {
        match self {
            BearerClaims::Jwt(c) => c.extra.contains_key("cnf"),
            BearerClaims::Introspected(i) => {
                i.extra.contains_key("cnf")
                    || i.token_type
                        .as_deref()
                        .is_some_and(|t| t.eq_ignore_ascii_case("dpop"))
            }
        }
    }

    /// Another claim (or introspection member) by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            BearerClaims::Jwt(c) => c.extra.get(name),
            BearerClaims::Introspected(i) => i.extra.get(name),
        }
    }
}

fn audiences_of(aud: Option<&Value>) -> Vec<&str> {
    match aud {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Configures a [`BearerVerifier`]; from
/// [`AuthenticationClient::bearer_verifier`].
#[derive(Debug, Clone)]
#[must_use]
pub struct BearerVerifierBuilder {
    client: AuthenticationClient,
    audiences: Vec<String>,
    typ: TypPolicy,
    client_ids: Option<Vec<String>>,
    introspection: bool,
    introspection_ttl: Duration,
    negative_ttl: Duration,
    max_entries: usize,
    dpop: dpop::DpopConfig,
}

impl AuthenticationClient {
    /// A verifier of bearer tokens for an API whose identifiers are
    /// `audiences` (for Authing, the app ids whose users call the API). See
    /// [`crate::bearer`].
    pub fn bearer_verifier<A: Into<String>>(
        &self,
        audiences: impl IntoIterator<Item = A>,
    ) -> BearerVerifierBuilder {
        BearerVerifierBuilder {
            client: self.clone(),
            audiences: audiences.into_iter().map(Into::into).collect(),
            typ: TypPolicy::default(),
            client_ids: None,
            introspection: true,
            introspection_ttl: DEFAULT_INTROSPECTION_TTL,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
            max_entries: DEFAULT_MAX_ENTRIES,
            dpop: dpop::DpopConfig::default(),
        }
    }
}

impl BearerVerifierBuilder {
    /// How JWTs' `typ` is treated (default [`TypPolicy::Authing`]).
    pub fn typ_policy(mut self, typ: TypPolicy) -> Self {
        self.typ = typ;
        self
    }

    /// Accept only tokens whose `client_id` is one of these.
    pub fn client_ids<C: Into<String>>(mut self, ids: impl IntoIterator<Item = C>) -> Self {
        self.client_ids = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// Whether opaque tokens are introspected (default true); without it
    /// they are refused.
    pub fn introspection(mut self, on: bool) -> Self {
        self.introspection = on;
        self
    }

    /// The longest an introspection answer is trusted (default 30 s): the
    /// bound on how late a revocation is noticed.
    pub fn introspection_ttl(mut self, ttl: Duration) -> Self {
        self.introspection_ttl = ttl;
        self
    }

    /// How long a refused opaque token stays refused without asking again
    /// (default 5 s).
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// The bound of each cache, in entries (default 10 000; 0 disables
    /// caching).
    pub fn max_entries(mut self, n: usize) -> Self {
        self.max_entries = n;
        self
    }

    /// Whether `Authorization: DPoP` is accepted (RFC 9449 §7): default
    /// [`DpopMode::Refused`].
    pub fn dpop(mut self, mode: DpopMode) -> Self {
        self.dpop.mode = mode;
        self
    }

    /// The algorithms a DPoP proof may be signed with (default
    /// [`DEFAULT_DPOP_ALGORITHMS`](dpop::DEFAULT_DPOP_ALGORITHMS): ES256,
    /// PS256, RS256, EdDSA). `build` refuses an empty list and any HS*
    /// algorithm (RFC 9449 §4.3 point 5: asymmetric only; `none` is never an
    /// algorithm here).
    pub fn dpop_algorithms(mut self, algorithms: impl IntoIterator<Item = SigningAlgorithm>) -> Self {
        self.dpop.algorithms = algorithms.into_iter().collect();
        self
    }

    /// How old (`max_age`, default 60 s) and how far ahead of this clock
    /// (`max_skew`, default 5 s) a DPoP proof's `iat` may be (RFC 9449 §4.3
    /// point 11, §11.1). Each proof's `jti` is remembered that long.
    pub fn dpop_iat_window(mut self, max_age: Duration, max_skew: Duration) -> Self {
        self.dpop.max_age = max_age;
        self.dpop.max_skew = max_skew;
        self
    }

    /// How many accepted DPoP proofs (`jti` and key) are remembered at most
    /// (default 100 000). When the memory is full of proofs still inside
    /// their window, a new proof is refused (`ReplayMemoryFull`) rather than
    /// an old one forgotten, which would let it be replayed.
    pub fn dpop_replay_capacity(mut self, n: usize) -> Self {
        self.dpop.replay_capacity = n;
        self
    }

    /// The verifier; a configuration error when there is no audience, or
    /// the DPoP algorithms are empty or symmetric.
    pub fn build(self) -> Result<BearerVerifier> {
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return Err(Error::config(
                "a bearer verifier needs at least one audience, none of them empty",
            ));
        }
        if self.dpop.algorithms.is_empty() || self.dpop.algorithms.iter().any(|a| a.is_symmetric()) {
            return Err(Error::config(
                "DPoP proofs are signed with asymmetric algorithms: list at least one, and no HS*",
            ));
        }
        let jwt = self
            .client
            .access_token_verifier(self.audiences.iter().cloned())
            .typ_policy(self.typ);
        Ok(BearerVerifier {
            inner: Arc::new(Inner {
                digester: Digester::new()?,
                jwt,
                jwt_cache: TokenCache::new(self.max_entries),
                flights: TokenCache::new(self.max_entries),
                replay: ReplayCache::new(self.dpop.replay_capacity),
                config: self,
            }),
        })
    }
}

type Flight = Arc<OnceCell<Result<Arc<BearerClaims>>>>;

/// How long an introspection may take before its entry stops holding later
/// callers back (the HTTP client's own timeout ends it sooner).
const FLIGHT_BOUND: Duration = Duration::from_secs(120);

/// Verifies bearer tokens (see the [module docs](self)). Cheap to clone;
/// clones share the caches.
#[derive(Clone)]
pub struct BearerVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    config: BearerVerifierBuilder,
    /// The key of both caches (see `cache`).
    digester: Digester,
    jwt: AccessTokenVerifier,
    jwt_cache: TokenCache<Arc<BearerClaims>>,
    flights: TokenCache<Flight>,
    /// The `jti` of every DPoP proof accepted, keyed by the proof's key.
    replay: ReplayCache,
}

impl std::fmt::Debug for BearerVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.inner.config;
        f.debug_struct("BearerVerifier")
            .field("audiences", &c.audiences)
            .field("typ", &c.typ)
            .field("client_ids", &c.client_ids)
            .field("introspection", &c.introspection)
            .field("dpop", &c.dpop.mode)
            .finish_non_exhaustive()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Whether `token` has the form of a compact JWS (three parts); anything
/// else is treated as opaque.
pub fn looks_like_jwt(token: &str) -> bool {
    Compact::of(token).is_some()
}

/// `claims` as a bearer token's: refused when sender-constrained (`cnf`), a
/// token that is not a bearer token (RFC 9449 §7.1, RFC 8705 §3), whether
/// it was just verified or found in a cache.
fn as_bearer(claims: Arc<BearerClaims>) -> Result<Arc<BearerClaims>> {
    if claims.sender_constrained() {
        return Err(Error::AccessToken(IdTokenError::TypeNotAllowed(
            "a sender-constrained token (cnf) presented as a bearer token".into(),
        )));
    }
    Ok(claims)
}

impl BearerVerifier {
    /// The audiences this verifier accepts.
    pub fn audiences(&self) -> &[String] {
        &self.inner.config.audiences
    }

    fn now_ms(&self) -> u64 {
        self.inner
            .config
            .client
            .clock()
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, millis)
    }

    /// Verifies a bearer token; the claims of an accepted one. A refusal is
    /// [`Error::AccessToken`]; a provider that cannot be reached (JWKS or
    /// introspection) is a transport, timeout or provider error
    /// ([`Error::is_transient`]).
    pub async fn verify(&self, token: &AccessToken) -> Result<Arc<BearerClaims>> {
        self.verify_str(token.expose_secret()).await
    }

    /// [`verify`](Self::verify) for a token borrowed from a request (e.g. the
    /// `Authorization` header), without copying it into an [`AccessToken`].
    pub async fn verify_str(&self, token: &str) -> Result<Arc<BearerClaims>> {
        if self.inner.config.dpop.mode == DpopMode::Required {
            return Err(Error::DpopProof(crate::error::DpopProofError::Required));
        }
        as_bearer(self.accepted(token).await?)
    }

    /// The claims of a token that passes every check but the scheme's: the
    /// caches, then local verification or introspection.
    async fn accepted(&self, token: &str) -> Result<Arc<BearerClaims>> {
        let key = self.inner.digester.digest(token.as_bytes());
        let now = self.now_ms();
        if let Some(hit) = key.and_then(|key| self.inner.jwt_cache.get(&key, now)) {
            return Ok(hit);
        }
        self.verify_uncached(token, key, now).await
    }

    /// [`verify_str`](Self::verify_str) when it can answer without waiting:
    /// `Some` for a token in the cache, and for a JWT whose signing key is
    /// already held (checked here, synchronously, and cached like any other);
    /// `None` when the answer needs the network (the JWKS fetched or
    /// refreshed, an opaque token introspected): then await
    /// [`verify_str`](Self::verify_str). A caller on a hot path (the axum
    /// layer) thus needs no future, no allocation and no `.await` for all but
    /// the first token after a key rotation and opaque tokens. The scheme's
    /// refusals are the same as [`verify_str`](Self::verify_str)'s, a cached
    /// token included: none under [`DpopMode::Required`], and none for a
    /// sender-constrained token.
    pub fn verify_now(&self, token: &str) -> Option<Result<Arc<BearerClaims>>> {
        self.verify_now_bytes(token.as_bytes())
    }

    /// [`verify_now`](Self::verify_now) for a token still in the bytes of a request header
    /// (`Authorization: Bearer` as it arrived): the cache is asked with those bytes as they are,
    /// so a token seen before costs one digest and a lookup and no other pass over it. Only a
    /// token that is not cached is read as text; one that is not UTF-8 is refused as malformed.
    ///
    /// Every token this answers `Some(Ok(_))` for is a JWS that verified, so base64url and dots
    /// only: a b64token (RFC 6750 §2.1). A caller that refuses other syntax with its own answer
    /// (the axum layer's `400`) may thus check it only when the answer is not `Some(Ok(_))`.
    pub fn verify_now_bytes(&self, token: &[u8]) -> Option<Result<Arc<BearerClaims>>> {
        if self.inner.config.dpop.mode == DpopMode::Required {
            return Some(Err(Error::DpopProof(crate::error::DpopProofError::Required)));
        }
        // One clock read for the lookup, the claims' time checks and the insert.
        let now = self.now_ms();
        let key = self.inner.digester.digest(token);
        if let Some(hit) = key.and_then(|key| self.inner.jwt_cache.get(&key, now)) {
            return Some(as_bearer(hit));
        }
        let Ok(token) = std::str::from_utf8(token) else {
            return Some(Err(Error::AccessToken(IdTokenError::Malformed(
                "the token is not a b64token (RFC 6750 §2.1)".into(),
            ))));
        };
        // The dots are found once, here, and the split reuses them.
        let token = Compact::of(token)?;
        let claims = self.inner.jwt.verify_now_at(token, now / 1000)?;
        Some(
            claims
                .and_then(|claims| self.accept_jwt(claims, key, now))
                .and_then(as_bearer),
        )
    }

    /// The claims of `token` if it is a JWT this verifier has accepted before
    /// as a bearer token and whose `exp` has not passed: the cache lookup of
    /// [`verify_str`](Self::verify_str) alone, synchronous, so a caller on a
    /// hot path (the axum layer) answers a token seen before without an
    /// `.await` or a future to allocate. `None` means "not cached" and says
    /// nothing about the token: [`verify_str`](Self::verify_str) decides, so
    /// a cached sender-constrained token, and any token under
    /// [`DpopMode::Required`], is `None` here and refused there.
    pub fn try_cached(&self, token: &str) -> Option<Arc<BearerClaims>> {
        if self.inner.config.dpop.mode == DpopMode::Required {
            return None;
        }
        let key = self.inner.digester.digest(token.as_bytes())?;
        self.inner
            .jwt_cache
            .get(&key, self.now_ms())
            .filter(|claims| !claims.sender_constrained())
    }

    /// `key` is `None` for a token the caches cannot hold (see `cache`).
    async fn verify_uncached(
        &self,
        token: &str,
        key: Option<TokenDigest>,
        now: u64,
    ) -> Result<Arc<BearerClaims>> {
        // Only verified JWTs are in the cache: a hit needed no look at the token's form.
        if looks_like_jwt(token) {
            self.verify_jwt(token, key).await
        } else if self.inner.config.introspection {
            self.introspect(token, key, now).await
        } else {
            Err(Error::AccessToken(IdTokenError::Malformed(
                "not a JWT, and this API does not introspect opaque tokens".into(),
            )))
        }
    }

    async fn verify_jwt(&self, token: &str, key: Option<TokenDigest>) -> Result<Arc<BearerClaims>> {
        let claims = self.inner.jwt.verify_str(token).await?;
        self.accept_jwt(claims, key, self.now_ms())
    }

    /// The checks of a JWT that passed as an access token but the scheme's
    /// (a DPoP-bound one is cached too, for [`verify_dpop`](Self::verify_dpop));
    /// caches it.
    fn accept_jwt(
        &self,
        claims: AccessTokenClaims,
        key: Option<TokenDigest>,
        now_ms: u64,
    ) -> Result<Arc<BearerClaims>> {
        self.check_client_id(claims.client_id.as_deref())?;
        let until = u64::try_from(claims.exp).unwrap_or(0).saturating_mul(1000);
        let claims = Arc::new(BearerClaims::Jwt(claims));
        if let Some(key) = key {
            self.inner
                .jwt_cache
                .insert(key, Arc::clone(&claims), now_ms, until);
        }
        Ok(claims)
    }

    /// The check both kinds share: the `client_id` allow-list.
    fn check_client_id(&self, client_id: Option<&str>) -> Result<()> {
        if let Some(allowed) = &self.inner.config.client_ids
            && !client_id.is_some_and(|id| allowed.iter().any(|a| a == id))
        {
            return Err(Error::AccessToken(IdTokenError::InvalidClaim("client_id")));
        }
        Ok(())
    }

    async fn introspect(&self, token: &str, key: Option<TokenDigest>, now: u64) -> Result<Arc<BearerClaims>> {
        let Some(key) = key else {
            return self.ask(token).await;
        };
        let bound = now.saturating_add(millis(FLIGHT_BOUND));
        let (flight, _) = self
            .inner
            .flights
            .get_or_insert(key, now, bound, || Arc::new(OnceCell::new()));
        if let Some(done) = flight.get() {
            return done.clone();
        }
        let mut asked = false;
        let outcome = flight
            .get_or_init(|| {
                asked = true;
                self.ask(token)
            })
            .await
            .clone();
        if asked {
            // The one caller that asked decides how long the answer stands.
            let now = self.now_ms();
            let until = match &outcome {
                Ok(claims) => {
                    let ttl = now.saturating_add(millis(self.inner.config.introspection_ttl));
                    claims.exp().map_or(ttl, |exp| {
                        ttl.min(u64::try_from(exp).unwrap_or(0).saturating_mul(1000))
                    })
                }
                Err(Error::AccessToken(_)) => now.saturating_add(millis(self.inner.config.negative_ttl)),
                // The provider could not answer: the next request asks again.
                Err(_) => now,
            };
            self.inner
                .flights
                .set_expiry(&key, |f| Arc::ptr_eq(f, &flight), now, until);
        }
        outcome
    }

    async fn ask(&self, token: &str) -> Result<Arc<BearerClaims>> {
        let client = &self.inner.config.client;
        let answer = client.introspect_token(&AccessToken::new(token)).await?;
        self.check_introspection(&answer)?;
        Ok(Arc::new(BearerClaims::Introspected(answer)))
    }

    /// RFC 7662 §2.2 plus the resource server's own rules (§4 of RFC 7662
    /// leaves the audience check to it).
    fn check_introspection(&self, answer: &Introspection) -> Result<()> {
        let refuse = |e: IdTokenError| Err(Error::AccessToken(e));
        if !answer.active {
            return refuse(IdTokenError::Inactive);
        }
        let client = &self.inner.config.client;
        let now = i64::try_from(client.clock().unix_now()).unwrap_or(i64::MAX);
        let leeway = i64::try_from(client.inner.leeway.as_secs()).unwrap_or(0);
        if answer.exp.is_some_and(|exp| now >= exp.saturating_add(leeway)) {
            return refuse(IdTokenError::Expired);
        }
        if answer.nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return refuse(IdTokenError::NotYetValid);
        }
        if let Some(iss) = &answer.iss
            && *iss != client.inner.issuer
        {
            return refuse(IdTokenError::IssuerMismatch {
                expected: client.inner.issuer.clone(),
                actual: crate::error::truncate(iss, 64),
            });
        }
        let audiences = &self.inner.config.audiences;
        if !audiences_of(answer.aud.as_ref())
            .into_iter()
            .any(|a| audiences.iter().any(|b| a == b))
        {
            return refuse(IdTokenError::AudienceMismatch);
        }
        if answer
            .token_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("refresh_token"))
        {
            return refuse(IdTokenError::TypeNotAllowed("refresh_token".into()));
        }
        self.check_client_id(answer.client_id.as_deref())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_jwt_has_exactly_two_dots() {
        for (token, jwt) in [
            ("a.b.c", true),
            ("..", true),
            ("eyJ.eyJ.", true),
            ("", false),
            ("abc", false),
            ("a.b", false),
            ("a.b.c.d", false),
            ("a.b.c.", false),
            ("a.b.c.d.e", false),
        ] {
            assert_eq!(super::looks_like_jwt(token), jwt, "{token}");
        }
    }
}
