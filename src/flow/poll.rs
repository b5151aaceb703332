//! Waiting for the user by polling the token endpoint, as the device flow
//! (RFC 8628 §3.4, §3.5) and CIBA poll mode (CIBA Core §7.3, §11) both do:
//! every `interval`, 5 s more after each `slow_down`, on while
//! `authorization_pending`, until the grant's lifetime runs out.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::Authenticated;
use crate::client::AuthenticationClient;
use crate::error::{AuthorizationError, Error, Result};
use crate::id_token::VerifyOptions;
use crate::token_set::TokenSet;

/// How much a `slow_down` answer adds to the interval (RFC 8628 §3.5; CIBA
/// Core §11 refers to it).
pub(crate) const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// Bounds on what the provider's answer can make us do. `interval` and
/// `expires_in` are numbers from the network: `interval: 0` would poll in a
/// tight loop, and a huge one (or `expires_in`) would overflow the clock's
/// arithmetic. No real grant waits longer than a day or polls less often than
/// hourly.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
const MAX_INTERVAL: Duration = Duration::from_secs(60 * 60);
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// When a grant that started at `started` and lives `lifetime` ends locally,
/// with the lifetime capped at a day (see [`MAX_LIFETIME`]).
pub(crate) fn deadline(started: Instant, lifetime: Duration) -> Instant {
    let lifetime = lifetime.min(MAX_LIFETIME);
    started.checked_add(lifetime).unwrap_or(started)
}

/// Polls with `request` until it yields tokens or a final answer.
///
/// The first poll waits one `interval` (the user cannot have answered yet).
/// No poll is sent at or after `deadline`: when the next one would be, the
/// wait runs out the deadline and ends with [`Error::AuthorizationExpired`]. The provider's `access_denied` becomes
/// [`Error::Authorization`] (so [`Error::is_access_denied`] holds), its
/// `expired_token` [`Error::AuthorizationExpired`]; a transport error or a
/// timeout doubles the interval and polls again (RFC 8628 §3.5); any other
/// error ends the wait as it is.
pub(crate) async fn until_answered<F, Fut>(
    grant: &'static str,
    mut interval: Duration,
    deadline: Instant,
    mut request: F,
) -> Result<TokenSet>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<TokenSet>>,
{
    let expired = |by_provider| Error::AuthorizationExpired { grant, by_provider };
    interval = interval.clamp(MIN_INTERVAL, MAX_INTERVAL);
    loop {
        // Cannot overflow with the interval bounded, but a clock at its end is
        // an expiry, not a panic.
        let Some(next) = Instant::now().checked_add(interval) else {
            return Err(expired(false));
        };
        if next >= deadline {
            // The provider expires the code by its own clock, which started before ours (the
            // answer took time to arrive): a poll at our deadline would meet a code it no
            // longer knows (an `invalid_grant`, not `expired_token`, at some providers).
            tokio::time::sleep_until(deadline).await;
            return Err(expired(false));
        }
        tokio::time::sleep_until(next).await;
        match request().await {
            Ok(tokens) => return Ok(tokens),
            // RFC 8628 §3.5: on a connection failure or timeout the client polls again, less
            // often (the interval doubles each time). A poll is repeatable, and a wait of
            // minutes should not end because one pooled connection was closed by the server.
            Err(e @ (Error::Transport { .. } | Error::Timeout { .. })) => {
                interval = interval.saturating_mul(2).min(MAX_INTERVAL);
                tracing::debug!(
                    grant,
                    error = %e,
                    interval_secs = interval.as_secs(),
                    "poll not answered: polling less often"
                );
            }
            Err(e) => match e.oauth_error() {
                Some("authorization_pending") => {}
                Some("slow_down") => {
                    interval = (interval + SLOW_DOWN_STEP).min(MAX_INTERVAL);
                    tracing::debug!(
                        grant,
                        interval_secs = interval.as_secs(),
                        "slow_down: polling less often"
                    );
                }
                Some("access_denied") => {
                    let description = e.op_error().and_then(|op| op.error_description.clone());
                    return Err(Error::Authorization(AuthorizationError {
                        error: "access_denied".to_owned(),
                        error_description: description,
                        error_uri: None,
                    }));
                }
                Some("expired_token") => return Err(expired(true)),
                _ => return Err(e),
            },
        }
    }
}

/// [`until_answered`], ended early with [`Error::Cancelled`] when `cancel`
/// completes first.
pub(crate) async fn cancellable<T>(
    wait: impl Future<Output = Result<T>>,
    cancel: impl Future<Output = ()>,
) -> Result<T> {
    tokio::select! {
        outcome = wait => outcome,
        () = cancel => Err(Error::Cancelled),
    }
}

