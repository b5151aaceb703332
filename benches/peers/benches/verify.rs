//! id_token verification side by side (docs/benchmarks.md, "Side by side
//! with the peers"): one criterion group per algorithm, the same Authing-shaped
//! token for every contestant, each prepared once.
//!
//! - `floor`: aws-lc-rs signature check, key parsed once (HMAC key prepared once);
//! - `authing_oidc`: `IdTokenVerifier::verify`, every check, warm JWKS cache;
//! - `jsonwebtoken`, `openidconnect`, `jwt_simple`: the peers, with `nonce` and
//!   `at_hash` checked by the row where the crate leaves them to the application.
//!
//! `cargo run -p authing-oidc-peers --bin ratios` prints the table with the
//! ratios to the floor from criterion's estimates.
//!
//! `threads/<alg>`: throughput with cores. `*_1t` runs the verifications on one
//! thread, `*_2t` on two threads at once sharing one client (one key cache);
//! both report wall time per verification, so `time(_1t) / time(_2t)` is how
//! much the second thread adds (target ≥ 1.8 ×), beside the same for the floor.
//!
//! `parts/HS256`: the steps of an HS256 verification that are not the HMAC, each
//! timed alone on the same token beside the floor and the whole verification:
//! how much of the full time any verifier that decodes the payload, parses it into
//! the public owned claims and checks `at_hash` cannot avoid.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use authing_oidc::id_token::{IdTokenClaims, VerifyOptions};
use authing_oidc::{AccessToken, IdToken, Nonce};
use authing_oidc_peers::agreement::check_agreement;
use authing_oidc_peers::contestants::{Floor, JsonWebToken, JwtSimple, OpenIdConnect};
use authing_oidc_peers::{ACCESS_TOKEN, Alg, Fixture, NONCE};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let fx = rt.block_on(Fixture::new()).expect("fixture");
    // Every contestant accepts the token and refuses wrong ones before anything is timed.
    rt.block_on(check_agreement(&fx));
    let issuer = fx.issuer.clone();
    let nonce = Nonce::new(NONCE);
    let access_token = AccessToken::new(ACCESS_TOKEN);
    let opts = VerifyOptions::new().nonce(&nonce).access_token(&access_token);

    for alg in Alg::ALL {
        let token = fx.token(alg);
        let floor = Floor::new(&fx.keys, alg, token);
        let client = fx.client(alg).expect("client");
        let verifier = client.id_token_verifier();
        let id_token = IdToken::new(token);
        let jsonwebtoken = JsonWebToken::new(&fx.jwks, alg, &issuer).expect("jsonwebtoken");
        let openidconnect = OpenIdConnect::new(&fx.jwks, alg, &issuer).expect("openidconnect");
        let jwt_simple = JwtSimple::new(&fx.keys, alg, &issuer).expect("jwt-simple");

        // This client's key cache is warmed here (one JWKS request at most).
        assert!(floor.verify());
        rt.block_on(verifier.verify(&id_token, &opts))
            .expect("authing-oidc accepts");
        jsonwebtoken.verify(token).expect("jsonwebtoken accepts");
        openidconnect.verify(token).expect("openidconnect accepts");
        jwt_simple.verify(token).expect("jwt-simple accepts");
        let hits = fx.server.hits();

        let mut g = c.benchmark_group(alg.name());
        g.bench_function("floor", |b| b.iter(|| assert!(black_box(&floor).verify())));
        g.bench_function("authing_oidc", |b| {
            b.to_async(&rt)
                .iter(|| async { verifier.verify(black_box(&id_token), &opts).await.unwrap() })
        });
        g.bench_function("jsonwebtoken", |b| {
            b.iter(|| jsonwebtoken.verify(black_box(token)).unwrap())
        });
        g.bench_function("openidconnect", |b| {
            b.iter(|| openidconnect.verify(black_box(token)).unwrap())
        });
        g.bench_function("jwt_simple", |b| {
            b.iter(|| jwt_simple.verify(black_box(token)).unwrap())
        });
        g.finish();
        assert_eq!(fx.server.hits(), hits, "authing-oidc ran on a warm key cache");
    }
}

