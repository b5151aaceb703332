//! Sessions shared through a `SessionStore` (docs/shared-sessions.md): several
//! `Authenticated` values ("replicas") restored from one store refresh once per
//! expiry between them, wait for a lease holder, refuse a stale writer, and
//! refresh nothing while the store is down. Against the embedded development
//! provider, whose refresh tokens rotate and whose reuse revokes the grant.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use authing_oidc::clock::ManualClock;
use authing_oidc::flow::{Authenticated, CallbackParams, Unauthorized};
use authing_oidc::store::{
    Lease, LeaseOptions, MemoryStore, SaveCondition, Saved, SavedSession, SessionStore, StoreFuture,
};
use authing_oidc::{AuthenticationClient, Error, ExposeSecret, StoreError, StoreErrorKind};
use authing_oidc_dev_provider::{
    AuthorizationResponse, DevProvider, DevProviderConfig, RunningDevProvider, login_without_browser,
};

const LIFETIME: u64 = 120;
const KEY: &str = "session:alice";

struct Fixture {
    provider: RunningDevProvider,
    clock: Arc<ManualClock>,
    client: AuthenticationClient,
}

/// The HTTP timeout of the tests' client.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(1_000);
/// A lease ttl the tests wait out: just above the request timeout.
const SHORT_TTL: Duration = Duration::from_millis(1_200);

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
        // Below the tests' lease ttls: a lease must outlive one request (LeaseOptions::check).
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap();
    Fixture {
        provider,
        clock,
        client,
    }
}

impl Fixture {
    async fn login(&self) -> Authenticated {
        let (url, pending) = Unauthorized::new(self.client.clone())
            .scope("openid profile offline_access")
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

    /// A login saved to `store`, and `n` replicas restored from it.
    async fn replicas(
        &self,
        store: Arc<dyn SessionStore>,
        lease: LeaseOptions,
        n: usize,
    ) -> Vec<Authenticated> {
        let first = self.login().await;
        first
            .save_to_session_store(store.clone(), KEY, lease)
            .await
            .unwrap();
        let mut all = Vec::new();
        for _ in 0..n {
            all.push(
                Authenticated::restore_from_session_store(self.client.clone(), store.clone(), KEY, lease)
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        all
    }

    fn token_requests(&self) -> u64 {
        self.provider.request_count("/oidc/token")
    }
}

fn secret(t: &authing_oidc::flow::SessionToken) -> String {
    t.access_token.expose_secret().to_owned()
}

#[tokio::test]
async fn two_replicas_refresh_once_per_expiry_between_them() {
    let f = fixture().await;
    let store = Arc::new(MemoryStore::new());
    let replicas = f.replicas(store.clone(), LeaseOptions::default(), 2).await;
    for round in 1..=2u64 {
        f.clock.advance(Duration::from_secs(LIFETIME + 1));
        let before = f.token_requests();
        let tasks: Vec<_> = (0..1000)
            .map(|i| {
                let s = replicas[i % 2].clone();
                tokio::spawn(async move { s.access_token().await })
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        for t in tasks {
            seen.insert(secret(&t.await.unwrap().unwrap()));
        }
        assert_eq!(seen.len(), 1, "both replicas hand out the one new token");
        assert_eq!(f.token_requests(), before + 1, "round {round}: one refresh");
        let stored = store.load(KEY).await.unwrap().unwrap();
        assert_eq!(stored.refresh_count(), round);
        assert!(replicas.iter().all(|r| r.refresh_count() == round));
    }
}

#[tokio::test]
async fn a_lease_holder_that_stopped_is_outlived_by_the_lease_ttl() {
    let f = fixture().await;
    let store = Arc::new(MemoryStore::new());
    let ttl = SHORT_TTL;
    let replicas = f.replicas(store.clone(), LeaseOptions::with_ttl(ttl), 1).await;
    // A holder takes the lease and stops before sending its refresh.
    let stopped = store.try_lease(KEY, ttl).await.unwrap().unwrap();
    f.clock.advance(Duration::from_secs(LIFETIME + 1));
    let before = f.token_requests();
    let started = Instant::now();
    replicas[0].access_token().await.unwrap();
    assert!(
        started.elapsed() >= ttl - Duration::from_millis(50),
        "waited for the ttl"
    );
    assert_eq!(f.token_requests(), before + 1);
    // The stopped holder's late release cannot remove the live holder's lease.
    let live = store.try_lease(KEY, ttl).await.unwrap().unwrap();
    store.release(KEY, stopped).await.unwrap();
    assert!(store.try_lease(KEY, ttl).await.unwrap().is_none());
    store.release(KEY, live).await.unwrap();
    assert!(store.try_lease(KEY, ttl).await.unwrap().is_some());
}

#[tokio::test]
async fn a_stale_writer_is_refused_and_a_stale_replica_takes_the_newer_copy() {
    let f = fixture().await;
    let store = Arc::new(MemoryStore::new());
    let replicas = f.replicas(store.clone(), LeaseOptions::default(), 2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let stale = a.export_with_secrets();
    f.clock.advance(Duration::from_secs(LIFETIME + 1));
    let before = f.token_requests();
    let new = b.access_token().await.unwrap();
    assert_eq!(f.token_requests(), before + 1);
    // A writer still holding the copy read before the refresh cannot overwrite it.
    assert_eq!(
        store
            .save(KEY, &stale, SaveCondition::RefreshCount(0))
            .await
            .unwrap(),
        Saved::Refused
    );
    assert_eq!(store.load(KEY).await.unwrap().unwrap().refresh_count(), 1);
    // Replica A still holds the old tokens; under the lease it finds the newer copy and
    // uses it instead of refreshing with a retired refresh token.
    assert_eq!(a.refresh_count(), 0);
    let got = a.access_token().await.unwrap();
    assert_eq!(secret(&got), secret(&new));
    assert_eq!(f.token_requests(), before + 1, "no second refresh");
    assert_eq!(a.refresh_count(), 1);
}

/// A store that can be switched off: every call fails as an unreachable one would.
struct Switchable {
    inner: MemoryStore,
    down: AtomicBool,
}

impl Switchable {
    fn check(&self) -> authing_oidc::Result<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(Error::Store(StoreError::unavailable("connection refused")))
        } else {
            Ok(())
        }
    }
}

impl SessionStore for Switchable {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<SavedSession>> {
        Box::pin(async move {
            self.check()?;
            self.inner.load(key).await
        })
    }
    fn save<'a>(&'a self, key: &'a str, s: &'a SavedSession, c: SaveCondition) -> StoreFuture<'a, Saved> {
        Box::pin(async move {
            self.check()?;
            self.inner.save(key, s, c).await
        })
    }
    fn try_lease<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, Option<Lease>> {
        Box::pin(async move {
            self.check()?;
            self.inner.try_lease(key, ttl).await
        })
    }
    fn release<'a>(&'a self, key: &'a str, lease: Lease) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.check()?;
            self.inner.release(key, lease).await
        })
    }
}

