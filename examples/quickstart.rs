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
//! `cargo run --example quickstart -- --fapi2` runs the FAPI 2.0 Security
//! Profile (`AuthenticationClientBuilder::fapi2`) against the development
//! provider's FAPI client `dev-app-fapi`: the request pushed first (PAR,
//! RFC 9126), `private_key_jwt` (RFC 7523) with the key pair the provider
//! generated for the client, PKCE S256, DPoP-bound tokens, an ES256 id_token,
//! `iss` in the callback. Add `--jar` to push a signed request object
//! (RFC 9101). Against an Authing application (the variables above), `--fapi2`
//! also needs `AUTHING_CLIENT_KEY` (the app's private key, PKCS#8 PEM or JWK,
//! or `@PATH` to read it from a file) and an app whose discovery document
//! offers PAR, `private_key_jwt`, DPoP and a FAPI id_token algorithm; it says
//! which is missing otherwise.
//!
//! Every step is printed; tokens, codes and keys never are (only lengths and
//! thumbprints).

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use authing_oidc::flow::{Authenticated, CallbackParams, Unauthorized};
use authing_oidc::{AuthenticationClient, ClientKey, ExposeSecret, SigningAlgorithm};
use authing_oidc_dev_provider::{
    AuthorizationResponse, DevProvider, DevProviderConfig, IdTokenAlg, login_without_browser,
};
use base64::Engine as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The development provider's FAPI 2.0 client.
const FAPI_CLIENT: &str = "dev-app-fapi";

/// What the quickstart shows, from its command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A login with the client secret, bearer tokens.
    Plain,
    /// Tokens bound to a DPoP key (`--dpop`).
    Dpop,
    /// The FAPI 2.0 preset (`--fapi2`), with a signed request object when `jar` (`--jar`).
    Fapi2 {
        /// Push a signed request object (RFC 9101) rather than plain parameters.
        jar: bool,
    },
}

impl Mode {
    /// `--dpop`, `--fapi2`, `--fapi2 --jar`, or nothing.
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Self, BoxError> {
        let (mut dpop, mut fapi2, mut jar) = (false, false, false);
        for arg in args {
            match arg.as_str() {
                "--dpop" => dpop = true,
                "--fapi2" => fapi2 = true,
                "--jar" => jar = true,
                other => {
                    return Err(format!(
                        "unknown argument {other:?}; usage: quickstart [--dpop | --fapi2 [--jar]]"
                    )
                    .into());
                }
            }
        }
        match (dpop, fapi2, jar) {
            (false, false, false) => Ok(Self::Plain),
            (true, false, false) => Ok(Self::Dpop),
            // The profile binds tokens with DPoP anyway.
            (_, true, jar) => Ok(Self::Fapi2 { jar }),
            (_, false, true) => Err("--jar goes with --fapi2".into()),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mode = Mode::from_args(std::env::args().skip(1))?;
    let mut out = std::io::stdout();
    let real = [
        "AUTHING_APP_ID",
        "AUTHING_APP_HOST",
        "AUTHING_APP_SECRET",
        "AUTHING_APP_REDIRECT_URI",
    ]
    .map(std::env::var);
    match real {
        [Ok(app_id), Ok(app_host), Ok(secret), Ok(redirect_uri)] => {
            let app = AuthingApp {
                app_id,
                app_host,
                secret,
                redirect_uri,
            };
            with_authing_app(&app, mode, &mut out).await
        }
        _ => with_dev_provider(mode, &mut out).await.map(|_| ()),
    }
}

/// An Authing application from the environment.
struct AuthingApp {
    app_id: String,
    app_host: String,
    secret: String,
    redirect_uri: String,
}

async fn with_authing_app(app: &AuthingApp, mode: Mode, out: &mut impl Write) -> Result<(), BoxError> {
    step(
        out,
        "using the Authing application",
        &format!("{} at {}", app.app_id, app.app_host),
    )?;
    let builder = AuthenticationClient::builder()
        .app_id(&app.app_id)
        .secret(app.secret.clone())
        .redirect_uri(&app.redirect_uri);
    let client = match mode {
        Mode::Plain => builder.app_host(&app.app_host).build()?,
        Mode::Dpop => builder
            .app_host(&app.app_host)
            .dpop(SigningAlgorithm::ES256)
            .build()?,
        Mode::Fapi2 { jar } => {
            let key = client_key_from_env()?;
            // The profile's endpoints and algorithms come from the app's discovery document.
            let issuer = format!("{}/oidc", app.app_host.trim_end_matches('/'));
            let client = builder
                .client_key(key)
                .request_objects(jar)
                .fapi2()
                .discover(&issuer)
                .await
                .map_err(|e| format!("--fapi2: discovery at {issuer} failed: {e}"))?;
            check_fapi2_support(&client)?;
            client
        }
    };
    let fapi2 = matches!(mode, Mode::Fapi2 { .. });
    let (url, pending) = Unauthorized::new(client)
        .scope("openid profile email offline_access")
        .begin()
        .await
        .map_err(|e| -> BoxError {
            if fapi2 {
                format!(
                    "--fapi2: the application refused the pushed authorization request; \
                     is it set up for FAPI 2.0 (PAR, private_key_jwt with this key, DPoP)? {e}"
                )
                .into()
            } else {
                e.into()
            }
        })?;
    step(out, "1. authorize URL (open it in your browser)", url.as_str())?;
    let query = wait_for_browser(&app.redirect_uri).await?;
    step(out, "2. callback received", "the browser came back")?;
    let session = pending.complete(CallbackParams::from_query(&query)?).await?;
    session_steps(&session, out).await
}

/// `AUTHING_CLIENT_KEY`: the private key as PKCS#8 PEM or a JWK, or `@PATH` of a file
/// holding one.
fn client_key_from_env() -> Result<ClientKey, BoxError> {
    let value = std::env::var("AUTHING_CLIENT_KEY").map_err(|_| {
        "--fapi2 against an Authing application needs AUTHING_CLIENT_KEY: the private key \
         (PKCS#8 PEM or JWK, or @PATH) whose public half the app has registered for \
         private_key_jwt"
    })?;
    let text = match value.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("AUTHING_CLIENT_KEY: cannot read {path}: {e}"))?,
        None => value,
    };
    Ok(ClientKey::parse(&text).map_err(|e| format!("AUTHING_CLIENT_KEY: {e}"))?)
}

