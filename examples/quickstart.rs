//! The SDK's main job, end to end: a full OpenID Connect login.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! By default it starts the embedded development provider on 127.0.0.1 and
//! logs in as its demo user without a browser. With `AUTHING_APP_ID`,
//! `AUTHING_APP_HOST`, `AUTHING_APP_SECRET` and `AUTHING_APP_REDIRECT_URI` set
//! (the redirect URI must be `http://127.0.0.1:PORT/...` or
//! `http://localhost:PORT/...`), it uses that Authing application instead:
//! it prints the login URL, waits for your browser to come back, and goes on.
//!
//! `cargo run --example quickstart -- --dpop` binds the session's tokens to
//! its own key (DPoP, RFC 9449), against a development provider that demands
//! DPoP nonces.
//!
//! Every step is printed; tokens never are (only their length).

use std::time::Duration;

use authing_oidc::flow::{Authenticated, CallbackParams, Unauthorized};
use authing_oidc::{AuthenticationClient, ExposeSecret};
use authing_oidc_dev_provider::{
    AuthorizationResponse, DevProvider, DevProviderConfig, login_without_browser,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let real = [
        "AUTHING_APP_ID",
        "AUTHING_APP_HOST",
        "AUTHING_APP_SECRET",
        "AUTHING_APP_REDIRECT_URI",
    ]
    .map(std::env::var);
    match real {
        [Ok(app_id), Ok(app_host), Ok(secret), Ok(redirect_uri)] => {
            step(
                "using the Authing application",
                &format!("{app_id} at {app_host}"),
            );
            let client = AuthenticationClient::builder()
                .app_id(app_id)
                .secret(secret)
                .app_host(app_host)
                .redirect_uri(redirect_uri.clone())
                .build()?;
            let (url, pending) = Unauthorized::new(client)
                .scope("openid profile email offline_access")
                .start()?;
            step("1. authorize URL (open it in your browser)", url.as_str());
            let query = wait_for_browser(&redirect_uri).await?;
            step("2. callback received", "the browser came back");
            let session = pending.complete(CallbackParams::from_query(&query)?).await?;
            session_steps(&session).await
        }
        _ => {
            let dpop = std::env::args().any(|a| a == "--dpop");
            let mut config = DevProviderConfig::default();
            config.require_dpop_nonce = dpop;
            let provider = DevProvider::start(config).await?;
            step("using the embedded development provider", &provider.issuer());
            let mut builder = AuthenticationClient::builder()
                .app_id("dev-app")
                .secret("dev-app-secret")
                .app_host(provider.app_host())
                .redirect_uri("http://127.0.0.1:3000/callback");
            if dpop {
                builder = builder.dpop(authing_oidc::SigningAlgorithm::ES256);
            }
            let client = builder.build()?;
            let (url, pending) = Unauthorized::new(client)
                .scope("openid profile email offline_access")
                .start()?;
            step("1. authorize URL", &redact_query(&url));
            let response = login_without_browser(url.as_str(), "alice", "alice-password").await?;
            let AuthorizationResponse::Redirect(callback) = response else {
                return Err("unexpected authorization response".into());
            };
            step("2. logged in as alice; callback", &redact_query(&callback));
            let session = pending
                .complete(CallbackParams::from_url(callback.as_str())?)
                .await?;
            session_steps(&session).await?;
            provider.shutdown().await;
            Ok(())
        }
    }
}

async fn session_steps(session: &Authenticated) -> Result<(), BoxError> {
    step(
        "3. callback checked (iss, state), code exchanged with the PKCE verifier, id_token verified (signature, iss, aud, exp, nonce, at_hash)",
        &format!("sub = {}", session.subject()),
    );
    if let Some(jkt) = session.dpop_thumbprint() {
        step(
            "   DPoP: every request carried a proof (with the provider's nonce after one retry); the tokens are bound to the key",
            &format!("jkt = {jkt}"),
        );
    }
    let user = session.userinfo().await?;
    step(
        "4. userinfo (sub matches the id_token's)",
        &format!(
            "{} <{}>",
            user.standard.name.as_deref().unwrap_or("?"),
            user.standard.email.as_deref().unwrap_or("?")
        ),
    );
    let before = session.access_token().await?;
    let refresh_before = session.refresh_token();
    let after = session.force_refresh().await?;
    let rotated = match (refresh_before, session.refresh_token()) {
        (Some(a), Some(b)) => a.expose_secret() != b.expose_secret(),
        _ => false,
    };
    step(
        "5. refreshed",
        &format!(
            "new access token: {} ({} chars, expires in {:?}); refresh token rotated: {rotated}",
            before.access_token.expose_secret() != after.access_token.expose_secret(),
            after.access_token.expose_secret().len(),
            after.expires_in.unwrap_or(Duration::ZERO),
        ),
    );
    let introspection = session.introspect().await?;
    step("6. introspection", &format!("active = {}", introspection.active));
    let logout = session.logout_url("http://127.0.0.1:3000/", None)?;
    step("7. logout URL", &redact_query(&logout));
    session.revoke().await?;
    step("8. revoked", "refresh and access tokens; the session is over");
    Ok(())
}

fn step(title: &str, detail: &str) {
    println!("{title}\n    {detail}");
}

/// The URL with every query value that could be a secret shown as `REDACTED`.
fn redact_query(url: &url::Url) -> String {
    let mut shown = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let secret = matches!(
                k.as_ref(),
                "code" | "state" | "nonce" | "id_token_hint" | "code_challenge"
            );
            (
                k.into_owned(),
                if secret {
                    "REDACTED".to_owned()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    shown.query_pairs_mut().clear().extend_pairs(pairs);
    shown.to_string()
}

/// Listens on the loopback redirect URI for the browser's callback and
/// returns its query string.
async fn wait_for_browser(redirect_uri: &str) -> Result<String, BoxError> {
    let url = url::Url::parse(redirect_uri)?;
    if url.scheme() != "http" || !matches!(url.host_str(), Some("127.0.0.1" | "localhost")) {
        return Err(
            "the example can only receive the callback on an http://127.0.0.1:PORT redirect URI".into(),
        );
    }
    let port = url.port_or_known_default().ok_or("no port")?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let (mut stream, _) = tokio::time::timeout(Duration::from_secs(300), listener.accept()).await??;
        let mut buf = vec![0u8; 16 * 1024];
        let n = stream.read(&mut buf).await?;
        let request = String::from_utf8_lossy(&buf[..n]);
        let target = request.split_whitespace().nth(1).unwrap_or("/");
        if let Some((path, query)) = target.split_once('?')
            && path == url.path()
        {
            let page = "<!doctype html><p>Signed in. You can close this tab.</p>";
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
            stream.write_all(reply.as_bytes()).await?;
            return Ok(query.to_owned());
        }
        stream
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await?;
    }
}
