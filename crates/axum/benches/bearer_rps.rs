//! Requests per second through the whole axum stack on 127.0.0.1, with and without the bearer
//! layer (docs/benchmarks.md, "Bearer layer"). Not a criterion bench: a server, and a load
//! generator in another process.
//!
//! The server is `axum::serve` on 127.0.0.1 with one route, `GET /api/me`; the protected variant
//! puts a [`BearerLayer`] in front of it and the handler reads the claims. The token is one RS256
//! JWT, verified once and then served from the verifier's cache, as for a client that reuses its
//! access token.
//!
//! The load comes from [`wrk`](https://github.com/wg/wrk) (Debian's `wrk` package), a C load
//! generator that costs the shared cores far less than the server does, so the figures measure
//! the server. Each variant gets `CONNECTIONS` keep-alive connections on `WRK_THREADS` threads
//! for `SECONDS`, after a one-second warm-up run. Without `wrk` on the `PATH` (or with
//! `BEARER_RPS_LOADGEN=inprocess`) an in-process reqwest generator runs instead; it shares the
//! server's runtime and measures the client as much as the server, so only its ratio means much.
//!
//! Run: `cargo bench -p authing-oidc-axum --bench bearer_rps`; `BEARER_RPS_SECONDS`,
//! `BEARER_RPS_CONNECTIONS`, `BEARER_RPS_WRK_THREADS` override the defaults (5 s, 32, 1).

#[path = "../../../tests/support/keys.rs"]
mod keys;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use authing_oidc::AuthenticationClient;
use authing_oidc_axum::{Bearer, BearerLayer};
use axum::Router;
use axum::routing::get;
use keys::{JwksServer, Signer, keys, rsa_jwk, sign_with_header};
use serde_json::json;

const API: &str = "https://api.example.com";

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/api/me")
}

struct Load {
    connections: u64,
    seconds: u64,
    wrk_threads: u64,
}

impl Load {
    /// Requests per second answered 200 by `url`, measured by wrk in its own process.
    async fn wrk(&self, url: &str, token: &str) -> f64 {
        let run = |seconds: u64| {
            let args = [
                format!("-t{}", self.wrk_threads),
                format!("-c{}", self.connections),
                format!("-d{seconds}s"),
                "-H".to_owned(),
                format!("Authorization: Bearer {token}"),
                url.to_owned(),
            ];
            tokio::task::spawn_blocking(move || Command::new("wrk").args(&args).output().unwrap())
        };
        run(1).await.unwrap();
        let output = run(self.seconds).await.unwrap();
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "wrk failed: {report}");
        // Every answer must be a 200: wrk counts other statuses under "Non-2xx".
        assert!(!report.contains("Non-2xx"), "some answers were not 200: {report}");
        report
            .lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no Requests/sec in wrk's report: {report}"))
    }

    /// The same with reqwest in this process: `connections` loops sending back to back.
    async fn in_process(&self, url: &str, token: &str) -> f64 {
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(self.connections as usize)
            .build()
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let authorization = format!("Bearer {token}");
        let mut tasks = Vec::new();
        for _ in 0..self.connections {
            let (http, stop, done) = (http.clone(), stop.clone(), done.clone());
            let (url, authorization) = (url.to_owned(), authorization.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let response = http
                        .get(&url)
                        .header("authorization", &authorization)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200);
                    response.bytes().await.unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        // Warm-up (connections opened, the token verified once), then the measured window.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let start_count = done.load(Ordering::Relaxed);
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs(self.seconds)).await;
        let count = done.load(Ordering::Relaxed) - start_count;
        let elapsed = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await.unwrap();
        }
        count as f64 / elapsed.as_secs_f64()
    }
}

fn wrk_available() -> bool {
    std::env::var("BEARER_RPS_LOADGEN").as_deref() != Ok("inprocess")
        && Command::new("wrk").arg("--version").output().is_ok()
}

fn main() {
    let load = Load {
        connections: setting("BEARER_RPS_CONNECTIONS", 32),
        seconds: setting("BEARER_RPS_SECONDS", 5),
        wrk_threads: setting("BEARER_RPS_WRK_THREADS", 1),
    };
    let wrk = wrk_available();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let k = keys();
        let server = JwksServer::start(json!({"keys": [rsa_jwk(&k.rsa, Some("rsa-1"))]})).await;
        let client = AuthenticationClient::builder()
            .app_id("bench-app")
            .secret("bench-client-secret-long-enough")
            .app_host(server.app_host())
            .build()
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let token = sign_with_header(
            Signer::Rsa(&k.rsa),
            &json!({"alg": "RS256", "kid": "rsa-1", "typ": "at+jwt"}),
            &json!({"iss": server.issuer(), "sub": "5f8e0d2c1a2b3c4d5e6f7a8b", "aud": API,
                "exp": now + 3600, "iat": now, "jti": "at-1", "client_id": "bench-app",
                "scope": "openid orders:read"}),
        );
        let plain = Router::new().route("/api/me", get(|| async { "5f8e0d2c1a2b3c4d5e6f7a8b" }));
        let verifier = client.bearer_verifier([API]).build().unwrap();
        let protected = Router::new()
            .route(
                "/api/me",
                get(|bearer: Bearer| async move { bearer.sub().unwrap_or_default().to_owned() }),
            )
            .layer(BearerLayer::new(verifier));
        let plain_url = serve(plain).await;
        let protected_url = serve(protected).await;
        let generator = if wrk {
            format!("wrk, {} thread(s)", load.wrk_threads)
        } else {
            "in-process reqwest".to_owned()
        };
        println!(
            "{} connections, {} s each, 127.0.0.1, load from {generator}",
            load.connections, load.seconds
        );
        let measure = |url: String| {
            let (load, token) = (&load, &token);
            async move {
                if wrk {
                    load.wrk(&url, token).await
                } else {
                    load.in_process(&url, token).await
                }
            }
        };
        let without = measure(plain_url).await;
        println!("without the layer: {without:>9.0} requests/s");
        let with = measure(protected_url).await;
        println!(
            "with the layer:    {with:>9.0} requests/s ({:.3} × without)",
            with / without
        );
    });
}
