//! A bounded, expiring map keyed by a keyed digest of a token.
//!
//! The key is a digest, not the token: the cache never holds a bearer
//! credential (the token stays in the request that brought it), and a
//! 16-byte key costs the same for every token length.
//!
//! **Which digest.** Every request with a token seen before computes one,
//! so it is the largest cost of a cache hit; SHA-256 of a ~750-byte RS256
//! access token took twice as long as the rest of the hit path together
//! (docs/benchmarks.md, "Bearer layer"). The digest is GMAC instead: the
//! AES-128-GCM tag of the token taken as associated data (no plaintext),
//! under a key drawn from the operating system for each verifier, with a
//! fixed nonce. GHASH runs on the CPU's carry-less multiply, about twice as
//! fast as SHA-256 here, and a keyed digest is all a hit needs:
//!
//! - *Another token cannot pass for a cached one.* Two tokens `a ≠ b` have
//!   the same tag only if `GHASH_H(a) = GHASH_H(b)`: the fixed nonce makes
//!   the tag's mask `AES_K(nonce)` one constant, which cancels, and the rest
//!   is a nonzero polynomial in the secret `H = AES_K(0)` (the lengths are
//!   hashed too) of degree at most the number of blocks plus one. For a
//!   token chosen without knowing `H` the chance is at most `(blocks + 1) /
//!   2^128`, about `2^-120` for an 8 KiB header, and each refused guess rules
//!   out no more than that many values of `H`. This holds because the tags
//!   never leave the process (no log, no answer, no error carries one): an
//!   attacker learns only "accepted" or "refused", after the comparison.
//!   The nonce is never used to encrypt anything, so its reuse costs nothing.
//! - *The map cannot be flooded into one bucket* (HashDoS): without the key
//!   nobody can steer a tag's bits, so the map hashes a tag by its first
//!   eight bytes instead of running SipHash over it again.
//! - *A lookup leaks nothing worth timing:* the map finds an entry by those
//!   eight bytes (a machine-word compare), then the whole 16-byte tag is
//!   compared in constant time before the entry counts as a hit.
//!
//! A token that cannot be digested (longer than GCM's bound, far beyond
//! any header) is simply not cached.
//!
//! **Locks.** The map is split into shards, each behind its own read-write
//! lock held only for a lookup or an insert (never across an `.await`). A
//! lookup, the common case, takes the read side, so requests bringing the
//! same token do not queue behind one another; only inserts and the removal
//! of an expired entry write. Each shard holds at most its share of the
//! configured bound; an insert into a full shard first drops expired
//! entries (swept only once one may have expired: each shard knows a time before which none
//! does), then, if none expired, one arbitrary entry.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use aws_lc_rs::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use crate::error::{Error, Result};

/// The keyed digest of a token (see the [module docs](self)).
#[derive(Clone, Copy)]
pub(crate) struct TokenDigest([u8; 16]);

impl TokenDigest {
    /// Where the map files it: the first eight bytes.
    fn slot(&self) -> u64 {
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.0[..8]);
        u64::from_le_bytes(word)
    }

    /// Which shard holds it: a byte the slot does not use.
    fn shard(&self) -> usize {
        usize::from(self.0[15]) % SHARDS
    }

    /// Whether this is `other`, compared in constant time.
    fn is(&self, other: &TokenDigest) -> bool {
        crate::secret::ct_eq_bytes(&self.0, &other.0)
    }
}

/// Computes [`TokenDigest`]s under one verifier's key.
pub(crate) struct Digester(LessSafeKey);

impl Digester {
    /// A digester with a fresh key from the operating system's CSPRNG.
    pub(crate) fn new() -> Result<Self> {
        let key = crate::random::bytes(16)?;
        let key = UnboundKey::new(&AES_128_GCM, &key)
            .map_err(|_| Error::config("the token cache's key could not be set up"))?;
        Ok(Digester(LessSafeKey::new(key)))
    }

