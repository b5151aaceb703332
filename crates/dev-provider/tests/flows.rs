//! The authorization code flow end to end: discovery, login in every response mode, PKCE,
//! client authentication, code reuse and refresh rotation.

mod support;

use authing_oidc_dev_provider::{AuthorizationResponse, cancel_without_browser, login_without_browser};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::Value;
use support::*;

#[tokio::test]
async fn discovery_and_jwks_have_the_advertised_shape() {
    let p = start().await;
    let issuer = p.issuer();
    assert_eq!(issuer, format!("{}/oidc", p.app_host()));
    assert!(p.app_host().starts_with("http://127.0.0.1:"));

    let reply = get(&format!("{issuer}/.well-known/openid-configuration")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = reply.json();
    assert_eq!(doc["issuer"], issuer);
    assert_eq!(doc["authorization_endpoint"], format!("{issuer}/auth"));
    assert_eq!(doc["token_endpoint"], format!("{issuer}/token"));
    assert_eq!(doc["userinfo_endpoint"], format!("{issuer}/me"));
    assert_eq!(
        doc["introspection_endpoint"],
        format!("{issuer}/token/introspection")
    );
    assert_eq!(doc["revocation_endpoint"], format!("{issuer}/token/revocation"));
    assert_eq!(doc["end_session_endpoint"], format!("{issuer}/session/end"));
    assert_eq!(doc["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "HS256", "PS256", "ES256"])
    );
    assert_eq!(doc["request_parameter_supported"], true);
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256", "plain"])
    );

    let jwks = get(&format!("{issuer}/.well-known/jwks.json")).await.json();
    let keys = jwks["keys"].as_array().unwrap();
    // The RS256 key, and the ES256 key of the FAPI client's id_tokens (no client of the
    // default configuration uses PS256, so no PS256 key is made).
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[1]["kty"], "EC");
    assert_eq!(keys[1]["crv"], "P-256");
    assert_eq!(keys[1]["alg"], "ES256");
    assert!(keys[1]["kid"].is_string() && keys[1].get("d").is_none());
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[0]["use"], "sig");
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[0]["kid"], p.current_kid());
    assert!(keys[0]["n"].as_str().unwrap().len() > 300, "a 2048-bit modulus");
    assert!(keys[0].get("d").is_none(), "no private parts");
}

async fn verify_rs256(p: &authing_oidc_dev_provider::RunningDevProvider, id_token: &str) -> Value {
    let jwks: JwkSet =
        serde_json::from_str(&get(&format!("{}/.well-known/jwks.json", p.issuer())).await.text).unwrap();
    let kid = jwt_header(id_token)["kid"].as_str().unwrap().to_owned();
    let key = DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[p.issuer()]);
    validation.set_audience(&["dev-app"]);
    jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .unwrap()
        .claims
}

#[tokio::test]
async fn query_mode_login_and_code_exchange() {
    let p = start().await;
    let callback = login_without_browser(&authorize_url(&p, "dev-app", &[]), "alice", "alice-password")
        .await
        .unwrap();
    let AuthorizationResponse::Redirect(url) = &callback else {
        panic!("expected a redirect, got {callback:?}");
    };
    assert_eq!(url.path(), "/callback");
    assert!(url.fragment().is_none());
    assert_eq!(callback.param("state").as_deref(), Some("state-123"));
    assert_eq!(callback.param("iss"), Some(p.issuer()));
    let code = callback.param("code").unwrap();

    let reply = exchange_post(&p, &code, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.headers["cache-control"], "no-store");
    let tokens = reply.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], "openid profile email offline_access");
    assert!(tokens["refresh_token"].is_string());
    let access_token = tokens["access_token"].as_str().unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();

    let claims = verify_rs256(&p, id_token).await;
    assert_eq!(claims["sub"], "dev-user-alice");
    assert_eq!(claims["nonce"], "nonce-456");
    assert_eq!(claims["name"], "Alice Example");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["preferred_username"], "alice");
    assert!(claims["auth_time"].is_u64());
    assert!(claims["iat"].is_u64());
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(access_token.as_bytes());
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]);
    assert_eq!(claims["at_hash"], expected);
}

