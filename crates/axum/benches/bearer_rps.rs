//! Requests per second through the whole axum stack on 127.0.0.1, with and without the bearer
//! layer (docs/benchmarks.md, "Bearer layer"). Not a criterion bench: a server and a small load
//! generator in one process.
//!
//! The server is `axum::serve` on 127.0.0.1 with one route, `GET /api/me`; the protected variant
//! puts a [`BearerLayer`] in front of it and the handler reads the claims. The load generator is
//! reqwest with `CONNECTIONS` keep-alive connections, each sending requests back to back for
//! `SECONDS`; it shares the machine's cores with the server, so the figures are a floor for the
//! server, and the ratio between the two variants is the figure to read. The token is one RS256
//! JWT, verified once and then served from the layer's cache, as for a client that reuses its
//! access token.
//!
//! Run: `cargo bench -p authing-oidc-axum --bench bearer_rps` (`BEARER_RPS_SECONDS` and
//! `BEARER_RPS_CONNECTIONS` override the defaults).

#[path = "../../../tests/support/keys.rs"]
mod keys;

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

/// Requests per second answered 200, over `seconds`, from `connections` concurrent loops.
async fn load(url: &str, token: &str, connections: u64, seconds: u64) -> f64 {
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(connections as usize)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let authorization = format!("Bearer {token}");
    let mut tasks = Vec::new();
    for _ in 0..connections {
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
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let count = done.load(Ordering::Relaxed) - start_count;
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    count as f64 / elapsed.as_secs_f64()
}

fn main() {
    let seconds = setting("BEARER_RPS_SECONDS", 5);
    let connections = setting("BEARER_RPS_CONNECTIONS", 32);
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
        println!("{connections} connections, {seconds} s each, 127.0.0.1, one process");
        let without = load(&plain_url, &token, connections, seconds).await;
        println!("without the layer: {without:>9.0} requests/s");
        let with = load(&protected_url, &token, connections, seconds).await;
        println!(
            "with the layer:    {with:>9.0} requests/s ({:.3} × without)",
            with / without
        );
    });
}
