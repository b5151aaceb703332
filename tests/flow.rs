//! The typed login flow end to end against the embedded development provider,
//! in all three response modes, and one negative test per check of docs/protocol.md §3.

#[path = "support/mock.rs"]
mod mock;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use authing_oidc::clock::ManualClock;
use authing_oidc::flow::{
    Authenticated, CallbackParams, PendingCallback, SavedPendingCallback, Unauthorized,
};
use authing_oidc::{AuthMethod, AuthenticationClient, Error, IdTokenError, ResponseMode};
use authing_oidc_dev_provider::{
    AuthorizationResponse, CallbackFault, DevProvider, DevProviderConfig, IdTokenFault, RunningDevProvider,
    cancel_without_browser, login_without_browser,
};

const REDIRECT: &str = "http://127.0.0.1:3000/callback";

async fn provider() -> RunningDevProvider {
    DevProvider::start(DevProviderConfig::default()).await.unwrap()
}

fn client_for(p: &RunningDevProvider, app_id: &str) -> AuthenticationClient {
    let reg = p.client(app_id).unwrap();
    let method = match reg.token_endpoint_auth_method.as_str() {
        "client_secret_basic" => AuthMethod::ClientSecretBasic,
        "none" => AuthMethod::None,
        _ => AuthMethod::ClientSecretPost,
    };
    let mut b = AuthenticationClient::builder()
        .app_id(app_id)
        .app_host(p.app_host())
        .redirect_uri(REDIRECT)
        .token_endpoint_auth_method(method)
        .introspection_endpoint_auth_method(method)
        .revocation_endpoint_auth_method(method);
    if let Some(secret) = &reg.secret {
        b = b.secret(secret.as_str());
    }
    b.build().unwrap()
}

fn callback_of(response: &AuthorizationResponse) -> CallbackParams {
    match response {
        AuthorizationResponse::Redirect(url) => CallbackParams::from_url(url.as_str()).unwrap(),
        AuthorizationResponse::FormPost { body, .. } => CallbackParams::from_form_post(body).unwrap(),
        other => panic!("unexpected {other:?}"),
    }
}

async fn login(url: &url::Url) -> CallbackParams {
    callback_of(
        &login_without_browser(url.as_str(), "alice", "alice-password")
            .await
            .unwrap(),
    )
}

async fn full_login(p: &RunningDevProvider, app_id: &str, mode: Option<ResponseMode>) -> Authenticated {
    let mut start = Unauthorized::new(client_for(p, app_id)).scope("openid profile email offline_access");
    if let Some(m) = mode {
        start = start.response_mode(m);
    }
    let (url, pending) = start.start().unwrap();
    let callback = login(&url).await;
    assert_eq!(callback.mode(), mode.unwrap_or(ResponseMode::Query));
    pending.complete(callback).await.unwrap()
}

#[tokio::test]
async fn full_flow_in_every_response_mode() {
    let p = provider().await;
    for mode in [
        None,
        Some(ResponseMode::Query),
        Some(ResponseMode::Fragment),
        Some(ResponseMode::FormPost),
    ] {
        let session = full_login(&p, "dev-app", mode).await;
        let claims = session.claims();
        assert_eq!(claims.iss, p.issuer());
        assert_eq!(claims.aud, vec!["dev-app".to_owned()]);
        let user = session.userinfo().await.unwrap();
        assert_eq!(user.sub, claims.sub);
        assert_eq!(user.standard.email.as_deref(), Some("alice@example.com"));
        assert!(session.introspect().await.unwrap().active);
        assert!(session.refresh_token().is_some());
        let logout = session.logout_url("http://127.0.0.1:3000/", Some("bye")).unwrap();
        assert_eq!(logout.path(), "/oidc/session/end");
        session.revoke().await.unwrap();
        // After revocation the session is over and its tokens are dead at the provider.
        assert!(matches!(
            session.access_token().await,
            Err(Error::ReauthenticationRequired(_))
        ));
    }
}

