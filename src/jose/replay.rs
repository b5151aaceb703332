//! A bounded memory of the `jti` values already accepted (RFC 7519 §4.1.7:
//! "the jti claim can be used to prevent the JWT from being replayed").
//!
//! Each entry is kept only as long as the token it came from could still be
//! accepted (its `exp`, or its `iat` plus the kind's age window, plus the
//! leeway): after that the token is refused by its clock checks anyway, so
//! forgetting its `jti` reopens nothing. When the memory is full of entries
//! that are all still needed, a new token is refused rather than an old entry
//! dropped: dropping one would let that token be replayed, and only the
//! provider can mint tokens that reach this point (they have passed the
//! signature and claim checks), so a full memory means a provider flooding
//! its own clients, which the provider's retries (Back-Channel Logout §2.8)
//! recover from once entries expire.

use std::collections::HashMap;
use std::sync::Mutex;

/// How many `jti` values one client remembers at most.
pub const MAX_REMEMBERED_JTI: usize = 10_000;

/// Why a `jti` was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotRecorded {
    /// It was recorded before and is still remembered.
    Replayed,
    /// The memory is full of entries that are all still needed.
    Full,
}

/// `(issuer, jti)` pairs with the time until which each is remembered.
pub(crate) struct ReplayCache {
    seen: Mutex<HashMap<(String, String), i64>>,
    capacity: usize,
}

impl std::fmt::Debug for ReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Default for ReplayCache {
    fn default() -> Self {
        ReplayCache::new(MAX_REMEMBERED_JTI)
    }
}

impl ReplayCache {
    pub(crate) fn new(capacity: usize) -> Self {
        ReplayCache {
            seen: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// Records `jti` of `issuer` until `keep_until` (seconds since the
    /// epoch), unless it is already remembered at `now`.
    pub(crate) fn record(
        &self,
        issuer: &str,
        jti: &str,
        keep_until: i64,
        now: i64,
    ) -> Result<(), NotRecorded> {
        // A poisoned lock only means a panic elsewhere; the map inside is still whole.
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (issuer.to_owned(), jti.to_owned());
        // Remembered through `keep_until` itself: the caller still accepts a
        // token at that very second.
        if seen.get(&key).is_some_and(|until| *until >= now) {
            return Err(NotRecorded::Replayed);
        }
        if seen.len() >= self.capacity {
            seen.retain(|_, until| *until >= now);
        }
        if seen.len() >= self.capacity && !seen.contains_key(&key) {
            return Err(NotRecorded::Full);
        }
        seen.insert(key, keep_until);
        Ok(())
    }

    /// Forgets `jti` of `issuer`, so that the same token is accepted again:
    /// for when the work the token asked for failed and its sender will retry.
    pub(crate) fn forget(&self, issuer: &str, jti: &str) {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.remove(&(issuer.to_owned(), jti.to_owned()));
    }

    /// How many entries are held (for tests of the bound).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.seen.lock().map(|s| s.len()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jti_is_refused_while_remembered_and_forgotten_after() {
        let cache = ReplayCache::new(10);
        assert_eq!(cache.record("i", "a", 100, 0), Ok(()));
        assert_eq!(cache.record("i", "a", 100, 50), Err(NotRecorded::Replayed));
        // Another issuer's jti of the same value is another token.
        assert_eq!(cache.record("j", "a", 100, 50), Ok(()));
        // Past its keep-until the token's own clock checks refuse it; the entry may go.
        assert_eq!(cache.record("i", "a", 200, 101), Ok(()));
    }

    #[test]
    fn the_memory_is_bounded_and_refuses_rather_than_forgets() {
        let cache = ReplayCache::new(3);
        for jti in ["a", "b", "c"] {
            assert_eq!(cache.record("i", jti, 100, 0), Ok(()));
        }
        assert_eq!(cache.record("i", "d", 100, 10), Err(NotRecorded::Full));
        assert_eq!(cache.record("i", "a", 100, 10), Err(NotRecorded::Replayed));
        assert_eq!(cache.len(), 3);
        // Once the entries' time is over they are purged to make room.
        assert_eq!(cache.record("i", "d", 300, 101), Ok(()));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn remembered_through_the_last_second_the_token_is_accepted() {
        // The verifier accepts a token up to and including `keep_until`; so
        // must the memory refuse its replay then.
        let cache = ReplayCache::new(10);
        assert_eq!(cache.record("i", "a", 100, 0), Ok(()));
        assert_eq!(cache.record("i", "a", 100, 100), Err(NotRecorded::Replayed));
        assert_eq!(cache.record("i", "a", 200, 101), Ok(()));
    }

    #[test]
    fn a_forgotten_jti_is_accepted_again() {
        let cache = ReplayCache::new(10);
        assert_eq!(cache.record("i", "a", 100, 0), Ok(()));
        cache.forget("i", "a");
        assert_eq!(cache.record("i", "a", 100, 1), Ok(()));
        assert_eq!(cache.record("i", "a", 100, 2), Err(NotRecorded::Replayed));
    }
}