    /// The digest of `token`'s bytes; `None` only for a token too long for GCM.
    pub(crate) fn digest(&self, token: &[u8]) -> Option<TokenDigest> {
        // The fixed nonce is deliberate: see the module docs.
        let nonce = Nonce::assume_unique_for_key([0; 12]);
        let tag = self
            .0
            .seal_in_place_separate_tag(nonce, Aad::from(token), &mut [0u8; 0])
            .ok()?;
        let mut digest = [0u8; 16];
        digest.copy_from_slice(tag.as_ref());
        Some(TokenDigest(digest))
    }
}

const SHARDS: usize = 16;

/// Hashes a slot (a [`TokenDigest`]'s first eight bytes) as it is (see the module docs).
#[derive(Default)]
pub(crate) struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // A `u64` slot arrives as its eight bytes; fold anything else in
        // too, so the hasher stays correct if reused.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }
}

type Shard<V> = HashMap<u64, Entry<V>, BuildHasherDefault<DigestHasher>>;

struct Entry<V> {
    /// The whole digest: the slot alone does not make a hit.
    digest: TokenDigest,
    value: V,
    /// Milliseconds since the Unix epoch after which the entry is gone.
    until_ms: u64,
}

/// See the [module docs](self).
pub(crate) struct TokenCache<V> {
    shards: Box<[RwLock<Shard<V>>]>,
    /// For each shard, a time (ms) before which none of its entries expires: a lower bound,
    /// lowered under the shard's write lock as entries arrive, so that a full shard is swept for
    /// expired entries only when one may be there (a shard full of live tokens would otherwise
    /// be scanned whole on every insert).
    earliest: Box<[AtomicU64]>,
    per_shard: usize,
}

impl<V: Clone> TokenCache<V> {
    /// A cache of at most about `max_entries` entries (0 caches nothing).
    pub(crate) fn new(max_entries: usize) -> Self {
        TokenCache {
            shards: (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect(),
            earliest: (0..SHARDS).map(|_| AtomicU64::new(u64::MAX)).collect(),
            per_shard: max_entries.div_ceil(SHARDS),
        }
    }

    fn lock(&self, key: &TokenDigest) -> &RwLock<Shard<V>> {
        &self.shards[key.shard()]
    }

    // A panic while holding a shard lock cannot leave an entry half written
    // (inserts and removals are single calls), so a poisoned lock's map is
    // still sound.
    fn read(&self, key: &TokenDigest) -> RwLockReadGuard<'_, Shard<V>> {
        self.lock(key).read().unwrap_or_else(PoisonError::into_inner)
    }

