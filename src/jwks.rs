//! The provider's signing keys (JWKS, RFC 7517), fetched lazily, cached
//! parsed, and refreshed on expiry or on an unknown `kid`.
//!
//! What this module guarantees (docs/protocol.md §4.1; keys for
//! [OIDC Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation)
//! step 6 and [§10.1.1](https://openid.net/specs/openid-connect-core-1_0.html#RotateSigKeys),
//! signing key rotation):
//!
//! - keys are parsed once per fetch into verifier-ready [`DecodingKey`]s, so
//!   the verification hot path parses no JWK and takes no async lock;
//! - the set is re-fetched when older than its `Cache-Control: max-age`
//!   (clamped to [`MIN_MAX_AGE`]..=[`MAX_MAX_AGE`], default [`DEFAULT_MAX_AGE`]),
//!   and at once when a token names a `kid` the set lacks (key rotation), but
//!   never more than once per minimum interval (default
//!   [`DEFAULT_MIN_REFETCH_INTERVAL`]), so forged tokens with random `kid`s
//!   cannot turn the client into a load generator against the provider;
//! - concurrent verifications that need a fetch share one request;
//! - keys of an unknown type, with `use` other than `sig`, symmetric keys,
//!   and keys that do not parse are skipped, not fatal;
//! - a failed re-fetch keeps the keys already held (they are only replaced by
//!   a successfully parsed set).
//!
//! Errors: HTTP failures are returned as they are ([`Error::Transport`],
//! [`Error::Timeout`], [`Error::Op`]), so [`Error::is_transient`] answers for
//! them; a document that is not a JWKS is [`IdTokenError::Jwks`]. With no keys
//! held and the last fetch failed less than the minimum interval ago, that
//! failure is returned again without a new request (a provider outage stays
//! transient).

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use serde_json::Value;

use crate::client::{AuthenticationClient, Endpoint};
use crate::config::SigningAlgorithm;
use crate::error::{Error, IdTokenError, Result};
use crate::http::Body;

/// Default minimum time between two fetches triggered by an unknown `kid`.
pub const DEFAULT_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// How long a key set is used when the response says nothing about caching.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);
/// Lower bound on an advertised `max-age` (also used for `no-cache`/`no-store`).
pub const MIN_MAX_AGE: Duration = Duration::from_secs(60);
/// Upper bound on an advertised `max-age`.
pub const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// The key types this client can verify with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyType {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyType {
    /// Whether a JWS `alg` may be used with a key of this type.
    fn fits(self, alg: SigningAlgorithm) -> bool {
        use SigningAlgorithm as A;
        match self {
            KeyType::Rsa => matches!(
                alg,
                A::RS256 | A::RS384 | A::RS512 | A::PS256 | A::PS384 | A::PS512
            ),
            KeyType::P256 => alg == A::ES256,
            KeyType::P384 => alg == A::ES384,
            KeyType::Ed25519 => alg == A::EdDSA,
        }
    }
}

/// One usable, parsed public key.
pub(crate) struct Key {
    pub(crate) kid: Option<String>,
    pub(crate) kty: KeyType,
    /// The JWK's `alg`, when it has one: the only algorithm this key verifies.
    pub(crate) alg: Option<SigningAlgorithm>,
    pub(crate) decoding: DecodingKey,
}

impl Key {
    fn fits(&self, alg: SigningAlgorithm) -> bool {
        self.kty.fits(alg) && self.alg.is_none_or(|a| a == alg)
    }
}

/// One fetched key set.
pub(crate) struct KeySet {
    keys: Vec<Key>,
    fetched_at: SystemTime,
    max_age: Duration,
    generation: u64,
}

/// What a key set says about a (kid, alg) pair.
enum Lookup {
    Found(usize),
    /// No key with that kid (or, without kid, no key for the alg): a re-fetch may help.
    Missing,
    Refused(IdTokenError),
}

impl KeySet {
    fn is_stale(&self, now: SystemTime) -> bool {
        // A clock that went backwards also makes the set stale: refetching once is harmless.
        now.duration_since(self.fetched_at)
            .map_or(true, |age| age >= self.max_age)
    }

