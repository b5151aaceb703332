//! Automatic refresh (docs/protocol.md §5) against the embedded development provider,
//! with a clock the tests control: no sleeping.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use authing_oidc::clock::ManualClock;
use authing_oidc::flow::{
    Authenticated, CallbackParams, PersistFuture, SavedSession, TokenPersistence, Unauthorized,
};
use authing_oidc::m2m::ClientCredentialsSource;
use authing_oidc::{AccessSecret, AuthenticationClient, Error, ExposeSecret, IdTokenError};
use authing_oidc_dev_provider::{
    AuthorizationResponse, DevProvider, DevProviderConfig, IdTokenFault, RunningDevProvider,
    TokenResponseFault, login_without_browser,
};

/// Access tokens live 120 s: the refresh margin is then min(60 s, 10%) = 12 s.
const LIFETIME: u64 = 120;

struct Fixture {
    provider: RunningDevProvider,
    clock: Arc<ManualClock>,
    client: AuthenticationClient,
}

async fn fixture() -> Fixture {
    let mut config = DevProviderConfig::default();
    config.access_token_lifetime = Duration::from_secs(LIFETIME);
    let provider = DevProvider::start(config).await.unwrap();
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let client = AuthenticationClient::builder()
        .app_id("dev-app")
        .secret("dev-app-secret")
        .app_host(provider.app_host())
        .redirect_uri("http://127.0.0.1:3000/callback")
        .clock(clock.clone())
        .build()
        .unwrap();
    Fixture {
        provider,
        clock,
        client,
    }
}

impl Fixture {
    async fn login(&self, scope: &str) -> Authenticated {
        let (url, pending) = Unauthorized::new(self.client.clone())
            .scope(scope)
            .start()
            .unwrap();
        let response = login_without_browser(url.as_str(), "alice", "alice-password")
            .await
            .unwrap();
        let AuthorizationResponse::Redirect(callback) = response else {
            panic!("{response:?}")
        };
        pending
            .complete(CallbackParams::from_url(callback.as_str()).unwrap())
            .await
            .unwrap()
    }

    async fn session(&self) -> Authenticated {
        self.login("openid profile email offline_access").await
    }

    fn token_requests(&self) -> u64 {
        self.provider.request_count("/oidc/token")
    }
}

fn secret(t: &authing_oidc::flow::SessionToken) -> String {
    t.access_token.expose_secret().to_owned()
}

#[tokio::test]
async fn a_warm_session_hands_out_its_token_without_requests() {
    let f = fixture().await;
    let s = f.session().await;
    let before = f.token_requests();
    let a = s.access_token().await.unwrap();
    f.clock.advance(Duration::from_secs(LIFETIME - 13)); // 13 s left: outside the 12 s margin
    let b = s.access_token().await.unwrap();
    assert_eq!(secret(&a), secret(&b));
    assert_eq!(b.expires_in, Some(Duration::from_secs(13)));
    assert_eq!(f.token_requests(), before);
}

#[tokio::test]
async fn a_token_inside_the_margin_is_refreshed_first() {
    let f = fixture().await;
    let s = f.session().await;
    let old = secret(&s.access_token().await.unwrap());
    let old_rt = s.refresh_token().unwrap().expose_secret().to_owned();
    let before = f.token_requests();
    f.clock.advance(Duration::from_secs(LIFETIME - 11)); // 11 s left: inside the margin
    assert_eq!(s.refresh_count(), 0);
    let new = s.access_token().await.unwrap();
    assert_ne!(secret(&new), old);
    assert_eq!(new.expires_in, Some(Duration::from_secs(LIFETIME)));
    assert_eq!(s.refresh_count(), 1);
    assert_eq!(f.token_requests(), before + 1);
    // Rotation: the new refresh token replaced the old one, which the provider now refuses.
    let new_rt = s.refresh_token().unwrap().expose_secret().to_owned();
    assert_ne!(new_rt, old_rt);
    let e = f
        .client
        .get_new_access_token_by_refresh_token(&authing_oidc::RefreshToken::new(old_rt))
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error(), Some("invalid_grant"));
}

