//! A session at its edges: ended while a refresh is in flight, a revocation that half fails,
//! and refresh answers that fail strict parsing after rotating the refresh token. Against a
//! small in-process provider whose token endpoint answers from a script and can be held open.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authing_oidc::flow::{Authenticated, PersistFuture, SavedSession, TokenPersistence};
use authing_oidc::{AuthenticationClient, Error, ExposeSecret, RefreshToken};
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};

/// One scripted answer of the token endpoint, optionally held until released.
struct Step {
    body: Value,
    hold: Option<oneshot::Receiver<()>>,
}

#[derive(Default)]
struct Provider {
    script: Mutex<VecDeque<Step>>,
    /// The `refresh_token` of every refresh grant received.
    refreshed_with: Mutex<Vec<String>>,
    /// Every token sent to the revocation endpoint.
    revoked: Mutex<Vec<String>>,
    /// Tokens whose revocation answers 503.
    revocation_fails_for: Mutex<Vec<String>>,
    token_request_arrived: Notify,
}

async fn token(State(p): State<Arc<Provider>>, Form(form): Form<Vec<(String, String)>>) -> Response {
    if let Some((_, rt)) = form.iter().find(|(k, _)| k == "refresh_token") {
        p.refreshed_with.lock().unwrap().push(rt.clone());
    }
    let step = p.script.lock().unwrap().pop_front();
    // notify_waiters, not notify_one: it stores no permit, so the fixture's own setup request
    // cannot wake a test that waits for a later request (a `Notified` created before the
    // request is woken even if not yet polled).
    p.token_request_arrived.notify_waiters();
    let Some(step) = step else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no scripted answer").into_response();
    };
    if let Some(hold) = step.hold {
        let _ = hold.await;
    }
    axum::Json(step.body).into_response()
}

async fn revocation(State(p): State<Arc<Provider>>, Form(form): Form<Vec<(String, String)>>) -> Response {
    let token = form
        .into_iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
        .unwrap_or_default();
    p.revoked.lock().unwrap().push(token.clone());
    if p.revocation_fails_for.lock().unwrap().contains(&token) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    StatusCode::OK.into_response()
}

struct Fixture {
    provider: Arc<Provider>,
    client: AuthenticationClient,
}

impl Fixture {
    async fn start() -> Fixture {
        let provider = Arc::new(Provider::default());
        let app = axum::Router::new()
            .route("/oidc/token", post(token))
            .route("/oidc/token/revocation", post(revocation))
            .with_state(provider.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = AuthenticationClient::builder()
            .app_id("app")
            .secret("app-secret")
            .app_host(url)
            .build()
            .unwrap();
        Fixture { provider, client }
    }

    fn answer(&self, body: Value) {
        self.provider
            .script
            .lock()
            .unwrap()
            .push_back(Step { body, hold: None });
    }

    /// The next answer waits until the returned sender is used (or dropped).
    fn answer_held(&self, body: Value) -> oneshot::Sender<()> {
        let (release, hold) = oneshot::channel();
        self.provider.script.lock().unwrap().push_back(Step {
            body,
            hold: Some(hold),
        });
        release
    }

    /// A session holding `at-1` and `rt-1` (its id_token is not verified: not what is tested).
    async fn session(&self) -> Authenticated {
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let id_token = format!(
            "{}.{}.",
            b64(json!({"alg": "RS256"})),
            b64(json!({"iss": self.client.issuer(), "aud": "app", "sub": "alice",
                "exp": 4_000_000_000u64, "iat": 1}))
        );
        self.answer(json!({"access_token": "at-1", "refresh_token": "rt-1",
            "token_type": "Bearer", "expires_in": 3600, "id_token": id_token}));
        let tokens = self
            .client
            .get_new_access_token_by_refresh_token(&RefreshToken::new("rt-0"))
            .await
            .unwrap();
        self.provider.refreshed_with.lock().unwrap().clear();
        Authenticated::insecure_from_unverified_tokens(self.client.clone(), tokens).unwrap()
    }

    fn revoked(&self) -> Vec<String> {
        self.provider.revoked.lock().unwrap().clone()
    }
}

#[derive(Default)]
struct Hook {
    saved_refresh_tokens: Mutex<Vec<String>>,
}

impl TokenPersistence for Hook {
    fn persist<'a>(&'a self, session: &'a SavedSession) -> PersistFuture<'a> {
        let rt = serde_json::to_value(session).unwrap()["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.saved_refresh_tokens.lock().unwrap().push(rt);
        Box::pin(async { Ok(()) })
    }
}

fn current_refresh_token(s: &Authenticated) -> String {
    s.refresh_token().unwrap().expose_secret().to_owned()
}

fn is_ended(result: &Result<authing_oidc::flow::SessionToken, Error>) -> bool {
    matches!(result, Err(Error::ReauthenticationRequired(_)))
}

/// `revoke()` while the provider is still answering a refresh: the session stays ended, the
/// persistence hook never sees the new tokens, and the new refresh token is revoked too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_during_a_refresh_is_not_undone() {
    let f = Fixture::start().await;
    let s = f.session().await;
    let hook = Arc::new(Hook::default());
    s.set_persistence(hook.clone());
    let release = f.answer_held(json!({"access_token": "at-2", "refresh_token": "rt-2",
        "token_type": "Bearer", "expires_in": 3600}));

