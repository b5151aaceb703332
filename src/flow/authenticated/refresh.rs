//! The refresh engine of [`Authenticated`] (docs/protocol.md §5): the warm path, the
//! single-flight refresh, rotation and the persistence hook.

use std::sync::atomic::Ordering;

use super::shared::Leased;
use super::{Attached, Authenticated, LastAttempt, SessionToken, StoredClaims, Tokens};
use crate::error::{Error, Result, StoreError};
use crate::flow::saved::SavedSession;
use crate::flow::store::SaveCondition;
use crate::secret::{AccessToken, RefreshToken};

impl Authenticated {
    /// An access token valid for at least the refresh margin, refreshing first
    /// when needed (docs/protocol.md §5).
    ///
    /// - Concurrent callers share one refresh request and its outcome.
    /// - `invalid_grant` (or no refresh token and an expired access token)
    ///   ends the session: this and every later call returns
    ///   [`Error::ReauthenticationRequired`] without contacting the provider.
    /// - After a transient failure (network, timeout, 5xx, 429) the current token
    ///   is returned as long as it has not expired, with its real remaining
    ///   lifetime; once it has, the transient error is returned.
    pub async fn access_token(&self) -> Result<SessionToken> {
        let now = self.inner.client.clock().unix_now();
        let seen = {
            let t = self.read();
            if let Some(reason) = &t.ended {
                return Err(Error::ReauthenticationRequired(reason.clone()));
            }
            if t.unpersisted.is_none() && t.fresh(now, self.inner.margin_secs.load(Ordering::Relaxed)) {
                return Ok(t.token(now));
            }
            t.generation
        };
        self.refresh(seen, false).await
    }

    /// Refreshes now, whatever the access token's lifetime. Without a refresh
    /// token this is [`Error::InvalidInput`] (and the session stays as it is,
    /// unless its access token has expired).
    pub async fn force_refresh(&self) -> Result<SessionToken> {
        let seen = self.read().generation;
        self.refresh(seen, true).await
    }

    /// Runs the refresh in its own task, so that a caller who gives up (a
    /// dropped request, a timeout around the call) cannot drop a rotated
    /// refresh token between the provider's answer and the session's memory.
    async fn refresh(&self, seen: u64, force: bool) -> Result<SessionToken> {
        let this = self.clone();
        match tokio::spawn(async move { this.refresh_in_task(seen, force).await }).await {
            Ok(outcome) => outcome,
            Err(e) => Err(Error::Transport {
                endpoint: self.inner.client.issuer().to_owned(),
                message: format!("the refresh task did not finish: {e}"),
            }),
        }
    }

    async fn refresh_in_task(&self, seen: u64, force: bool) -> Result<SessionToken> {
        let mut last = self.inner.gate.lock().await;
        let clock = self.inner.client.clock();
        let margin = self.inner.margin_secs.load(Ordering::Relaxed);
        let now = clock.unix_now();
        {
            let t = self.read();
            if let Some(reason) = &t.ended {
                return Err(Error::ReauthenticationRequired(reason.clone()));
            }
            if t.unpersisted.is_none() {
                if t.generation != seen {
                    // An attempt finished while this caller waited: share its outcome.
                    return self.shared_outcome(&t, &last, now, margin);
                }
                if !force && t.fresh(now, margin) {
                    return Ok(t.token(now));
                }
                if t.refresh_token.is_none() {
                    if t.valid(now) && force {
                        return Err(Error::input("the session has no refresh token to refresh with"));
                    }
                    if t.valid(now) {
                        return Ok(t.token(now));
                    }
                    drop(t);
                    return Err(self.end("the access token expired and there is no refresh token"));
                }
            }
        }
        let Some(attached) = self.attached() else {
            return self.refresh_leased(&mut last, None, force).await;
        };
        // The lease first: no refresh is sent without it (docs/shared-sessions.md).
        let (lease, stored) = loop {
            match self.acquire(&attached).await {
                Ok(Leased::Held(lease, stored)) => break (lease, stored),
                Ok(Leased::Newer) => {
                    last.error = None;
                    let now = clock.unix_now();
                    let t = self.read();
                    if !force && t.fresh(now, margin) {
                        return Ok(t.token(now));
                    }
                }
                Err(e) => return self.failed(&mut last, e, now),
            }
        };
        let outcome = self.under_lease(&mut last, &attached, stored, force).await;
        match outcome {
            // Rotated tokens that could not be saved keep the lease until it expires, so that
            // no other holder refreshes with the refresh token they replaced meanwhile.
            Err(e) if self.read().unpersisted.is_some() => Err(e),
            outcome => {
                self.release(&attached, lease).await;
                outcome
            }
        }
    }