#[tokio::test]
async fn full_flow_with_basic_auth_and_hs256_and_with_a_public_client() {
    let p = provider().await;
    for app in ["dev-app-basic", "dev-app-public"] {
        let session = full_login(&p, app, None).await;
        assert_eq!(session.claims().aud, vec![app.to_owned()]);
        assert_eq!(session.userinfo().await.unwrap().sub, session.subject());
    }
}

#[tokio::test]
async fn the_flow_always_asks_for_openid_and_pkce_s256() {
    let p = provider().await;
    let (url, _pending) = Unauthorized::new(client_for(&p, "dev-app"))
        .scope("profile")
        .start()
        .unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["scope"], "openid profile");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(q["state"].len() >= 22 && q["nonce"].len() >= 22);
}

// ------------------------------------------------------------ negative: the callback

/// Starts a login, logs in with `fault` switched on, completes, and checks that
/// no code was exchanged when the check is one that needs no request.
async fn complete_with_callback_fault(fault: CallbackFault) -> (Error, u64) {
    let p = provider().await;
    p.faults().set_callback_fault(Some(fault));
    let (url, pending) = Unauthorized::new(client_for(&p, "dev-app")).start().unwrap();
    let response = login_without_browser(url.as_str(), "alice", "alice-password")
        .await
        .unwrap();
    let result = match response {
        AuthorizationResponse::Redirect(u) => match CallbackParams::from_url(u.as_str()) {
            Ok(c) => pending.complete(c).await,
            Err(e) => Err(e),
        },
        other => panic!("{other:?}"),
    };
    (result.unwrap_err(), p.request_count("/oidc/token"))
}

#[tokio::test]
async fn state_mismatch_is_refused_before_any_exchange() {
    let (e, token_requests) = complete_with_callback_fault(CallbackFault::WrongState).await;
    assert!(matches!(e, Error::StateMismatch), "{e:?}");
    assert_eq!(token_requests, 0);
}

#[tokio::test]
async fn missing_state_is_refused() {
    let p = provider().await;
    let (url, pending) = Unauthorized::new(client_for(&p, "dev-app")).start().unwrap();
    let response = login_without_browser(url.as_str(), "alice", "alice-password")
        .await
        .unwrap();
    let without_state: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(response.params().into_iter().filter(|(k, _)| k != "state"))
        .finish();
    let e = pending
        .complete(CallbackParams::from_query(&without_state).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::StateMismatch), "{e:?}");
    assert_eq!(p.request_count("/oidc/token"), 0);
}

/// A cross-site request to the callback with another state (or iss, or in another response
/// mode) is checked without consuming the pending login: the real callback still completes it.
#[tokio::test]
async fn a_callback_not_for_this_login_leaves_it_pending() {
    let p = provider().await;
    let (url, pending) = Unauthorized::new(client_for(&p, "dev-app")).start().unwrap();
    let real = login(&url).await;
    let with = |name: &str, value: &str| {
        let pairs = real_pairs(&real)
            .into_iter()
            .map(|(k, v)| if k == name { (k, value.to_owned()) } else { (k, v) });
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        query
    };
    let forged = CallbackParams::from_query(&with("state", "forged")).unwrap();
    assert!(matches!(
        pending.check_binding(&forged),
        Err(Error::StateMismatch)
    ));
    let no_state = CallbackParams::from_query("code=stolen").unwrap();
    assert!(matches!(
        pending.check_binding(&no_state),
        Err(Error::StateMismatch)
    ));
    let other_iss = CallbackParams::from_query(&with("iss", "https://evil.example")).unwrap();
    assert!(matches!(
        pending.check_binding(&other_iss),
        Err(Error::IssMismatch(_))
    ));
    let posted = CallbackParams::from_form_post(&with("code", "x")).unwrap();
    assert!(matches!(
        pending.check_binding(&posted),
        Err(Error::MalformedCallback(_))
    ));
    assert_eq!(p.request_count("/oidc/token"), 0);
    // The real callback passes the same check, and still completes the login.
    pending.check_binding(&real).unwrap();
    let session = pending.complete(real).await.unwrap();
    assert_eq!(session.claims().sub, "dev-user-alice");
}