#[tokio::test]
async fn a_thousand_concurrent_callers_share_one_refresh() {
    let f = fixture().await;
    let s = f.session().await;
    let old = secret(&s.access_token().await.unwrap());
    f.clock.advance(Duration::from_secs(LIFETIME + 1)); // expired
    let before = f.token_requests();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.access_token().await })
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    for t in tasks {
        seen.insert(secret(&t.await.unwrap().unwrap()));
    }
    assert_eq!(seen.len(), 1, "every caller got the same new token");
    assert!(!seen.contains(&old));
    assert_eq!(f.token_requests(), before + 1, "exactly one refresh request");
}

#[derive(Default)]
struct RecordingHook {
    saved: Mutex<Vec<SavedSession>>,
    /// What the session handed out while the hook ran: must still be the old token.
    seen_by_callers: Mutex<Vec<String>>,
    session: Mutex<Option<Authenticated>>,
    fail: std::sync::atomic::AtomicBool,
    delay: Option<Duration>,
}

impl TokenPersistence for RecordingHook {
    fn persist<'a>(&'a self, session: &'a SavedSession) -> PersistFuture<'a> {
        Box::pin(async move {
            self.saved.lock().unwrap().push(session.clone());
            if let Some(s) = self.session.lock().unwrap().as_ref() {
                let rt = s.refresh_token().unwrap().expose_secret().to_owned();
                self.seen_by_callers.lock().unwrap().push(rt);
            }
            if let Some(d) = self.delay {
                tokio::time::sleep(d).await;
            }
            if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
                Err("the store is down".to_owned())
            } else {
                Ok(())
            }
        })
    }
}

