//! 10,000 callers over two replicas across an access-token expiry (docs/benchmarks.md, "Shared
//! sessions on Redis"): two `Authenticated` values restored from one session in Redis, each with
//! its own HTTP client and Redis connection as two processes would have, against the embedded
//! development provider. Each round moves the clock past the expiry, starts 5,000 tasks calling
//! `access_token()` on each replica at once, and asserts that the round sent exactly one request
//! to the token endpoint and that all 10,000 callers got the same new token; criterion reports
//! the time a round takes. Starts its own redis-server (no persistence).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use authing_oidc::clock::ManualClock;
use authing_oidc::flow::{Authenticated, CallbackParams, Unauthorized};
use authing_oidc::store::LeaseOptions;
use authing_oidc::{AuthenticationClient, ExposeSecret as _};
use authing_oidc_dev_provider::{
    AuthorizationResponse, DevProvider, DevProviderConfig, login_without_browser,
};
use authing_oidc_redis::{Keyring, RedisSessionStore, SessionKey};
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "../tests/support/redis_server.rs"]
#[allow(dead_code)]
mod redis_server;

const KEY: &str = "bench-session";
const CALLERS: usize = 10_000;

fn bench(c: &mut Criterion) {
    let server = redis_server::RedisServer::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = DevProviderConfig::default();
    config.access_token_lifetime = Duration::from_secs(3600);
    // The manual clock moves an hour per round: id_tokens and refresh tokens must outlive the bench.
    config.id_token_lifetime = Duration::from_secs(10 * 365 * 86_400);
    config.refresh_token_lifetime = Duration::from_secs(10 * 365 * 86_400);
    let provider = rt.block_on(DevProvider::start(config)).unwrap();
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let client = || {
        AuthenticationClient::builder()
            .app_id("dev-app")
            .secret("dev-app-secret")
            .app_host(provider.app_host())
            .redirect_uri("http://127.0.0.1:3000/callback")
            .clock(clock.clone())
            .build()
            .unwrap()
    };
    let store = || async {
        let keys = Keyring::new(SessionKey::new("k", secrecy::SecretBox::new(Box::new([7; 32]))).unwrap());
        Arc::new(RedisSessionStore::connect(&server.url(), keys).await.unwrap())
    };
    let replicas: Vec<Authenticated> = rt.block_on(async {
        let (url, pending) = Unauthorized::new(client())
            .scope("openid offline_access")
            .start()
            .unwrap();
        let AuthorizationResponse::Redirect(cb) =
            login_without_browser(url.as_str(), "alice", "alice-password")
                .await
                .unwrap()
        else {
            panic!("expected a redirect")
        };
        let first = pending
            .complete(CallbackParams::from_url(cb.as_str()).unwrap())
            .await
            .unwrap();
        first
            .save_to_session_store(store().await, KEY, LeaseOptions::default())
            .await
            .unwrap();
        let mut all = Vec::new();
        for _ in 0..2 {
            all.push(
                Authenticated::restore_from_session_store(
                    client(),
                    store().await,
                    KEY,
                    LeaseOptions::default(),
                )
                .await
                .unwrap()
                .expect("the stored session"),
            );
        }
        all
    });

    let mut g = c.benchmark_group("redis_session");
    g.sample_size(10);
    g.bench_function("expiry_10k_callers_two_replicas", |b| {
        b.iter_custom(|rounds| {
            let mut total = Duration::ZERO;
            for _ in 0..rounds {
                clock.advance(Duration::from_secs(3601));
                let requests = provider.request_count("/oidc/token");
                let started = Instant::now();
                let tokens: Vec<String> = rt.block_on(async {
                    let tasks: Vec<_> = (0..CALLERS)
                        .map(|i| {
                            let s = replicas[i % 2].clone();
                            tokio::spawn(async move { s.access_token().await })
                        })
                        .collect();
                    let mut out = Vec::with_capacity(tasks.len());
                    for t in tasks {
                        out.push(t.await.unwrap().unwrap().access_token.expose_secret().to_owned());
                    }
                    out
                });
                total += started.elapsed();
                assert_eq!(
                    provider.request_count("/oidc/token"),
                    requests + 1,
                    "one refresh per expiry between both replicas"
                );
                assert!(
                    tokens.iter().all(|t| t == &tokens[0]),
                    "every caller on both replicas got the same token"
                );
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
