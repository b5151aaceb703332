//! A session kept in a [`SessionStore`]: attaching one, restoring from one, and
//! the refresh lease (docs/shared-sessions.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Attached, Authenticated, StoredClaims, Tokens};
use crate::client::AuthenticationClient;
use crate::error::{Error, Result, StoreError};
use crate::flow::saved::SavedSession;
use crate::flow::store::{self, Lease, LeaseOptions, SaveCondition, Saved, SessionStore};
use crate::secret::{AccessToken, IdToken, RefreshToken};

/// The longest pause between two looks at a lease another holder has.
const MAX_POLL: Duration = Duration::from_millis(100);

/// What waiting for the lease gave.
pub(super) enum Leased {
    /// This caller holds the lease; the stored copy as read under it.
    Held(Lease, Option<Box<SavedSession>>),
    /// Another holder saved a newer session while this caller waited; it is
    /// now this session's state.
    Newer,
}

impl Authenticated {
    /// Keeps this session in `store` under `key`: every refresh takes the
    /// store's lease for `key` first, starts from the stored copy when another
    /// process refreshed it meanwhile, and saves the rotated tokens with
    /// compare-and-set before handing them out. Replaces a
    /// [`TokenPersistence`](super::TokenPersistence) hook. Default lease
    /// options; see [`set_session_store_with`](Self::set_session_store_with).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the lease would not outlive one request to the provider
    /// ([`LeaseOptions::check`]); nothing is attached then.
    pub fn set_session_store(&self, store: Arc<dyn SessionStore>, key: impl Into<String>) -> Result<()> {
        self.set_session_store_with(store, key, LeaseOptions::default())
    }

    /// [`set_session_store`](Self::set_session_store) with lease options.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `lease.ttl` is not longer than the client's HTTP timeout
    /// ([`LeaseOptions::check`]); nothing is attached then.
    pub fn set_session_store_with(
        &self,
        store: Arc<dyn SessionStore>,
        key: impl Into<String>,
        lease: LeaseOptions,
    ) -> Result<()> {
        lease.check(self.inner.client.timeout())?;
        self.attach(Attached {
            store,
            key: key.into(),
            lease,
        });
        Ok(())
    }

    /// **Saves secrets.** Stores this session under `key`, replacing what the
    /// key held (a new login), and attaches the store as
    /// [`set_session_store_with`](Self::set_session_store_with) does.
    pub async fn save_to_session_store(
        &self,
        store: Arc<dyn SessionStore>,
        key: impl Into<String>,
        lease: LeaseOptions,
    ) -> Result<()> {
        let key = key.into();
        lease.check(self.inner.client.timeout())?;
        store
            .save(&key, &self.export_with_secrets(), SaveCondition::Always)
            .await?;
        self.set_session_store_with(store, key, lease)
    }

    /// The session stored under `key`, attached to `store`; `None` when the
    /// key holds none. The store is trusted, as in
    /// [`restore_from_trusted_store`](Self::restore_from_trusted_store).
    pub async fn restore_from_session_store(
        client: AuthenticationClient,
        store: Arc<dyn SessionStore>,
        key: impl Into<String>,
        lease: LeaseOptions,
    ) -> Result<Option<Self>> {
        let key = key.into();
        lease.check(client.timeout())?;
        let Some(saved) = store.load(&key).await? else {
            return Ok(None);
        };
        let session = Self::restore_from_trusted_store(client, saved)?;
        session.set_session_store_with(store, key, lease)?;
        Ok(Some(session))
    }

    /// Waits for the refresh lease of the attached key. While another holder
    /// has it, looks at the stored copy now and then: once it is newer than
    /// this session's, it is taken over and no lease is needed.
    pub(super) async fn acquire(&self, a: &Attached) -> Result<Leased> {
        let started = Instant::now();
        let mut pause = a.lease.poll;
        loop {
            if let Some(lease) = a.store.try_lease(&a.key, a.lease.ttl).await? {
                return match a.store.load(&a.key).await {
                    Ok(stored) => Ok(Leased::Held(lease, stored.map(Box::new))),
                    Err(e) => {
                        self.release(a, lease).await;
                        Err(e)
                    }
                };
            }
            if started.elapsed() >= a.lease.wait {
                return Err(store::lease_timeout(a.lease.wait));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_POLL);
            if let Some(stored) = a.store.load(&a.key).await?
                && stored.refresh_count() > self.read().refreshes
            {
                self.adopt(stored).await?;
                return Ok(Leased::Newer);
            }
        }
    }

    /// Releases a lease; a failure only logs, since the lease expires anyway.
    pub(super) async fn release(&self, a: &Attached, lease: Lease) {
        if let Err(error) = a.store.release(&a.key, lease).await {
            tracing::warn!(%error, "releasing the refresh lease failed; it expires by itself");
        }
    }

    /// Makes a stored copy, newer than this session's, the session's state.
    pub(super) async fn adopt(&self, stored: SavedSession) -> Result<()> {
        stored.check(&self.inner.client)?;
        if stored.claims.sub != self.read().claims().sub {
            return Err(Error::Store(StoreError::invalid(
                "the stored session belongs to another user",
            )));
        }
        let _commit = self.inner.commit.lock().await;
        let mut t = self.write();
        if let Some(reason) = &t.ended {
            return Err(Error::ReauthenticationRequired(reason.clone()));
        }
        tracing::debug!(issuer = %self.inner.client.issuer(), "using the session another holder refreshed");
        let id_token = IdToken::new(stored.id_token);
        *t = Tokens {
            access_token: AccessToken::new(stored.access_token),
            expires_at: stored.expires_at,
            lifetime: stored.lifetime_secs,
            refresh_token: stored.refresh_token.map(RefreshToken::new),
            claims: StoredClaims::new(&id_token, stored.claims),
            id_token,
            scope: stored.scope,
            authorization_details: stored.authorization_details,
            generation: t.generation + 1,
            refreshes: stored.refresh_count,
            ended: None,
            unpersisted: None,
        };
        Ok(())
    }

    /// Saves `saved` under the lease; `Ok(false)` when a newer copy won.
    pub(super) async fn save(
        &self,
        a: &Attached,
        saved: &SavedSession,
        condition: SaveCondition,
    ) -> Result<bool> {
        Ok(a.store.save(&a.key, saved, condition).await? == Saved::Stored)
    }

    /// After a refused save: the stored copy is newer than anything this
    /// holder has (its lease expired under it and another holder refreshed).
    /// Takes that copy over; the caller then hands out its token if fresh.
    pub(super) async fn lost_race(&self, a: &Attached) -> Result<()> {
        tracing::warn!(issuer = %self.inner.client.issuer(), "a newer session was stored while this holder refreshed; using it");
        match a.store.load(&a.key).await? {
            Some(stored) if stored.refresh_count() > self.read().refreshes => self.adopt(stored).await,
            _ => Err(Error::Store(StoreError::lease(
                "the refresh lease was lost and the stored session changed",
            ))),
        }
    }
}
