//! Two replicas of the web example behind one Redis, with real parts only: `redis-server` on a
//! free loopback port, panva's oidc-provider (refresh tokens rotate on every refresh, reusing a
//! rotated one revokes the grant, refreshes counted by plugins/count.mjs), two processes of the
//! example's binary started with `REDIS_URL` and `AUTHING_SESSION_KEY`, and headless Chromium.
//!
//! The login starts on replica A and its callback is served by replica B: the redirect URI
//! names B, as a load balancer's public address would send the browser to whichever replica.
//! Cookies are scoped by host, not port, so `localhost:A` and `localhost:B` share the session
//! cookie, and the pending login A wrote is found by B in Redis. Once the access token has
//! expired, 2 × 500 concurrent requests to `/api/session` (which gets the user a valid access
//! token, refreshing it when due), half on each replica, must all succeed with **exactly one**
//! refresh at the provider: every other request, on either replica, uses the tokens that refresh
//! stored under the Redis lease. Then `/me` (userinfo with that token) works on both replicas.
//! (The burst does not call userinfo itself: 1000 concurrent userinfo calls measure panva's
//! throughput on a busy machine, and a token handed out a second before its expiry can arrive
//! there late, which has nothing to do with how often the replicas refresh.)

#[path = "support/chromium.rs"]
#[allow(dead_code)]
mod chromium;
#[path = "../../../tests/support/panva.rs"]
#[allow(dead_code)]
mod panva;
#[path = "../../redis/tests/support/redis_server.rs"]
#[allow(dead_code)]
mod redis_server;

use std::net::{Ipv4Addr, TcpStream};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authing_oidc_redis::fred;
use chromium::{Browser, free_port};
use fred::interfaces::{ClientLike as _, KeysInterface as _};
use panva::{PanvaOptions, PanvaProvider};
use redis_server::RedisServer;
use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, BufReader};

/// Access token lifetime at the provider: long enough that the burst of requests ends well
/// within the refreshed token's lifetime (its refresh margin is a tenth of it), even on a busy
/// machine running debug builds; a second expiry would rightly cause a second refresh.
const ACCESS_TOKEN_SECS: u64 = 30;
/// Concurrent requests sent to each replica.
const PER_REPLICA: usize = 500;
/// The longest the whole scenario may take.
const SCENARIO: Duration = Duration::from_secs(180);
const CLIENT_ID: &str = "web-replicas";
const CLIENT_SECRET: &str = "web-replicas-secret-0123456789abcdef0123456789";
/// 32 bytes in base64: the session key every replica is given.
const SESSION_KEY: &str = "cmVwbGljYXMtc2hhcmUtb25lLWtleS0zMi1ieXRlcyE=";
/// What a replica logs when it sends a refresh (src/flow/authenticated/refresh.rs).
const REFRESH_LOG: &str = "refreshing the access token";

/// One process of the example's binary, killed when dropped; its log kept for the asserts.
struct Replica {
    base: String,
    log: Arc<Mutex<String>>,
    _child: tokio::process::Child,
}

