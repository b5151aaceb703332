//! The endpoints around the login: userinfo, introspection, revocation, client_credentials,
//! validate_token, logout, key rotation, and the CLI description.

mod support;

use authing_oidc_dev_provider::{ClientAuthMethod, DevProvider, DevProviderConfig, IdTokenAlg};
use reqwest::StatusCode;
use support::*;

fn secret_post() -> [(&'static str, &'static str); 2] {
    [("client_id", "dev-app"), ("client_secret", "dev-app-secret")]
}

async fn introspect(p: &authing_oidc_dev_provider::RunningDevProvider, token: &str) -> Reply {
    let mut pairs = vec![("token", token)];
    pairs.extend_from_slice(&secret_post());
    post(p, "/token/introspection", &pairs, None).await
}

#[tokio::test]
async fn userinfo_takes_the_bearer_header_only() {
    let p = start().await;
    let tokens = tokens_for_dev_app(&p).await;
    let at = tokens["access_token"].as_str().unwrap();

    for request in [
        http().get(format!("{}/me", p.issuer())),
        http().post(format!("{}/me", p.issuer())),
        http().get(format!("{}/oauth/me", p.app_host())),
    ] {
        let reply = reply(request.bearer_auth(at).send().await.unwrap()).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let info = reply.json();
        assert_eq!(info["sub"], "dev-user-alice");
        assert_eq!(info["email"], "alice@example.com");
        assert_eq!(info["name"], "Alice Example");
        assert!(info.get("phone_number").is_none(), "phone scope was not granted");
    }

    let reply = get(&format!("{}/me?access_token={at}", p.issuer())).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "invalid_request");

    let reply = reply_of(http().get(format!("{}/me", p.issuer())).bearer_auth("nope")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let challenge = reply.headers["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}

async fn reply_of(request: reqwest::RequestBuilder) -> Reply {
    reply(request.send().await.unwrap()).await
}

#[tokio::test]
async fn introspection_and_revocation() {
    let p = start().await;
    let tokens = tokens_for_dev_app(&p).await;
    let at = tokens["access_token"].as_str().unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap();

    let active = introspect(&p, at).await.json();
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], "dev-user-alice");
    assert_eq!(active["client_id"], "dev-app");
    assert_eq!(active["iss"], p.issuer());
    assert_eq!(active["token_type"], "Bearer");
    assert!(active["exp"].as_u64().unwrap() > active["iat"].as_u64().unwrap());
    assert!(active["jti"].is_string());
    assert_eq!(introspect(&p, rt).await.json()["active"], true);
    assert_eq!(
        introspect(&p, "unknown").await.json(),
        serde_json::json!({"active": false})
    );

    // Introspection authenticates the client too.
    let reply = post(
        &p,
        "/token/introspection",
        &[("token", at), ("client_id", "dev-app")],
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error(), "invalid_client");

    // Unknown tokens revoke fine (RFC 7009).
    let mut pairs = vec![("token", "unknown")];
    pairs.extend_from_slice(&secret_post());
    let reply = post(&p, "/token/revocation", &pairs, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.text.is_empty());

    // Revoking the refresh token ends the access token of its grant.
    let mut pairs = vec![("token", rt)];
    pairs.extend_from_slice(&secret_post());
    assert_eq!(
        post(&p, "/token/revocation", &pairs, None).await.status,
        StatusCode::OK
    );
    assert_eq!(introspect(&p, rt).await.json()["active"], false);
    assert_eq!(introspect(&p, at).await.json()["active"], false);
}

