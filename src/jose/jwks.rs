//! The provider's signing keys (JWKS, RFC 7517), fetched lazily, cached
//! parsed, and refreshed on expiry or on an unknown `kid`.
//!
//! What this module guarantees (docs/protocol.md §4.1; keys for
//! [OIDC Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation)
//! step 6 and [§10.1.1](https://openid.net/specs/openid-connect-core-1_0.html#RotateSigKeys),
//! signing key rotation):
//!
//! - keys are parsed once per fetch into aws-lc public keys, indexed by
//!   `kid`, so the verification hot path parses no key and takes no lock
//!   (the current set is read through an `ArcSwap`);
//! - the set is re-fetched when older than its `Cache-Control: max-age`
//!   (clamped to [`MIN_MAX_AGE`]..=[`MAX_MAX_AGE`], default [`DEFAULT_MAX_AGE`]),
//!   and at once when a token names a `kid` the set lacks (key rotation), but
//!   never sooner than the minimum interval (default
//!   [`DEFAULT_MIN_REFETCH_INTERVAL`]) after the previous attempt *ended*, so
//!   forged tokens with random `kid`s cannot turn the client into a load
//!   generator against the provider, and a slow provider is not asked again
//!   as soon as it answers;
//! - a set that is merely stale keeps serving (stale-while-revalidate): one
//!   background re-fetch runs, and a verification waits for it at most
//!   [`STALE_WAIT`] before using the stale keys, so a hanging JWKS endpoint
//!   does not queue verifications behind its timeout;
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
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use url::Url;

use crate::clock::Clock;
use crate::config::SigningAlgorithm;
use crate::error::{Error, IdTokenError, Result};
use crate::http::{Body, Http};
use crate::jose::keys::{KeyList, Lookup, parse_jwks};

/// Default minimum time between the end of one fetch and the start of the next.
pub const DEFAULT_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// How long a key set is used when the response says nothing about caching.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);
/// Lower bound on an advertised `max-age` (also used for `no-cache`/`no-store`).
pub const MIN_MAX_AGE: Duration = Duration::from_secs(60);
/// Upper bound on an advertised `max-age`.
pub const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// How long a verification that finds the set stale waits for the background
/// re-fetch before it uses the stale keys.
pub const STALE_WAIT: Duration = Duration::from_millis(250);

/// One fetched key set.
struct KeySet {
    keys: KeyList,
    fetched_at: SystemTime,
    max_age: Duration,
    generation: u64,
}

impl KeySet {
    fn is_stale(&self, now: SystemTime) -> bool {
        // A clock that went backwards also makes the set stale: refetching once is harmless.
        now.duration_since(self.fetched_at)
            .map_or(true, |age| age >= self.max_age)
    }

    fn kids(&self) -> BTreeSet<&str> {
        self.keys.kids().collect()
    }
}

/// Bookkeeping of fetches, held under the single-flight lock.
#[derive(Default)]
struct FetchState {
    /// When the last attempt ended (the rate limit counts from here).
    last_end: Option<SystemTime>,
    attempts: u64,
    /// The last fetch's error, handed to callers within the re-fetch interval so that a
    /// provider outage stays a transient error.
    last_failure: Option<Error>,
}

/// The per-client JWKS cache. The client owns it (behind an `Arc`, shared by
/// every clone of the client and every verifier) and hands it what it needs
/// to fetch: the HTTP layer, the `jwks_uri` and the clock.
pub(crate) struct JwksCache {
    http: Http,
    /// The JWKS URI, or why this client has none (a configuration error
    /// reported when a key is first needed).
    uri: Result<Url>,
    clock: Arc<dyn Clock>,
    /// The set in use. Read on every verification without a lock or a
    /// reference-count write (`ArcSwapOption::load`), so threads sharing one
    /// client do not contend on a cache line; replaced whole after a fetch.
    current: ArcSwapOption<KeySet>,
    fetch: tokio::sync::Mutex<FetchState>,
    /// Counts finished attempts; stale readers wait on it for [`STALE_WAIT`].
    finished: tokio::sync::watch::Sender<u64>,
    revalidating: AtomicBool,
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
    pub(crate) fn new(
        http: Http,
        uri: Result<Url>,
        clock: Arc<dyn Clock>,
        min_refetch_interval: Duration,
    ) -> Self {
        JwksCache {
            http,
            uri,
            clock,
            current: ArcSwapOption::empty(),
            fetch: tokio::sync::Mutex::new(FetchState::default()),
            finished: tokio::sync::watch::Sender::new(0),
            revalidating: AtomicBool::new(false),
            min_refetch_interval,
        }
    }