impl Replica {
    /// Starts the binary on `port` of 127.0.0.1, reached by browsers as `localhost:port`, with
    /// the configuration every replica shares.
    async fn start(port: u16, op: &PanvaProvider, redirect_uri: &str, redis: &RedisServer) -> Replica {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_authing-oidc-web-example"))
            .env_clear()
            .env("LISTEN", format!("127.0.0.1:{port}"))
            .env("AUTHING_ISSUER", op.issuer())
            .env("AUTHING_APP_ID", CLIENT_ID)
            .env("AUTHING_APP_SECRET", CLIENT_SECRET)
            .env("AUTHING_APP_REDIRECT_URI", redirect_uri)
            .env("REDIS_URL", redis.url())
            .env("AUTHING_SESSION_KEY", SESSION_KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the example's binary starts");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        // It binds first, then discovers the provider and connects to Redis, then serves.
        while !log.lock().unwrap().contains("open http") {
            assert!(
                Instant::now() < deadline,
                "replica on {port} did not start; log:\n{}",
                log.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok());
        Replica {
            base: format!("http://localhost:{port}"),
            log,
            _child: child,
        }
    }

    fn refreshes_logged(&self) -> usize {
        self.log.lock().unwrap().matches(REFRESH_LOG).count()
    }
}

/// The provider's refresh counters: (successful, refused, grants revoked).
async fn counts(op: &PanvaProvider) -> (u64, u64, u64) {
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
        counts["revoked"].as_u64().unwrap(),
    )
}

async fn panva_login(browser: &Browser, login: &str) {
    browser.fill("input[name=login]", login).await;
    browser.fill("input[name=password]", "any-password").await;
    browser.click("button.login-submit").await;
    // devInteractions asks for consent next (offline_access comes with prompt=consent).
    browser.wait_for("input[name=prompt][value=consent]").await;
    browser.click("button.login-submit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_one_login_one_refresh() {
    tokio::time::timeout(SCENARIO, scenario())
        .await
        .expect("the scenario took longer than its time limit");
}

async fn scenario() {
    let redis = RedisServer::start();
    let (port_a, port_b) = (free_port(), free_port());
    // The public address is B's: the provider sends every callback there.
    let redirect_uri = format!("http://localhost:{port_b}/callback");
    let client = json!({
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [redirect_uri],
        "post_logout_redirect_uris": [format!("http://localhost:{port_b}/")],
        "token_endpoint_auth_method": "client_secret_post",
        "id_token_signed_response_alg": "RS256",
    });
    let op = PanvaProvider::start(
        PanvaOptions::default()
            .ttl("AccessToken", ACCESS_TOKEN_SECS)
            .clock_tolerance(0)
            .plugin("plugins/count.mjs")
            .client(client),
    )
    .await;
    let a = Replica::start(port_a, &op, &redirect_uri, &redis).await;
    let b = Replica::start(port_b, &op, &redirect_uri, &redis).await;

    // The login starts on A; the callback lands on B with the cookie A set.
    let browser = Browser::start().await;
    browser.goto(&format!("{}/login?return_to=%2Fme", a.base)).await;
    panva_login(&browser, "bob").await;
    assert_eq!(browser.text("#user-email").await, "bob@example.com");
    let landed = browser.client.current_url().await.unwrap();
    assert_eq!(
        (landed.port(), landed.path()),
        (Some(port_b), "/me"),
        "the callback was not served by replica B"
    );
    // Chromium sends the cookie of localhost:B to localhost:A too (cookies ignore the port),
    // and A finds the session B signed in: one session on both replicas.
    browser.goto(&format!("{}/me", a.base)).await;
    assert_eq!(browser.text("#user-email").await, "bob@example.com");
    let cookie = browser
        .client
        .get_named_cookie(authing_oidc_axum::SESSION_COOKIE)
        .await
        .expect("the session cookie");
    let cookie = format!("{}={}", cookie.name(), cookie.value());
    browser.close().await;

    // Nothing in Redis is readable without the key: no token, no user.
    let config = fred::types::config::Config::from_url(&redis.url()).unwrap();
    let raw = fred::clients::Client::new(config, None, None, None);
    raw.init().await.unwrap();
    let all = fred::types::CustomCommand::new("KEYS", fred::types::ClusterHash::FirstKey, false);
    let keys: Vec<String> = raw.custom(all, vec!["*"]).await.unwrap();
    assert!(
        keys.iter().any(|k| k.contains(":web:")),
        "no web session in Redis: {keys:?}"
    );
    assert!(
        keys.iter().any(|k| k.contains(":session:")),
        "no token session in Redis: {keys:?}"
    );
    for key in keys.iter().filter(|k| !k.contains(":lease:")) {
        let value: Vec<u8> = match raw.get::<Option<Vec<u8>>, _>(key).await {
            Ok(Some(v)) => v,
            // The token session is a hash: its sealed value is checked by crates/redis.
            _ => continue,
        };
        let text = String::from_utf8_lossy(&value);
        assert!(
            !text.contains("bob") && !text.contains("token"),
            "{key} holds plaintext"
        );
    }

    // Past the access token's expiry, by the provider's clock and the replicas'.
    let http = reqwest::Client::new();
    let session = |base: &str| {
        http.get(format!("{base}/api/session"))
            .header("cookie", &cookie)
            .send()
    };
    let now = session(&a.base).await.unwrap().text().await.unwrap();
    let now: serde_json::Value = serde_json::from_str(&now).unwrap();
    let (expires_in, refreshed) = (
        now["expires_in"].as_u64().unwrap(),
        now["refreshes"].as_u64().unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(expires_in * 1000 + 1_500)).await;
    let (before, refused_before, revoked_before) = counts(&op).await;
    let logged_before = a.refreshes_logged() + b.refreshes_logged();

    // 2 × 500 at once, alternating between A and B.
    let started = Instant::now();
    let requests: Vec<_> = (0..2 * PER_REPLICA)
        .map(|i| {
            let request = session(if i % 2 == 0 { &a.base } else { &b.base });
            tokio::spawn(async move {
                let response = request.await.map_err(|e| e.to_string())?;
                let status = response.status();
                let body = response.text().await.map_err(|e| e.to_string())?;
                Ok::<_, String>((status, body))
            })
        })
        .collect();
    let mut failures = Vec::new();
    let mut counts_seen = std::collections::BTreeSet::new();
    for request in requests {
        match request.await.unwrap() {
            Ok((status, body)) if status == 200 => {
                let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert_eq!(answer["sub"], "bob");
                assert!(
                    answer["expires_in"].as_u64().unwrap() > 0,
                    "an expired token was handed out"
                );
                counts_seen.insert(answer["refreshes"].as_u64().unwrap());
            }
            Ok((status, body)) => failures.push(format!(
                "{status}: {}",
                body.chars().take(200).collect::<String>()
            )),
            Err(e) => failures.push(e),
        }
    }
    let took = started.elapsed();
    let (after, refused, revoked) = counts(&op).await;
    assert!(
        failures.is_empty(),
        "{} of {} requests failed, e.g. {:?}; provider counts {:?}\n--- A ---\n{}\n--- B ---\n{}",
        failures.len(),
        2 * PER_REPLICA,
        &failures[..failures.len().min(3)],
        (after - before, refused - refused_before, revoked - revoked_before),
        a.log.lock().unwrap(),
        b.log.lock().unwrap()
    );
    assert_eq!(
        (after - before, refused - refused_before, revoked - revoked_before),
        (1, 0, 0),
        "refreshes at the provider during the burst (sent, refused, grants revoked)"
    );
    assert_eq!(
        a.refreshes_logged() + b.refreshes_logged(),
        logged_before + 1,
        "refreshes the replicas sent"
    );
    assert!(
        took < Duration::from_secs(ACCESS_TOKEN_SECS * 9 / 10),
        "the burst took {took:?}: the refreshed token was due again before it ended"
    );
    // Every answer, on either replica, came from the one new rotation.
    assert_eq!(counts_seen.into_iter().collect::<Vec<_>>(), vec![refreshed + 1]);

    // The rotated tokens work at the provider from both replicas, and the grant is alive.
    for base in [&a.base, &b.base] {
        let page = http
            .get(format!("{base}/me"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("bob@example.com"));
    }
    assert_eq!(counts(&op).await, (after, refused, revoked));
    eprintln!(
        "{} requests over two replicas in {took:?}: one refresh (A sent {}, B sent {})",
        2 * PER_REPLICA,
        a.refreshes_logged(),
        b.refreshes_logged()
    );
}