#[tokio::test]
async fn a_store_that_is_down_means_no_refresh_a_valid_token_and_recovery() {
    let f = fixture().await;
    let store = Arc::new(Switchable {
        inner: MemoryStore::new(),
        down: AtomicBool::new(false),
    });
    let replicas = f.replicas(store.clone(), LeaseOptions::default(), 1).await;
    let s = &replicas[0];
    let old = secret(&s.access_token().await.unwrap());
    store.down.store(true, Ordering::SeqCst);
    let before = f.token_requests();
    // Inside the refresh margin but not expired: the refresh cannot take the lease, so the
    // still-valid token is handed out with its real remaining lifetime.
    f.clock.advance(Duration::from_secs(LIFETIME - 5));
    let t = s.access_token().await.unwrap();
    assert_eq!(secret(&t), old);
    assert_eq!(t.expires_in, Some(Duration::from_secs(5)));
    // Expired: a typed transient error, and still no refresh without the lease.
    f.clock.advance(Duration::from_secs(10));
    let e = s.access_token().await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    assert!(
        matches!(
            &e,
            Error::Store(StoreError {
                kind: StoreErrorKind::Unavailable,
                ..
            })
        ),
        "{e:?}"
    );
    assert_eq!(
        f.token_requests(),
        before,
        "nothing was refreshed without the lease"
    );
    // The store is back: one refresh, and the session goes on.
    store.down.store(false, Ordering::SeqCst);
    let t = s.access_token().await.unwrap();
    assert_ne!(secret(&t), old);
    assert_eq!(f.token_requests(), before + 1);
    assert_eq!(store.load(KEY).await.unwrap().unwrap().refresh_count(), 1);
}