#[tokio::test]
async fn separate_introspection_method_is_enforced() {
    let mut config = DevProviderConfig::default();
    config.clients.push(
        authing_oidc_dev_provider::ClientRegistration::confidential(
            "split-app",
            "split secret",
            ClientAuthMethod::ClientSecretPost,
        )
        .with_introspection_and_revocation_methods(
            ClientAuthMethod::ClientSecretBasic,
            ClientAuthMethod::ClientSecretPost,
        ),
    );
    let p = DevProvider::start(config).await.unwrap();
    let post_creds = [
        ("token", "x"),
        ("client_id", "split-app"),
        ("client_secret", "split secret"),
    ];
    assert_eq!(
        post(&p, "/token/introspection", &post_creds, None).await.error(),
        "invalid_client"
    );
    let reply = post(
        &p,
        "/token/introspection",
        &[("token", "x")],
        Some(basic("split-app", "split secret")),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        post(&p, "/token/revocation", &post_creds, None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn client_credentials_with_an_access_key() {
    let p = start().await;
    let creds = [
        ("grant_type", "client_credentials"),
        ("client_id", "dev-m2m-access-key"),
        ("client_secret", "dev-m2m-access-secret"),
    ];
    let mut pairs = creds.to_vec();
    pairs.push(("scope", "read:users write:users"));
    let reply = post(&p, "/token", &pairs, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read:users write:users");
    assert_eq!(body["expires_in"], 3600);
    assert!(body.get("id_token").is_none());
    assert!(body.get("refresh_token").is_none());
    let at = body["access_token"].as_str().unwrap();
    assert_eq!(introspect(&p, at).await.json()["active"], true);
    // No user behind it: userinfo refuses it.
    let me = reply_of(http().get(format!("{}/me", p.issuer())).bearer_auth(at)).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);

    // Scope is required; the secret must match.
    assert_eq!(post(&p, "/token", &creds, None).await.error(), "invalid_request");
    let wrong = [
        ("grant_type", "client_credentials"),
        ("client_id", "dev-m2m-access-key"),
        ("client_secret", "wrong"),
        ("scope", "x"),
    ];
    assert_eq!(post(&p, "/token", &wrong, None).await.error(), "invalid_client");
}

#[tokio::test]
async fn validate_token_answers_like_authing() {
    let p = start().await;
    let tokens = tokens_for_dev_app(&p).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let at = tokens["access_token"].as_str().unwrap();
    let base = format!("{}/api/v2/oidc/validate_token", p.app_host());

    let valid = get(&format!("{base}?id_token={id_token}")).await;
    assert_eq!(valid.status, StatusCode::OK);
    assert_eq!(valid.json()["sub"], "dev-user-alice");
    assert_eq!(valid.json()["aud"], "dev-app");
    assert!(valid.json().get("code").is_none());

    let valid = get(&format!("{base}?access_token={at}")).await.json();
    assert_eq!(valid["sub"], "dev-user-alice");
    assert_eq!(valid["iss"], p.issuer());
    assert!(valid["jti"].is_string());

    // A tampered id_token: HTTP 200 with {code: 400}.
    let mut tampered = id_token.to_owned();
    tampered.push('A');
    let invalid = get(&format!("{base}?id_token={tampered}")).await;
    assert_eq!(invalid.status, StatusCode::OK);
    assert_eq!(
        invalid.json(),
        serde_json::json!({"code": 400, "message": "id_token 不合法"})
    );
    let malformed = get(&format!("{base}?id_token=abc")).await.json();
    assert_eq!(malformed["message"], "id_token 格式有误");
    assert_eq!(
        get(&format!("{base}?access_token=a.b.c")).await.json()["code"],
        400
    );
    assert_eq!(get(&base).await.json()["code"], 400);
    assert_eq!(
        get(&format!("{base}?id_token={id_token}&access_token={at}"))
            .await
            .json()["code"],
        400
    );
}

#[tokio::test]
async fn logout_urls_redirect() {
    let p = start().await;
    let reply = get(&format!(
        "{}/login/profile/logout?redirect_uri=https%3A%2F%2Fexample.com%2Fbye",
        p.app_host()
    ))
    .await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.headers["location"], "https://example.com/bye");

    let reply = get(&format!(
        "{}/cas-idp/logout?url=http%3A%2F%2F127.0.0.1%3A3000%2F",
        p.app_host()
    ))
    .await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.headers["location"], "http://127.0.0.1:3000/");

    let tokens = tokens_for_dev_app(&p).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let end = |hint: &str, target: &str| {
        format!(
            "{}/session/end?id_token_hint={hint}&post_logout_redirect_uri={}&state=bye-state",
            p.issuer(),
            url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>()
        )
    };
    let reply = get(&end(id_token, "http://127.0.0.1:3000/logged-out")).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.text);
    assert_eq!(
        reply.headers["location"],
        "http://127.0.0.1:3000/logged-out?state=bye-state"
    );
    // A forged hint or a foreign target is refused.
    assert_eq!(
        get(&end("a.b.c", "http://127.0.0.1:3000/")).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&end(id_token, "https://evil.example/")).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn rotated_key_signs_and_old_key_stays_published() {
    let p = start().await;
    let old_kid = p.current_kid();
    let before = tokens_for_dev_app(&p).await;
    assert_eq!(jwt_header(before["id_token"].as_str().unwrap())["kid"], old_kid);

    let new_kid = p.rotate_signing_key().unwrap();
    assert_ne!(new_kid, old_kid);
    let jwks = get(&format!("{}/.well-known/jwks.json", p.issuer())).await.json();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == "RS256")
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, vec![old_kid.as_str(), new_kid.as_str()]);

    let after = tokens_for_dev_app(&p).await;
    assert_eq!(jwt_header(after["id_token"].as_str().unwrap())["kid"], new_kid);
    // Tokens signed by the old key still validate.
    let base = format!("{}/api/v2/oidc/validate_token", p.app_host());
    let old = get(&format!(
        "{base}?id_token={}",
        before["id_token"].as_str().unwrap()
    ))
    .await;
    assert_eq!(old.json()["sub"], "dev-user-alice");
}

