//! Where a session lives between processes: the [`SessionStore`] abstraction
//! and its in-memory implementation (docs/protocol.md §5, docs/shared-sessions.md).
//!
//! A session that several processes hold (replicas of a service, CLI processes
//! on several machines) must be refreshed by exactly one of them per expiry:
//! with refresh-token rotation the provider would otherwise see one refresh
//! token used twice, and providers with reuse detection revoke the whole
//! grant. A store gives three things:
//!
//! - **load** the saved session of a key;
//! - **save** it only if the stored copy's
//!   [`refresh_count`](SavedSession::refresh_count) is still the one read
//!   (compare-and-set), so a stale writer can never overwrite a newer rotation;
//! - a short **lease** for the refresh of one key.
//!
//! An [`Authenticated`](super::Authenticated) with a store attached
//! ([`set_session_store`](super::Authenticated::set_session_store)) takes the
//! lease before refreshing, re-reads the stored session under it (another
//! holder may have refreshed meanwhile: then that session is used and nothing
//! is sent), refreshes, saves with compare-and-set and releases the lease. A
//! caller that finds the lease taken waits, then uses the session the holder
//! saved. No refresh is ever sent without the lease: when the store is down,
//! refreshes fail with a transient [`StoreError`] while a still-valid access
//! token keeps being handed out.
//!
//! The same mechanism serves one process: the [`TokenPersistence`](super::TokenPersistence)
//! hook is a store whose lease is the session's own single-flight gate, and
//! [`MemoryStore`] shares sessions between `Authenticated` values of one
//! process (tests, or several clients of one service).
//! `authing-oidc-redis` implements the trait on Redis; the CLI on its session
//! files, where the file lock is the lease.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result, StoreError};

pub use super::saved::SavedSession;

/// The future every [`SessionStore`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// When a [`SessionStore::save`] may replace the stored copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaveCondition {
    /// Always: a new login replaces whatever the key held.
    Always,
    /// Only when the key holds nothing (the stored copy vanished, e.g. a store
    /// restarted without persistence, and this process re-saves what it holds).
    Absent,
    /// Only when the stored copy's `refresh_count` is this one: the copy read
    /// before refreshing is still the newest.
    RefreshCount(u64),
}

/// The answer of a [`SessionStore::save`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Saved {
    /// The session was stored.
    Stored,
    /// The condition did not hold: another writer stored a newer copy, which
    /// is left as it is.
    Refused,
}

/// A refresh lease on one key, held until released or until its time to
/// live runs out. The owner token is random, so a release by a holder whose
/// lease expired (and was taken by another) cannot remove the other's.
#[derive(Debug)]
pub struct Lease {
    owner: String,
    taken_at: Instant,
}

impl Lease {
    /// A lease with this owner token (random, unique per acquisition).
    pub fn new(owner: impl Into<String>) -> Self {
        Lease {
            owner: owner.into(),
            taken_at: Instant::now(),
        }
    }

    /// A lease with a fresh random owner token (256 bits from the OS CSPRNG).
    pub fn random() -> Result<Self> {
        Ok(Lease::new(crate::random::url_safe_token()?))
    }

    /// The owner token.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// How long ago it was taken.
    pub fn age(&self) -> Duration {
        self.taken_at.elapsed()
    }
}

/// A shared home for saved sessions: load, compare-and-set save, and a
/// refresh lease per key (see the [module documentation](self)).
///
/// Implementations must make `save` atomic (the condition is checked and the
/// value written in one step) and `try_lease` exclusive (at most one holder
/// per key while its time to live runs). Failures are [`Error::Store`]
/// ([`StoreError::unavailable`] when the store does not answer).
pub trait SessionStore: Send + Sync + 'static {
    /// The saved session of `key`, if there is one.
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<SavedSession>>;

    /// Stores `session` under `key` if `condition` holds.
    fn save<'a>(
        &'a self,
        key: &'a str,
        session: &'a SavedSession,
        condition: SaveCondition,
    ) -> StoreFuture<'a, Saved>;

    /// Takes the refresh lease of `key` for `ttl`, or `None` when another
    /// holder has it. Never waits for it.
    fn try_lease<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, Option<Lease>>;

    /// Releases a lease taken by [`try_lease`](Self::try_lease), if it is
    /// still this holder's (compare-and-delete).
    fn release<'a>(&'a self, key: &'a str, lease: Lease) -> StoreFuture<'a, ()>;

    /// Deletes the saved session of `key`: the user logged out and its tokens
    /// were revoked, so no copy of them should outlive the session. Deleting
    /// an absent key is not an error. A store that cannot delete keeps the
    /// default, which leaves the copy in place (it then expires however the
    /// store expires entries); [`MemoryStore`] and the Redis store delete.
    fn remove_session<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        let _ = key;
        Box::pin(async { Ok(()) })
    }
}

