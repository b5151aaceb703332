//! A Redis-attached session (docs/benchmarks.md, "Shared sessions on Redis"): the warm
//! `access_token()` stays in memory, and restoring a session from Redis on loopback costs one
//! HMGET, one AES-GCM open and one parse. Starts its own redis-server (no persistence).

use std::sync::Arc;
use std::time::{Duration, Instant};

use authing_oidc::AuthenticationClient;
use authing_oidc::flow::Authenticated;
use authing_oidc::store::{LeaseOptions, SaveCondition, SavedSession, SessionStore};
use authing_oidc_redis::{Keyring, RedisSessionStore, SessionKey};
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "../tests/support/redis_server.rs"]
#[allow(dead_code)]
mod redis_server;

fn saved() -> SavedSession {
    serde_json::from_value(serde_json::json!({
        "version": 1,
        "issuer": "https://op.example/oidc",
        "client_id": "app",
        "access_token": "a".repeat(800),
        "expires_at": 4_000_000_000u64,
        "lifetime_secs": 3600,
        "refresh_token": "r".repeat(64),
        "id_token": format!("{}.{}.{}", "h".repeat(40), "p".repeat(600), "s".repeat(340)),
        "claims": {"iss": "https://op.example/oidc", "sub": "alice", "aud": ["app"], "exp": 4000000000i64, "iat": 1700000000},
        "refresh_count": 0,
    }))
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let server = redis_server::RedisServer::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = AuthenticationClient::builder()
        .app_id("app")
        .secret("secret")
        .app_host("https://op.example")
        .build()
        .unwrap();
    let keys = Keyring::new(SessionKey::new("k", secrecy::SecretBox::new(Box::new([3; 32]))).unwrap());
    let store = Arc::new(
        rt.block_on(RedisSessionStore::connect(&server.url(), keys))
            .unwrap(),
    );
    rt.block_on(store.save("s", &saved(), SaveCondition::Always))
        .unwrap();
    let session = rt
        .block_on(Authenticated::restore_from_session_store(
            client.clone(),
            store.clone(),
            "s",
            LeaseOptions::default(),
        ))
        .unwrap()
        .unwrap();

    c.bench_function("redis_session/warm_access_token", |b| {
        b.to_async(&rt).iter(|| session.access_token())
    });
    let restore = || async {
        Authenticated::restore_from_session_store(client.clone(), store.clone(), "s", LeaseOptions::default())
            .await
            .unwrap()
            .unwrap()
    };
    c.bench_function("redis_session/restore_from_redis", |b| {
        b.to_async(&rt).iter(restore)
    });
    // p50 and p99 of the same operation, one at a time (criterion reports means and medians).
    let mut samples: Vec<Duration> = (0..5000)
        .map(|_| {
            let started = Instant::now();
            rt.block_on(restore());
            started.elapsed()
        })
        .collect();
    samples.sort();
    eprintln!(
        "redis_session/restore_from_redis: p50 {:?}, p99 {:?} over {} restores",
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
        samples.len()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
