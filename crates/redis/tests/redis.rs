//! The Redis store with real parts: a real `redis-server` (no persistence) on a
//! free loopback port, and panva's oidc-provider with rotating refresh tokens,
//! where reusing a rotated one revokes the grant, so a double refresh shows up
//! as failures. The provider counts refreshes itself (plugins/count.mjs).

#[path = "support/redis_server.rs"]
mod redis_server;

#[path = "../../../tests/support/panva.rs"]
#[allow(dead_code)]
mod panva;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use authing_oidc::flow::{Authenticated, CallbackParams, Unauthorized};
use authing_oidc::store::{LeaseOptions, SaveCondition, Saved, SavedSession, SessionStore};
use authing_oidc::{AuthMethod, AuthenticationClient, Error, ExposeSecret, StoreErrorKind};
use authing_oidc_redis::fred::interfaces::{ClientLike as _, HashesInterface as _};
use authing_oidc_redis::{Keyring, RedisSessionStore, SessionKey};
use panva::{CALLBACK, Callback, PanvaOptions, PanvaProvider, RP_RS256};
use redis_server::RedisServer;

const SCOPE: &str = "openid profile offline_access";
const KEY: &str = "alice-session";

fn keyring(id: &str, byte: u8) -> Keyring {
    Keyring::new(SessionKey::new(id, secrecy::SecretBox::new(Box::new([byte; 32]))).unwrap())
}

async fn store(redis: &RedisServer) -> Arc<RedisSessionStore> {
    Arc::new(
        RedisSessionStore::connect(&redis.url(), keyring("k1", 7))
            .await
            .unwrap(),
    )
}

async fn provider(access_token_ttl: u64) -> PanvaProvider {
    PanvaProvider::start(
        PanvaOptions::default()
            .ttl("AccessToken", access_token_ttl)
            .plugin("plugins/count.mjs"),
    )
    .await
}

/// A client of its own per replica, as separate processes would have.
async fn client(op: &PanvaProvider) -> AuthenticationClient {
    let (client_id, secret) = op.client(RP_RS256);
    AuthenticationClient::builder()
        .app_id(client_id)
        .secret(secret.unwrap())
        .redirect_uri(CALLBACK)
        .token_endpoint_auth_method(AuthMethod::ClientSecretPost)
        // Below the shortest lease ttl used here (a lease must outlive one request).
        .timeout(Duration::from_secs(2))
        .discover(op.issuer())
        .await
        .unwrap()
}

async fn login(op: &PanvaProvider) -> Authenticated {
    let client = client(op).await;
    let (url, pending) = Unauthorized::new(client).scope(SCOPE).start().unwrap();
    let params = match op.login(url.as_str(), "alice").await {
        Callback::Redirect(url) => CallbackParams::from_url(&url),
        Callback::FormPost { body, .. } => CallbackParams::from_form_post(&body),
    }
    .unwrap();
    let session = pending.complete(params).await.unwrap();
    assert!(session.refresh_token().is_some());
    session
}