    /// Installs a key set as if fetched now (unit tests of the core), and
    /// counts that as the last attempt: with a clock that stands still, no
    /// fetch ever follows, so the fuzz targets verify with no network.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn preload(&self, keys: KeyList) {
        if let Ok(mut state) = self.fetch.try_lock() {
            state.last_end = Some(self.clock.now());
        }
        let set = KeySet {
            keys,
            fetched_at: self.clock.now(),
            max_age: DEFAULT_MAX_AGE,
            generation: 0,
        };
        self.current.store(Some(Arc::new(set)));
    }

    fn snapshot(&self) -> Option<Arc<KeySet>> {
        self.current.load_full()
    }

    /// Verifies `signature` over `message` with the key for `kid`/`alg`,
    /// fetching or re-fetching the set when needed.
    pub(crate) async fn verify(
        self: &Arc<Self>,
        kid: Option<&str>,
        alg: SigningAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        if let Some(done) = self.verify_now(kid, alg, message, signature) {
            return done;
        }
        let set = match self.snapshot() {
            Some(set) if !set.is_stale(self.clock.now()) => set,
            // Boxed: the fetch future is large and rare; the hot path should not carry its size.
            Some(stale) => Box::pin(self.revalidate(stale)).await,
            None => Box::pin(self.refresh(None, false)).await?,
        };
        match set.keys.lookup(kid, alg) {
            Lookup::Found(key) => return Ok(key.verify(alg, message, signature)?),
            Lookup::Refused(e) => return Err(e.into()),
            Lookup::Missing => {}
        }
        // Key rotation: the provider may have published a key we have not seen yet.
        tracing::debug!(
            kid,
            alg = alg.as_str(),
            "no matching key in the cached JWKS; re-fetching"
        );
        let set = Box::pin(self.refresh(Some(set), true)).await?;
        match set.keys.lookup(kid, alg) {
            Lookup::Found(key) => Ok(key.verify(alg, message, signature)?),
            Lookup::Refused(e) => Err(e.into()),
            Lookup::Missing => Err(match kid {
                Some(kid) => IdTokenError::UnknownKid(shorten(kid)),
                None => IdTokenError::NoUsableKey,
            }
            .into()),
        }
    }

    /// The warm path of [`verify`](Self::verify) alone, synchronous: `Some`
    /// when a fresh set settles it (the key found and the signature checked,
    /// or the key refused), `None` when a fetch may be needed (no set, a
    /// stale one, no key for `kid`). Reads the set without taking a reference.
    pub(crate) fn verify_now(
        &self,
        kid: Option<&str>,
        alg: SigningAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Option<Result<()>> {
        let current = self.current.load();
        let set = current.as_deref().filter(|set| !set.is_stale(self.clock.now()))?;
        match set.keys.lookup(kid, alg) {
            Lookup::Found(key) => Some(key.verify(alg, message, signature).map_err(Into::into)),
            Lookup::Refused(e) => Some(Err(e.into())),
            Lookup::Missing => None,
        }
    }

    /// Stale-while-revalidate: starts one background re-fetch (unless one
    /// runs), waits for it at most [`STALE_WAIT`], and otherwise returns the
    /// stale set.
    async fn revalidate(self: &Arc<Self>, stale: Arc<KeySet>) -> Arc<KeySet> {
        let mut finished = self.finished.subscribe();
        if !self.revalidating.swap(true, Ordering::AcqRel) {
            let cache = Arc::clone(self);
            let held = Arc::clone(&stale);
            let task = async move {
                // Failures are logged and remembered by `refresh`; the stale keys stay.
                let _ = cache.refresh(Some(held), false).await;
                cache.revalidating.store(false, Ordering::Release);
            };
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(task);
                }
                // Not on a tokio runtime (reqwest needs one anyway): fetch inline.
                Err(_) => task.await,
            }
        }
        let _ = tokio::time::timeout(STALE_WAIT, finished.changed()).await;
        self.snapshot().unwrap_or(stale)
    }

    /// Fetches a new set unless someone else did while we waited, or the
    /// last attempt ended too recently. `held` is the set the caller saw;
    /// `unknown_kid` says the fetch is for a missing key (rate limited even
    /// when `held` is fresh). Returns the set to use.
    async fn refresh(&self, held: Option<Arc<KeySet>>, unknown_kid: bool) -> Result<Arc<KeySet>> {
        let mut state = self.fetch.lock().await;
        // Single flight: a fetch that completed while we waited is as good as ours.
        let newer = self
            .snapshot()
            .filter(|current| held.as_ref().is_none_or(|h| h.generation != current.generation));
        if let Some(current) = newer {
            return Ok(current);
        }
        let too_soon = state.last_end.is_some_and(|end| {
            self.clock
                .now()
                .duration_since(end)
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
        state.attempts += 1;
        let generation = state.attempts;
        let result = self.fetch(generation).await;
        state.last_end = Some(self.clock.now());
        let outcome = match result {
            Ok(set) => {
                state.last_failure = None;
                let set = Arc::new(set);
                log_rotation(held.as_deref(), &set);
                self.current.store(Some(set.clone()));
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
        };
        self.finished.send_modify(|n| *n = n.wrapping_add(1));
        outcome
    }

    /// `GET jwks_uri` through the client's HTTP layer and parse it.
    async fn fetch(&self, generation: u64) -> Result<KeySet> {
        let url = self.uri.clone()?;
        let fetched_at = self.clock.now();
        let reply = self
            .http
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
            fetched_at,
            max_age,
            generation,
        })
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

/// The cache lifetime a `Cache-Control` value asks for, clamped.
pub(crate) fn cache_max_age(value: &str) -> Duration {
    let mut max_age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return MIN_MAX_AGE;
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            let secs = secs.trim_matches('"');
            // RFC 9111 §1.2.2: a delta-seconds too large to represent means the largest one.
            let too_large = !secs.is_empty() && secs.bytes().all(|b| b.is_ascii_digit());
            max_age = secs
                .parse::<u64>()
                .ok()
                .or(too_large.then_some(u64::MAX))
                .map(Duration::from_secs);
        }
    }
    max_age.map_or(DEFAULT_MAX_AGE, |d| d.clamp(MIN_MAX_AGE, MAX_MAX_AGE))
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
}