#[tokio::test]
async fn fragment_and_form_post_modes_and_any_loopback_port() {
    let p = start().await;
    let url = authorize_url(
        &p,
        "dev-app",
        &[
            ("response_mode", "fragment"),
            ("redirect_uri", "http://localhost:49152/callback"),
        ],
    );
    let callback = login_without_browser(&url, "alice", "alice-password")
        .await
        .unwrap();
    let AuthorizationResponse::Redirect(location) = &callback else {
        panic!("expected a redirect");
    };
    assert_eq!(location.port(), Some(49152));
    assert!(location.query().is_none());
    assert!(location.fragment().unwrap().contains("code="));
    assert_eq!(callback.param("iss"), Some(p.issuer()));

    let url = authorize_url(&p, "dev-app", &[("response_mode", "form_post")]);
    let callback = login_without_browser(&url, "alice", "alice-password")
        .await
        .unwrap();
    let AuthorizationResponse::FormPost { action, body } = &callback else {
        panic!("expected form_post");
    };
    assert_eq!(action.as_str(), REDIRECT_URI);
    assert!(body.contains("state=state-123"), "{body}");
    let code = callback.param("code").unwrap();
    let reply = exchange_post(&p, &code, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[tokio::test]
async fn wrong_password_and_cancel() {
    let p = start().await;
    let url = authorize_url(&p, "dev-app", &[]);
    let err = login_without_browser(&url, "alice", "nope").await.unwrap_err();
    assert!(
        matches!(err, authing_oidc_dev_provider::Error::LoginRejected),
        "{err}"
    );

    let callback = cancel_without_browser(&url).await.unwrap();
    assert_eq!(callback.param("error").as_deref(), Some("access_denied"));
    assert_eq!(callback.param("state").as_deref(), Some("state-123"));
    assert_eq!(callback.param("iss"), Some(p.issuer()));
    assert!(callback.param("code").is_none());
}

#[tokio::test]
async fn unverified_client_or_redirect_uri_is_never_redirected_to() {
    let p = start().await;
    for extra in [
        [("client_id", "nobody")],
        [("redirect_uri", "https://evil.example/callback")],
        [("redirect_uri", "http://127.0.0.1:3000/elsewhere")],
    ] {
        let reply = get(&authorize_url(&p, "dev-app", &extra)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{extra:?}");
        assert!(reply.headers.get("location").is_none());
    }
    // Other errors go back to the client with state and iss.
    let reply = get(&authorize_url(&p, "dev-app", &[("response_type", "token")])).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    let location = reply.headers["location"].to_str().unwrap();
    assert!(location.starts_with(REDIRECT_URI));
    assert!(location.contains("error=unsupported_response_type"));
    assert!(location.contains("state=state-123"));
    assert!(location.contains("iss="));
    // A public client without PKCE is refused.
    let reply = get(&authorize_url(&p, "dev-app-public", &[])).await;
    assert!(
        reply.headers["location"]
            .to_str()
            .unwrap()
            .contains("error=invalid_request")
    );
    // A repeated parameter is refused.
    let url = format!("{}&scope=openid", authorize_url(&p, "dev-app", &[]));
    let reply = get(&url).await;
    assert!(
        reply.headers["location"]
            .to_str()
            .unwrap()
            .contains("error=invalid_request")
    );
}

/// `authorization_code` form pairs without client authentication.
fn code_pairs<'a>(code: &'a str, client_id: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
    ];
    if let Some(id) = client_id {
        pairs.push(("client_id", id));
    }
    pairs
}

#[tokio::test]
async fn pkce_s256_plain_and_wrong_verifier() {
    let p = start().await;
    let s256 = [
        ("code_challenge", S256_CHALLENGE),
        ("code_challenge_method", "S256"),
    ];

    let code = login_code(&p, "dev-app-public", &s256).await;
    let mut pairs = code_pairs(&code, Some("dev-app-public"));
    pairs.push(("code_verifier", VERIFIER));
    let reply = post(&p, "/token", &pairs, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.json()["id_token"].is_string());

    let wrong = "x".repeat(43);
    let code = login_code(&p, "dev-app-public", &s256).await;
    let mut pairs = code_pairs(&code, Some("dev-app-public"));
    pairs.push(("code_verifier", &wrong));
    let reply = post(&p, "/token", &pairs, None).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "invalid_grant");

    let plain = [("code_challenge", VERIFIER), ("code_challenge_method", "plain")];
    let code = login_code(&p, "dev-app", &plain).await;
    let reply = exchange_post(&p, &code, &[("code_verifier", VERIFIER)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    // A verifier is required once a challenge was sent.
    let code = login_code(&p, "dev-app", &plain).await;
    let reply = exchange_post(&p, &code, &[]).await;
    assert_eq!(reply.error(), "invalid_grant");
}

#[tokio::test]
async fn client_authentication_is_enforced_as_registered() {
    let p = start().await;

    // dev-app-basic: correct RFC 6749 §2.3.1 Basic works and yields an HS256 id_token.
    let code = login_code(&p, "dev-app-basic", &[]).await;
    let auth = Some(basic("dev-app-basic", BASIC_SECRET));
    let reply = post(&p, "/token", &code_pairs(&code, None), auth).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let id_token = reply.json()["id_token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_header(&id_token)["alg"], "HS256");
    assert!(jwt_header(&id_token).get("kid").is_none());
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["dev-app-basic"]);
    let key = DecodingKey::from_secret(BASIC_SECRET.as_bytes());
    jsonwebtoken::decode::<Value>(&id_token, &key, &validation).unwrap();

    // The same secret without form-urlencoding first is refused.
    use base64::Engine;
    let naive = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("dev-app-basic:{BASIC_SECRET}"))
    );
    let code = login_code(&p, "dev-app-basic", &[]).await;
    let reply = post(&p, "/token", &code_pairs(&code, None), Some(naive)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error(), "invalid_client");
    assert!(
        reply.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );

    // Basic client sending its secret in the body: refused.
    let code = login_code(&p, "dev-app-basic", &[]).await;
    let mut pairs = code_pairs(&code, Some("dev-app-basic"));
    pairs.push(("client_secret", BASIC_SECRET));
    assert_eq!(post(&p, "/token", &pairs, None).await.error(), "invalid_client");

    // Post client using Basic: refused.
    let code = login_code(&p, "dev-app", &[]).await;
    let auth = Some(basic("dev-app", "dev-app-secret"));
    let reply = post(&p, "/token", &code_pairs(&code, None), auth).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error(), "invalid_client");

    // Post client with a wrong secret: refused.
    let code = login_code(&p, "dev-app", &[]).await;
    let mut pairs = code_pairs(&code, Some("dev-app"));
    pairs.push(("client_secret", "wrong"));
    assert_eq!(post(&p, "/token", &pairs, None).await.error(), "invalid_client");

    // Public client sending a secret: refused.
    let s256 = [
        ("code_challenge", S256_CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let code = login_code(&p, "dev-app-public", &s256).await;
    let mut pairs = code_pairs(&code, Some("dev-app-public"));
    pairs.push(("code_verifier", VERIFIER));
    pairs.push(("client_secret", "anything"));
    assert_eq!(post(&p, "/token", &pairs, None).await.error(), "invalid_client");
}

#[tokio::test]
async fn reused_code_is_refused_and_revokes_its_tokens() {
    let p = start().await;
    let code = login_code(&p, "dev-app", &[]).await;
    let first = exchange_post(&p, &code, &[]).await;
    assert_eq!(first.status, StatusCode::OK);
    let access_token = first.json()["access_token"].as_str().unwrap().to_owned();

    let second = exchange_post(&p, &code, &[]).await;
    assert_eq!(second.status, StatusCode::BAD_REQUEST);
    assert_eq!(second.error(), "invalid_grant");

    let me = http()
        .get(format!("{}/me", p.issuer()))
        .bearer_auth(&access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        StatusCode::UNAUTHORIZED,
        "tokens of a reused code are revoked"
    );
}

#[tokio::test]
async fn code_exchange_needs_the_same_redirect_uri() {
    let p = start().await;
    let code = login_code(&p, "dev-app", &[]).await;
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:3001/callback"),
        ("client_id", "dev-app"),
        ("client_secret", "dev-app-secret"),
    ];
    assert_eq!(post(&p, "/token", &pairs, None).await.error(), "invalid_grant");
    // Repeating a parameter is a malformed request.
    let code = login_code(&p, "dev-app", &[]).await;
    let reply = exchange_post(&p, &code, &[("code", "other")]).await;
    assert_eq!(reply.error(), "invalid_request");
}

#[tokio::test]
async fn refresh_rotates_and_old_token_is_refused() {
    let p = start().await;
    let tokens = tokens_for_dev_app(&p).await;
    let original = jwt_claims(tokens["id_token"].as_str().unwrap());
    let rt1 = tokens["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |rt: &str| -> Vec<(String, String)> {
        [
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", "dev-app"),
            ("client_secret", "dev-app-secret"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    };
    let send = |pairs: Vec<(String, String)>| {
        let p = &p;
        async move {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            post(p, "/token", &pairs, None).await
        }
    };

    let reply = send(refresh(&rt1)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let renewed = reply.json();
    let rt2 = renewed["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    let claims = jwt_claims(renewed["id_token"].as_str().unwrap());
    assert_eq!(
        claims["nonce"], original["nonce"],
        "refreshed id_token keeps the nonce"
    );
    assert_eq!(claims["auth_time"], original["auth_time"]);
    assert_eq!(claims["sub"], original["sub"]);

    // The old refresh token is refused, and its reuse ends the grant: rt2 dies too.
    assert_eq!(send(refresh(&rt1)).await.error(), "invalid_grant");
    assert_eq!(send(refresh(&rt2)).await.error(), "invalid_grant");
}