/// The session a polled grant ends in: the token answer must carry an
/// id_token (both flows ask for `openid`), verified as at a login
/// (docs/protocol.md §4.2) except that these grants send no nonce, and with
/// `at_hash` checked against the access token when present.
pub(crate) async fn session_of(client: AuthenticationClient, tokens: TokenSet) -> Result<Authenticated> {
    let id_token = tokens.id_token.clone().ok_or_else(|| Error::InvalidResponse {
        endpoint: "token endpoint".to_owned(),
        reason: "the token answer to an openid request has no id_token".to_owned(),
    })?;
    let opts = VerifyOptions::new().access_token(&tokens.access_token);
    let claims = client.id_token_verifier().verify(&id_token, &opts).await?;
    tracing::info!(issuer = %client.issuer(), sub = %claims.sub, "login completed");
    Ok(Authenticated::from_verified(
        client,
        tokens,
        id_token,
        claims,
        None,
        crate::authorization_details::TokenRequestExtras::new(),
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::error::OpError;

    fn op(error: &str) -> Error {
        Error::Op(Box::new(OpError {
            endpoint: "token".into(),
            status: 400,
            error: Some(error.into()),
            error_description: Some("said the provider".into()),
            code: None,
            message: None,
            excerpt: None,
        }))
    }

    fn tokens() -> TokenSet {
        let raw = serde_json::from_str(r#"{"access_token":"a","token_type":"Bearer"}"#).unwrap();
        TokenSet::from_raw(raw, false).unwrap()
    }

    /// Runs the poll loop against scripted answers; returns the outcome and
    /// the seconds (of paused tokio time) at which each poll was sent.
    async fn script(
        answers: Vec<Result<TokenSet>>,
        interval: u64,
        lifetime: u64,
    ) -> (Result<TokenSet>, Vec<u64>) {
        let start = Instant::now();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(answers.into_iter()));
        let log = sent.clone();
        let outcome = until_answered(
            "device authorization",
            Duration::from_secs(interval),
            start + Duration::from_secs(lifetime),
            move || {
                log.lock().unwrap().push(start.elapsed().as_secs());
                let next = answers
                    .lock()
                    .unwrap()
                    .next()
                    .unwrap_or_else(|| Err(op("authorization_pending")));
                async move { next }
            },
        )
        .await;
        let sent = sent.lock().unwrap().clone();
        (outcome, sent)
    }

    #[tokio::test(start_paused = true)]
    async fn pending_then_tokens_at_the_interval() {
        let (out, at) = script(vec![Err(op("authorization_pending")), Ok(tokens())], 2, 60).await;
        assert!(out.is_ok());
        assert_eq!(at, vec![2, 4]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_not_answered_doubles_the_interval_and_polls_again() {
        let reset = || Error::Transport {
            endpoint: "token".into(),
            message: "connection reset by peer".into(),
        };
        let answers = vec![
            Err(reset()),
            Err(Error::Timeout {
                endpoint: "token".into(),
            }),
            Err(op("authorization_pending")),
            Ok(tokens()),
        ];
        let (out, at) = script(answers, 2, 60).await;
        assert!(out.is_ok());
        // 2 s, then 4 s after the reset, 8 s after the timeout, 8 s after the pending answer.
        assert_eq!(at, vec![2, 6, 14, 22]);
        // Until the grant's lifetime runs out, not past it.
        let (out, at) = script((0..10).map(|_| Err(reset())).collect(), 2, 60).await;
        assert!(matches!(out, Err(Error::AuthorizationExpired { .. })), "{out:?}");
        assert_eq!(at, vec![2, 6, 14, 30]);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_down_adds_five_seconds_each_time() {
        let answers = vec![
            Err(op("slow_down")),
            Err(op("authorization_pending")),
            Err(op("slow_down")),
            Ok(tokens()),
        ];
        let (out, at) = script(answers, 1, 600).await;
        assert!(out.is_ok());
        // 1 s, then 6 s, 6 s, then 11 s.
        assert_eq!(at, vec![1, 7, 13, 24]);
    }

    #[tokio::test(start_paused = true)]
    async fn access_denied_and_expired_token_are_typed() {
        let (out, _) = script(vec![Err(op("access_denied"))], 1, 60).await;
        let e = out.unwrap_err();
        assert!(e.is_access_denied(), "{e:?}");
        let (out, _) = script(vec![Err(op("expired_token"))], 1, 60).await;
        assert!(matches!(
            out,
            Err(Error::AuthorizationExpired {
                by_provider: true,
                ..
            })
        ));
        let (out, _) = script(vec![Err(op("invalid_client"))], 1, 60).await;
        assert_eq!(out.unwrap_err().oauth_error(), Some("invalid_client"));
    }

    #[tokio::test(start_paused = true)]
    async fn local_expiry_ends_the_wait_without_polling_past_it() {
        let start = Instant::now();
        let (out, at) = script(vec![], 4, 10).await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(10),
            "the wait runs out the lifetime"
        );
        assert!(matches!(
            out,
            Err(Error::AuthorizationExpired {
                by_provider: false,
                ..
            })
        ));
        // 4, 8; the next would be at 12, past the deadline of 10.
        assert_eq!(at, vec![4, 8]);
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_ends_the_wait() {
        let wait = async { script(vec![], 1, 600).await.0 };
        let out = cancellable(wait, tokio::time::sleep(Duration::from_secs(3))).await;
        assert!(matches!(out, Err(Error::Cancelled)));
    }

    #[tokio::test(start_paused = true)]
    async fn hostile_interval_and_lifetime_neither_spin_nor_panic() {
        // interval 0 would poll in a tight loop: it is one second.
        let (out, at) = script(vec![Err(op("authorization_pending")), Ok(tokens())], 0, 60).await;
        assert!(out.is_ok());
        assert_eq!(at, vec![1, 2]);
        // A u64::MAX interval and lifetime (what `1e300` parses to) must not
        // overflow the clock: the interval is an hour at most, and a
        // `slow_down` on top of it stays there.
        let start = Instant::now();
        let lifetime = deadline(start, Duration::from_secs(u64::MAX));
        assert_eq!(lifetime - start, MAX_LIFETIME);
        let answers = vec![Err(op("slow_down")), Ok(tokens())];
        let (out, at) = script(answers, u64::MAX, 48 * 60 * 60).await;
        assert!(out.is_ok());
        assert_eq!(at, vec![3_600, 7_200]);
    }
}
