//! 10,000 distinct sessions whose access tokens expire at the same instant
//! (docs/benchmarks.md, "Sessions expiring together"): refreshes per second and
//! the latency of `access_token()`, next to the same refresh done one session
//! at a time, so contention between sessions would show as a lower rate.
//!
//! Three bursts: over HTTP/2 (one connection, as with a provider reached over
//! TLS, where reqwest negotiates HTTP/2; here prior knowledge on plain http)
//! with the client's JWKS cache fresh, the same with the cache stale (moving
//! the clock past the tokens' expiry also outdates the cached keys, which the
//! provider serves with `no-store`), and over the default HTTP/1.1 client,
//! where each concurrent refresh opens its own connection. Failed refreshes
//! are counted, not hidden.
//!
//! The development provider runs in a child process (this same binary, started
//! with `AUTHING_BENCH_SERVE_PROVIDER=1`): 10,000 concurrent HTTP/1.1 requests
//! hold 10,000 sockets at each end, and one process may hold only 20,000 open
//! files here (a hard limit that cannot be raised). Each session logs in for
//! real; the clients' manual clocks then move past the expiry. The clients'
//! timeout is raised to 300 s: the provider serializes refreshes (two RSA
//! signatures each, under its store lock), so with the default 10 s the last
//! callers of the burst would time out instead of being measured.
//!
//! `cargo bench -p authing-oidc-peers --bench expiry`

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use authing_oidc::clock::ManualClock;
use authing_oidc::flow::{Authenticated, CallbackParams, Unauthorized};
use authing_oidc::{AuthenticationClient, ExposeSecret as _};
use authing_oidc_dev_provider::{
    AuthorizationResponse, DevProviderConfig, login_without_browser, serve_until_signal,
};

const SESSIONS: usize = 10_000;
const SEQUENTIAL: usize = 200;
const CHILD_ENV: &str = "AUTHING_BENCH_SERVE_PROVIDER";

/// The provider process, killed when this is dropped (also on a panic).
struct Provider(Child);

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve_provider() {
    let mut config = DevProviderConfig::default();
    config.access_token_lifetime = Duration::from_secs(3600);
    // The clients' clocks move an hour ahead; what they receive must outlive that.
    config.id_token_lifetime = Duration::from_secs(10 * 365 * 86_400);
    config.refresh_token_lifetime = Duration::from_secs(10 * 365 * 86_400);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(serve_until_signal(config)).expect("dev provider");
}

fn start_provider() -> (Provider, String) {
    let mut child = Command::new(std::env::current_exe().expect("this binary"))
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the provider process");
    let stdout = child.stdout.take().expect("piped stdout");
    let provider = Provider(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the provider's description");
    let description: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
    let app_host = description["app_host"].as_str().expect("app_host").to_owned();
    (provider, app_host)
}

fn client(app_host: &str, clock: &Arc<ManualClock>, http2: bool) -> AuthenticationClient {
    let mut builder = AuthenticationClient::builder();
    if http2 {
        let http = reqwest::Client::builder()
            .http2_prior_knowledge()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP/2 client");
        builder = builder.http_client(http);
    }
    builder
        .app_id("dev-app")
        .secret("dev-app-secret")
        .app_host(app_host)
        .redirect_uri("http://127.0.0.1:3000/callback")
        .clock(clock.clone())
        // The provider signs two RSA tokens per refresh under one lock: the last of 10,000
        // waits longer than the default 10 s timeout (docs/benchmarks.md says so).
        .timeout(Duration::from_secs(300))
        .build()
        .expect("client")
}

async fn login(client: AuthenticationClient) -> Authenticated {
    let (url, pending) = Unauthorized::new(client)
        .scope("openid profile offline_access")
        .start()
        .expect("start");
    let AuthorizationResponse::Redirect(callback) =
        login_without_browser(url.as_str(), "alice", "alice-password")
            .await
            .expect("login")
    else {
        panic!("the provider did not redirect back")
    };
    pending
        .complete(CallbackParams::from_url(callback.as_str()).expect("callback"))
        .await
        .expect("complete")
}

/// `count` sessions, logged in 64 at a time.
async fn logins(client: &AuthenticationClient, count: usize) -> Vec<Authenticated> {
    let mut sessions = Vec::with_capacity(count);
    while sessions.len() < count {
        let batch: Vec<_> = (0..64.min(count - sessions.len()))
            .map(|_| tokio::spawn(login(client.clone())))
            .collect();
        for task in batch {
            sessions.push(task.await.expect("login task"));
        }
    }
    sessions
}

/// Whether the client's cached JWKS is still fresh when the burst starts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keys {
    Fresh,
    Stale,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// One table row: refreshes that succeeded, rate, latency percentiles; checks
/// that each succeeded session refreshed exactly once and got a new token.
struct Outcome {
    wall: Duration,
    latencies: Vec<Duration>,
    failed: usize,
}

fn outcome(
    sessions: &[Authenticated],
    before: &[String],
    results: Vec<Result<Duration, authing_oidc::Error>>,
    wall: Duration,
) -> Outcome {
    let mut latencies = Vec::with_capacity(results.len());
    let mut failed = 0;
    for ((session, old), result) in sessions.iter().zip(before).zip(results) {
        match result {
            Ok(latency) => {
                assert_eq!(session.refresh_count(), 1, "one refresh per session");
                assert_ne!(
                    session.current_access_token().access_token.expose_secret(),
                    old.as_str()
                );
                latencies.push(latency);
            }
            Err(_) => failed += 1,
        }
    }
    latencies.sort();
    Outcome {
        wall,
        latencies,
        failed,
    }
}

/// Every session at once, each from its own task.
async fn burst(sessions: &[Authenticated]) -> Vec<Result<Duration, authing_oidc::Error>> {
    let tasks: Vec<_> = sessions
        .iter()
        .map(|session| {
            let session = session.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                session.access_token().await.map(|_| t.elapsed())
            })
        })
        .collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.expect("refresh task"));
    }
    results
}

