//! The cost of getting an access token from a session (docs/benchmarks.md,
//! "Sessions").
//!
//! Side by side in one run:
//! - `clone_access_token`: cloning the `AccessToken` alone (the floor: the
//!   session hands out an owned copy);
//! - `warm_access_token`: `Authenticated::access_token()` on a warm session
//!   (no refresh due), polled once; target < 1 µs;
//! - `expiry_10k_callers`: 10,000 concurrent tasks asking a session whose
//!   token just expired; the bench asserts each round sends exactly one
//!   refresh request.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use authing_oidc::clock::ManualClock;
use authing_oidc::flow::{Authenticated, CallbackParams, Unauthorized};
use authing_oidc::{AuthenticationClient, ExposeSecret as _};
use authing_oidc_dev_provider::{
    AuthorizationResponse, DevProvider, DevProviderConfig, login_without_browser,
};
use criterion::{Criterion, criterion_group, criterion_main};

/// Polls a future once; the warm path completes without waiting.
fn poll_once<F: Future>(f: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(f).as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the warm path must not wait"),
    }
}

fn bench(c: &mut Criterion) {
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
    let client = AuthenticationClient::builder()
        .app_id("dev-app")
        .secret("dev-app-secret")
        .app_host(provider.app_host())
        .redirect_uri("http://127.0.0.1:3000/callback")
        .clock(clock.clone())
        .build()
        .unwrap();
    let session: Authenticated = rt.block_on(async {
        let (url, pending) = Unauthorized::new(client)
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
        pending
            .complete(CallbackParams::from_url(cb.as_str()).unwrap())
            .await
            .unwrap()
    });

    let mut g = c.benchmark_group("session");
    let held = session.current_access_token().access_token;
    g.bench_function("clone_access_token", |b| b.iter(|| black_box(&held).clone()));
    let before = provider.request_count("/oidc/token");
    g.bench_function("warm_access_token", |b| {
        b.iter(|| poll_once(black_box(&session).access_token()).unwrap())
    });
    assert_eq!(
        provider.request_count("/oidc/token"),
        before,
        "a warm session sent a request"
    );

    g.sample_size(10);
    g.bench_function("expiry_10k_callers", |b| {
        b.iter_custom(|rounds| {
            let mut total = Duration::ZERO;
            for _ in 0..rounds {
                clock.advance(Duration::from_secs(3601));
                let requests = provider.request_count("/oidc/token");
                let started = Instant::now();
                let tokens: Vec<String> = rt.block_on(async {
                    let tasks: Vec<_> = (0..10_000)
                        .map(|_| {
                            let s = session.clone();
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
                    "one refresh per expiry"
                );
                assert!(
                    tokens.iter().all(|t| t == &tokens[0]),
                    "every caller got the same token"
                );
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