    let arrived = f.provider.token_request_arrived.notified();
    let refreshing = tokio::spawn({
        let s = s.clone();
        async move { s.force_refresh().await }
    });
    tokio::time::timeout(Duration::from_secs(10), arrived)
        .await
        .expect("the refresh reached the provider");
    let revoking = tokio::spawn({
        let s = s.clone();
        async move { s.revoke().await }
    });
    // The session is ended as soon as revoke starts, while the refresh is still held open.
    tokio::time::timeout(Duration::from_secs(10), async {
        while !is_ended(&s.access_token().await) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("revoke ends the session");
    release.send(()).unwrap();

    let refreshed = tokio::time::timeout(Duration::from_secs(10), refreshing)
        .await
        .unwrap()
        .unwrap();
    assert!(is_ended(&refreshed), "{refreshed:?}");
    tokio::time::timeout(Duration::from_secs(10), revoking)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    assert!(is_ended(&s.access_token().await));
    assert!(
        !hook
            .saved_refresh_tokens
            .lock()
            .unwrap()
            .contains(&"rt-2".to_owned()),
        "the hook saw the new tokens as live"
    );
    let revoked = f.revoked();
    assert!(revoked.contains(&"rt-2".to_owned()), "{revoked:?}");
    assert!(revoked.contains(&"rt-1".to_owned()), "{revoked:?}");
}

/// The refresh token is revoked but the access token's revocation fails: the session is ended
/// all the same, and the error is reported.
#[tokio::test]
async fn a_half_failed_revoke_still_ends_the_session() {
    let f = Fixture::start().await;
    let s = f.session().await;
    f.provider
        .revocation_fails_for
        .lock()
        .unwrap()
        .push("at-1".to_owned());
    let e = s.revoke().await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    assert_eq!(f.revoked(), ["rt-1", "at-1"]);
    assert!(is_ended(&s.access_token().await));
    assert!(matches!(
        s.force_refresh().await,
        Err(Error::ReauthenticationRequired(_))
    ));
}

/// A 2xx refresh answer that rotates the refresh token but fails strict parsing: the error is
/// reported, and the rotated refresh token is kept, persisted, and used for the next refresh.
async fn rotated_refresh_token_survives(answer: Value) {
    let f = Fixture::start().await;
    let s = f.session().await;
    let hook = Arc::new(Hook::default());
    s.set_persistence(hook.clone());
    f.answer(answer.clone());
    let e = s.force_refresh().await.unwrap_err();
    assert!(matches!(e, Error::InvalidResponse { .. }), "{answer}: {e:?}");
    assert_eq!(current_refresh_token(&s), "rt-2", "{answer}");
    assert_eq!(
        hook.saved_refresh_tokens.lock().unwrap().as_slice(),
        ["rt-2"],
        "{answer}"
    );
    // The old access token is still valid and still handed out.
    assert_eq!(
        s.access_token().await.unwrap().access_token.expose_secret(),
        "at-1"
    );

    f.answer(
        json!({"access_token": "at-3", "refresh_token": "rt-3", "token_type": "Bearer",
        "expires_in": 3600}),
    );
    s.force_refresh().await.unwrap();
    assert_eq!(
        f.provider.refreshed_with.lock().unwrap().as_slice(),
        ["rt-1", "rt-2"],
        "{answer}"
    );
    assert_eq!(current_refresh_token(&s), "rt-3");
}

#[tokio::test]
async fn a_rotated_refresh_token_survives_a_negative_expires_in() {
    rotated_refresh_token_survives(json!({"access_token": "at-2", "refresh_token": "rt-2",
        "token_type": "Bearer", "expires_in": -1}))
    .await;
}

#[tokio::test]
async fn a_rotated_refresh_token_survives_a_missing_token_type() {
    rotated_refresh_token_survives(json!({"access_token": "at-2", "refresh_token": "rt-2",
        "expires_in": 3600}))
    .await;
}

#[tokio::test]
async fn a_rotated_refresh_token_survives_a_scope_array() {
    rotated_refresh_token_survives(json!({"access_token": "at-2", "refresh_token": "rt-2",
        "token_type": "Bearer", "expires_in": 3600, "scope": ["openid", "profile"]}))
    .await;
}
