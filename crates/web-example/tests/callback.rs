//! `/login` and `/callback` against requests no browser of the user sends: a cross-site request
//! with a wrong `state`, an oversized body, and `return_to` values that would leave the site;
//! and `GET /api/me` with and without a valid access token, Bearer or DPoP-bound. Plain HTTP with the session cookie carried by hand, against
//! the embedded development provider; no browser needed.

use std::net::{Ipv4Addr, TcpListener as StdListener};

use authing_oidc::ExposeSecret as _;
use authing_oidc::ResponseMode;
use authing_oidc::flow::{CallbackParams, Unauthorized};
use authing_oidc_axum::SESSION_COOKIE as COOKIE;
use authing_oidc_dev_provider::{AuthorizationResponse, DevProviderConfig, login_without_browser};
use authing_oidc_web_example::{App, Config, Provider, app};
use reqwest::{StatusCode, header};
use tokio::task::JoinHandle;

struct Site {
    app: App,
    base: String,
    http: reqwest::Client,
    server: JoinHandle<()>,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn site(mode: ResponseMode) -> Site {
    site_with(mode, None).await
}

/// As [`site`], with `/api/me` accepting tokens for `resource` instead of the app id.
async fn site_with(mode: ResponseMode, resource: Option<&str>) -> Site {
    let listener = StdListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let mut config = Config::new(Provider::Dev(DevProviderConfig::default()), base.parse().unwrap());
    config.response_mode = mode;
    config.resource = resource.map(str::to_owned);
    let app = app(config).await.unwrap();
    let router = app.router();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Site {
        app,
        base,
        http,
        server,
    }
}

/// The session cookie an answer sets, as a `Cookie` header value.
fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{COOKIE}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

fn title(page: &str) -> &str {
    let start = page.find("id=\"problem-title\">").expect("an error page") + 19;
    &page[start..start + page[start..].find('<').unwrap()]
}

impl Site {
    /// `/login` in a fresh browser: the session cookie holding the pending login, and the
    /// callback the provider sends once alice has signed in.
    async fn start_login(&self) -> (String, AuthorizationResponse) {
        self.start_login_at("/login").await
    }

    /// As [`Site::start_login`], from `path` (e.g. `/login?return_to=…`).
    async fn start_login_at(&self, path: &str) -> (String, AuthorizationResponse) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let cookie = session_cookie(&response).expect("the pending login's session");
        let callback = login_without_browser(&location(&response), "alice", "alice-password")
            .await
            .unwrap();
        (cookie, callback)
    }

    async fn get_callback(&self, cookie: &str, query: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/callback?{query}", self.base))
            .header(header::COOKIE, cookie)
            .send()
            .await
            .unwrap()
    }

    async fn post_callback(&self, cookie: Option<&str>, body: String) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/callback", self.base))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.send().await.unwrap()
    }

    /// The name on the home page with this cookie, if signed in.
    async fn signed_in_as(&self, cookie: &str) -> Option<String> {
        let page = self
            .http
            .get(format!("{}/", self.base))
            .header(header::COOKIE, cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let start = page.find("id=\"name\">")? + 10;
        Some(page[start..start + page[start..].find('<')?].to_owned())
    }
}

/// A signed-in answer to the real callback: back home, with a new session id that is signed in.
async fn assert_signs_in(site: &Site, response: reqwest::Response) {
    assert_signs_in_to(site, response, "/").await;
}

/// As [`assert_signs_in`], landing on `to`.
async fn assert_signs_in_to(site: &Site, response: reqwest::Response, to: &str) {
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "{}",
        response.text().await.unwrap()
    );
    assert_eq!(location(&response), to);
    let cookie = session_cookie(&response).expect("the signed-in session");
    assert_eq!(site.signed_in_as(&cookie).await.as_deref(), Some("Alice Example"));
}

fn with_state(callback: &AuthorizationResponse, state: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(callback.params().into_iter().map(|(k, v)| {
            if k == "state" {
                (k, state.to_owned())
            } else {
                (k, v)
            }
        }))
        .finish()
}

