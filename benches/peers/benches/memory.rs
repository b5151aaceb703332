//! Heap bytes per live session and per pending login (docs/benchmarks.md,
//! "Memory"), counted by dhat's global allocator: 100,000 sessions and
//! 100,000 pending logins held at once in this process. Target: ≤ 1 KiB per
//! session beyond its token strings.
//!
//! The sessions are real: one login against the development provider, exported
//! with `export_with_secrets`, then restored 100,000 times with
//! `restore_from_trusted_store`, each with its own access and refresh token (of
//! the provider's lengths), all sharing one client. The heap is read right
//! before each session's saved form is parsed and right after the session
//! exists, so every byte the session keeps is counted, the saved text is not.
//! dhat counts the bytes asked for; malloc's own headers and rounding are not in it.
//!
//! `cargo bench -p authing-oidc-peers --bench memory`

use authing_oidc::flow::{Authenticated, CallbackParams, PendingCallback, SavedSession, Unauthorized};
use authing_oidc::{AuthenticationClient, ExposeSecret as _};
use authing_oidc_dev_provider::{
    AuthorizationResponse, DevProvider, DevProviderConfig, login_without_browser,
};
use serde_json::Value;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const COUNT: usize = 100_000;

fn live_bytes() -> i64 {
    dhat::HeapStats::get().curr_bytes as i64
}

/// `text` with its last `digits.len()` characters replaced: a distinct token of the same length.
fn distinct(text: &str, digits: &str) -> String {
    format!("{}{digits}", &text[..text.len() - digits.len()])
}

fn kib(bytes: f64) -> String {
    format!("{bytes:.0} B ({:.2} KiB)", bytes / 1024.0)
}

fn main() {
    let _profiler = dhat::Profiler::builder()
        .testing()
        .trim_backtraces(Some(4))
        .build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (client, saved) = rt.block_on(async {
        let provider = DevProvider::start(DevProviderConfig::default())
            .await
            .expect("dev provider");
        let client = AuthenticationClient::builder()
            .app_id("dev-app")
            .secret("dev-app-secret")
            .app_host(provider.app_host())
            .redirect_uri("http://127.0.0.1:3000/callback")
            .build()
            .expect("client");
        let (url, pending) = Unauthorized::new(client.clone())
            .scope("openid profile email phone offline_access")
            .start()
            .expect("start");
        let AuthorizationResponse::Redirect(callback) =
            login_without_browser(url.as_str(), "alice", "alice-password")
                .await
                .expect("login")
        else {
            panic!("the provider did not redirect back")
        };
        let session = pending
            .complete(CallbackParams::from_url(callback.as_str()).expect("callback"))
            .await
            .expect("complete");
        (client, session.export_with_secrets())
    });
    // Nothing runs in the background while the heap is counted.
    drop(rt);

    let template = serde_json::to_value(&saved).expect("saved session as JSON");
    let field = |name: &str| template[name].as_str().unwrap_or_default().to_owned();
    let (access, refresh, id_token) = (field("access_token"), field("refresh_token"), field("id_token"));
    assert!(!refresh.is_empty(), "offline_access gave a refresh token");
    let token_bytes = (access.len() + refresh.len() + id_token.len()) as f64;

    // Sessions.
    let mut sessions: Vec<Authenticated> = Vec::with_capacity(COUNT);
    let mut session_bytes = 0i64;
    for i in 0..COUNT {
        let digits = format!("{i:06}");
        let mut value = template.clone();
        value["access_token"] = Value::String(distinct(&access, &digits));
        value["refresh_token"] = Value::String(distinct(&refresh, &digits));
        let text = value.to_string();
        drop(value);
        let before = live_bytes();
        let saved: SavedSession = serde_json::from_str(&text).expect("saved session");
        let session = Authenticated::restore_from_trusted_store(client.clone(), saved).expect("restore");
        sessions.push(session);
        session_bytes += live_bytes() - before;
    }
    assert_ne!(
        sessions[0].current_access_token().access_token.expose_secret(),
        sessions[1].current_access_token().access_token.expose_secret(),
        "every session has its own tokens"
    );
    let claims_bytes = {
        let before = live_bytes();
        let claims = sessions[0].claims();
        let bytes = live_bytes() - before;
        drop(claims);
        bytes
    };
    let per_session = session_bytes as f64 / COUNT as f64;

    // Pending logins.
    let mut pendings: Vec<PendingCallback> = Vec::with_capacity(COUNT);
    let mut pending_bytes = 0i64;
    for _ in 0..COUNT {
        let before = live_bytes();
        let (url, pending) = Unauthorized::new(client.clone())
            .scope("openid profile email phone offline_access")
            .start()
            .expect("start");
        drop(url);
        pendings.push(pending);
        pending_bytes += live_bytes() - before;
    }
    let exported =
        serde_json::to_value(pendings[0].export_with_secrets()).expect("saved pending login as JSON");
    let secret_bytes: usize = ["state", "nonce", "code_verifier"]
        .iter()
        .map(|name| exported[name].as_str().map_or(0, str::len))
        .sum();
    let per_pending = pending_bytes as f64 / COUNT as f64;

    println!(
        "| what | heap per item | of which token/secret strings | overhead beyond them | {COUNT} held at once |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| live session (`Authenticated`) | {} | {} (access {} + refresh {} + id_token {}) | {} | {:.1} MiB |",
        kib(per_session),
        kib(token_bytes),
        access.len(),
        refresh.len(),
        id_token.len(),
        kib(per_session - token_bytes),
        session_bytes as f64 / (1024.0 * 1024.0),
    );
    println!(
        "| pending login (`PendingCallback`) | {} | {} (state + nonce + code_verifier) | {} | {:.1} MiB |",
        kib(per_pending),
        kib(secret_bytes as f64),
        kib(per_pending - secret_bytes as f64),
        pending_bytes as f64 / (1024.0 * 1024.0),
    );
    println!(
        "\nNot part of it: the verified claims, read again from the id_token when asked for \
         (`claims()` hands out an `IdTokenClaims` of {} B inline plus {} on the heap; \
         the session stored one until issue 14).",
        std::mem::size_of::<authing_oidc::IdTokenClaims>(),
        kib(claims_bytes as f64)
    );
    println!(
        "Target: ≤ 1 KiB overhead per session beyond its tokens: {}.",
        if per_session - token_bytes <= 1024.0 {
            "met"
        } else {
            "MISSED"
        }
    );
    drop(sessions);
    drop(pendings);
}
