//! Back-channel logout and signed answers against panva's oidc-provider (tests/interop), with the
//! plugins `backchannel.mjs` and `jwtresp.mjs`: real logout tokens posted by the provider to a
//! server of this test and verified by the library; signed userinfo and JWT introspection
//! answers verified through the library (docs/protocol.md §4.4, §4.5).

#[path = "support/panva.rs"]
#[allow(dead_code)]
mod panva;

use std::sync::{Arc, Mutex, OnceLock};

use authing_oidc::flow::{Authenticated, CallbackParams, Unauthorized};
use authing_oidc::{
    AuthMethod, AuthenticationClient, Error, LogoutToken, LogoutTokenClaims, LogoutTokenError,
    SigningAlgorithm,
};
use axum::extract::State;
use axum::http::StatusCode;
use panva::{CALLBACK, Callback, PanvaOptions, PanvaProvider};
use serde_json::json;

/// What our back-channel endpoint received: each raw token and the verifier's verdict.
#[derive(Default)]
struct Received {
    client: OnceLock<AuthenticationClient>,
    tokens: Mutex<Vec<(String, Result<LogoutTokenClaims, Error>)>>,
}

/// `POST /backchannel-logout` of this test's relying party: verify, answer as §2.8 says.
async fn backchannel(State(received): State<Arc<Received>>, body: String) -> StatusCode {
    let raw = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let Some(client) = received.client.get() else {
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    let verdict = client.verify_logout_token(&LogoutToken::new(raw.clone())).await;
    let status = if verdict.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    received.tokens.lock().unwrap().push((raw, verdict));
    status
}

/// Our endpoint on 127.0.0.1; its URL.
async fn relying_party(received: Arc<Received>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/backchannel-logout", axum::routing::post(backchannel))
        .with_state(received);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/backchannel-logout")
}

fn code_client(client_id: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut client = json!({
        "client_id": client_id,
        "client_secret": format!("{client_id}-secret-0123456789abcdef0123456789"),
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [CALLBACK],
        "post_logout_redirect_uris": [CALLBACK],
        "token_endpoint_auth_method": "client_secret_post",
        "id_token_signed_response_alg": "RS256",
    });
    for (k, v) in extra.as_object().unwrap() {
        client[k] = v.clone();
    }
    client
}

async fn discovered(
    provider: &PanvaProvider,
    client_id: &str,
    extra: impl FnOnce(authing_oidc::AuthenticationClientBuilder) -> authing_oidc::AuthenticationClientBuilder,
) -> AuthenticationClient {
    let secret = provider.secret(client_id);
    let builder = AuthenticationClient::builder()
        .app_id(client_id)
        .secret(secret)
        .redirect_uri(CALLBACK)
        .token_endpoint_auth_method(AuthMethod::ClientSecretPost)
        .introspection_endpoint_auth_method(AuthMethod::ClientSecretPost)
        .revocation_endpoint_auth_method(AuthMethod::ClientSecretPost);
    extra(builder).discover(provider.issuer()).await.unwrap()
}

fn params(callback: &Callback) -> CallbackParams {
    match callback {
        Callback::Redirect(url) => CallbackParams::from_url(url),
        Callback::FormPost { body, .. } => CallbackParams::from_form_post(body),
    }
    .unwrap()
}

/// The typed flow in `browser` (which keeps the provider's session cookie).
async fn sign_in(browser: &mut panva::Browser, client: &AuthenticationClient, login: &str) -> Authenticated {
    let (url, pending) = Unauthorized::new(client.clone()).scope("openid").start().unwrap();
    let callback = browser.login(url.as_str(), login).await.unwrap();
    pending.complete(params(&callback)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_from_another_client_is_delivered_to_our_endpoint_and_verified() {
    let received = Arc::new(Received::default());
    let endpoint = relying_party(received.clone()).await;
    let provider = PanvaProvider::start(PanvaOptions::default().plugin("plugins/backchannel.mjs").client(
        code_client(
            "rp-bcl",
            json!({"backchannel_logout_uri": endpoint, "backchannel_logout_session_required": true}),
        ),
    ))
    .await;
    let ours = discovered(&provider, "rp-bcl", |b| b).await;
    assert!(received.client.set(ours.clone()).is_ok());
    let other = discovered(&provider, "rp-rs256", |b| b).await;

    // alice logs into our client, then (single sign-on, same browser) into another one.
    let mut browser = provider.browser();
    let session = sign_in(&mut browser, &ours, "alice").await;
    let sid = session
        .sid()
        .expect("backchannel_logout_session_required puts sid in the id_token");
    // The sid survives saving and restoring the session (through JSON, as a store keeps it).
    let saved = serde_json::to_string(&session.export_with_secrets()).unwrap();
    let restored =
        Authenticated::restore_from_trusted_store(ours.clone(), serde_json::from_str(&saved).unwrap())
            .unwrap();
    assert_eq!(restored.sid().as_deref(), Some(sid.as_str()));
    let elsewhere = sign_in(&mut browser, &other, "alice").await;

    // RP-initiated logout at the other client; the provider tells ours over the back channel
    // before it finishes the logout.
    let url = elsewhere.logout_url(CALLBACK, Some("bye")).unwrap();
    let end = browser.follow(url.as_str()).await.unwrap();
    assert!(end.url().starts_with(CALLBACK), "{end:?}");

    let tokens = std::mem::take(&mut *received.tokens.lock().unwrap());
    assert_eq!(tokens.len(), 1, "one delivery to our client: {}", provider.log());
    let (raw, verdict) = &tokens[0];
    let claims = verdict
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}: {}", provider.log()));
    assert_eq!(claims.iss, provider.issuer());
    assert_eq!(claims.sub.as_deref(), Some("alice"));
    assert_eq!(claims.sid.as_deref(), Some(sid.as_str()));
    assert!(!claims.jti.is_empty());
    assert!(provider.log().contains("backchannel.success client=rp-bcl"));
    // The provider's token again is a replay.
    assert!(matches!(
        ours.verify_logout_token(&LogoutToken::new(raw.clone())).await,
        Err(Error::LogoutToken(LogoutTokenError::Replayed))
    ));
    // The same token at another client (another aud) is refused.
    assert!(matches!(
        other.verify_logout_token(&LogoutToken::new(raw.clone())).await,
        Err(Error::LogoutToken(LogoutTokenError::Jwt(
            authing_oidc::IdTokenError::AudienceMismatch
        )))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_userinfo_and_jwt_introspection_from_panva_verify() {
    let provider = PanvaProvider::start(PanvaOptions::default().plugin("plugins/jwtresp.mjs").client(
        code_client(
            "rp-jwtresp",
            json!({"userinfo_signed_response_alg": "RS256", "introspection_signed_response_alg": "RS256"}),
        ),
    ))
    .await;
    let registered = discovered(&provider, "rp-jwtresp", |b| {
        b.userinfo_signed_response_alg(SigningAlgorithm::RS256)
            .introspection_signed_response_alg(SigningAlgorithm::RS256)
    })
    .await;
    let mut browser = provider.browser();
    let session = sign_in(&mut browser, &registered, "alice").await;
    // Userinfo: application/jwt, verified, and the sub rule of the typed flow holds.
    let info = session.userinfo().await.unwrap();
    assert_eq!(info.sub, "alice");
    // Introspection: asked for and answered as application/token-introspection+jwt.
    let token = session.access_token().await.unwrap().access_token;
    let introspection = registered.introspect_token(&token).await.unwrap();
    assert!(introspection.active);
    assert_eq!(introspection.sub.as_deref(), Some("alice"));
    assert_eq!(introspection.client_id.as_deref(), Some("rp-jwtresp"));

    // The same client configured without the registration still verifies the JWT userinfo by
    // its content type, and gets JSON introspection (it does not ask for the JWT).
    let plain = discovered(&provider, "rp-jwtresp", |b| b).await;
    assert_eq!(
        plain.get_user_info_by_access_token(&token).await.unwrap().sub,
        "alice"
    );
    assert!(plain.introspect_token(&token).await.unwrap().active);

    // A client registered for signed answers refuses the provider's plain JSON.
    let json_client = discovered(&provider, "rp-rs256", |b| {
        b.userinfo_signed_response_alg(SigningAlgorithm::RS256)
    })
    .await;
    let plain_session = sign_in(&mut provider.browser(), &json_client, "bob").await;
    assert!(matches!(
        plain_session.userinfo().await,
        Err(Error::UnsignedResponse { .. })
    ));
}