    fn lookup(&self, kid: Option<&str>, alg: SigningAlgorithm) -> Lookup {
        match kid {
            Some(kid) => {
                let mut named = false;
                for (i, k) in self.keys.iter().enumerate() {
                    if k.kid.as_deref() == Some(kid) {
                        if k.fits(alg) {
                            return Lookup::Found(i);
                        }
                        named = true;
                    }
                }
                if named {
                    // The kid exists but is of another type (or pinned to another alg).
                    Lookup::Refused(IdTokenError::AlgorithmKeyMismatch {
                        alg: alg.as_str().to_owned(),
                        kid: Some(kid.to_owned()),
                    })
                } else {
                    Lookup::Missing
                }
            }
            None => {
                let mut fitting = self.keys.iter().enumerate().filter(|(_, k)| k.fits(alg));
                match (fitting.next(), fitting.next()) {
                    (Some((i, _)), None) => Lookup::Found(i),
                    (Some(_), Some(_)) => Lookup::Refused(IdTokenError::AmbiguousKey),
                    (None, _) => Lookup::Missing,
                }
            }
        }
    }

    fn kids(&self) -> BTreeSet<&str> {
        self.keys.iter().filter_map(|k| k.kid.as_deref()).collect()
    }
}

/// A key found for a token: the set it lives in and its index.
pub(crate) struct FoundKey {
    set: Arc<KeySet>,
    index: usize,
}

impl FoundKey {
    pub(crate) fn key(&self) -> &Key {
        &self.set.keys[self.index]
    }
}

/// Bookkeeping of fetches, held under the single-flight lock.
#[derive(Default)]
struct FetchState {
    last_attempt: Option<SystemTime>,
    attempts: u64,
    /// The last fetch's error, handed to callers within the re-fetch interval so that a
    /// provider outage stays a transient error.
    last_failure: Option<Error>,
}

/// The per-client JWKS cache. Lives in the client's shared state, so every
/// clone of the client and every verifier shares it.
pub(crate) struct JwksCache {
    current: RwLock<Option<Arc<KeySet>>>,
    fetch: tokio::sync::Mutex<FetchState>,
    min_refetch_interval: Duration,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("min_refetch_interval", &self.min_refetch_interval)
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    pub(crate) fn new(min_refetch_interval: Duration) -> Self {
        JwksCache {
            current: RwLock::new(None),
            fetch: tokio::sync::Mutex::new(FetchState::default()),
            min_refetch_interval,
        }
    }

