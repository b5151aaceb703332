//! The refresh engine of [`Authenticated`] (docs/protocol.md §5): the warm path, the
//! single-flight refresh, rotation and the persistence hook.

use std::sync::atomic::Ordering;

use super::{Authenticated, LastAttempt, SessionToken, StoredClaims, Tokens};
use crate::error::{Error, Result};
use crate::flow::saved::SavedSession;
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
            if !t.unpersisted && t.fresh(now, self.inner.margin_secs.load(Ordering::Relaxed)) {
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
        // Tokens a failed hook could not save are saved before anything is handed out.
        if self.read().unpersisted {
            let saved = self.export_with_secrets();
            if let Err(e) = self.persist(&saved).await {
                last.error = Some(e.clone());
                return Err(e);
            }
            self.write().unpersisted = false;
        }
        let clock = self.inner.client.clock();
        let now = clock.unix_now();
        let margin = self.inner.margin_secs.load(Ordering::Relaxed);
        let (refresh_token, original) = {
            let t = self.read();
            if let Some(reason) = &t.ended {
                return Err(Error::ReauthenticationRequired(reason.clone()));
            }
            if t.generation != seen {
                // An attempt finished while this caller waited: share its outcome.
                if t.fresh(now, margin) {
                    return Ok(t.token(now));
                }
                return match &last.error {
                    Some(e) if !(e.is_transient() && t.valid(now)) => Err(e.clone()),
                    _ if t.valid(now) => Ok(t.token(now)),
                    _ => Err(Error::ReauthenticationRequired(
                        "the access token expired".to_owned(),
                    )),
                };
            }
            if !force && t.fresh(now, margin) {
                return Ok(t.token(now));
            }
            match &t.refresh_token {
                Some(rt) => (rt.clone(), t.claims()),
                None if t.valid(now) && force => {
                    return Err(Error::input("the session has no refresh token to refresh with"));
                }
                None if t.valid(now) => return Ok(t.token(now)),
                None => {
                    drop(t);
                    return Err(self.end("the access token expired and there is no refresh token"));
                }
            }
        };
        tracing::info!(issuer = %self.inner.client.issuer(), "refreshing the access token");
        let answer = match self.inner.client.refresh_grant(&refresh_token).await {
            Ok(answer) => answer,
            Err(e) if e.oauth_error() == Some("invalid_grant") => {
                tracing::warn!(issuer = %self.inner.client.issuer(), "refresh token refused; the session ends");
                last.error = None;
                return Err(self.end("the provider refused the refresh token (invalid_grant)"));
            }
            Err(e) => return self.failed(&mut last, e, now),
        };
        let tokens = match answer.tokens {
            Ok(tokens) => tokens,
            Err(e) => {
                // A 2xx answer refused by strict parsing may still have rotated the refresh
                // token, retiring the old one: keep the new one, or the grant is lost.
                if let Some(rotated) = answer.rotated {
                    self.keep_rotated(rotated).await;
                }
                return self.failed(&mut last, e, now);
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
                            self.keep_rotated(rotated).await;
                        }
                        return self.failed(&mut last, e, now);
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
                generation: t.generation + 1,
                refreshes: t.refreshes + 1,
                ended: None,
                unpersisted: false,
            }
        };
        // The hook sees the rotated tokens before any caller can use them. If it fails, the
        // tokens are kept in memory and the hook is retried before they are handed out.
        let persisted = self.persist(&self.saved(&new)).await;
        new.unpersisted = persisted.is_err();
        let token = new.token(now);
        *self.write() = new;
        drop(commit);
        tracing::info!(issuer = %self.inner.client.issuer(), "access token refreshed");
        last.error = persisted.as_ref().err().cloned();
        persisted.map(|()| token)
    }

    /// Keeps a rotated refresh token from an answer whose other tokens were refused, and
    /// persists it; the access token held stays as it is.
    async fn keep_rotated(&self, rotated: RefreshToken) {
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
            t.unpersisted = true;
            self.saved(&t)
        };
        if self.persist(&saved).await.is_ok() {
            self.write().unpersisted = false;
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

    async fn persist(&self, saved: &SavedSession) -> Result<()> {
        let hook = self
            .inner
            .persistence
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match hook {
            Some(hook) => hook.persist(saved).await.map_err(Error::Persist),
            None => Ok(()),
        }
    }

    /// A failed attempt that does not end the session.
    fn failed(&self, last: &mut LastAttempt, e: Error, now: u64) -> Result<SessionToken> {
        tracing::warn!(issuer = %self.inner.client.issuer(), error = %e, "refresh failed");
        let mut t = self.write();
        t.generation += 1;
        last.error = Some(e.clone());
        if e.is_transient() && t.valid(now) && !t.unpersisted {
            Ok(t.token(now))
        } else {
            Err(e)
        }
    }
}