fn real_pairs(callback: &CallbackParams) -> Vec<(String, String)> {
    ["code", "state", "iss"]
        .into_iter()
        .filter_map(|k| callback.get(k).map(|v| (k.to_owned(), v.to_owned())))
        .collect()
}

#[tokio::test]
async fn iss_mismatch_is_refused() {
    let (e, token_requests) = complete_with_callback_fault(CallbackFault::WrongIssuer).await;
    assert!(matches!(e, Error::IssMismatch(_)), "{e:?}");
    assert_eq!(token_requests, 0);
}

#[tokio::test]
async fn missing_iss_is_refused_when_discovery_promised_it() {
    let p = provider().await;
    p.faults().set_callback_fault(Some(CallbackFault::MissingIssuer));
    let client = AuthenticationClient::builder()
        .app_id("dev-app")
        .secret("dev-app-secret")
        .redirect_uri(REDIRECT)
        .discover(&p.issuer())
        .await
        .unwrap();
    assert!(
        client
            .provider_metadata()
            .unwrap()
            .authorization_response_iss_parameter_supported
    );
    let (url, pending) = Unauthorized::new(client).start().unwrap();
    let e = pending.complete(login(&url).await).await.unwrap_err();
    assert!(matches!(e, Error::IssMismatch(_)), "{e:?}");
    assert_eq!(p.request_count("/oidc/token"), 0);
}

#[tokio::test]
async fn missing_iss_is_accepted_for_the_authing_preset() {
    // Without discovery nothing promised iss: it is checked only when present.
    let p = provider().await;
    p.faults().set_callback_fault(Some(CallbackFault::MissingIssuer));
    let (url, pending) = Unauthorized::new(client_for(&p, "dev-app")).start().unwrap();
    let callback = login(&url).await;
    assert!(callback.get("iss").is_none());
    pending.complete(callback).await.unwrap();
}

#[tokio::test]
async fn duplicated_parameters_are_refused() {
    let (e, token_requests) = complete_with_callback_fault(CallbackFault::DuplicatedParameter).await;
    assert!(
        matches!(&e, Error::MalformedCallback(m) if m.contains("repeated")),
        "{e:?}"
    );
    assert_eq!(token_requests, 0);
}

#[tokio::test]
async fn an_error_callback_is_a_typed_authorization_error() {
    let (e, token_requests) = complete_with_callback_fault(CallbackFault::AccessDenied).await;
    match &e {
        Error::Authorization(a) => assert_eq!(a.error, "access_denied"),
        other => panic!("{other:?}"),
    }
    assert_eq!(e.oauth_error(), Some("access_denied"));
    assert_eq!(token_requests, 0);
}

#[tokio::test]
async fn pressing_cancel_at_the_provider_is_access_denied() {
    let p = provider().await;
    let (url, pending) = Unauthorized::new(client_for(&p, "dev-app")).start().unwrap();
    let response = cancel_without_browser(url.as_str()).await.unwrap();
    let e = pending.complete(callback_of(&response)).await.unwrap_err();
    assert!(
        matches!(&e, Error::Authorization(a) if a.error == "access_denied"),
        "{e:?}"
    );
    assert!(e.is_access_denied());
}

#[tokio::test]
async fn a_callback_in_another_response_mode_is_refused() {
    let p = provider().await;
    let (url, pending) = Unauthorized::new(client_for(&p, "dev-app"))
        .response_mode(ResponseMode::FormPost)
        .start()
        .unwrap();
    let response = login_without_browser(url.as_str(), "alice", "alice-password")
        .await
        .unwrap();
    let AuthorizationResponse::FormPost { body, .. } = response else {
        panic!("{response:?}")
    };
    // The same parameters arriving in a query string are not what this login asked for.
    let e = pending
        .complete(CallbackParams::from_query(&body).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::MalformedCallback(_)), "{e:?}");
    assert_eq!(p.request_count("/oidc/token"), 0);
}