    fn snapshot(&self) -> Option<Arc<KeySet>> {
        // A poisoned lock only means a panic elsewhere; the Arc inside is still whole.
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The key to verify a token with header `kid`/`alg`, fetching or
    /// re-fetching the set when needed.
    pub(crate) async fn find(
        &self,
        client: &AuthenticationClient,
        kid: Option<&str>,
        alg: SigningAlgorithm,
    ) -> Result<FoundKey> {
        let now = client.clock().now();
        let set = match self.snapshot() {
            Some(set) if !set.is_stale(now) => set,
            // Boxed: the fetch future is large and rare; the hot path should not carry its size.
            held => Box::pin(self.refresh(client, held, false)).await?,
        };
        match set.lookup(kid, alg) {
            Lookup::Found(index) => return Ok(FoundKey { set, index }),
            Lookup::Refused(e) => return Err(e.into()),
            Lookup::Missing => {}
        }
        // Key rotation: the provider may have published a key we have not seen yet.
        tracing::debug!(
            kid,
            alg = alg.as_str(),
            "no matching key in the cached JWKS; re-fetching"
        );
        let set = Box::pin(self.refresh(client, Some(set), true)).await?;
        match set.lookup(kid, alg) {
            Lookup::Found(index) => Ok(FoundKey { set, index }),
            Lookup::Refused(e) => Err(e.into()),
            Lookup::Missing => Err(match kid {
                Some(kid) => IdTokenError::UnknownKid(shorten(kid)),
                None => IdTokenError::NoUsableKey,
            }
            .into()),
        }
    }

    /// Fetches a new set unless someone else did while we waited, or the
    /// last attempt was too recent. `held` is the set the caller saw;
    /// `unknown_kid` says the fetch is for a missing key (rate limited even
    /// when `held` is fresh). Returns the set to use.
    async fn refresh(
        &self,
        client: &AuthenticationClient,
        held: Option<Arc<KeySet>>,
        unknown_kid: bool,
    ) -> Result<Arc<KeySet>> {
        let mut state = self.fetch.lock().await;
        // Single flight: a fetch that completed while we waited is as good as ours.
        let newer = self
            .snapshot()
            .filter(|current| held.as_ref().is_none_or(|h| h.generation != current.generation));
        if let Some(current) = newer {
            return Ok(current);
        }
        let now = client.clock().now();
        let too_soon = state.last_attempt.is_some_and(|last| {
            now.duration_since(last)
                .is_ok_and(|since| since < self.min_refetch_interval)
        });
        if too_soon {
            if let Some(held) = held {
                if unknown_kid {
                    tracing::debug!("JWKS re-fetch skipped: the last fetch was too recent");
                }
                return Ok(held);
            }
            return Err(state.last_failure.clone().unwrap_or_else(|| {
                IdTokenError::Jwks(format!(
                    "no keys (not retried within {} s)",
                    self.min_refetch_interval.as_secs()
                ))
                .into()
            }));
        }
        state.last_attempt = Some(now);
        state.attempts += 1;
        let generation = state.attempts;
        match fetch(client, now, generation).await {
            Ok(set) => {
                state.last_failure = None;
                let set = Arc::new(set);
                log_rotation(held.as_deref(), &set);
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(set.clone());
                Ok(set)
            }
            Err(e) => {
                state.last_failure = Some(e.clone());
                match held {
                    // Stale keys beat no keys: the provider may be briefly down.
                    Some(held) => {
                        tracing::warn!(error = %e, "JWKS re-fetch failed; keeping the keys held");
                        Ok(held)
                    }
                    None => Err(e),
                }
            }
        }
    }
}

fn log_rotation(old: Option<&KeySet>, new: &KeySet) {
    let new_kids = new.kids();
    match old {
        None => tracing::info!(keys = new.keys.len(), kids = ?new_kids, "JWKS fetched"),
        Some(old) => {
            let old_kids = old.kids();
            let added: Vec<_> = new_kids.difference(&old_kids).collect();
            let removed: Vec<_> = old_kids.difference(&new_kids).collect();
            if added.is_empty() && removed.is_empty() {
                tracing::debug!(keys = new.keys.len(), "JWKS re-fetched, unchanged");
            } else {
                tracing::info!(?added, ?removed, "JWKS keys rotated");
            }
        }
    }
}

/// `GET jwks_uri` through the client's HTTP layer and parse it.
async fn fetch(client: &AuthenticationClient, now: SystemTime, generation: u64) -> Result<KeySet> {
    let url = client.endpoint(Endpoint::Jwks)?;
    let reply = client
        .http()
        .get("jwks", url, None)
        .await?
        .error_for_status(Body::Quotable)?;
    let max_age = reply
        .headers
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .map_or(DEFAULT_MAX_AGE, cache_max_age);
    let keys = parse_jwks(&reply.body)?;
    Ok(KeySet {
        keys,
        fetched_at: now,
        max_age,
        generation,
    })
}

/// The cache lifetime a `Cache-Control` value asks for, clamped.
fn cache_max_age(value: &str) -> Duration {
    let mut max_age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return MIN_MAX_AGE;
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            max_age = secs
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    max_age.map_or(DEFAULT_MAX_AGE, |d| d.clamp(MIN_MAX_AGE, MAX_MAX_AGE))
}

#[derive(Deserialize)]
struct JwkSetDocument {
    keys: Vec<Value>,
}

/// The members of a JWK this client reads (RFC 7517 §4, RFC 7518 §6, RFC 8037).
#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    key_ops: Option<Vec<String>>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

/// Parses a JWKS document into usable keys, skipping the rest.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<Vec<Key>> {
    let doc: JwkSetDocument = serde_json::from_slice(body)
        .map_err(|e| IdTokenError::Jwks(format!("the JWKS is not a JSON object with a keys array: {e}")))?;
    let total = doc.keys.len();
    let keys: Vec<Key> = doc
        .keys
        .into_iter()
        .filter_map(|value| match parse_jwk(value) {
            Ok(key) => Some(key),
            Err(why) => {
                tracing::debug!(reason = why, "JWKS key skipped");
                None
            }
        })
        .collect();
    if keys.len() < total {
        tracing::debug!(usable = keys.len(), total, "some JWKS keys were skipped");
    }
    Ok(keys)
}