#[tokio::test]
async fn rotated_tokens_whose_save_failed_are_saved_before_use_without_a_second_refresh() {
    let f = fixture().await;
    let store = Arc::new(Switchable {
        inner: MemoryStore::new(),
        down: AtomicBool::new(false),
    });
    let replicas = f
        .replicas(store.clone(), LeaseOptions::with_ttl(SHORT_TTL), 2)
        .await;
    f.clock.advance(Duration::from_secs(LIFETIME + 1));
    let before = f.token_requests();
    // The store goes down between the lease and the save: a store that refuses saves only.
    struct SaveFails(Arc<Switchable>);
    impl SessionStore for SaveFails {
        fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<SavedSession>> {
            self.0.load(key)
        }
        fn save<'a>(&'a self, _: &'a str, _: &'a SavedSession, _: SaveCondition) -> StoreFuture<'a, Saved> {
            Box::pin(async { Err(Error::Store(StoreError::unavailable("connection reset"))) })
        }
        fn try_lease<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, Option<Lease>> {
            self.0.try_lease(key, ttl)
        }
        fn release<'a>(&'a self, key: &'a str, lease: Lease) -> StoreFuture<'a, ()> {
            self.0.release(key, lease)
        }
    }
    let a = &replicas[0];
    a.set_session_store_with(
        Arc::new(SaveFails(store.clone())),
        KEY,
        LeaseOptions::with_ttl(SHORT_TTL),
    )
    .unwrap();
    let e = a.access_token().await.unwrap_err();
    assert!(matches!(e, Error::Store(_)), "{e:?}");
    assert_eq!(f.token_requests(), before + 1);
    // The holder keeps its lease (it is not released with unsaved rotated tokens): no other
    // replica can refresh with the retired refresh token until it expires.
    assert!(
        store
            .try_lease(KEY, Duration::from_secs(1))
            .await
            .unwrap()
            .is_none()
    );
    // Back to the working store: the rotated tokens are saved, then handed out.
    a.set_session_store_with(store.clone(), KEY, LeaseOptions::with_ttl(SHORT_TTL))
        .unwrap();
    let t = a.access_token().await.unwrap();
    assert_eq!(f.token_requests(), before + 1, "saved, not refreshed again");
    let stored = store.load(KEY).await.unwrap().unwrap();
    assert_eq!(stored.refresh_count(), 1);
    let b = &replicas[1];
    b.set_session_store_with(store.clone(), KEY, LeaseOptions::default())
        .unwrap();
    assert_eq!(secret(&b.access_token().await.unwrap()), secret(&t));
    assert_eq!(f.token_requests(), before + 1);
}

/// A lease that does not outlive one request to the provider could expire under a holder still
/// waiting for its answer, and a second holder would refresh with the same refresh token: every
/// way of attaching a store refuses it with a configuration error, and nothing is attached.
#[tokio::test]
async fn a_lease_that_would_not_outlive_a_request_is_refused() {
    let f = fixture().await;
    let store = Arc::new(MemoryStore::new());
    let session = f.login().await;
    let short = LeaseOptions::with_ttl(REQUEST_TIMEOUT);
    let e = session
        .save_to_session_store(store.clone(), KEY, short)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Config(m) if m.contains("HTTP timeout")),
        "{e:?}"
    );
    assert!(store.load(KEY).await.unwrap().is_none(), "nothing saved");
    let e = session
        .set_session_store_with(store.clone(), KEY, short)
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
    let e = Authenticated::restore_from_session_store(f.client.clone(), store.clone(), KEY, short)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
    assert!(short.check(REQUEST_TIMEOUT).is_err());
    assert_eq!(f.client.timeout(), REQUEST_TIMEOUT);
    // One millisecond longer than the request timeout is accepted, and so is the default (30 s
    // against the default timeout of 10 s).
    let enough = LeaseOptions::with_ttl(REQUEST_TIMEOUT + Duration::from_millis(1));
    session
        .save_to_session_store(store.clone(), KEY, enough)
        .await
        .unwrap();
    assert!(store.load(KEY).await.unwrap().is_some());
    assert!(LeaseOptions::default().check(Duration::from_secs(10)).is_ok());
}
