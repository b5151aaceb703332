//! Verifications per second on 1 and 2 threads sharing one client
//! (docs/benchmarks.md, "Throughput with cores"). Target: the second thread
//! adds ≥ 1.8 ×.
//!
//! Each thread verifies a fixed number of tokens with its own current-thread
//! runtime and a clone of the same `AuthenticationClient` (so one key cache);
//! the aws-lc floor runs the same way beside it, showing how far the machine
//! itself lets two threads scale. Each case is run `ROUNDS` times and the best
//! round is kept (the machine is shared; the best round is the least disturbed).
//!
//! `cargo bench -p authing-oidc-peers --bench throughput`

use std::sync::Barrier;
use std::time::{Duration, Instant};

use authing_oidc::id_token::VerifyOptions;
use authing_oidc::{AccessToken, AuthenticationClient, IdToken, Nonce};
use authing_oidc_peers::contestants::Floor;
use authing_oidc_peers::{ACCESS_TOKEN, Alg, Fixture, NONCE};

const ROUNDS: usize = 5;

/// Verifications per thread per round: about half a second of work each.
fn iterations(alg: Alg) -> usize {
    match alg {
        Alg::Hs256 => 200_000,
        _ => 20_000,
    }
}

/// What each thread sets up once (its runtime, its verifier handle) and then calls `n` times.
type Worker<'a> = Box<dyn FnMut() + 'a>;

/// Wall time for `threads` threads doing `n` verifications each, started together.
fn run<'a>(threads: usize, n: usize, make: &(dyn Fn() -> Worker<'a> + Sync)) -> Duration {
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut work = make();
                barrier.wait();
                for _ in 0..n {
                    work();
                }
            });
        }
        barrier.wait();
        let start = Instant::now();
        // The scope joins every thread before returning.
        start
    })
    .elapsed()
}

/// The best of `ROUNDS` rounds, in verifications per second.
fn best_rate<'a>(threads: usize, n: usize, make: &(dyn Fn() -> Worker<'a> + Sync)) -> f64 {
    (0..ROUNDS)
        .map(|_| (threads * n) as f64 / run(threads, n, make).as_secs_f64())
        .fold(0.0, f64::max)
}

/// A thread's verifier: its own current-thread runtime, a verifier handle on the shared client.
fn verifying<'a>(
    client: &AuthenticationClient,
    token: &'a IdToken,
    opts: &'a VerifyOptions<'a>,
) -> Worker<'a> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let verifier = client.id_token_verifier();
    Box::new(move || {
        rt.block_on(verifier.verify(token, opts))
            .expect("the token verifies");
    })
}

/// One table row: the best rate on 1 and on 2 threads, and their ratio.
fn report<'a>(alg: Alg, name: &str, n: usize, make: &(dyn Fn() -> Worker<'a> + Sync)) {
    let one = best_rate(1, n, make);
    let two = best_rate(2, n, make);
    println!(
        "| {} | {name} | {one:.0} | {two:.0} | {:.2} |",
        alg.name(),
        two / one
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let fx = rt.block_on(Fixture::new()).expect("fixture");
    let nonce = Nonce::new(NONCE);
    let access_token = AccessToken::new(ACCESS_TOKEN);
    let opts = VerifyOptions::new().nonce(&nonce).access_token(&access_token);

    println!("| alg | contestant | 1 thread (verifications/s) | 2 threads (verifications/s) | 2 / 1 |");
    println!("|---|---|---|---|---|");
    for alg in [Alg::Rs256, Alg::Hs256] {
        let n = iterations(alg);
        let token = IdToken::new(fx.token(alg));
        let client = fx.client(alg).expect("client");
        rt.block_on(client.id_token_verifier().verify(&token, &opts))
            .expect("the token verifies"); // and warms the key cache
        let hits = fx.server.hits();
        let floor = Floor::new(&fx.keys, alg, fx.token(alg));
        report(alg, "aws-lc floor", n, &|| -> Worker<'_> {
            Box::new(|| assert!(floor.verify()))
        });
        report(alg, "authing-oidc", n, &|| verifying(&client, &token, &opts));
        assert_eq!(fx.server.hits(), hits, "the warm path made no request");
    }
}