/// Wall time of `threads` threads each running `work` `iters` times, started
/// together, divided by `threads`: the time per verification when they share
/// the machine. Each thread's setup (`make`) is outside the timing.
fn parallel<W: FnMut()>(threads: u32, iters: u64, make: &(dyn Fn() -> W + Sync)) -> Duration {
    let ready = Barrier::new(threads as usize + 1);
    let elapsed = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut work = make();
                    ready.wait();
                    for _ in 0..iters {
                        work();
                    }
                })
            })
            .collect();
        ready.wait();
        let start = Instant::now();
        for w in workers {
            w.join().expect("worker");
        }
        start.elapsed()
    });
    elapsed / threads
}

fn bench_threads(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let fx = rt.block_on(Fixture::new()).expect("fixture");
    let nonce = Nonce::new(NONCE);
    let access_token = AccessToken::new(ACCESS_TOKEN);
    let opts = VerifyOptions::new().nonce(&nonce).access_token(&access_token);
    for alg in [Alg::Hs256, Alg::Rs256] {
        let token = fx.token(alg);
        let id_token = IdToken::new(token);
        let floor = Floor::new(&fx.keys, alg, token);
        // One client shared by every thread: one key cache, warmed here.
        let client = fx.client(alg).expect("client");
        rt.block_on(client.id_token_verifier().verify(&id_token, &opts))
            .expect("authing-oidc accepts");
        let hits = fx.server.hits();
        // Each thread: its own current-thread runtime and verifier handle on the shared client.
        let verifying = || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let verifier = client.id_token_verifier();
            let (id_token, opts) = (&id_token, &opts);
            move || {
                rt.block_on(verifier.verify(black_box(id_token), opts))
                    .expect("authing-oidc accepts");
            }
        };
        let checking = || || assert!(black_box(&floor).verify());
        let mut g = c.benchmark_group(format!("threads/{}", alg.name()));
        for threads in [1, 2] {
            g.bench_function(format!("floor_{threads}t"), |b| {
                b.iter_custom(|iters| parallel(threads, iters, &checking))
            });
            g.bench_function(format!("authing_oidc_{threads}t"), |b| {
                b.iter_custom(|iters| parallel(threads, iters, &verifying))
            });
        }
        g.finish();
        assert_eq!(fx.server.hits(), hits, "authing-oidc ran on a warm key cache");
    }
}

fn bench_parts(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let fx = rt.block_on(Fixture::new()).expect("fixture");
    let nonce = Nonce::new(NONCE);
    let access_token = AccessToken::new(ACCESS_TOKEN);
    let opts = VerifyOptions::new().nonce(&nonce).access_token(&access_token);
    let alg = Alg::Hs256;
    let token = fx.token(alg);
    let id_token = IdToken::new(token);
    let floor = Floor::new(&fx.keys, alg, token);
    let client = fx.client(alg).expect("client");
    let verifier = client.id_token_verifier();
    let mut parts = token.split('.');
    let header = parts.next().expect("header");
    let payload = parts.next().expect("payload");
    let json = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("UTF-8");
    rt.block_on(verifier.verify(&id_token, &opts))
        .expect("authing-oidc accepts");
    let decode = |part: &str| {
        let mut buf = [0u8; 2048];
        let n = URL_SAFE_NO_PAD.decode_slice(part, &mut buf).expect("base64url");
        black_box(&buf[..n]);
    };
    let mut g = c.benchmark_group("parts/HS256");
    g.bench_function("floor", |b| b.iter(|| assert!(black_box(&floor).verify())));
    g.bench_function("base64_header_payload", |b| {
        b.iter(|| {
            decode(black_box(header));
            decode(black_box(payload));
        })
    });
    g.bench_function("json_scan", |b| {
        b.iter(|| serde_json::from_str::<serde::de::IgnoredAny>(black_box(&json)).unwrap())
    });
    g.bench_function("json_claims", |b| {
        b.iter(|| serde_json::from_str::<IdTokenClaims>(black_box(&json)).unwrap())
    });
    g.bench_function("at_hash_sha256", |b| {
        b.iter(|| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, black_box(ACCESS_TOKEN).as_bytes()))
    });
    g.bench_function("authing_oidc", |b| {
        b.to_async(&rt)
            .iter(|| async { verifier.verify(black_box(&id_token), &opts).await.unwrap() })
    });
    g.finish();
}

criterion_group!(benches, bench, bench_threads, bench_parts);
criterion_main!(benches);