#[tokio::test]
async fn description_lists_clients_and_counters_count() {
    let p = start().await;
    let description = serde_json::to_value(p.description()).unwrap();
    assert_eq!(description["issuer"], p.issuer());
    assert_eq!(description["app_host"], p.app_host());
    let clients = description["clients"].as_array().unwrap();
    let basic_client = clients.iter().find(|c| c["app_id"] == "dev-app-basic").unwrap();
    assert_eq!(basic_client["secret"], BASIC_SECRET);
    assert_eq!(basic_client["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(basic_client["id_token_signed_response_alg"], "HS256");
    assert_eq!(basic_client["redirect_uri"], REDIRECT_URI);
    let public = clients.iter().find(|c| c["app_id"] == "dev-app-public").unwrap();
    assert_eq!(public["token_endpoint_auth_method"], "none");
    assert_eq!(
        p.client("dev-app").unwrap().id_token_signed_response_alg,
        IdTokenAlg::RS256
    );
    let keys: Vec<&String> = description.as_object().unwrap().keys().collect();
    // The first three are parsed by tests outside this repository; new members are added
    // beside them, never in their place.
    assert_eq!(keys, vec!["app_host", "clients", "issuer", "m2m", "users"]);
    assert_eq!(description["users"][0]["login"], "alice");
    assert_eq!(description["m2m"][0]["access_key"], "dev-m2m-access-key");

    assert_eq!(p.request_count("/oidc/token"), 0);
    let _ = tokens_for_dev_app(&p).await;
    assert_eq!(p.request_count("/oidc/token"), 1);
    assert_eq!(p.request_count("/oidc/auth"), 1);
}

#[tokio::test]
async fn shutdown_frees_the_port() {
    let p = start().await;
    let address = p.local_addr();
    p.shutdown().await;
    let result = reqwest::Client::new()
        .get(format!("http://{address}/oidc/.well-known/openid-configuration"))
        .send()
        .await;
    assert!(result.is_err(), "nothing listens after shutdown");
}