fn saved_refresh_token(s: &SavedSession) -> String {
    serde_json::to_value(s).unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn rotated_tokens_reach_the_hook_before_any_caller() {
    let f = fixture().await;
    let s = f.session().await;
    let hook = Arc::new(RecordingHook::default());
    *hook.session.lock().unwrap() = Some(s.clone());
    s.set_persistence(hook.clone());
    let old_rt = s.refresh_token().unwrap().expose_secret().to_owned();
    f.clock.advance(Duration::from_secs(LIFETIME + 1));
    s.access_token().await.unwrap();
    let saved = hook.saved.lock().unwrap().clone();
    assert_eq!(saved.len(), 1);
    let persisted_rt = saved_refresh_token(&saved[0]);
    assert_ne!(persisted_rt, old_rt);
    assert_eq!(s.refresh_token().unwrap().expose_secret(), persisted_rt);
    // While the hook ran, the session still held the old refresh token.
    assert_eq!(hook.seen_by_callers.lock().unwrap().as_slice(), [old_rt]);
    hook.session.lock().unwrap().take();
}

#[tokio::test]
async fn a_failing_hook_is_reported_retried_and_nothing_is_lost() {
    let f = fixture().await;
    let s = f.session().await;
    let hook = Arc::new(RecordingHook {
        fail: true.into(),
        ..Default::default()
    });
    s.set_persistence(hook.clone());
    let old = secret(&s.access_token().await.unwrap());
    let old_rt = s.refresh_token().unwrap().expose_secret().to_owned();
    f.clock.advance(Duration::from_secs(LIFETIME + 1));
    let e = s.access_token().await.unwrap_err();
    assert!(matches!(e, Error::Persist(_)), "{e:?}");
    let requests = f.token_requests();
    // The new tokens are held in memory, but not handed out while the store refuses them.
    assert_ne!(s.refresh_token().unwrap().expose_secret(), old_rt);
    assert!(matches!(s.access_token().await, Err(Error::Persist(_))));
    // Once the store is back, the hook is retried and the rotated tokens are handed out,
    // without another refresh.
    hook.fail.store(false, std::sync::atomic::Ordering::SeqCst);
    let t = s.access_token().await.unwrap();
    assert_ne!(secret(&t), old);
    assert_eq!(f.token_requests(), requests);
    let saved = hook.saved.lock().unwrap().clone();
    assert_eq!(
        saved.len(),
        3,
        "the first attempt, the refused retry, the successful retry"
    );
    assert_eq!(
        saved_refresh_token(&saved[2]),
        s.refresh_token().unwrap().expose_secret()
    );
}

#[tokio::test]
async fn a_caller_giving_up_mid_refresh_loses_no_rotated_token() {
    let f = fixture().await;
    let s = f.session().await;
    let hook = Arc::new(RecordingHook {
        delay: Some(Duration::from_millis(600)),
        ..Default::default()
    });
    s.set_persistence(hook.clone());
    let old_rt = s.refresh_token().unwrap().expose_secret().to_owned();
    f.clock.advance(Duration::from_secs(LIFETIME + 1));
    // The caller times out while the rotated tokens are being persisted.
    let gave_up = tokio::time::timeout(Duration::from_millis(100), s.access_token()).await;
    assert!(gave_up.is_err());
    tokio::time::sleep(Duration::from_millis(900)).await;
    let requests = f.token_requests();
    let rt = s.refresh_token().unwrap().expose_secret().to_owned();
    assert_ne!(rt, old_rt, "the refresh finished although its caller left");
    assert_eq!(saved_refresh_token(&hook.saved.lock().unwrap()[0]), rt);
    s.access_token().await.unwrap();
    assert_eq!(
        f.token_requests(),
        requests,
        "no second refresh with a dead token"
    );
}

#[tokio::test]
async fn a_refused_refreshed_id_token_still_keeps_the_rotated_refresh_token() {
    let f = fixture().await;
    let s = f.session().await;
    let old_rt = s.refresh_token().unwrap().expose_secret().to_owned();
    f.provider
        .faults()
        .set_id_token_fault(Some(IdTokenFault::DifferentSubOnRefresh));
    f.clock.advance(Duration::from_secs(LIFETIME + 1));
    assert!(s.access_token().await.is_err());
    // The provider rotated the refresh token; the session kept the new one.
    let rt = s.refresh_token().unwrap().expose_secret().to_owned();
    assert_ne!(rt, old_rt);
    f.provider.faults().clear();
    s.access_token().await.unwrap();
    assert_eq!(s.claims().sub, "dev-user-alice");
}

#[tokio::test]
async fn force_refresh_without_a_refresh_token_does_not_end_a_valid_session() {
    let f = fixture().await;
    let s = f.login("openid profile").await;
    let e = s.force_refresh().await.unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
    s.access_token().await.unwrap();
}

#[tokio::test]
async fn invalid_grant_ends_the_session_without_a_retry_storm() {
    let f = fixture().await;
    let s = f.session().await;
    f.provider
        .faults()
        .set_token_response_fault(Some(TokenResponseFault::RefreshInvalidGrant));
    f.clock.advance(Duration::from_secs(LIFETIME - 5)); // still valid, but inside the margin
    let before = f.token_requests();
    let e = s.access_token().await.unwrap_err();
    assert!(matches!(e, Error::ReauthenticationRequired(_)), "{e:?}");
    f.provider.faults().clear();
    for _ in 0..10 {
        assert!(matches!(
            s.access_token().await,
            Err(Error::ReauthenticationRequired(_))
        ));
    }
    assert!(matches!(
        s.clone().force_refresh().await,
        Err(Error::ReauthenticationRequired(_))
    ));
    assert_eq!(
        f.token_requests(),
        before + 1,
        "no request after the session ended"
    );
}

#[tokio::test]
async fn a_transient_failure_keeps_a_still_valid_token() {
    let f = fixture().await;
    let s = f.session().await;
    let old = secret(&s.access_token().await.unwrap());
    f.provider.faults().fail_token_requests(1); // one 503
    f.clock.advance(Duration::from_secs(LIFETIME - 5)); // 5 s left, inside the margin
    let t = s.access_token().await.unwrap();
    assert_eq!(secret(&t), old);
    assert_eq!(
        t.expires_in,
        Some(Duration::from_secs(5)),
        "the real remaining lifetime"
    );
    // The next call tries again, and the provider is back.
    let t = s.access_token().await.unwrap();
    assert_ne!(secret(&t), old);
}

#[tokio::test]
async fn a_transient_failure_with_nothing_valid_left_is_an_error_shared_by_all_waiters() {
    let f = fixture().await;
    let s = f.session().await;
    f.provider.faults().fail_token_requests(1);
    f.clock.advance(Duration::from_secs(LIFETIME + 1));
    let before = f.token_requests();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.access_token().await })
        })
        .collect();
    for t in tasks {
        let e = t.await.unwrap().unwrap_err();
        assert!(e.is_transient(), "{e:?}");
    }
    assert_eq!(
        f.token_requests(),
        before + 1,
        "the waiters shared the failed attempt"
    );
    // Not the end of the session: the next call succeeds.
    s.access_token().await.unwrap();
}

