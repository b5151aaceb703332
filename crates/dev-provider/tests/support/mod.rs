//! Helpers shared by the integration tests: start a provider, build requests, read JWTs.
#![allow(dead_code)] // each test binary uses a different subset

use authing_oidc_dev_provider::{
    AuthorizationResponse, DevProvider, DevProviderConfig, RunningDevProvider, login_without_browser,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use reqwest::{Client, StatusCode, redirect::Policy};
use serde_json::Value;
use url::{Url, form_urlencoded};

pub const REDIRECT_URI: &str = "http://127.0.0.1:3000/callback";
pub const BASIC_SECRET: &str = "s3cr3t with spaces&+/=%";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const S256_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub async fn start() -> RunningDevProvider {
    DevProvider::start(DevProviderConfig::default()).await.unwrap()
}

pub fn http() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

/// An authorization URL with the usual parameters; `extra` adds or overrides.
pub fn authorize_url(p: &RunningDevProvider, client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(&str, &str)> = vec![
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("response_type", "code"),
        ("scope", "openid profile email offline_access"),
        ("state", "state-123"),
        ("nonce", "nonce-456"),
        ("prompt", "consent"),
    ];
    for (name, value) in extra {
        pairs.retain(|(n, _)| n != name);
        pairs.push((name, value));
    }
    let mut url = Url::parse(&format!("{}/auth", p.issuer())).unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.to_string()
}

/// Logs alice in and returns the code (query mode).
pub async fn login_code(p: &RunningDevProvider, client_id: &str, extra: &[(&str, &str)]) -> String {
    let response = login_without_browser(&authorize_url(p, client_id, extra), "alice", "alice-password")
        .await
        .unwrap();
    response.param("code").expect("a code in the callback")
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// RFC 6749 §2.3.1 Basic credentials.
pub fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.unwrap(),
    }
}

/// POSTs a form to `{issuer}{path}` with an optional Authorization header.
pub async fn post(p: &RunningDevProvider, path: &str, pairs: &[(&str, &str)], auth: Option<String>) -> Reply {
    let mut request = http()
        .post(format!("{}{path}", p.issuer()))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(pairs));
    if let Some(auth) = auth {
        request = request.header(AUTHORIZATION, auth);
    }
    reply(request.send().await.unwrap()).await
}

pub async fn get(url: &str) -> Reply {
    reply(http().get(url).send().await.unwrap()).await
}

/// Exchanges a code for dev-app (client_secret_post).
pub async fn exchange_post(p: &RunningDevProvider, code: &str, extra: &[(&str, &str)]) -> Reply {
    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("client_id", "dev-app"),
        ("client_secret", "dev-app-secret"),
    ];
    pairs.extend_from_slice(extra);
    post(p, "/token", &pairs, None).await
}

/// Logs in with dev-app and returns the token response.
pub async fn tokens_for_dev_app(p: &RunningDevProvider) -> Value {
    let code = login_code(p, "dev-app", &[]).await;
    let reply = exchange_post(p, &code, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json()
}

fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

pub fn jwt_header(token: &str) -> Value {
    jwt_part(token, 0)
}

pub fn jwt_claims(token: &str) -> Value {
    jwt_part(token, 1)
}

pub fn callback_params(response: &AuthorizationResponse) -> Vec<(String, String)> {
    response.params()
}