/// What the FAPI 2.0 preset needs of a provider, checked against its discovery document so
/// that an application without it gets one clear message up front.
pub fn check_fapi2_support(client: &AuthenticationClient) -> Result<(), BoxError> {
    let Some(m) = client.provider_metadata() else {
        return Ok(());
    };
    let mut missing = Vec::new();
    if m.pushed_authorization_request_endpoint.is_none() {
        missing.push("a pushed_authorization_request_endpoint (PAR)");
    }
    if !m
        .token_endpoint_auth_methods_supported
        .iter()
        .any(|a| a == "private_key_jwt")
    {
        missing.push("private_key_jwt in token_endpoint_auth_methods_supported");
    }
    if !m
        .id_token_signing_alg_values_supported
        .iter()
        .any(|a| matches!(a.as_str(), "PS256" | "ES256" | "EdDSA"))
    {
        missing.push("PS256, ES256 or EdDSA in id_token_signing_alg_values_supported");
    }
    if !m.extra.contains_key("dpop_signing_alg_values_supported") {
        missing.push("dpop_signing_alg_values_supported (DPoP)");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "--fapi2: the application at {} does not offer FAPI 2.0: its discovery document lacks {}",
            m.issuer,
            missing.join(", ")
        )
        .into())
    }
}

/// The whole login against the embedded development provider, printed to `out`; returns
/// how many requests reached each of the provider's paths.
pub async fn with_dev_provider(mode: Mode, out: &mut impl Write) -> Result<BTreeMap<String, u64>, BoxError> {
    let mut config = DevProviderConfig::default();
    config.require_dpop_nonce = mode != Mode::Plain;
    let provider = DevProvider::start(config).await?;
    step(out, "using the embedded development provider", &provider.issuer())?;
    let builder = AuthenticationClient::builder()
        .app_host(provider.app_host())
        .redirect_uri("http://127.0.0.1:3000/callback");
    let client = match mode {
        Mode::Plain => builder.app_id("dev-app").secret("dev-app-secret").build()?,
        Mode::Dpop => builder
            .app_id("dev-app")
            .secret("dev-app-secret")
            .dpop(SigningAlgorithm::ES256)
            .build()?,
        Mode::Fapi2 { jar } => {
            let registered = provider
                .client(FAPI_CLIENT)
                .ok_or("the development provider has no FAPI client")?;
            // The key pair the provider generated for its FAPI client at start.
            let jwk = registered
                .client_key()
                .ok_or("the FAPI client has no generated key")?;
            let key = ClientKey::parse(&jwk.to_string())?;
            let id_token_alg = match registered.id_token_signed_response_alg {
                IdTokenAlg::PS256 => SigningAlgorithm::PS256,
                IdTokenAlg::ES256 => SigningAlgorithm::ES256,
                other => return Err(format!("{FAPI_CLIENT} signs id_tokens {other:?}").into()),
            };
            step(
                out,
                "   FAPI 2.0 client",
                &format!(
                    "{FAPI_CLIENT}: private_key_jwt with key {}, id_tokens {}, request objects: {jar}",
                    key.kid().unwrap_or("(no kid)"),
                    id_token_alg.as_str()
                ),
            )?;
            builder
                .app_id(FAPI_CLIENT)
                .client_key(key)
                .id_token_signed_response_alg(id_token_alg)
                .request_objects(jar)
                .fapi2()
                .build()?
        }
    };
    let pushed = client.uses_par();
    let (url, pending) = Unauthorized::new(client)
        .scope("openid profile email offline_access")
        .begin()
        .await?;
    if pushed {
        step(
            out,
            "1. authorization request pushed (PAR) with a client assertion and a DPoP proof; the browser gets",
            &redact_query(&url),
        )?;
    } else {
        step(out, "1. authorize URL", &redact_query(&url))?;
    }
    let response = login_without_browser(url.as_str(), "alice", "alice-password").await?;
    let AuthorizationResponse::Redirect(callback) = response else {
        return Err("unexpected authorization response".into());
    };
    step(out, "2. logged in as alice; callback", &redact_query(&callback))?;
    let session = pending
        .complete(CallbackParams::from_url(callback.as_str())?)
        .await?;
    session_steps(&session, out).await?;
    let counts = provider.request_counts();
    provider.shutdown().await;
    Ok(counts)
}