#[tokio::test]
async fn a_refreshed_id_token_with_another_sub_is_refused() {
    let f = fixture().await;
    let s = f.session().await;
    let sub = s.subject();
    f.provider
        .faults()
        .set_id_token_fault(Some(IdTokenFault::DifferentSubOnRefresh));
    f.clock.advance(Duration::from_secs(LIFETIME + 1));
    let e = s.access_token().await.unwrap_err();
    assert!(
        matches!(e, Error::IdToken(IdTokenError::RefreshClaimChanged("sub"))),
        "{e:?}"
    );
    assert_eq!(s.subject(), sub);
}

#[tokio::test]
async fn no_refresh_token_and_an_expired_token_means_reauthentication() {
    let f = fixture().await;
    let s = f.login("openid profile").await;
    assert!(s.refresh_token().is_none());
    f.clock.advance(Duration::from_secs(LIFETIME - 5));
    s.access_token().await.unwrap(); // still valid: handed out, nothing to refresh with
    f.clock.advance(Duration::from_secs(10));
    assert!(matches!(
        s.access_token().await,
        Err(Error::ReauthenticationRequired(_))
    ));
}

#[tokio::test]
async fn a_restored_session_refreshes_the_same_way() {
    let f = fixture().await;
    let s = f.session().await;
    let stored = serde_json::to_string(&s.export_with_secrets()).unwrap();
    let restored =
        Authenticated::restore_from_trusted_store(f.client.clone(), serde_json::from_str(&stored).unwrap())
            .unwrap();
    f.clock.advance(Duration::from_secs(LIFETIME + 1));
    let before = f.token_requests();
    let t = restored.access_token().await.unwrap();
    assert_eq!(t.expires_in, Some(Duration::from_secs(LIFETIME)));
    assert_eq!(f.token_requests(), before + 1);
    // The count travels with the saved session: a replica can tell the newer copy.
    let resaved = restored.export_with_secrets();
    assert_eq!(resaved.refresh_count(), 1);
    let again = Authenticated::restore_from_trusted_store(f.client.clone(), resaved).unwrap();
    assert_eq!(again.refresh_count(), 1);
    assert_eq!(restored.userinfo().await.unwrap().sub, restored.subject());
}

#[tokio::test]
async fn force_refresh_refreshes_a_fresh_token() {
    let f = fixture().await;
    let s = f.session().await;
    let old = secret(&s.access_token().await.unwrap());
    let t = s.force_refresh().await.unwrap();
    assert_ne!(secret(&t), old);
}

#[tokio::test]
async fn machine_tokens_are_cached_and_renewed_once_per_expiry() {
    let f = fixture().await;
    let source = ClientCredentialsSource::new(
        f.client.clone(),
        "openid",
        "dev-m2m-access-key",
        AccessSecret::new("dev-m2m-access-secret"),
    )
    .unwrap();
    for round in 1..=2u64 {
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let s = source.clone();
                tokio::spawn(async move { s.token().await })
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        for t in tasks {
            seen.insert(secret(&t.await.unwrap().unwrap()));
        }
        assert_eq!(seen.len(), 1);
        assert_eq!(f.token_requests(), round, "one request per expiry");
        f.clock.advance(Duration::from_secs(LIFETIME + 1));
    }
    assert!(ClientCredentialsSource::new(f.client.clone(), " ", "k", AccessSecret::new("s")).is_err());
}