#[tokio::test]
async fn an_expired_pending_login_is_refused() {
    let p = provider().await;
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let client = AuthenticationClient::builder()
        .app_id("dev-app")
        .secret("dev-app-secret")
        .app_host(p.app_host())
        .redirect_uri(REDIRECT)
        .clock(clock.clone())
        .build()
        .unwrap();
    let (url, pending) = Unauthorized::new(client).start().unwrap();
    let callback = login(&url).await;
    clock.advance(Duration::from_secs(10 * 60 + 1));
    let e = pending.complete(callback).await.unwrap_err();
    assert!(matches!(e, Error::PendingExpired { max_age_secs: 600 }), "{e:?}");
    assert_eq!(p.request_count("/oidc/token"), 0);
}

// ------------------------------------------------------------ negative: exchange and id_token

#[tokio::test]
async fn nonce_mismatch_is_refused() {
    let p = provider().await;
    p.faults().set_id_token_fault(Some(IdTokenFault::WrongNonce));
    let (url, pending) = Unauthorized::new(client_for(&p, "dev-app")).start().unwrap();
    let e = pending.complete(login(&url).await).await.unwrap_err();
    assert!(matches!(e, Error::IdToken(IdTokenError::NonceMismatch)), "{e:?}");
}

#[tokio::test]
async fn a_bad_id_token_signature_is_refused() {
    let p = provider().await;
    p.faults().set_id_token_fault(Some(IdTokenFault::BadSignature));
    let (url, pending) = Unauthorized::new(client_for(&p, "dev-app")).start().unwrap();
    let e = pending.complete(login(&url).await).await.unwrap_err();
    assert!(matches!(e, Error::IdToken(IdTokenError::BadSignature)), "{e:?}");
}

#[tokio::test]
async fn a_code_is_exchanged_once() {
    let p = provider().await;
    let client = client_for(&p, "dev-app");
    let (url, pending) = Unauthorized::new(client.clone()).start().unwrap();
    let saved = pending.export_with_secrets();
    let callback = login(&url).await;
    pending.complete(callback.clone()).await.unwrap();
    // A replayed callback (same pending login restored from a store, same code) fails at the provider.
    let replay = PendingCallback::restore_from_trusted_store(client, saved).unwrap();
    let e = replay.complete(callback).await.unwrap_err();
    assert_eq!(e.oauth_error(), Some("invalid_grant"), "{e:?}");
}

#[tokio::test]
async fn a_token_response_without_id_token_is_refused() {
    let server = mock::MockServer::start().await;
    server.on(
        "/oidc/token",
        mock::Canned::json(
            200,
            serde_json::json!({"access_token": "a", "token_type": "Bearer"}),
        ),
    );
    let client = AuthenticationClient::builder()
        .app_id("app")
        .secret("s")
        .app_host(server.url())
        .redirect_uri(REDIRECT)
        .build()
        .unwrap();
    let (_url, pending) = Unauthorized::new(client).start().unwrap();
    let saved = serde_json::to_value(pending.export_with_secrets()).unwrap();
    let query = format!("code=c&state={}", saved["state"].as_str().unwrap());
    let e = pending
        .complete(CallbackParams::from_query(&query).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidResponse { reason, .. } if reason.contains("id_token")),
        "{e:?}"
    );
}

// ------------------------------------------------------------ saving and restoring

