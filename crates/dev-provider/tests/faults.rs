//! Fault switches: each produces the defect it documents, and clears.

mod support;

use std::time::{Duration, Instant};

use authing_oidc_dev_provider::{CallbackFault, IdTokenFault, TokenResponseFault, login_without_browser};
use reqwest::StatusCode;
use support::*;

#[tokio::test]
async fn token_endpoint_fails_n_times_then_recovers() {
    let p = start().await;
    let code = login_code(&p, "dev-app", &[]).await;
    p.faults().fail_token_requests(2);
    for _ in 0..2 {
        let reply = exchange_post(&p, &code, &[]).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reply.error(), "temporarily_unavailable");
    }
    // The 503s did not consume the code.
    let reply = exchange_post(&p, &code, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(p.request_count("/oidc/token"), 3);
}

#[tokio::test]
async fn delay_makes_a_short_timeout_fire() {
    let p = start().await;
    p.faults().set_response_delay(Some(Duration::from_millis(600)));
    let url = format!("{}/.well-known/openid-configuration", p.issuer());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let err = client.get(&url).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");

    let started = Instant::now();
    assert_eq!(get(&url).await.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(600));

    p.faults().set_response_delay(None);
    let started = Instant::now();
    get(&url).await;
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn refresh_invalid_grant_and_token_response_defects() {
    let p = start().await;
    let tokens = tokens_for_dev_app(&p).await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let pairs = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt),
        ("client_id", "dev-app"),
        ("client_secret", "dev-app-secret"),
    ];
    p.faults()
        .set_token_response_fault(Some(TokenResponseFault::RefreshInvalidGrant));
    let reply = post(&p, "/token", &pairs, None).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "invalid_grant");

    // The grant survived the injected refusal.
    p.faults()
        .set_token_response_fault(Some(TokenResponseFault::TokenTypeMac));
    let reply = post(&p, "/token", &pairs, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["token_type"], "mac");

    p.faults()
        .set_token_response_fault(Some(TokenResponseFault::MissingAccessToken));
    let body = tokens_for_dev_app(&p).await;
    assert!(body.get("access_token").is_none());
    assert!(body["id_token"].is_string());

    p.faults().clear();
    assert!(tokens_for_dev_app(&p).await["access_token"].is_string());
}

#[tokio::test]
async fn id_token_defects() {
    let p = start().await;
    let id_token = |tokens: serde_json::Value| tokens["id_token"].as_str().unwrap().to_owned();

    p.faults().set_id_token_fault(Some(IdTokenFault::WrongNonce));
    assert_eq!(
        jwt_claims(&id_token(tokens_for_dev_app(&p).await))["nonce"],
        "wrong-nonce"
    );

    p.faults()
        .set_id_token_fault(Some(IdTokenFault::ExtraUntrustedAudience));
    let claims = jwt_claims(&id_token(tokens_for_dev_app(&p).await));
    assert_eq!(
        claims["aud"],
        serde_json::json!(["dev-app", "untrusted-audience"])
    );
    assert!(claims.get("azp").is_none());

    p.faults().set_id_token_fault(Some(IdTokenFault::Expired));
    let claims = jwt_claims(&id_token(tokens_for_dev_app(&p).await));
    assert!(claims["exp"].as_u64().unwrap() + 3000 < claims["auth_time"].as_u64().unwrap());

    p.faults().set_id_token_fault(Some(IdTokenFault::MissingIat));
    assert!(
        jwt_claims(&id_token(tokens_for_dev_app(&p).await))
            .get("iat")
            .is_none()
    );

    p.faults().set_id_token_fault(Some(IdTokenFault::AlgNone));
    let token = id_token(tokens_for_dev_app(&p).await);
    assert_eq!(jwt_header(&token)["alg"], "none");
    assert!(token.ends_with('.'));

    p.faults().set_id_token_fault(Some(IdTokenFault::UnknownKid));
    assert_eq!(
        jwt_header(&id_token(tokens_for_dev_app(&p).await))["kid"],
        "unknown-kid"
    );

    // A bad signature is refused by the provider's own check.
    p.faults().set_id_token_fault(Some(IdTokenFault::BadSignature));
    let token = id_token(tokens_for_dev_app(&p).await);
    let base = format!("{}/api/v2/oidc/validate_token", p.app_host());
    assert_eq!(get(&format!("{base}?id_token={token}")).await.json()["code"], 400);
    p.faults().clear();
    let token = id_token(tokens_for_dev_app(&p).await);
    assert!(
        get(&format!("{base}?id_token={token}"))
            .await
            .json()
            .get("code")
            .is_none()
    );
}

#[tokio::test]
async fn different_sub_only_on_refresh() {
    let p = start().await;
    p.faults()
        .set_id_token_fault(Some(IdTokenFault::DifferentSubOnRefresh));
    let tokens = tokens_for_dev_app(&p).await;
    assert_eq!(
        jwt_claims(tokens["id_token"].as_str().unwrap())["sub"],
        "dev-user-alice"
    );
    let pairs = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ("client_id", "dev-app"),
        ("client_secret", "dev-app-secret"),
    ];
    let renewed = post(&p, "/token", &pairs, None).await.json();
    assert_ne!(
        jwt_claims(renewed["id_token"].as_str().unwrap())["sub"],
        "dev-user-alice"
    );
}

#[tokio::test]
async fn callback_defects() {
    let p = start().await;
    let url = authorize_url(&p, "dev-app", &[]);
    let login = || login_without_browser(&url, "alice", "alice-password");

    p.faults().set_callback_fault(Some(CallbackFault::WrongState));
    assert_eq!(
        login().await.unwrap().param("state").as_deref(),
        Some("not-the-state-you-sent")
    );

    p.faults().set_callback_fault(Some(CallbackFault::MissingIssuer));
    let callback = login().await.unwrap();
    assert!(callback.param("iss").is_none());
    assert!(callback.param("code").is_some());

    p.faults().set_callback_fault(Some(CallbackFault::WrongIssuer));
    assert_ne!(login().await.unwrap().param("iss"), Some(p.issuer()));

    p.faults()
        .set_callback_fault(Some(CallbackFault::DuplicatedParameter));
    let codes = login()
        .await
        .unwrap()
        .params()
        .into_iter()
        .filter(|(n, _)| n == "code")
        .count();
    assert_eq!(codes, 2);

    p.faults().set_callback_fault(Some(CallbackFault::AccessDenied));
    let callback = login().await.unwrap();
    assert_eq!(callback.param("error").as_deref(), Some("access_denied"));
    assert!(callback.param("code").is_none());
    assert_eq!(callback.param("state").as_deref(), Some("state-123"));
}

#[tokio::test]
async fn oversized_json_bodies() {
    let p = start().await;
    p.faults().set_oversized_responses(true);
    let reply = get(&format!("{}/.well-known/openid-configuration", p.issuer())).await;
    assert!(reply.text.len() > 2 * 1024 * 1024);
    assert_eq!(reply.json()["issuer"], p.issuer(), "still valid JSON");
    p.faults().set_oversized_responses(false);
    let reply = get(&format!("{}/.well-known/openid-configuration", p.issuer())).await;
    assert!(reply.text.len() < 10_000);
}