async fn session_steps(session: &Authenticated, out: &mut impl Write) -> Result<(), BoxError> {
    step(
        out,
        "3. callback checked (iss, state), code exchanged with the PKCE verifier, id_token verified (signature, iss, aud, exp, nonce, at_hash)",
        &format!(
            "sub = {}, id_token signed {}",
            session.subject(),
            jws_alg(session.id_token().expose_secret())
        ),
    )?;
    if let Some(jkt) = session.dpop_thumbprint() {
        step(
            out,
            "   DPoP: every request carried a proof (with the provider's nonce after one retry); the tokens are bound to the key",
            &format!("jkt = {jkt}"),
        )?;
    }
    let user = session.userinfo().await?;
    step(
        out,
        "4. userinfo (sub matches the id_token's)",
        &format!(
            "{} <{}>",
            user.standard.name.as_deref().unwrap_or("?"),
            user.standard.email.as_deref().unwrap_or("?")
        ),
    )?;
    let before = session.access_token().await?;
    let refresh_before = session.refresh_token();
    let after = session.force_refresh().await?;
    let rotated = match (refresh_before, session.refresh_token()) {
        (Some(a), Some(b)) => a.expose_secret() != b.expose_secret(),
        _ => false,
    };
    step(
        out,
        "5. refreshed",
        &format!(
            "new access token: {} ({} chars, expires in {:?}); refresh token rotated: {rotated}",
            before.access_token.expose_secret() != after.access_token.expose_secret(),
            after.access_token.expose_secret().len(),
            after.expires_in.unwrap_or(Duration::ZERO),
        ),
    )?;
    let introspection = session.introspect().await?;
    step(
        out,
        "6. introspection",
        &format!("active = {}", introspection.active),
    )?;
    let logout = session.logout_url("http://127.0.0.1:3000/", None)?;
    step(out, "7. logout URL", &redact_query(&logout))?;
    session.revoke().await?;
    step(
        out,
        "8. revoked",
        "refresh and access tokens; the session is over",
    )?;
    Ok(())
}

fn step(out: &mut impl Write, title: &str, detail: &str) -> std::io::Result<()> {
    writeln!(out, "{title}\n    {detail}")
}

/// The `alg` of a compact JWS's header (the header only: never the token).
fn jws_alg(jwt: &str) -> String {
    jwt.split('.')
        .next()
        .and_then(|h| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
        .and_then(|h| h["alg"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// The URL with every query value that could be a secret shown as `REDACTED`.
fn redact_query(url: &url::Url) -> String {
    let mut shown = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let secret = matches!(
                k.as_ref(),
                "code" | "state" | "nonce" | "id_token_hint" | "code_challenge" | "request" | "request_uri"
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