fn parse_jwk(value: Value) -> std::result::Result<Key, &'static str> {
    let jwk: RawJwk = serde_json::from_value(value).map_err(|_| "not a JWK")?;
    // RFC 7517 §4.2: a key for encryption must not verify signatures.
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return Err("use is not sig");
    }
    if jwk
        .key_ops
        .as_ref()
        .is_some_and(|ops| !ops.iter().any(|o| o == "verify"))
    {
        return Err("key_ops lacks verify");
    }
    let alg = match jwk.alg.as_deref() {
        None => None,
        Some(a) => {
            let alg: SigningAlgorithm = a.parse().map_err(|_| "alg not on the allow-list")?;
            if alg.is_symmetric() {
                return Err("HS* keys are never taken from a JWKS");
            }
            Some(alg)
        }
    };
    let field = |v: &Option<String>| -> std::result::Result<Vec<u8>, &'static str> {
        let v = v.as_deref().ok_or("missing key member")?;
        URL_SAFE_NO_PAD
            .decode(v)
            .map_err(|_| "key member is not base64url")
    };
    let (kty, decoding) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RSA", _) => {
            let n = field(&jwk.n)?;
            let e = field(&jwk.e)?;
            let significant = n.iter().skip_while(|b| **b == 0).count();
            // aws-lc verifies 2048..=8192-bit moduli only; smaller ones are unsafe anyway.
            if !(256..=1024).contains(&significant) || e.is_empty() || e.len() > 8 {
                return Err("RSA key size outside 2048..=8192 bits");
            }
            (KeyType::Rsa, DecodingKey::from_rsa_raw_components(&n, &e))
        }
        ("EC", Some(crv @ ("P-256" | "P-384"))) => {
            let (kty, len) = if crv == "P-256" {
                (KeyType::P256, 32)
            } else {
                (KeyType::P384, 48)
            };
            let x = field(&jwk.x)?;
            let y = field(&jwk.y)?;
            if x.len() != len || y.len() != len {
                return Err("EC coordinates of the wrong length");
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            (kty, DecodingKey::from_ec_der(&point))
        }
        ("OKP", Some("Ed25519")) => {
            let x = field(&jwk.x)?;
            if x.len() != 32 {
                return Err("Ed25519 key of the wrong length");
            }
            (KeyType::Ed25519, DecodingKey::from_ed_der(&x))
        }
        ("EC", _) | ("OKP", _) => return Err("unsupported curve"),
        ("oct", _) => return Err("symmetric keys are never taken from a JWKS"),
        _ => return Err("unknown kty"),
    };
    if alg.is_some_and(|alg| !kty.fits(alg)) {
        return Err("alg does not fit kty");
    }
    Ok(Key {
        kid: jwk.kid,
        kty,
        alg,
        decoding,
    })
}

/// At most 64 characters of a value taken from a token, for error messages.
pub(crate) fn shorten(s: &str) -> String {
    crate::error::truncate(s, 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_is_clamped() {
        assert_eq!(cache_max_age("public, max-age=300"), Duration::from_secs(300));
        assert_eq!(cache_max_age("max-age=1"), MIN_MAX_AGE);
        assert_eq!(cache_max_age("max-age=99999999"), MAX_MAX_AGE);
        assert_eq!(cache_max_age("no-store"), MIN_MAX_AGE);
        assert_eq!(cache_max_age("public"), DEFAULT_MAX_AGE);
        assert_eq!(cache_max_age("max-age=abc"), DEFAULT_MAX_AGE);
    }

    #[test]
    fn junk_keys_are_skipped() {
        let n = URL_SAFE_NO_PAD.encode([0xc5u8; 256]);
        let doc = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "ok", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "small", "n": "AQAB", "e": "AQAB"},
            {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
            {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"},
            {"kty": "EC", "crv": "P-256", "x": "!!", "y": "AA"},
            {"kty": "PQC", "kid": "future"},
            {"kty": "RSA", "kid": "hs", "alg": "HS256", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "es", "alg": "ES256", "n": n, "e": "AQAB"},
            42,
            {"no": "kty"}
        ]});
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("ok"));
        assert!(parse_jwks(b"{\"nokeys\": []}").is_err());
        assert!(parse_jwks(b"not json").is_err());
    }

    #[test]
    fn lookup_rules() {
        let n = URL_SAFE_NO_PAD.encode([0xc5u8; 256]);
        let doc = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "a", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "b", "alg": "PS256", "n": n, "e": "AQAB"},
        ]});
        let set = KeySet {
            keys: parse_jwks(doc.to_string().as_bytes()).unwrap(),
            fetched_at: SystemTime::UNIX_EPOCH,
            max_age: DEFAULT_MAX_AGE,
            generation: 1,
        };
        use SigningAlgorithm as A;
        assert!(matches!(set.lookup(Some("a"), A::RS256), Lookup::Found(0)));
        assert!(matches!(
            set.lookup(Some("a"), A::ES256),
            Lookup::Refused(IdTokenError::AlgorithmKeyMismatch { .. })
        ));
        assert!(matches!(
            set.lookup(Some("b"), A::RS256),
            Lookup::Refused(IdTokenError::AlgorithmKeyMismatch { .. })
        ));
        assert!(matches!(set.lookup(Some("c"), A::RS256), Lookup::Missing));
        assert!(matches!(set.lookup(None, A::RS256), Lookup::Found(0)));
        assert!(matches!(
            set.lookup(None, A::PS256),
            Lookup::Refused(IdTokenError::AmbiguousKey)
        ));
        assert!(matches!(set.lookup(None, A::ES256), Lookup::Missing));
    }
}