fn tokens(sessions: &[Authenticated]) -> Vec<String> {
    sessions
        .iter()
        .map(|s| s.current_access_token().access_token.expose_secret().to_owned())
        .collect()
}

fn main() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return serve_provider();
    }
    let (_provider, app_host) = start_provider();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // One client (and clock) per case, so each case's sessions expire on their own.
    let cases = [
        ("one at a time, HTTP/2, keys fresh", true, SEQUENTIAL, Keys::Fresh),
        ("all together, HTTP/2, keys fresh", true, SESSIONS, Keys::Fresh),
        ("all together, HTTP/2, keys stale", true, SESSIONS, Keys::Stale),
        ("all together, HTTP/1.1, keys fresh", false, SESSIONS, Keys::Fresh),
    ];
    let started = Instant::now();
    let prepared: Vec<_> = cases
        .iter()
        .map(|&(_, http2, count, _)| {
            let clock = Arc::new(ManualClock::new(SystemTime::now()));
            let client = client(&app_host, &clock, http2);
            // One more session, refreshed first when the keys are to be fresh.
            let mut sessions = rt.block_on(logins(&client, count + 1));
            let warm = sessions.pop().expect("one more session");
            (clock, sessions, warm)
        })
        .collect();
    let logged_in: usize = prepared.iter().map(|(_, s, _)| s.len() + 1).sum();
    eprintln!("{logged_in} logins in {:.1} s", started.elapsed().as_secs_f64());

    let mut outcomes = Vec::new();
    for ((_, _, _, keys), (clock, sessions, warm)) in cases.iter().zip(&prepared) {
        let before = tokens(sessions);
        clock.advance(Duration::from_secs(3601));
        if *keys == Keys::Fresh {
            // The advance also outdated the JWKS cache; one refresh fetches the keys again.
            rt.block_on(warm.access_token()).expect("warm-up refresh");
        }
        let started = Instant::now();
        let results = if sessions.len() == SEQUENTIAL {
            rt.block_on(async {
                let mut results = Vec::with_capacity(sessions.len());
                for session in sessions {
                    let t = Instant::now();
                    results.push(session.access_token().await.map(|_| t.elapsed()));
                }
                results
            })
        } else {
            rt.block_on(burst(sessions))
        };
        outcomes.push(outcome(sessions, &before, results, started.elapsed()));
    }

    println!("| case | sessions | refreshed | failed | wall time | refreshes/s | p50 | p99 | max |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for ((name, ..), o) in cases.iter().zip(&outcomes) {
        let l = &o.latencies;
        if l.is_empty() {
            println!(
                "| {name} | {} | 0 | {} | {:.2} s | — | — | — | — |",
                o.failed,
                o.failed,
                o.wall.as_secs_f64()
            );
            continue;
        }
        println!(
            "| {name} | {} | {} | {} | {:.2} s | {:.0} | {} | {} | {} |",
            l.len() + o.failed,
            l.len(),
            o.failed,
            o.wall.as_secs_f64(),
            l.len() as f64 / o.wall.as_secs_f64(),
            ms(percentile(l, 0.50)),
            ms(percentile(l, 0.99)),
            ms(percentile(l, 1.0)),
        );
    }
    assert!(
        outcomes
            .iter()
            .zip(&cases)
            .all(|(o, case)| !case.1 || o.failed == 0),
        "no refresh failed over HTTP/2"
    );
}