    /// The outcome of an attempt another caller of this process made meanwhile.
    fn shared_outcome(&self, t: &Tokens, last: &LastAttempt, now: u64, margin: u64) -> Result<SessionToken> {
        if t.fresh(now, margin) {
            return Ok(t.token(now));
        }
        match &last.error {
            Some(e) if !(e.is_transient() && t.valid(now)) => Err(e.clone()),
            _ if t.valid(now) => Ok(t.token(now)),
            _ => Err(Error::ReauthenticationRequired(
                "the access token expired".to_owned(),
            )),
        }
    }

    /// With the lease held: start from the stored copy when it is newer, save tokens an
    /// earlier save lost, then refresh if still needed.
    async fn under_lease(
        &self,
        last: &mut LastAttempt,
        a: &Attached,
        stored: Option<Box<SavedSession>>,
        force: bool,
    ) -> Result<SessionToken> {
        let clock = self.inner.client.clock();
        let margin = self.inner.margin_secs.load(Ordering::Relaxed);
        let mut base = match stored {
            Some(s) if s.refresh_count() > self.read().refreshes => {
                // Another holder refreshed before this one got the lease: nothing to send.
                let count = s.refresh_count();
                self.adopt(*s).await?;
                last.error = None;
                let now = clock.unix_now();
                let t = self.read();
                if !force && t.fresh(now, margin) {
                    return Ok(t.token(now));
                }
                SaveCondition::RefreshCount(count)
            }
            Some(s) => SaveCondition::RefreshCount(s.refresh_count()),
            None => SaveCondition::Absent,
        };
        // Tokens a failed save could not store are stored before anything is handed out.
        if self.read().unpersisted.is_some() {
            let saved = self.export_with_secrets();
            match self.save(a, &saved, base).await {
                Ok(true) => {
                    let mut t = self.write();
                    t.unpersisted = None;
                    base = SaveCondition::RefreshCount(t.refreshes);
                }
                Ok(false) => {
                    self.lost_race(a).await?;
                    last.error = None;
                }
                Err(e) => {
                    last.error = Some(e.clone());
                    return Err(e);
                }
            }
            let now = clock.unix_now();
            let t = self.read();
            if !force && t.fresh(now, margin) {
                return Ok(t.token(now));
            }
        }
        if self.read().refresh_token.is_none() {
            let now = clock.unix_now();
            let t = self.read();
            if t.valid(now) {
                return Ok(t.token(now));
            }
            drop(t);
            return Err(self.end("the access token expired and there is no refresh token"));
        }
        self.refresh_leased(last, Some((a, base)), force).await
    }

