//! A bounded, expiring map keyed by the SHA-256 digest of a token.
//!
//! The key is a digest, not the token: the cache never holds a bearer
//! credential (the token stays in the request that brought it), and a
//! 32-byte key costs the same for every token length. SHA-256 output is
//! uniform and cannot be steered by whoever chooses the token, so the map
//! hashes by the digest's first eight bytes instead of running SipHash over
//! it again (no HashDoS to defend against).
//!
//! The map is split into shards, each behind its own mutex held only for a
//! lookup or an insert (never across an `.await`), so concurrent requests
//! rarely contend. Each shard holds at most its share of the configured
//! bound; an insert into a full shard first drops expired entries, then, if
//! none expired, one arbitrary entry.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

/// The SHA-256 of a token.
pub(crate) type TokenDigest = [u8; 32];

/// The digest of `token` (RFC 6234's SHA-256).
pub(crate) fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

const SHARDS: usize = 16;

/// Hashes a [`TokenDigest`] by its first eight bytes (see the module docs).
#[derive(Default)]
pub(crate) struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // `[u8; 32]` hashes as its bytes (no length prefix for arrays); fold
        // anything else in too, so the hasher stays correct if reused.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }
}

type Shard<V> = HashMap<TokenDigest, Entry<V>, BuildHasherDefault<DigestHasher>>;

struct Entry<V> {
    value: V,
    /// Milliseconds since the Unix epoch after which the entry is gone.
    until_ms: u64,
}

/// See the [module docs](self).
pub(crate) struct TokenCache<V> {
    shards: Box<[Mutex<Shard<V>>]>,
    per_shard: usize,
}

impl<V: Clone> TokenCache<V> {
    /// A cache of at most about `max_entries` entries (0 caches nothing).
    pub(crate) fn new(max_entries: usize) -> Self {
        TokenCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: max_entries.div_ceil(SHARDS),
        }
    }

    fn shard(&self, key: &TokenDigest) -> std::sync::MutexGuard<'_, Shard<V>> {
        let shard = &self.shards[usize::from(key[31]) % SHARDS];
        // A panic while holding a shard lock cannot leave an entry half
        // written (inserts and removals are single calls), so a poisoned
        // lock's map is still sound.
        shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The live value under `key`, if any.
    pub(crate) fn get(&self, key: &TokenDigest, now_ms: u64) -> Option<V> {
        let mut shard = self.shard(key);
        match shard.get(key) {
            Some(entry) if entry.until_ms > now_ms => Some(entry.value.clone()),
            Some(_) => {
                shard.remove(key);
                None
            }
            None => None,
        }
    }

    /// The live value under `key`, or `make()` stored there until
    /// `until_ms`; the flag says whether the value was just made.
    pub(crate) fn get_or_insert(
        &self,
        key: TokenDigest,
        now_ms: u64,
        until_ms: u64,
        make: impl FnOnce() -> V,
    ) -> (V, bool) {
        let mut shard = self.shard(&key);
        if let Some(entry) = shard.get(&key).filter(|e| e.until_ms > now_ms) {
            return (entry.value.clone(), false);
        }
        let value = make();
        self.store(&mut shard, key, value.clone(), now_ms, until_ms);
        (value, true)
    }

    /// Stores `value` under `key` until `until_ms` (nothing when that has
    /// passed already, or the cache is bounded to nothing).
    pub(crate) fn insert(&self, key: TokenDigest, value: V, now_ms: u64, until_ms: u64) {
        let mut shard = self.shard(&key);
        self.store(&mut shard, key, value, now_ms, until_ms);
    }

    fn store(&self, shard: &mut Shard<V>, key: TokenDigest, value: V, now_ms: u64, until_ms: u64) {
        if until_ms <= now_ms || self.per_shard == 0 {
            shard.remove(&key);
            return;
        }
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            shard.retain(|_, e| e.until_ms > now_ms);
            if shard.len() >= self.per_shard {
                // Iteration order is arbitrary: an unbiased-enough victim,
                // chosen in O(1) without bookkeeping on the hit path.
                if let Some(victim) = shard.keys().next().copied() {
                    shard.remove(&victim);
                }
            }
        }
        shard.insert(key, Entry { value, until_ms });
    }

    /// Changes the expiry of the entry under `key` if it still holds the
    /// value `is_same` recognises; an expiry already passed removes it.
    pub(crate) fn set_expiry(
        &self,
        key: &TokenDigest,
        is_same: impl Fn(&V) -> bool,
        now_ms: u64,
        until_ms: u64,
    ) {
        let mut shard = self.shard(key);
        if let Some(entry) = shard.get_mut(key).filter(|e| is_same(&e.value)) {
            if until_ms <= now_ms {
                shard.remove(key);
            } else {
                entry.until_ms = until_ms;
            }
        }
    }

    /// How many entries are held (expired ones not yet dropped included).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_bound_holds() {
        let cache = TokenCache::<u32>::new(32);
        cache.insert(digest("a"), 1, 1_000, 2_000);
        assert_eq!(cache.get(&digest("a"), 1_999), Some(1));
        assert_eq!(cache.get(&digest("a"), 2_000), None);
        for i in 0..10_000u32 {
            cache.insert(digest(&i.to_string()), i, 1_000, 5_000);
        }
        assert!(cache.len() <= 32, "{} entries", cache.len());
        // An expiry in the past stores nothing.
        cache.insert(digest("b"), 2, 3_000, 3_000);
        assert_eq!(cache.get(&digest("b"), 2_000), None);
    }

    #[test]
    fn get_or_insert_makes_once_and_set_expiry_targets_the_same_value() {
        let cache = TokenCache::<u32>::new(8);
        let (v, made) = cache.get_or_insert(digest("t"), 0, 100, || 7);
        assert!(made && v == 7);
        let (v, made) = cache.get_or_insert(digest("t"), 50, 100, || 8);
        assert!(!made && v == 7);
        cache.set_expiry(&digest("t"), |v| *v == 8, 50, 60);
        assert_eq!(cache.get(&digest("t"), 70), Some(7));
        cache.set_expiry(&digest("t"), |v| *v == 7, 50, 60);
        assert_eq!(cache.get(&digest("t"), 70), None);
    }
}