/// A cross-site link to `/callback` with a wrong state, opened in the user's browser while their
/// login is under way, is refused and leaves the login pending: the real callback signs in.
#[tokio::test]
async fn a_wrong_state_leaves_the_pending_login_in_place() {
    let site = site(ResponseMode::Query).await;
    let (cookie, callback) = site.start_login().await;
    let AuthorizationResponse::Redirect(real) = &callback else {
        panic!("{callback:?}")
    };
    let forged = site.get_callback(&cookie, &with_state(&callback, "forged")).await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        title(&forged.text().await.unwrap()),
        "This sign-in response does not match"
    );
    let dev = site.app.dev_provider().unwrap();
    assert_eq!(dev.request_count("/oidc/token"), 0, "no code was exchanged");

    assert_signs_in(&site, site.get_callback(&cookie, real.query().unwrap()).await).await;
}

/// The same in form_post mode, where the wrong state arrives as a POST that carries the cookie
/// (a relayed one, or a same-site form).
#[tokio::test]
async fn a_wrong_state_posted_leaves_the_pending_login_in_place() {
    let site = site(ResponseMode::FormPost).await;
    let (cookie, callback) = site.start_login().await;
    let AuthorizationResponse::FormPost { body, .. } = &callback else {
        panic!("{callback:?}")
    };
    let forged = site
        .post_callback(Some(&cookie), with_state(&callback, "forged"))
        .await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert_signs_in(&site, site.post_callback(Some(&cookie), body.clone()).await).await;
}

/// A body above the callback's limit is answered 413 before the handler runs: with the cookie
/// it does not touch the pending login, and without it it is not relayed.
#[tokio::test]
async fn an_oversized_callback_body_is_413_and_never_reaches_the_flow() {
    let site = site(ResponseMode::FormPost).await;
    let (cookie, callback) = site.start_login().await;
    let AuthorizationResponse::FormPost { body, .. } = &callback else {
        panic!("{callback:?}")
    };
    // Well under axum's default 2 MB, well over anything a provider posts.
    let oversized = format!("{body}&padding={}", "x".repeat(100 * 1024));
    let answer = site.post_callback(Some(&cookie), oversized.clone()).await;
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let answer = site.post_callback(None, oversized).await;
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(site.app.form_post_relays(), 0, "nothing was relayed");
    assert_signs_in(&site, site.post_callback(Some(&cookie), body.clone()).await).await;
}

/// A `return_to` that names another site (absolute URL, network-path reference, backslash
/// form, a scheme) is refused: the login completes on the home page, never elsewhere. A path
/// of the site itself is honoured.
#[tokio::test]
async fn return_to_never_leaves_the_site() {
    let site = site(ResponseMode::Query).await;
    let cases = [
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/me?tab=2", "/me?tab=2"),
    ];
    for (return_to, lands) in cases {
        let encoded: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
        let (cookie, callback) = site.start_login_at(&format!("/login?return_to={encoded}")).await;
        let AuthorizationResponse::Redirect(real) = &callback else {
            panic!("{callback:?}")
        };
        let answer = site.get_callback(&cookie, real.query().unwrap()).await;
        assert_signs_in_to(&site, answer, lands).await;
    }
}

/// A page that needs a login, opened without one: a browser goes to `/login` with the page as
/// `return_to`; an API client (no `text/html`) gets 401 and no redirect.
#[tokio::test]
async fn a_protected_page_sends_browsers_to_login_and_back() {
    let site = site(ResponseMode::Query).await;
    let page = |accept: &'static str| {
        site.http
            .get(format!("{}/me?tab=2", site.base))
            .header(header::ACCEPT, accept)
            .send()
    };
    let browser = page("text/html,application/xhtml+xml").await.unwrap();
    assert_eq!(browser.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&browser), "/login?return_to=%2Fme%3Ftab%3D2");
    let api = page("application/json").await.unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    assert!(api.headers().get(header::LOCATION).is_none());
}

