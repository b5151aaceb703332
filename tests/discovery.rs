//! OpenID Connect Discovery: a generic provider configured from its issuer,
//! and what only the Authing preset offers.

#[path = "support/mock.rs"]
mod mock;

use authing_oidc::flow::Authenticated;
use authing_oidc::{
    AccessToken, AuthenticationClient, AuthorizeParams, Error, IdToken, LogoutParams, RefreshToken, TokenSet,
    TokenToValidate,
};
use base64::Engine as _;
use mock::{Canned, MockServer};
use serde_json::json;

fn metadata(issuer: &str, base: &str) -> serde_json::Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/connect/authorize"),
        "token_endpoint": format!("{base}/connect/token"),
        "userinfo_endpoint": format!("{base}/connect/userinfo"),
        "jwks_uri": format!("{base}/keys"),
        "revocation_endpoint": format!("{base}/connect/revoke"),
        "end_session_endpoint": format!("{base}/connect/logout"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "authorization_response_iss_parameter_supported": true
    })
}

async fn discovered(server: &MockServer) -> AuthenticationClient {
    let issuer = format!("{}/tenant", server.url());
    server.on(
        "/tenant/.well-known/openid-configuration",
        Canned::json(200, metadata(&issuer, &server.url())),
    );
    AuthenticationClient::builder()
        .app_id("app")
        .secret("secret")
        .redirect_uri("https://rp.example/cb")
        .discover(&issuer)
        .await
        .unwrap()
}

#[tokio::test]
async fn discovered_endpoints_drive_every_operation() {
    let server = MockServer::start().await;
    let client = discovered(&server).await;
    assert_eq!(client.issuer(), format!("{}/tenant", server.url()));
    let login = client.build_authorize_url(AuthorizeParams::new()).unwrap();
    assert_eq!(login.url.path(), "/connect/authorize");
    server.on(
        "/connect/token",
        Canned::json(200, json!({"access_token": "a", "token_type": "Bearer"})),
    );
    server.on("/connect/userinfo", Canned::json(200, json!({"sub": "u"})));
    server.on("/connect/revoke", Canned::raw(200, "text/plain", ""));
    client
        .get_new_access_token_by_refresh_token(&RefreshToken::new("r"))
        .await
        .unwrap();
    client
        .get_user_info_by_access_token(&AccessToken::new("a"))
        .await
        .unwrap();
    client.revoke_token(&AccessToken::new("a")).await.unwrap();
    let paths: Vec<_> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/tenant/.well-known/openid-configuration",
            "/connect/token",
            "/connect/userinfo",
            "/connect/revoke"
        ]
    );
    let logout = client
        .build_logout_url(LogoutParams::expert(IdToken::new("t"), "https://rp.example/"))
        .unwrap();
    assert_eq!(logout.path(), "/connect/logout");
}

#[tokio::test]
async fn authing_only_operations_say_so_with_a_discovered_provider() {
    let server = MockServer::start().await;
    let client = discovered(&server).await;
    let before = server.requests().len();
    let e = client
        .validate_token(TokenToValidate::IdToken(&IdToken::new("t")))
        .await
        .unwrap_err();
    assert!(matches!(&e, Error::Config(m) if m.contains("Authing")), "{e:?}");
    let e = client.build_logout_url(LogoutParams::simple()).unwrap_err();
    assert!(matches!(&e, Error::Config(m) if m.contains("Authing")), "{e:?}");
    // No introspection endpoint advertised: a clear configuration error, nothing sent.
    let e = client.introspect_token(&AccessToken::new("a")).await.unwrap_err();
    assert!(
        matches!(&e, Error::Config(m) if m.contains("introspection_endpoint")),
        "{e:?}"
    );
    assert_eq!(server.requests().len(), before);
}

#[tokio::test]
async fn a_discovery_document_for_another_issuer_is_refused() {
    let server = MockServer::start().await;
    let issuer = format!("{}/tenant", server.url());
    server.on(
        "/tenant/.well-known/openid-configuration",
        Canned::json(200, metadata("https://attacker.example/tenant", &server.url())),
    );
    let e = AuthenticationClient::builder()
        .app_id("app")
        .secret("s")
        .discover(&issuer)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidResponse { reason, .. } if reason.contains("attacker")),
        "{e:?}"
    );
}

#[tokio::test]
async fn discovered_plain_http_endpoints_are_refused_unless_opted_in() {
    let server = MockServer::start().await;
    let issuer = format!("{}/tenant", server.url());
    let mut doc = metadata(&issuer, &server.url());
    doc["token_endpoint"] = json!("http://tokens.example/token");
    server.on("/tenant/.well-known/openid-configuration", Canned::json(200, doc));
    let e = AuthenticationClient::builder()
        .app_id("app")
        .secret("s")
        .discover(&issuer)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Config(m) if m.contains("token_endpoint")),
        "{e:?}"
    );
    let ok = AuthenticationClient::builder()
        .app_id("app")
        .secret("s")
        .insecure_allow_http()
        .discover(&issuer)
        .await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn app_host_and_issuer_exclude_each_other() {
    let e = AuthenticationClient::builder()
        .app_id("app")
        .secret("s")
        .app_host("https://a.authing.cn")
        .discover("https://a.authing.cn/oidc")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
}

fn unsigned_id_token(claims: serde_json::Value) -> String {
    let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", b64(&json!({"alg": "RS256"})), b64(&claims))
}

#[tokio::test]
async fn userinfo_for_another_subject_is_refused() {
    let server = MockServer::start().await;
    let client = AuthenticationClient::builder()
        .app_id("app")
        .secret("s")
        .app_host(server.url())
        .build()
        .unwrap();
    let id_token = unsigned_id_token(json!({"iss": client.issuer(), "aud": "app", "sub": "alice",
        "exp": 4_000_000_000u64, "iat": 1}));
    let raw = json!({"access_token": "at", "token_type": "Bearer", "id_token": id_token});
    server.on("/oidc/token", Canned::json(200, raw));
    let tokens: TokenSet = client
        .get_new_access_token_by_refresh_token(&RefreshToken::new("r"))
        .await
        .unwrap();
    let session = Authenticated::insecure_from_unverified_tokens(client, tokens).unwrap();
    server.on(
        "/oidc/me",
        Canned::json(200, json!({"sub": "mallory", "email": "m@example.com"})),
    );
    let e = session.userinfo().await.unwrap_err();
    assert!(matches!(e, Error::SubMismatch), "{e:?}");
    server.on("/oidc/me", Canned::json(200, json!({"sub": "alice"})));
    assert_eq!(session.userinfo().await.unwrap().sub, "alice");
}
