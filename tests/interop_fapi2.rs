//! The FAPI 2.0 preset against panva's oidc-provider configured for the FAPI 2.0 Security
//! Profile (plugin `tests/interop/plugins/fapi2.mjs`): PAR required, `private_key_jwt` with a
//! client registered by its public JWK, request objects. The whole typed flow, refresh,
//! userinfo and revocation; a client assertion with the wrong audience; a `request_uri` used
//! twice.

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