/// `GET /api/me` with an access token from a login of the app's own client: the token's `sub`
/// and `scope`. Without a token, with garbage, or with the id_token in its place: 401 and a
/// `WWW-Authenticate: Bearer` challenge (RFC 6750 §3), the token never echoed.
#[tokio::test]
async fn api_me_takes_access_tokens_and_challenges_everything_else() {
    let site = site(ResponseMode::Query).await;
    let auth = app_login(&site).await;
    let access_token = auth.access_token().await.unwrap().access_token;
    let api = format!("{}/api/me", site.base);

    let ok = site
        .http
        .get(&api)
        .bearer_auth(access_token.expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let me: serde_json::Value = serde_json::from_str(&ok.text().await.unwrap()).unwrap();
    assert_eq!(me["sub"], auth.subject().as_str());
    assert_eq!(me["scope"], "openid profile");
    assert!(me.as_object().unwrap().contains_key("client_id"), "{me}");

    let missing = site.http.get(&api).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    let challenge = missing.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(
        !challenge.contains("error="),
        "no token, no error code: {challenge}"
    );

    let id_token = auth.id_token();
    for (what, token) in [
        ("garbage", "not-a-token".to_owned()),
        ("a tampered token", format!("{}x", access_token.expose_secret())),
        ("the id_token", id_token.expose_secret().to_owned()),
    ] {
        let refused = site.http.get(&api).bearer_auth(&token).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{what}");
        let challenge = refused.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{what}: {challenge}"
        );
        let body = refused.text().await.unwrap();
        assert!(
            !challenge.contains(&token) && !body.contains(&token),
            "{what} echoed"
        );
    }
}

/// `GET /api/me` with a DPoP-bound access token (RFC 9449 §7.1): a login of a DPoP client of
/// the same app, whose requests carry `Authorization: DPoP` and a proof for the site's public
/// URL, is answered; its token sent as a bearer token is refused; a request without a token is
/// challenged for both schemes.
#[tokio::test]
async fn api_me_takes_dpop_bound_tokens() {
    let site = site(ResponseMode::Query).await;
    let dev = site.app.dev_provider().unwrap();
    let app_id = site.app.client().app_id().to_owned();
    let secret = dev.client(&app_id).and_then(|c| c.secret.clone()).unwrap();
    let client = authing_oidc::AuthenticationClient::builder()
        .app_id(app_id)
        .secret(secret)
        .app_host(dev.app_host())
        .redirect_uri(site.app.config().redirect_uri())
        .dpop(authing_oidc::SigningAlgorithm::ES256)
        .build()
        .unwrap();
    let auth = login(client).await;
    let api = format!("{}/api/me", site.base);
    for _ in 0..2 {
        let ok = auth.send(site.http.get(&api)).await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        let me: serde_json::Value = serde_json::from_str(&ok.text().await.unwrap()).unwrap();
        assert_eq!(me["sub"], auth.subject().as_str());
    }
    let token = auth.access_token().await.unwrap().access_token;
    let refused = site
        .http
        .get(&api)
        .bearer_auth(token.expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let challenges: Vec<&str> = refused
        .headers()
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        challenges[0].starts_with("Bearer error=\"invalid_token\""),
        "{challenges:?}"
    );
    assert!(challenges[1].starts_with("DPoP algs="), "{challenges:?}");
    let missing = site.http.get(&api).send().await.unwrap();
    let challenges: Vec<&str> = missing
        .headers()
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(challenges, ["Bearer", "DPoP algs=\"ES256 PS256 RS256 EdDSA\""]);
}

/// A login of the app's own client against its dev provider, outside the app (as one of the
/// API's calling apps would do): the session with its access token.
async fn app_login(site: &Site) -> authing_oidc::flow::Authenticated {
    login(site.app.client().clone()).await
}

/// A login of `client` against the dev provider, without a browser.
async fn login(client: authing_oidc::AuthenticationClient) -> authing_oidc::flow::Authenticated {
    let (url, pending) = Unauthorized::new(client).scope("openid profile").start().unwrap();
    let callback = login_without_browser(url.as_str(), "alice", "alice-password")
        .await
        .unwrap();
    let AuthorizationResponse::Redirect(callback) = callback else {
        panic!("{callback:?}")
    };
    pending
        .complete(CallbackParams::from_query(callback.query().unwrap()).unwrap())
        .await
        .unwrap()
}

/// With `RESOURCE` set, `/api/me` trusts that audience only: the app's own access token (whose
/// `aud` is the app id) is refused.
#[tokio::test]
async fn api_me_trusts_the_configured_resource_only() {
    let site = site_with(ResponseMode::Query, Some("https://api.example")).await;
    let auth = app_login(&site).await;
    let token = auth.access_token().await.unwrap().access_token;
    let refused = site
        .http
        .get(format!("{}/api/me", site.base))
        .bearer_auth(token.expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let challenge = refused.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}
