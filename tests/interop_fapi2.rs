//! The FAPI 2.0 preset against panva's oidc-provider configured for the FAPI 2.0 Security
//! Profile (plugin `tests/interop/plugins/fapi2.mjs`): PAR required, `private_key_jwt` with a
//! client registered by its public JWK, request objects. The whole typed flow, refresh,
//! userinfo and revocation; a client assertion with the wrong audience; a `request_uri` used
//! twice; and, with DPoP nonces required (plugins `dpop.mjs`, `par-log.mjs`), the push that
//! `use_dpop_nonce` refuses is sent once more with a new proof and a new request object.

#[path = "support/panva.rs"]
#[allow(dead_code)]
mod panva;

use authing_oidc::flow::{CallbackParams, Unauthorized};
use authing_oidc::{
    AssertionAudience, AuthenticationClient, AuthenticationClientBuilder, ClientKey, Error, ExposeSecret,
};
use panva::{CALLBACK, Callback, PanvaOptions, PanvaProvider};
use serde_json::json;
use std::collections::HashMap;

const CLIENT: &str = "rp-fapi2";
const SCOPE: &str = "openid email offline_access";

fn key() -> ClientKey {
    let text = std::fs::read_to_string(format!(
        "{}/tests/support/client-keys/rsa.jwk.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    ClientKey::parse(&text).unwrap()
}

async fn provider() -> PanvaProvider {
    let mut public = key().public_jwk();
    public["use"] = "sig".into();
    PanvaProvider::start(PanvaOptions::default().plugin("plugins/fapi2.mjs").client(json!({
        "client_id": CLIENT,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [CALLBACK],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "PS256",
        "id_token_signed_response_alg": "ES256",
        "jwks": {"keys": [public]},
    })))
    .await
}

fn fapi2_client() -> AuthenticationClientBuilder {
    AuthenticationClient::builder()
        .app_id(CLIENT)
        .redirect_uri(CALLBACK)
        .client_key(key())
        .fapi2()
}

fn query(url: &url::Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

fn callback_params(callback: &Callback) -> CallbackParams {
    match callback {
        Callback::Redirect(url) => CallbackParams::from_url(url),
        Callback::FormPost { body, .. } => CallbackParams::from_form_post(body),
    }
    .unwrap()
}

/// The whole profile: PAR with a PS256 client assertion (plain, then with a signed request
/// object inside), the login, the code exchange, the ES256 id_token, userinfo, a refresh and
/// revocation, all authenticated by private_key_jwt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fapi2_preset_runs_the_whole_flow_against_oidc_provider() {
    let provider = provider().await;
    for jar in [false, true] {
        let client = fapi2_client()
            .request_objects(jar)
            .discover(provider.issuer())
            .await
            .unwrap();
        assert!(
            client.uses_par(),
            "the provider requires PAR and the preset uses it"
        );
        let (url, pending) = Unauthorized::new(client.clone())
            .scope(SCOPE)
            .begin()
            .await
            .unwrap_or_else(|e| panic!("jar={jar}: {e}\n{}", provider.log()));
        let q = query(&url);
        assert_eq!(q.len(), 2, "{q:?}");
        assert_eq!(q["client_id"], CLIENT);
        assert!(q["request_uri"].starts_with("urn:ietf:params:oauth:request_uri:"));
        let callback = provider.login(url.as_str(), "alice").await;
        assert_eq!(callback.param("iss").as_deref(), Some(provider.issuer()));
        let session = pending
            .complete(callback_params(&callback))
            .await
            .unwrap_or_else(|e| panic!("jar={jar}: {e}\n{}", provider.log()));
        assert_eq!(session.subject(), "alice");
        let info = session.userinfo().await.unwrap();
        assert_eq!(info.standard.email.as_deref(), Some("alice@example.com"));
        assert!(session.refresh_token().is_some());
        let before = session.refresh_token().unwrap();
        session
            .force_refresh()
            .await
            .unwrap_or_else(|e| panic!("refresh: {e}\n{}", provider.log()));
        assert!(
            !session.refresh_token().unwrap().ct_eq(before.expose_secret()),
            "rotated"
        );
        assert_eq!(session.refresh_count(), 1);
        assert!(session.introspect().await.unwrap().active);
        session.revoke().await.unwrap();
        assert!(!session.introspect().await.unwrap().active);
    }
}

/// A client assertion addressed to the token endpoint is refused under FAPI 2.0 (which wants
/// the issuer): the push fails with invalid_client and no URL is handed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assertion_with_the_wrong_audience_is_refused() {
    let provider = provider().await;
    let client = fapi2_client()
        .client_assertion_audience(AssertionAudience::TokenEndpoint)
        .discover(provider.issuer())
        .await
        .unwrap();
    match Unauthorized::new(client).scope(SCOPE).begin().await {
        Err(Error::Op(op)) => {
            assert_eq!(op.error.as_deref(), Some("invalid_client"), "{op}");
            assert_eq!(op.status, 401, "{op}");
        }
        other => panic!("expected invalid_client, got {other:?}"),
    }
    assert!(
        provider
            .log()
            .contains("audience (aud) must equal the issuer identifier url"),
        "{}",
        provider.log()
    );
}

/// A pushed request is single-use (RFC 9126 §4): the second use of its `request_uri` fails at
/// the provider, and no code comes back for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_uri_works_once() {
    let provider = provider().await;
    let client = fapi2_client().discover(provider.issuer()).await.unwrap();
    let (url, pending) = Unauthorized::new(client).scope(SCOPE).begin().await.unwrap();
    let first = provider.login(url.as_str(), "alice").await;
    assert!(first.param("code").is_some(), "{first:?}");
    match provider.try_login(url.as_str(), "alice").await {
        Err(e) => assert!(e.contains("request_uri") || e.contains("400"), "{e}"),
        Ok(second) => {
            assert_eq!(
                second.param("error").as_deref(),
                Some("invalid_request_uri"),
                "{second:?}"
            );
            assert!(second.param("code").is_none());
        }
    }
    // The first callback still completes the login it belongs to.
    pending.complete(callback_params(&first)).await.unwrap();
}

