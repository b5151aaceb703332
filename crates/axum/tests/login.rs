//! The login router and extractors driven in-process (`tower::ServiceExt::oneshot`) against the
//! embedded development provider, with a cookie-keeping client that follows redirects by hand.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authing_oidc::flow::SavedSession;
use authing_oidc::store::{
    Lease, LeaseOptions, MemoryStore as TokenMemory, SaveCondition, Saved, SessionStore, StoreFuture,
};
use authing_oidc::{AuthenticationClient, ResponseMode};
use authing_oidc_axum::{MaybeUser, OidcLogin, SESSION_COOKIE, User, session_layer};
use authing_oidc_dev_provider::{
    AuthorizationResponse, DevProvider, DevProviderConfig, RunningDevProvider, login_without_browser,
};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode, header};
use axum::routing::get;
use tower::ServiceExt as _;
use tower_sessions::MemoryStore;

const REDIRECT_URI: &str = "http://127.0.0.1:3000/callback";

struct Site {
    router: Router,
    provider: RunningDevProvider,
}

async fn site(mode: ResponseMode) -> Site {
    site_on(mode, false).await
}

async fn site_on(mode: ResponseMode, https: bool) -> Site {
    site_with(mode, https, None).await
}

async fn site_with(
    mode: ResponseMode,
    https: bool,
    tokens: Option<Arc<dyn authing_oidc::store::SessionStore>>,
) -> Site {
    let provider = DevProvider::start(DevProviderConfig::default()).await.unwrap();
    let secret = provider.client("dev-app").unwrap().secret.clone().unwrap();
    let client = AuthenticationClient::builder()
        .app_id("dev-app")
        .secret(secret)
        .app_host(provider.app_host())
        .redirect_uri(REDIRECT_URI)
        .build()
        .unwrap();
    let pages = Router::new()
        .route(
            "/private",
            get(|user: User| async move { format!("hello {}", user.subject()) }),
        )
        .route(
            "/maybe",
            get(|MaybeUser(user): MaybeUser| async move {
                user.map_or_else(
                    || "anonymous".to_owned(),
                    |u| format!("signed in as {}", u.subject()),
                )
            }),
        )
        .route(
            "/token",
            get(|user: User| async move {
                let token = user.access_token().await.unwrap();
                format!("token valid: {}", token.expires_in.is_some())
            }),
        );
    let mut login = OidcLogin::new(client)
        .response_mode(mode)
        .post_logout_redirect_uri("http://127.0.0.1:3000/");
    if let Some(tokens) = tokens {
        login = login.token_store(tokens, LeaseOptions::default()).unwrap();
    }
    let router = login
        .install(pages)
        .layer(session_layer(MemoryStore::default(), https));
    Site { router, provider }
}

/// A browser: keeps the session cookie, follows nothing by itself.
struct Browser {
    router: Router,
    cookie: Option<String>,
}

impl Browser {
    fn new(site: &Site) -> Self {
        Browser {
            router: site.router.clone(),
            cookie: None,
        }
    }