    fn shard(&self, key: &TokenDigest) -> RwLockWriteGuard<'_, Shard<V>> {
        self.lock(key).write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The live value under `key`, if any.
    pub(crate) fn get(&self, key: &TokenDigest, now_ms: u64) -> Option<V> {
        match self.read(key).get(&key.slot()) {
            Some(entry) if !entry.digest.is(key) => return None,
            Some(entry) if entry.until_ms > now_ms => return Some(entry.value.clone()),
            Some(_) => {}
            None => return None,
        }
        // Expired: drop it under the write side (unless it was replaced meanwhile).
        let mut shard = self.shard(key);
        if shard
            .get(&key.slot())
            .is_some_and(|e| e.digest.is(key) && e.until_ms <= now_ms)
        {
            shard.remove(&key.slot());
        }
        None
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
        if let Some(entry) = shard
            .get(&key.slot())
            .filter(|e| e.digest.is(&key) && e.until_ms > now_ms)
        {
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

    /// Another token whose digest shares the slot is replaced: it will be
    /// checked again when it comes back, which is only slower.
    fn store(&self, shard: &mut Shard<V>, key: TokenDigest, value: V, now_ms: u64, until_ms: u64) {
        let slot = key.slot();
        // Written under the shard's write lock only, so relaxed ordering is enough.
        let earliest = &self.earliest[key.shard()];
        if until_ms <= now_ms || self.per_shard == 0 {
            if shard.get(&slot).is_some_and(|e| e.digest.is(&key)) {
                shard.remove(&slot);
            }
            return;
        }
        if shard.len() >= self.per_shard && !shard.contains_key(&slot) {
            if now_ms >= earliest.load(Ordering::Relaxed) {
                shard.retain(|_, e| e.until_ms > now_ms);
                let next = shard.values().map(|e| e.until_ms).min().unwrap_or(u64::MAX);
                earliest.store(next, Ordering::Relaxed);
            }
            if shard.len() >= self.per_shard {
                // Iteration order is arbitrary: an unbiased-enough victim,
                // chosen in O(1) without bookkeeping on the hit path.
                if let Some(victim) = shard.keys().next().copied() {
                    shard.remove(&victim);
                }
            }
        }
        shard.insert(
            slot,
            Entry {
                digest: key,
                value,
                until_ms,
            },
        );
        earliest.fetch_min(until_ms, Ordering::Relaxed);
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
        let slot = key.slot();
        if let Some(entry) = shard
            .get_mut(&slot)
            .filter(|e| e.digest.is(key) && is_same(&e.value))
        {
            if until_ms <= now_ms {
                shard.remove(&slot);
            } else {
                entry.until_ms = until_ms;
                self.earliest[key.shard()].fetch_min(until_ms, Ordering::Relaxed);
            }
        }
    }

    /// How many entries are held (expired ones not yet dropped included).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(token: &str) -> TokenDigest {
        static DIGESTER: std::sync::OnceLock<Digester> = std::sync::OnceLock::new();
        DIGESTER
            .get_or_init(|| Digester::new().unwrap())
            .digest(token.as_bytes())
            .unwrap()
    }

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

    #[test]
    fn a_full_shard_drops_what_expired_before_a_live_entry() {
        // Three digests in one shard (the last byte) and three slots; two entries per shard.
        let at = |slot: u8| {
            let mut d = [0u8; 16];
            d[0] = slot;
            TokenDigest(d)
        };
        let cache = TokenCache::<u32>::new(2 * SHARDS);
        let earliest = || cache.earliest[0].load(Ordering::Relaxed);
        cache.insert(at(1), 1, 0, 1_000);
        cache.insert(at(2), 2, 0, 5_000);
        assert_eq!(earliest(), 1_000);
        // Shortened after it was stored: the shard must still know to sweep.
        cache.set_expiry(&at(1), |_| true, 0, 100);
        assert_eq!(earliest(), 100);
        cache.insert(at(3), 3, 200, 5_000);
        assert_eq!(cache.get(&at(2), 200), Some(2), "a live entry was evicted");
        assert_eq!(cache.get(&at(3), 200), Some(3));
        assert_eq!(cache.len(), 2);
        assert_eq!(earliest(), 5_000, "the sweep moved the bound to the next expiry");
        // Full of live entries: an insert evicts one without a sweep, and the bound holds.
        cache.insert(at(4), 4, 300, 4_000);
        assert_eq!(cache.len(), 2);
        assert_eq!(earliest(), 4_000);
    }

    #[test]
    fn a_shared_slot_is_not_a_hit() {
        let cache = TokenCache::<u32>::new(8);
        let a = digest("a");
        // Another digest in the same slot and shard, differing in its last eight bytes only.
        let mut other = a;
        other.0[8] ^= 1;
        cache.insert(a, 1, 0, 100);
        assert_eq!(cache.get(&other, 10), None);
        cache.set_expiry(&other, |_| true, 10, 10);
        assert_eq!(
            cache.get(&a, 10),
            Some(1),
            "a miss on a shared slot removes nothing"
        );
        // Storing it replaces the first: only slower for that token, never a wrong answer.
        cache.insert(other, 2, 0, 100);
        assert_eq!(cache.get(&a, 10), None);
        assert_eq!(cache.get(&other, 10), Some(2));
    }

    #[test]
    fn digests_are_keyed_and_distinguish_tokens() {
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln";
        let (a, b) = (Digester::new().unwrap(), Digester::new().unwrap());
        let same = |x: Option<TokenDigest>, y: Option<TokenDigest>| x.unwrap().is(&y.unwrap());
        let (a, b) = (|t: &str| a.digest(t.as_bytes()), |t: &str| b.digest(t.as_bytes()));
        assert!(same(a(token), a(token)));
        // Another key, another digest: nothing outside this verifier can predict one.
        assert!(!same(a(token), b(token)));
        for other in [
            &token[1..],
            &token[..token.len() - 1],
            "",
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2lu",
        ] {
            assert!(!same(a(token), a(other)), "{other}");
        }
    }
}