#[tokio::test]
async fn a_pending_login_survives_a_session_store() {
    let p = provider().await;
    let client = client_for(&p, "dev-app");
    let (url, pending) = Unauthorized::new(client.clone())
        .response_mode(ResponseMode::FormPost)
        .start()
        .unwrap();
    let stored = serde_json::to_string(&pending.export_with_secrets()).unwrap();
    drop(pending);
    let callback = login(&url).await;
    let saved: SavedPendingCallback = serde_json::from_str(&stored).unwrap();
    let restored = PendingCallback::restore_from_trusted_store(client, saved).unwrap();
    let session = restored.complete(callback).await.unwrap();
    assert!(!session.subject().is_empty());
    // Debug of the pending login and of what was saved shows no secret.
    let shown = format!(
        "{:?}",
        serde_json::from_str::<SavedPendingCallback>(&stored).unwrap()
    );
    let raw: serde_json::Value = serde_json::from_str(&stored).unwrap();
    for field in ["state", "nonce", "code_verifier"] {
        assert!(
            !shown.contains(raw[field].as_str().unwrap()),
            "{field} leaks through Debug"
        );
    }
}

#[tokio::test]
async fn a_saved_pending_login_with_an_empty_state_is_refused() {
    let p = provider().await;
    let client = client_for(&p, "dev-app");
    let (_url, pending) = Unauthorized::new(client.clone()).start().unwrap();
    let mut saved = serde_json::to_value(pending.export_with_secrets()).unwrap();
    saved["state"] = serde_json::json!("");
    let saved: SavedPendingCallback = serde_json::from_value(saved).unwrap();
    let e = PendingCallback::restore_from_trusted_store(client, saved).unwrap_err();
    assert!(matches!(e, Error::Restore(_)), "{e:?}");
}

#[tokio::test]
async fn a_pending_login_for_another_client_is_refused() {
    let p = provider().await;
    let (_url, pending) = Unauthorized::new(client_for(&p, "dev-app")).start().unwrap();
    let saved = pending.export_with_secrets();
    let e = PendingCallback::restore_from_trusted_store(client_for(&p, "dev-app-basic"), saved).unwrap_err();
    assert!(matches!(e, Error::Restore(_)), "{e:?}");
}

#[tokio::test]
async fn a_session_survives_a_restart() {
    let p = provider().await;
    let session = full_login(&p, "dev-app", None).await;
    let stored = serde_json::to_string(&session.export_with_secrets()).unwrap();
    drop(session);
    let restored = Authenticated::restore_from_trusted_store(
        client_for(&p, "dev-app"),
        serde_json::from_str(&stored).unwrap(),
    )
    .unwrap();
    assert_eq!(restored.userinfo().await.unwrap().sub, restored.subject());
    let other = Authenticated::restore_from_trusted_store(
        client_for(&p, "dev-app-basic"),
        serde_json::from_str(&stored).unwrap(),
    );
    assert!(matches!(other, Err(Error::Restore(_))));
}

#[tokio::test]
async fn debug_of_every_state_shows_no_secret() {
    let p = provider().await;
    let client = client_for(&p, "dev-app");
    let (url, pending) = Unauthorized::new(client)
        .scope("openid email offline_access")
        .start()
        .unwrap();
    let saved = serde_json::to_value(pending.export_with_secrets()).unwrap();
    let shown = format!("{pending:?}");
    for field in ["state", "nonce", "code_verifier"] {
        assert!(
            !shown.contains(saved[field].as_str().unwrap()),
            "{field}: {shown}"
        );
    }
    let callback = login(&url).await;
    let code = callback.get("code").unwrap().to_owned();
    assert!(!format!("{callback:?}").contains(&code));
    let session = pending.complete(callback).await.unwrap();
    let exported = serde_json::to_value(session.export_with_secrets()).unwrap();
    let shown = format!("{session:?} {:?}", session.export_with_secrets());
    for field in ["access_token", "refresh_token", "id_token"] {
        assert!(
            !shown.contains(exported[field].as_str().unwrap()),
            "{field}: {shown}"
        );
    }
    assert!(!shown.contains("alice@example.com"));
}