async fn provider_json(op: &PanvaProvider, path: &str) -> serde_json::Value {
    let r = reqwest::Client::new().get(op.url(path)).send().await.unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

/// PAR with a signed request object, DPoP and a provider that demands a nonce in every proof
/// (RFC 9449 §8): the first push is refused with `use_dpop_nonce`, and the one retry carries a
/// new proof with the provider's nonce and a newly signed request object — a new `jti`, since
/// a request object is single-use (RFC 9101 §10.8; FAPI 2.0 Message Signing) — not the
/// refused one again. The login, code exchange and refresh then go through with nonces too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpop_nonce_retry_of_a_signed_push_sends_a_new_request_object() {
    let mut public = key().public_jwk();
    public["use"] = "sig".into();
    let provider = PanvaProvider::start(
        PanvaOptions::default()
            .plugin("plugins/fapi2.mjs")
            .plugin("plugins/dpop.mjs")
            .plugin("plugins/par-log.mjs")
            .client(json!({
                "client_id": CLIENT,
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "redirect_uris": [CALLBACK],
                "token_endpoint_auth_method": "private_key_jwt",
                "token_endpoint_auth_signing_alg": "PS256",
                "id_token_signed_response_alg": "ES256",
                "dpop_bound_access_tokens": true,
                "jwks": {"keys": [public]},
            })),
    )
    .await;
    let client = fapi2_client()
        .request_objects(true)
        .discover(provider.issuer())
        .await
        .unwrap();
    assert!(
        client.dpop_algorithm().is_some(),
        "the FAPI 2.0 preset binds with DPoP"
    );
    let (url, pending) = Unauthorized::new(client)
        .scope(SCOPE)
        .begin()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", provider.log()));

    let pushes = provider_json(&provider, "/__par/pushes").await["pushes"].clone();
    let pushes = pushes.as_array().unwrap();
    assert_eq!(pushes.len(), 2, "one push and exactly one retry: {pushes:?}");
    let (first, retry) = (&pushes[0], &pushes[1]);
    assert_eq!(first["status"], 400, "{first}");
    assert_eq!(first["error"], "use_dpop_nonce", "{first}");
    assert!(first["proof_nonce"].is_null(), "no nonce was known yet: {first}");
    assert_eq!(retry["status"], 201, "{retry}");
    assert!(
        retry["proof_nonce"].is_string(),
        "the retry carries the nonce: {retry}"
    );
    assert!(first["request_jti"].is_string() && retry["request_jti"].is_string());
    assert_ne!(
        first["request_jti"], retry["request_jti"],
        "the retry signs a new request object"
    );
    assert_ne!(first["proof_jti"], retry["proof_jti"], "and a new proof");

    let q = query(&url);
    assert_eq!(q.len(), 2, "{q:?}");
    let callback = provider.login(url.as_str(), "alice").await;
    let session = pending
        .complete(callback_params(&callback))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", provider.log()));
    assert_eq!(session.subject(), "alice");
    session
        .force_refresh()
        .await
        .unwrap_or_else(|e| panic!("refresh: {e}\n{}", provider.log()));
    assert_eq!(session.refresh_count(), 1);
}