/// Refreshes the provider saw: (successful, refused).
async fn refreshes(op: &PanvaProvider) -> (u64, u64) {
    let body = reqwest::get(op.url("/_counts"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counts: serde_json::Value = serde_json::from_str(&body).unwrap();
    (
        counts["refresh"]["success"].as_u64().unwrap(),
        counts["refresh"]["error"].as_u64().unwrap(),
    )
}

/// Sleeps until the access token has expired by the wall clock.
async fn until_expired(session: &Authenticated) {
    let at = Duration::from_secs(session.expires_at().unwrap()) + Duration::from_millis(50);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    tokio::time::sleep(at.saturating_sub(now)).await;
}

/// `n` replicas: each its own HTTP client and Redis connection, restored from the stored
/// session.
async fn replicas(
    op: &PanvaProvider,
    redis: &RedisServer,
    lease: LeaseOptions,
    n: usize,
) -> Vec<Authenticated> {
    let first = login(op).await;
    first
        .save_to_session_store(store(redis).await, KEY, lease)
        .await
        .unwrap();
    let mut all = Vec::new();
    for _ in 0..n {
        all.push(
            Authenticated::restore_from_session_store(client(op).await, store(redis).await, KEY, lease)
                .await
                .unwrap()
                .expect("the stored session"),
        );
    }
    all
}

fn saved_session() -> SavedSession {
    serde_json::from_value(serde_json::json!({
        "version": 1,
        "issuer": "https://op.example",
        "client_id": "app",
        "access_token": "at-CANARY-0123456789",
        "refresh_token": "rt-CANARY-0123456789",
        "id_token": "h.p.s",
        "claims": {"iss": "https://op.example", "sub": "alice", "aud": ["app"], "exp": 2000000000, "iat": 1700000000},
        "refresh_count": 0,
    }))
    .unwrap()
}

fn with_count(saved: &SavedSession, n: u64) -> SavedSession {
    let mut v = serde_json::to_value(saved).unwrap();
    v["refresh_count"] = n.into();
    serde_json::from_value(v).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_sharing_redis_refresh_exactly_once_across_an_expiry() {
    let redis = RedisServer::start();
    let op = provider(2).await;
    let replicas = replicas(&op, &redis, LeaseOptions::default(), 2).await;
    until_expired(&replicas[0]).await;
    let before = refreshes(&op).await;
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let replica = replicas[i % 2].clone();
            tokio::spawn(async move { replica.access_token().await })
        })
        .collect();
    let mut tokens = std::collections::HashSet::new();
    for task in tasks {
        let token = task
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("a caller failed: {e}"));
        tokens.insert(token.access_token.expose_secret().to_owned());
    }
    let after = refreshes(&op).await;
    assert_eq!(after.0 - before.0, 1, "exactly one refresh at the provider");
    assert_eq!(after.1, before.1, "no refused refresh (no reuse)");
    assert_eq!(tokens.len(), 1, "both replicas hand out the one refreshed token");
    // The session goes on on both replicas: the provider accepts the token and the next
    // rotation works.
    for replica in &replicas {
        assert_eq!(replica.userinfo().await.unwrap().sub, "alice");
    }
    until_expired(&replicas[1]).await;
    replicas[1].access_token().await.unwrap();
    replicas[0].access_token().await.unwrap();
    assert_eq!(refreshes(&op).await, (after.0 + 1, after.1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_holder_that_stops_before_refreshing_is_outlived_by_the_lease_ttl() {
    let redis = RedisServer::start();
    let op = provider(2).await;
    let ttl = Duration::from_millis(2_500);
    let replicas = replicas(&op, &redis, LeaseOptions::with_ttl(ttl), 1).await;
    until_expired(&replicas[0]).await;
    // A holder takes the lease in Redis and stops (its process is gone): nothing releases it.
    let stopped = store(&redis).await;
    assert!(stopped.try_lease(KEY, ttl).await.unwrap().is_some());
    drop(stopped);
    let before = refreshes(&op).await;
    let started = Instant::now();
    replicas[0].access_token().await.unwrap();
    assert!(
        started.elapsed() >= ttl / 2,
        "waited for the stopped holder's lease"
    );
    assert_eq!(refreshes(&op).await.0, before.0 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_and_restarted_mid_traffic_fails_transiently_then_recovers() {
    let mut redis = RedisServer::start();
    let op = provider(2).await;
    let replicas = replicas(&op, &redis, LeaseOptions::default(), 2).await;
    let before = refreshes(&op).await;
    let first = replicas[0].access_token().await.unwrap();
    redis.stop();
    // Down, token still valid: served from memory.
    let t = replicas[1].access_token().await.unwrap();
    assert_eq!(t.access_token.expose_secret(), first.access_token.expose_secret());
    // Down, token expired: typed transient errors, and no refresh without the lease.
    until_expired(&replicas[0]).await;
    for replica in &replicas {
        let e = replica.access_token().await.unwrap_err();
        assert!(e.is_transient(), "{e:?}");
        assert!(
            matches!(&e, Error::Store(s) if s.kind == StoreErrorKind::Unavailable),
            "{e:?}"
        );
    }
    assert_eq!(
        refreshes(&op).await,
        before,
        "nothing refreshed while Redis was down"
    );
    // Back (empty: no persistence). Traffic on both replicas recovers with one refresh.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    let token = loop {
        let tasks: Vec<_> = (0..100)
            .map(|i| {
                let replica = replicas[i % 2].clone();
                tokio::spawn(async move { replica.access_token().await })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        if results.iter().all(Result::is_ok) {
            break results.pop().unwrap().unwrap();
        }
        for e in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(
                e.is_transient(),
                "only transient errors while reconnecting: {e:?}"
            );
        }
        assert!(Instant::now() < deadline, "no recovery after the restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let after = refreshes(&op).await;
    assert_eq!(after.0, before.0 + 1, "one refresh after the restart");
    assert_eq!(after.1, before.1);
    // Nothing lost: the session was stored again and both replicas use the same tokens.
    let stored = store(&redis).await.load(KEY).await.unwrap().unwrap();
    assert_eq!(stored.refresh_count(), 1);
    for replica in &replicas {
        assert_eq!(replica.refresh_count(), 1);
        let t = replica.access_token().await.unwrap();
        assert_eq!(t.access_token.expose_secret(), token.access_token.expose_secret());
        assert_eq!(replica.userinfo().await.unwrap().sub, "alice");
    }
}

#[tokio::test]
async fn saves_are_compare_and_set_and_a_stale_writer_is_refused() {
    let redis = RedisServer::start();
    let store = store(&redis).await;
    let s0 = saved_session();
    let s1 = with_count(&s0, 1);
    assert!(store.load(KEY).await.unwrap().is_none());
    assert_eq!(
        store
            .save(KEY, &s0, SaveCondition::RefreshCount(0))
            .await
            .unwrap(),
        Saved::Refused
    );
    assert_eq!(
        store.save(KEY, &s0, SaveCondition::Absent).await.unwrap(),
        Saved::Stored
    );
    assert_eq!(
        store.save(KEY, &s0, SaveCondition::Absent).await.unwrap(),
        Saved::Refused
    );
    assert_eq!(
        store
            .save(KEY, &s1, SaveCondition::RefreshCount(0))
            .await
            .unwrap(),
        Saved::Stored
    );
    // A writer that read count 0 before another rotation landed is refused.
    let stale = with_count(&s0, 1);
    assert_eq!(
        store
            .save(KEY, &stale, SaveCondition::RefreshCount(0))
            .await
            .unwrap(),
        Saved::Refused
    );
    assert_eq!(store.load(KEY).await.unwrap().unwrap().refresh_count(), 1);
    assert_eq!(
        store.save(KEY, &s0, SaveCondition::Always).await.unwrap(),
        Saved::Stored
    );
    assert_eq!(store.load(KEY).await.unwrap().unwrap().refresh_count(), 0);
}

#[tokio::test]
async fn the_lease_is_exclusive_expires_and_is_released_only_by_its_owner() {
    let redis = RedisServer::start();
    let (a, b) = (store(&redis).await, store(&redis).await);
    let ttl = Duration::from_millis(300);
    let first = a.try_lease(KEY, ttl).await.unwrap().unwrap();
    assert!(b.try_lease(KEY, ttl).await.unwrap().is_none(), "exclusive");
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    let second = b.try_lease(KEY, Duration::from_secs(5)).await.unwrap().unwrap();
    // The first holder's late release does not remove the second's lease.
    a.release(KEY, first).await.unwrap();
    assert!(a.try_lease(KEY, ttl).await.unwrap().is_none());
    b.release(KEY, second).await.unwrap();
    assert!(a.try_lease(KEY, ttl).await.unwrap().is_some());
}

#[tokio::test]
async fn remove_session_deletes_the_copy_and_leaves_a_held_lease() {
    let redis = RedisServer::start();
    let store = store(&redis).await;
    store
        .save(KEY, &saved_session(), SaveCondition::Always)
        .await
        .unwrap();
    let lease = store.try_lease(KEY, Duration::from_secs(30)).await.unwrap();
    assert!(lease.is_some());
    store.remove_session(KEY).await.unwrap();
    assert!(store.load(KEY).await.unwrap().is_none());
    // A refresh in flight on another replica keeps its lease: nobody else refreshes meanwhile.
    assert!(
        store
            .try_lease(KEY, Duration::from_secs(30))
            .await
            .unwrap()
            .is_none()
    );
    // Removing what is not there is not an error.
    store.remove_session("nobody").await.unwrap();
}

#[tokio::test]
async fn values_are_encrypted_bound_to_their_key_name_and_keys_rotate() {
    let redis = RedisServer::start();
    let store = store(&redis).await;
    let saved = saved_session();
    store.save(KEY, &saved, SaveCondition::Always).await.unwrap();
    let raw: Vec<u8> = store.client().hget(store.session_key(KEY), "v").await.unwrap();
    assert!(
        !raw.windows(6).any(|w| w == b"CANARY"),
        "no token in clear in Redis"
    );
    // The blob copied under another session's key does not decrypt there.
    let _: () = store
        .client()
        .hset(
            store.session_key("mallory"),
            vec![("n", "0".as_bytes().to_vec()), ("v", raw)],
        )
        .await
        .unwrap();
    let e = store.load("mallory").await.unwrap_err();
    assert!(
        matches!(&e, Error::Store(s) if s.kind == StoreErrorKind::Invalid),
        "{e:?}"
    );
    // A store whose current key is new, with the old one as previous, reads the old value and
    // writes the new key's id.
    let rotated = RedisSessionStore::connect(
        &redis.url(),
        keyring("k2", 9)
            .with_previous(SessionKey::new("k1", secrecy::SecretBox::new(Box::new([7; 32]))).unwrap()),
    )
    .await
    .unwrap();
    let loaded = rotated.load(KEY).await.unwrap().unwrap();
    assert_eq!(loaded.claims().sub, "alice");
    rotated
        .save(KEY, &loaded, SaveCondition::RefreshCount(0))
        .await
        .unwrap();
    let raw: Vec<u8> = rotated
        .client()
        .hget(rotated.session_key(KEY), "v")
        .await
        .unwrap();
    assert_eq!(&raw[1..4], b"\x02k2");
    // The old keyring alone no longer reads it.
    let e = store.load(KEY).await.unwrap_err();
    assert!(
        matches!(&e, Error::Store(s) if s.kind == StoreErrorKind::Invalid),
        "{e:?}"
    );
    assert!(!format!("{e}").contains("CANARY"));
    store.delete(KEY).await.unwrap();
    assert!(rotated.load(KEY).await.unwrap().is_none());
    let _ = rotated.client().quit().await;
}