/// How a session uses its store's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseOptions {
    /// How long a lease lives unless released. Longer than a refresh request
    /// can take (the client's HTTP timeout), so that it does not expire under
    /// a holder still waiting for the provider. Default 30 s.
    pub ttl: Duration,
    /// How long a caller waits for a lease another holder has, before failing
    /// with a transient [`StoreError`]. Default: the ttl plus 5 s, so that a
    /// holder that stopped is outlived.
    pub wait: Duration,
    /// The first pause between two looks at a taken lease; doubled up to
    /// 100 ms. Default 5 ms.
    pub poll: Duration,
}

impl Default for LeaseOptions {
    fn default() -> Self {
        LeaseOptions::with_ttl(Duration::from_secs(30))
    }
}

impl LeaseOptions {
    /// Options with this lease time to live (wait: ttl + 5 s, poll: 5 ms).
    pub fn with_ttl(ttl: Duration) -> Self {
        LeaseOptions {
            ttl,
            wait: ttl + Duration::from_secs(5),
            poll: Duration::from_millis(5),
        }
    }

    /// Sets how long a caller waits for a taken lease.
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }
    /// Refuses a lease that could expire under a holder still waiting for the provider: the
    /// time to live must be longer than `http_timeout`, the time one refresh request may take
    /// ([`AuthenticationClient::timeout`](crate::AuthenticationClient::timeout)). Attaching a
    /// store checks it ([`Error::Config`]).
    pub fn check(&self, http_timeout: Duration) -> Result<()> {
        if self.ttl <= http_timeout {
            return Err(Error::config(format!(
                "the refresh lease lives {} ms, not longer than the HTTP timeout of {} ms: it could \
                 expire under a holder still waiting for the provider, and a second holder would \
                 refresh with the same refresh token",
                self.ttl.as_millis(),
                http_timeout.as_millis()
            )));
        }
        Ok(())
    }
}

/// A [`SessionStore`] in this process's memory: for tests, and for several
/// `Authenticated` values of one process that share sessions. Leases expire
/// after their time to live as they would in a shared store.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

#[derive(Debug, Default)]
struct Entry {
    session: Option<SavedSession>,
    lease: Option<(String, Instant)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn with<T>(&self, key: &str, f: impl FnOnce(&mut Entry) -> T) -> T {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        f(entries.entry(key.to_owned()).or_default())
    }

    /// Removes the session and lease of `key`.
    pub fn remove(&self, key: &str) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

impl SessionStore for MemoryStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<SavedSession>> {
        Box::pin(async move { Ok(self.with(key, |e| e.session.clone())) })
    }

    fn save<'a>(
        &'a self,
        key: &'a str,
        session: &'a SavedSession,
        condition: SaveCondition,
    ) -> StoreFuture<'a, Saved> {
        Box::pin(async move {
            Ok(self.with(key, |e| {
                let holds = match (condition, &e.session) {
                    (SaveCondition::Always, _) | (SaveCondition::Absent, None) => true,
                    (SaveCondition::RefreshCount(n), Some(s)) => s.refresh_count() == n,
                    _ => false,
                };
                if holds {
                    e.session = Some(session.clone());
                    Saved::Stored
                } else {
                    Saved::Refused
                }
            }))
        })
    }

    fn try_lease<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, Option<Lease>> {
        Box::pin(async move {
            let lease = Lease::random()?;
            let now = Instant::now();
            Ok(self.with(key, |e| match &e.lease {
                Some((_, until)) if *until > now => None,
                _ => {
                    e.lease = Some((lease.owner.clone(), now + ttl));
                    Some(lease)
                }
            }))
        })
    }

    fn release<'a>(&'a self, key: &'a str, lease: Lease) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.with(key, |e| {
                if e.lease.as_ref().is_some_and(|(owner, _)| *owner == lease.owner) {
                    e.lease = None;
                }
            });
            Ok(())
        })
    }
    fn remove_session<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.with(key, |e| e.session = None);
            Ok(())
        })
    }
}

/// The [`TokenPersistence`](super::TokenPersistence) hook as a store: nothing
/// to load (this process's memory is the newest copy), every save goes to the
/// hook, and the lease is the session's own single-flight gate (always free
/// here, because the gate is held around it).
pub(super) struct PersistenceStore(pub(super) Arc<dyn super::TokenPersistence>);

impl SessionStore for PersistenceStore {
    fn load<'a>(&'a self, _key: &'a str) -> StoreFuture<'a, Option<SavedSession>> {
        Box::pin(async { Ok(None) })
    }

    fn save<'a>(
        &'a self,
        _key: &'a str,
        session: &'a SavedSession,
        _condition: SaveCondition,
    ) -> StoreFuture<'a, Saved> {
        Box::pin(async move {
            self.0.persist(session).await.map_err(Error::Persist)?;
            Ok(Saved::Stored)
        })
    }

    fn try_lease<'a>(&'a self, _key: &'a str, _ttl: Duration) -> StoreFuture<'a, Option<Lease>> {
        Box::pin(async { Ok(Some(Lease::new(""))) })
    }

    fn release<'a>(&'a self, _key: &'a str, _lease: Lease) -> StoreFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// A store error for a lease that could not be had in time.
pub(super) fn lease_timeout(waited: Duration) -> Error {
    Error::Store(StoreError::lease(format!(
        "another holder kept the refresh lease for more than {} ms",
        waited.as_millis()
    )))
}
