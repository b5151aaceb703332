//! Test keys and token signing for the id_token tests, and a tiny JWKS (and
//! discovery) server on 127.0.0.1 that counts its JWKS requests.
//!
//! Included with `#[path = "support/keys.rs"] mod keys;` (the benchmark
//! includes it too), so not every helper is used by every includer.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair,
    RsaPublicKeyComponents,
};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// Keys generated once per test process (RSA generation is slow).
pub struct TestKeys {
    pub rsa: RsaKeyPair,
    /// A second RSA key, for rotation and ambiguity tests.
    pub rsa2: RsaKeyPair,
    pub ec: EcdsaKeyPair,
    pub ed: Ed25519KeyPair,
}

pub fn keys() -> &'static TestKeys {
    static KEYS: OnceLock<TestKeys> = OnceLock::new();
    KEYS.get_or_init(|| TestKeys {
        rsa: RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap(),
        rsa2: RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap(),
        ec: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        ed: Ed25519KeyPair::generate().unwrap(),
    })
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn rsa_jwk(key: &RsaKeyPair, kid: Option<&str>) -> Value {
    let c = RsaPublicKeyComponents::<Vec<u8>>::from(key.public_key());
    let mut jwk = json!({"kty": "RSA", "use": "sig", "n": b64(&c.n), "e": b64(&c.e)});
    if let Some(kid) = kid {
        jwk["kid"] = kid.into();
    }
    jwk
}

pub fn ec_jwk(key: &EcdsaKeyPair, kid: &str) -> Value {
    let point = key.public_key().as_ref();
    json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(&point[1..33]), "y": b64(&point[33..65])})
}

pub fn ed_jwk(key: &Ed25519KeyPair, kid: &str) -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(key.public_key().as_ref())})
}

/// What signs a token.
pub enum Signer<'a> {
    Rsa(&'a RsaKeyPair),
    Ec(&'a EcdsaKeyPair),
    Ed(&'a Ed25519KeyPair),
    Hmac(&'a [u8]),
    /// No signature at all (`alg: none`).
    Unsigned,
}

/// A compact JWS with header `{"alg": alg, "typ": "JWT"[, "kid": kid]}`.
pub fn sign(signer: Signer<'_>, alg: &str, kid: Option<&str>, claims: &Value) -> String {
    let mut header = json!({"alg": alg, "typ": "JWT"});
    if let Some(kid) = kid {
        header["kid"] = kid.into();
    }
    sign_with_header(signer, &header, claims)
}

pub fn sign_with_header(signer: Signer<'_>, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let rng = SystemRandom::new();
    let sig: Vec<u8> = match signer {
        Signer::Rsa(k) => {
            let mut sig = vec![0; k.public_modulus_len()];
            k.sign(&signature::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig)
                .unwrap();
            sig
        }
        Signer::Ec(k) => k.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        Signer::Ed(k) => k.sign(input.as_bytes()).as_ref().to_vec(),
        Signer::Hmac(secret) => {
            let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
            aws_lc_rs::hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
        }
        Signer::Unsigned => Vec::new(),
    };
    format!("{input}.{}", b64(sig))
}

/// `at_hash` for an RS256/ES256/HS256 token.
pub fn at_hash_sha256(access_token: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    b64(&d.as_ref()[..16])
}

struct ServerState {
    jwks: Mutex<Value>,
    discovery_algs: Mutex<Vec<String>>,
    cache_control: Mutex<Option<String>>,
    delay: Mutex<Option<Duration>>,
    jwks_hits: AtomicUsize,
    issuer: String,
}

/// Serves `GET /oidc/.well-known/jwks.json` and
/// `GET /oidc/.well-known/openid-configuration`.
pub struct JwksServer {
    pub addr: SocketAddr,
    state: Arc<ServerState>,
}

impl JwksServer {
    pub async fn start(jwks: Value) -> JwksServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ServerState {
            jwks: Mutex::new(jwks),
            discovery_algs: Mutex::new(vec!["RS256".into()]),
            cache_control: Mutex::new(None),
            delay: Mutex::new(None),
            jwks_hits: AtomicUsize::new(0),
            issuer: format!("http://{addr}/oidc"),
        });
        let app = axum::Router::new()
            .route("/oidc/.well-known/jwks.json", get(jwks_handler))
            .route("/oidc/.well-known/openid-configuration", get(discovery_handler))
            .with_state(state.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        JwksServer { addr, state }
    }

    /// `http://127.0.0.1:PORT`, the Authing app host.
    pub fn app_host(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/oidc`, the issuer.
    pub fn issuer(&self) -> String {
        self.state.issuer.clone()
    }

    pub fn set_jwks(&self, jwks: Value) {
        *self.state.jwks.lock().unwrap() = jwks;
    }

    /// `id_token_signing_alg_values_supported` in the discovery document.
    pub fn set_discovery_algs(&self, algs: &[&str]) {
        *self.state.discovery_algs.lock().unwrap() = algs.iter().map(|a| a.to_string()).collect();
    }

    pub fn set_cache_control(&self, value: &str) {
        *self.state.cache_control.lock().unwrap() = Some(value.to_owned());
    }

    /// Each JWKS answer waits this long first (lets concurrent requests overlap).
    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = Some(delay);
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }
}

async fn jwks_handler(State(state): State<Arc<ServerState>>) -> Response {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let delay = *state.delay.lock().unwrap();
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let body = state.jwks.lock().unwrap().to_string();
    let cache_control = state.cache_control.lock().unwrap().clone();
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Some(cc) = cache_control {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, cc.parse().unwrap());
    }
    response
}

async fn discovery_handler(State(state): State<Arc<ServerState>>) -> Response {
    let issuer = &state.issuer;
    let algs = state.discovery_algs.lock().unwrap().clone();
    axum::Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/me"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
    }))
    .into_response()
}