    async fn send(&mut self, method: Method, uri: &str, body: Option<&str>, html: bool) -> Response<Body> {
        let mut request = Request::builder().method(method).uri(uri);
        if html {
            request = request.header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8");
        } else {
            request = request.header(header::ACCEPT, "application/json");
        }
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body.to_owned())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        for set in response.headers().get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap();
            if pair.starts_with(&format!("{SESSION_COOKIE}=")) {
                let removed = set.contains("Max-Age=0") || pair.ends_with('=');
                if !removed {
                    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
                    assert!(!set.contains("Secure"), "plain http here: {set}");
                }
                self.cookie = (!removed).then(|| pair.to_owned());
            }
        }
        response
    }

    async fn get(&mut self, uri: &str) -> Response<Body> {
        self.send(Method::GET, uri, None, true).await
    }

    /// `/login?return_to=…` up to the provider's answer, signed in as alice.
    async fn sign_in_at_provider(&mut self, login_uri: &str) -> AuthorizationResponse {
        let response = self.get(login_uri).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        login_without_browser(&location(&response), "alice", "alice-password")
            .await
            .unwrap()
    }

    /// Delivers the provider's answer as the browser would (form_post: cross-site, without the
    /// cookie, then the relay); the final answer.
    async fn deliver(&mut self, answer: &AuthorizationResponse) -> Response<Body> {
        match answer {
            AuthorizationResponse::Redirect(url) => {
                self.get(&format!("{}?{}", url.path(), url.query().unwrap_or("")))
                    .await
            }
            AuthorizationResponse::FormPost { action, body } => {
                let kept = self.cookie.take();
                let relay = self.send(Method::POST, action.path(), Some(body), true).await;
                assert_eq!(relay.status(), StatusCode::OK);
                let page = text(relay).await;
                assert!(page.contains(r#"action="/callback?relayed=1""#), "{page}");
                self.cookie = kept;
                self.send(Method::POST, "/callback?relayed=1", Some(body), true)
                    .await
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }

    /// A full login from `login_uri`; where the browser is sent at the end.
    async fn login(&mut self, login_uri: &str) -> String {
        let answer = self.sign_in_at_provider(login_uri).await;
        let before = self.cookie.clone();
        let done = self.deliver(&answer).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER, "{}", text(done).await);
        assert_ne!(self.cookie, before, "the session id is rotated at login");
        location(&done)
    }
}

fn location(response: &Response<Body>) -> String {
    response.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

async fn text(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn full_login_returns_to_start(mode: ResponseMode) {
    let site = site(mode).await;
    let mut browser = Browser::new(&site);
    let first = browser.get("/private?tab=2").await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let login = location(&first);
    assert_eq!(login, "/login?return_to=%2Fprivate%3Ftab%3D2");
    assert_eq!(browser.login(&login).await, "/private?tab=2");
    let page = browser.get("/private?tab=2").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(text(page).await.starts_with("hello "));
    let token = browser.get("/token").await;
    assert_eq!(text(token).await, "token valid: true");
    // Signed in already: /login goes straight to return_to, without a trip to the provider.
    let again = browser.get("/login?return_to=%2Fprivate").await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&again), "/private");
}

#[tokio::test]
async fn query_login_returns_to_where_it_started() {
    full_login_returns_to_start(ResponseMode::Query).await;
}

#[tokio::test]
async fn form_post_login_goes_through_the_relay_and_returns() {
    full_login_returns_to_start(ResponseMode::FormPost).await;
}

#[tokio::test]
async fn every_open_redirect_is_refused() {
    let site = site(ResponseMode::Query).await;
    for bad in [
        "https%3A%2F%2Fevil.example%2F",
        "%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "%5C%5Cevil.example",
        "javascript%3Aalert(1)",
        "%2F%09%2Fevil.example",
        "%2F%0D%0ASet-Cookie%3Ax",
        "evil.example",
    ] {
        let mut browser = Browser::new(&site);
        assert_eq!(
            browser.login(&format!("/login?return_to={bad}")).await,
            "/",
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_wrong_state_callback_keeps_the_pending_login() {
    let site = site(ResponseMode::Query).await;
    let mut browser = Browser::new(&site);
    let answer = browser.sign_in_at_provider("/login?return_to=%2Fprivate").await;
    let AuthorizationResponse::Redirect(url) = &answer else {
        panic!("query mode")
    };
    let state = answer.param("state").unwrap();
    let forged = url
        .query()
        .unwrap()
        .replace(&format!("state={state}"), "state=forged");
    assert_ne!(forged, url.query().unwrap());
    let refused = browser.get(&format!("/callback?{forged}")).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = text(refused).await;
    assert!(page.contains("does not match"), "{page}");
    assert!(
        !page.contains(&answer.param("code").unwrap()),
        "the code is not echoed"
    );
    // The real callback still completes the login.
    let done = browser.deliver(&answer).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/private");
    // A replay of it finds no pending login.
    let replay = browser.deliver(&answer).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn logout_clears_the_session_even_when_revocation_fails() {
    let site = site(ResponseMode::Query).await;
    let issuer = site.provider.issuer().to_owned();
    let mut browser = Browser::new(&site);
    browser.login("/login").await;
    assert_eq!(
        browser.send(Method::GET, "/private", None, false).await.status(),
        StatusCode::OK
    );
    // The provider is gone: revocation fails with a transport error.
    site.provider.shutdown().await;
    let out = browser.send(Method::POST, "/logout", None, true).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(location(&out).starts_with(&issuer), "{}", location(&out));
    assert_eq!(
        browser.send(Method::GET, "/private", None, false).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(text(browser.get("/maybe").await).await, "anonymous");
}

/// A token store that remembers the keys saved under, over a memory store.
#[derive(Default)]
struct Recording {
    inner: TokenMemory,
    keys: Mutex<BTreeSet<String>>,
}

impl SessionStore for Recording {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<SavedSession>> {
        self.inner.load(key)
    }
    fn save<'a>(
        &'a self,
        key: &'a str,
        session: &'a SavedSession,
        condition: SaveCondition,
    ) -> StoreFuture<'a, Saved> {
        self.keys.lock().unwrap().insert(key.to_owned());
        self.inner.save(key, session, condition)
    }
    fn try_lease<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, Option<Lease>> {
        self.inner.try_lease(key, ttl)
    }
    fn release<'a>(&'a self, key: &'a str, lease: Lease) -> StoreFuture<'a, ()> {
        self.inner.release(key, lease)
    }
    fn remove_session<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        SessionStore::remove_session(&self.inner, key)
    }
}

#[tokio::test]
async fn logout_deletes_the_token_stores_copy() {
    let tokens = Arc::new(Recording::default());
    let site = site_with(ResponseMode::Query, false, Some(tokens.clone())).await;
    let mut browser = Browser::new(&site);
    browser.login("/login").await;
    assert_eq!(
        browser.send(Method::GET, "/private", None, false).await.status(),
        StatusCode::OK
    );
    let keys: Vec<String> = tokens.keys.lock().unwrap().iter().cloned().collect();
    assert_eq!(keys.len(), 1, "the login's tokens were stored once: {keys:?}");
    assert!(tokens.load(&keys[0]).await.unwrap().is_some());
    let out = browser.send(Method::POST, "/logout", None, true).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(
        tokens.load(&keys[0]).await.unwrap().is_none(),
        "no copy of the revoked tokens is left in the token store"
    );
}

#[tokio::test]
async fn user_redirects_html_and_refuses_api_requests_and_maybe_user_tells() {
    let site = site(ResponseMode::Query).await;
    let mut browser = Browser::new(&site);
    let html = browser.get("/private").await;
    assert_eq!(html.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&html), "/login?return_to=%2Fprivate");
    let api = browser.send(Method::GET, "/private", None, false).await;
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(text(browser.get("/maybe").await).await, "anonymous");
    browser.login("/login").await;
    let signed_in = text(browser.get("/maybe").await).await;
    assert!(signed_in.starts_with("signed in as "), "{signed_in}");
    assert_eq!(
        browser.send(Method::GET, "/private", None, false).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_oversized_callback_body_is_refused_before_parsing() {
    let site = site(ResponseMode::FormPost).await;
    let mut browser = Browser::new(&site);
    let body = format!(
        "code=x&state={}",
        "a".repeat(authing_oidc_axum::CALLBACK_BODY_LIMIT)
    );
    let response = browser.send(Method::POST, "/callback", Some(&body), true).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn the_session_cookie_is_secure_on_https() {
    let site = site_on(ResponseMode::Query, true).await;
    let request = Request::get("/login").body(Body::empty()).unwrap();
    let response = site.router.clone().oneshot(request).await.unwrap();
    let set = response.headers()[header::SET_COOKIE].to_str().unwrap();
    for flag in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(flag), "{flag} missing in {set}");
    }
}

/// A logout token for the dev app, signed HS256 with its secret (the Authing preset accepts the
/// id_token algorithms for logout tokens, OIDC Back-Channel Logout §2.6).
fn logout_token(site: &Site, claims: serde_json::Value) -> String {
    use authing_oidc::jose::JwsSigner;
    use authing_oidc::{ClientSecret, ExposeSecret as _, SigningAlgorithm};
    let secret = site.provider.client("dev-app").unwrap().secret.clone().unwrap();
    let signer = JwsSigner::client_secret(SigningAlgorithm::HS256, &ClientSecret::new(secret)).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut all = serde_json::json!({"iss": site.provider.issuer(), "aud": "dev-app", "iat": now,
        "exp": now + 120, "events": {"http://schemas.openid.net/event/backchannel-logout": {}}});
    for (k, v) in claims.as_object().unwrap() {
        all[k] = v.clone();
    }
    signer
        .sign(Some("logout+jwt"), &all)
        .unwrap()
        .expose_secret()
        .to_owned()
}

/// What the provider's server sees: no cookie, a form body.
async fn post_logout_token(site: &Site, body: String) -> Response<Body> {
    let request = Request::post("/backchannel-logout")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let response = site.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    response
}

#[tokio::test]
async fn a_back_channel_logout_ends_every_session_of_the_user_and_refuses_bad_tokens() {
    let site = site(ResponseMode::Query).await;
    let mut first = Browser::new(&site);
    first.login("/login").await;
    let mut second = Browser::new(&site);
    second.login("/login").await;
    let hello = text(first.get("/private").await).await;
    let sub = hello.strip_prefix("hello ").unwrap().to_owned();

    // §2.6 refusals: 400 with an OAuth error body, nobody signed out.
    let with_nonce = logout_token(
        &site,
        serde_json::json!({"sub": sub, "jti": "bc-1", "nonce": "n"}),
    );
    let other_aud = logout_token(
        &site,
        serde_json::json!({"sub": sub, "jti": "bc-2", "aud": "other"}),
    );
    for body in [
        format!("logout_token={with_nonce}"),
        format!("logout_token={other_aud}"),
        "logout_token=not.a.jwt".to_owned(),
        "nothing=here".to_owned(),
    ] {
        let refused = post_logout_token(&site, body).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert_eq!(refused.headers()[header::CONTENT_TYPE], "application/json");
        let json: serde_json::Value = serde_json::from_str(&text(refused).await).unwrap();
        assert_eq!(json["error"], "invalid_request");
        assert!(json["error_description"].is_string());
    }
    assert_eq!(
        first.send(Method::GET, "/private", None, false).await.status(),
        StatusCode::OK
    );

    // A sid no login of ours has: accepted (§2.8: 200), and nothing ends.
    let unknown_sid = logout_token(
        &site,
        serde_json::json!({"sub": sub, "sid": "not-ours", "jti": "bc-3"}),
    );
    let ok = post_logout_token(&site, format!("logout_token={unknown_sid}")).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        second.send(Method::GET, "/private", None, false).await.status(),
        StatusCode::OK
    );

    // Only sub: every session of that user ends, in whichever browser.
    let by_sub = logout_token(&site, serde_json::json!({"sub": sub, "jti": "bc-4"}));
    let ok = post_logout_token(&site, format!("logout_token={by_sub}")).await;
    assert_eq!(ok.status(), StatusCode::OK);
    for browser in [&mut first, &mut second] {
        assert_eq!(
            browser.send(Method::GET, "/private", None, false).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(text(browser.get("/maybe").await).await, "anonymous");
    }
    // The same token again is a replay.
    let replay = post_logout_token(&site, format!("logout_token={by_sub}")).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(text(replay).await.contains("replayed"));
    // A new login is not affected by the earlier logout.
    first.login("/login").await;
    assert_eq!(
        first.send(Method::GET, "/private", None, false).await.status(),
        StatusCode::OK
    );
}
