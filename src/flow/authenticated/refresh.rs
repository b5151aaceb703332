//! The refresh engine of [`Authenticated`] (docs/protocol.md §5): the warm path, the
//! single-flight refresh, rotation and the persistence hook.

use std::sync::atomic::Ordering;

use super::{Authenticated, LastAttempt, SessionToken, Tokens};
use crate::error::{Error, Result};
use crate::flow::saved::SavedSession;

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
                Some(rt) => (rt.clone(), t.claims.clone()),
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
        let outcome = self
            .inner
            .client
            .get_new_access_token_by_refresh_token(&refresh_token)
            .await;
        let tokens = match outcome {
            Ok(tokens) => tokens,
            Err(e) if e.oauth_error() == Some("invalid_grant") => {
                tracing::warn!(issuer = %self.inner.client.issuer(), "refresh token refused; the session ends");
                last.error = None;
                return Err(self.end("the provider refused the refresh token (invalid_grant)"));
            }
            Err(e) => return self.failed(&mut last, e, now),
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
                            let saved = {
                                let mut t = self.write();
                                t.refresh_token = Some(rotated);
                                t.unpersisted = true;
                                self.saved(&t)
                            };
                            if self.persist(&saved).await.is_ok() {
                                self.write().unpersisted = false;
                            }
                        }
                        return self.failed(&mut last, e, now);
                    }
                }
            }
            None => original,
        };
        let now = clock.unix_now();
        let mut new = {
            let t = self.read();
            Tokens {
                expires_at: tokens.expires_in.map(|e| now.saturating_add(e)),
                lifetime: tokens.expires_in,
                access_token: tokens.access_token,
                // Without a rotated one, the old refresh token stays usable.
                refresh_token: tokens.refresh_token.or_else(|| t.refresh_token.clone()),
                id_token: tokens.id_token.unwrap_or_else(|| t.id_token.clone()),
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
        tracing::info!(issuer = %self.inner.client.issuer(), "access token refreshed");
        last.error = persisted.as_ref().err().cloned();
        persisted.map(|()| token)
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