    /// Sends the refresh and commits its answer: saved first (compare-and-set against
    /// `base`), then handed out.
    async fn refresh_leased(
        &self,
        last: &mut LastAttempt,
        store: Option<(&Attached, SaveCondition)>,
        force: bool,
    ) -> Result<SessionToken> {
        let clock = self.inner.client.clock();
        let now = clock.unix_now();
        let (refresh_token, original) = {
            let t = self.read();
            match &t.refresh_token {
                Some(rt) => (rt.clone(), t.claims()),
                None if force => {
                    return Err(Error::input("the session has no refresh token to refresh with"));
                }
                None => return Ok(t.token(now)),
            }
        };
        tracing::info!(issuer = %self.inner.client.issuer(), "refreshing the access token");
        let answer = match self
            .inner
            .client
            .refresh_grant(
                &refresh_token,
                &self.inner.token_extras,
                self.inner.dpop.as_deref(),
            )
            .await
        {
            Ok(answer) => answer,
            Err(e) if e.oauth_error() == Some("invalid_grant") => {
                tracing::warn!(issuer = %self.inner.client.issuer(), "refresh token refused; the session ends");
                last.error = None;
                return Err(self.end("the provider refused the refresh token (invalid_grant)"));
            }
            Err(e) => return self.failed(last, e, now),
        };
        let tokens = match answer.tokens {
            Ok(tokens) => tokens,
            Err(e) => {
                // A 2xx answer refused by strict parsing may still have rotated the refresh
                // token, retiring the old one: keep the new one, or the grant is lost.
                if let Some(rotated) = answer.rotated {
                    self.keep_rotated(rotated, store).await;
                }
                return self.failed(last, e, now);
            }
        };
        // §12.2: a refreshed id_token passes every check and keeps iss, sub, aud, azp, auth_time.
        let claims = match &tokens.id_token {
            Some(id_token) => {
                let verified = self
                    .inner
                    .client
                    .id_token_verifier()
                    .verify_refreshed(id_token, &original, Some(&tokens.access_token))
                    .await;
                match verified {
                    Ok(c) => c,
                    Err(e) => {
                        // The new access and id_token are refused, but the provider has
                        // rotated the refresh token: keeping the old one would lose the grant.
                        if let Some(rotated) = tokens.refresh_token {
                            self.keep_rotated(rotated, store).await;
                        }
                        return self.failed(last, e, now);
                    }
                }
            }
            None => original,
        };
        let commit = self.inner.commit.lock().await;
        let ended = self.read().ended.clone();
        if let Some(reason) = ended {
            drop(commit);
            // Revoked while the provider answered: the new tokens must not outlive the session.
            self.discard(tokens.refresh_token, Some(tokens.access_token))
                .await;
            return Err(Error::ReauthenticationRequired(reason));
        }
        let now = clock.unix_now();
        let mut new = {
            let t = self.read();
            let id_token = tokens.id_token.unwrap_or_else(|| t.id_token.clone());
            let claims = StoredClaims::new(&id_token, claims);
            Tokens {
                expires_at: tokens.expires_in.map(|e| now.saturating_add(e)),
                lifetime: tokens.expires_in,
                access_token: tokens.access_token,
                // Without a rotated one, the old refresh token stays usable.
                refresh_token: tokens.refresh_token.or_else(|| t.refresh_token.clone()),
                id_token,
                claims,
                scope: tokens.scope.or_else(|| t.scope.clone()),
                authorization_details: tokens
                    .authorization_details
                    .or_else(|| t.authorization_details.clone()),
                generation: t.generation + 1,
                refreshes: t.refreshes + 1,
                ended: None,
                unpersisted: None,
            }
        };
        // The store sees the rotated tokens before any caller can use them. If saving fails,
        // the tokens are kept in memory and saved again before they are handed out.
        let saved = match store {
            Some((a, base)) => match self.save(a, &self.saved(&new), base).await {
                Ok(stored) => Ok(stored),
                Err(e) => {
                    new.unpersisted = Some(base);
                    Err(e)
                }
            },
            None => Ok(true),
        };
        let token = new.token(now);
        match saved {
            Ok(true) => {
                *self.write() = new;
                drop(commit);
                tracing::info!(issuer = %self.inner.client.issuer(), "access token refreshed");
                last.error = None;
                Ok(token)
            }
            Ok(false) => {
                // A stale writer: its lease expired under it and a newer copy was stored. That
                // copy stays; this answer is dropped.
                drop(commit);
                let Some((a, _)) = store else {
                    return Err(Error::Store(StoreError::lease("the save was refused")));
                };
                self.lost_race(a).await?;
                last.error = None;
                let now = clock.unix_now();
                let t = self.read();
                if t.valid(now) {
                    Ok(t.token(now))
                } else {
                    Err(Error::Store(StoreError::lease(
                        "the refresh lease was lost and the stored session has expired",
                    )))
                }
            }
            Err(e) => {
                *self.write() = new;
                drop(commit);
                last.error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Keeps a rotated refresh token from an answer whose other tokens were refused, and
    /// saves it; the access token held stays as it is.
    async fn keep_rotated(&self, rotated: RefreshToken, store: Option<(&Attached, SaveCondition)>) {
        let commit = self.inner.commit.lock().await;
        if self.read().ended.is_some() {
            drop(commit);
            self.discard(Some(rotated), None).await;
            return;
        }
        let saved = {
            let mut t = self.write();
            t.refresh_token = Some(rotated);
            // A newer copy of the session than any saved before: the count says so.
            t.refreshes += 1;
            t.unpersisted = store.map(|(_, base)| base);
            self.saved(&t)
        };
        if let Some((a, base)) = store
            && matches!(self.save(a, &saved, base).await, Ok(true))
        {
            self.write().unpersisted = None;
        }
    }

    /// Revokes tokens the provider issued to a session that has ended meanwhile (RFC 7009),
    /// so that its grant does not live on. Best effort: the session is over either way.
    async fn discard(&self, refresh_token: Option<RefreshToken>, access_token: Option<AccessToken>) {
        tracing::info!(issuer = %self.inner.client.issuer(), "the session ended during a refresh; revoking its new tokens");
        if let Some(rt) = refresh_token
            && let Err(error) = self.inner.client.revoke_token(&rt).await
        {
            tracing::warn!(%error, "revoking a refresh token received after the session ended failed");
        }
        if let Some(at) = access_token
            && let Err(error) = self.inner.client.revoke_token(&at).await
        {
            tracing::warn!(%error, "revoking an access token received after the session ended failed");
        }
    }

    /// A failed attempt that does not end the session.
    fn failed(&self, last: &mut LastAttempt, e: Error, now: u64) -> Result<SessionToken> {
        tracing::warn!(issuer = %self.inner.client.issuer(), error = %e, "refresh failed");
        let mut t = self.write();
        t.generation += 1;
        last.error = Some(e.clone());
        if e.is_transient() && t.valid(now) && t.unpersisted.is_none() {
            Ok(t.token(now))
        } else {
            Err(e)
        }
    }
}
