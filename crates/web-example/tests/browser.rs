//! The web example end to end in a real browser: headless Chromium driven through chromedriver
//! (WebDriver), against the embedded development provider and against panva's oidc-provider,
//! in `query` and `form_post` modes.
//!
//! The app is served as `http://localhost:PORT` while both providers live on `127.0.0.1`: two
//! different sites, so the provider's form_post is a real cross-site POST that carries no
//! `SameSite=Lax` cookie, and the app's same-site relay is exercised (and counted).
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian packages `chromium` and
//! `chromium-driver`; `scripts/test` installs them), and Node.js for panva's provider.
//! Screenshots land in `$CARGO_TARGET_TMPDIR/browser-screenshots/`.

#[path = "support/chromium.rs"]
mod chromium;
#[path = "../../../tests/support/panva.rs"]
#[allow(dead_code)]
mod panva;

use std::future::Future;
use std::net::{Ipv4Addr, TcpListener as StdListener};
use std::time::{Duration, Instant};

use authing_oidc::ResponseMode;
use authing_oidc_dev_provider::{AuthorizationResponse, DevProviderConfig, login_without_browser};
use authing_oidc_web_example::{App, Config, Provider, app};
use chromium::{Browser, STEP};
use panva::{PanvaOptions, PanvaProvider};
use serde_json::json;
use tokio::task::JoinHandle;

/// The longest a whole scenario may take.
const SCENARIO: Duration = Duration::from_secs(75);
/// Access token lifetime at both providers: short, so a refresh is due within the test.
const ACCESS_TOKEN_SECS: u64 = 2;

/// Runs a scenario under the overall time limit.
async fn bounded(scenario: impl Future<Output = ()>) {
    tokio::time::timeout(SCENARIO, scenario)
        .await
        .expect("the scenario took longer than its time limit");
}

// ---------------------------------------------------------------------------------------------
// The app
// ---------------------------------------------------------------------------------------------

/// The app served on 127.0.0.1 and reached as `http://localhost:PORT`.
struct Site {
    app: App,
    base: String,
    server: JoinHandle<()>,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A free port and the public URL the app will have there.
fn reserve() -> (tokio::net::TcpListener, String) {
    let listener = StdListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    (
        tokio::net::TcpListener::from_std(listener).unwrap(),
        format!("http://localhost:{port}"),
    )
}

async fn serve(listener: tokio::net::TcpListener, base: String, config: Config) -> Site {
    let app = app(config).await.expect("the app starts");
    let router = app.router();
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Site { app, base, server }
}

async fn dev_site(mode: ResponseMode) -> Site {
    dev_site_with(mode, |_| {}).await
}

async fn dev_site_with(mode: ResponseMode, change: impl FnOnce(&mut DevProviderConfig)) -> Site {
    let (listener, base) = reserve();
    let mut dev = DevProviderConfig::default();
    dev.access_token_lifetime = Duration::from_secs(ACCESS_TOKEN_SECS);
    change(&mut dev);
    let mut config = Config::new(Provider::Dev(dev), base.parse().unwrap());
    config.response_mode = mode;
    serve(listener, base, config).await
}

const PANVA_CLIENT: &str = "web-example";
const PANVA_SECRET: &str = "web-example-secret-0123456789abcdef0123456789";

async fn panva_site(mode: ResponseMode) -> (Site, PanvaProvider) {
    panva_site_with(mode, false).await
}

/// With `backchannel`, panva runs the back-channel logout plugin and registers the app's
/// `/backchannel-logout` (on the loopback address the app listens on) as the client's
/// `backchannel_logout_uri`, with `sid` required in its tokens.
async fn panva_site_with(mode: ResponseMode, backchannel: bool) -> (Site, PanvaProvider) {
    let (listener, base) = reserve();
    let local = listener.local_addr().unwrap();
    // panva requires exact redirect URIs: a client registered for this run's port.
    let mut client = json!({
        "client_id": PANVA_CLIENT,
        "client_secret": PANVA_SECRET,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [format!("{base}/callback")],
        "post_logout_redirect_uris": [format!("{base}/")],
        "token_endpoint_auth_method": "client_secret_post",
        "id_token_signed_response_alg": "RS256",
    });
    let mut options = PanvaOptions::default()
        .ttl("AccessToken", ACCESS_TOKEN_SECS)
        .clock_tolerance(0);
    if backchannel {
        client["backchannel_logout_uri"] = format!("http://{local}/backchannel-logout").into();
        client["backchannel_logout_session_required"] = true.into();
        options = options.plugin("plugins/backchannel.mjs");
    }
    let op = PanvaProvider::start(options.client(client)).await;
    let provider = Provider::Issuer {
        issuer: op.issuer().to_owned(),
        app_id: PANVA_CLIENT.to_owned(),
        secret: PANVA_SECRET.to_owned(),
    };
    let mut config = Config::new(provider, base.parse().unwrap());
    config.response_mode = mode;
    (serve(listener, base, config).await, op)
}

// ---------------------------------------------------------------------------------------------
// The provider's pages
// ---------------------------------------------------------------------------------------------

async fn dev_login(browser: &Browser) {
    browser.fill("input[name=username]", "alice").await;
    browser.fill("input[name=password]", "alice-password").await;
    browser.click("button[name=login]").await;
}

async fn panva_login(browser: &Browser, login: &str) {
    browser.fill("input[name=login]", login).await;
    browser.fill("input[name=password]", "any-password").await;
    browser.click("button.login-submit").await;
    // devInteractions asks for consent next (offline_access comes with prompt=consent).
    browser.wait_for("input[name=prompt][value=consent]").await;
    browser.click("button.login-submit").await;
}

// ---------------------------------------------------------------------------------------------
// The scenarios
// ---------------------------------------------------------------------------------------------

/// Open a page that needs a login, log in and land back on it (`return_to`), see the name at
/// home, see a refresh on `/me` once the access token expired, log out.
async fn full_session(
    site: &Site,
    browser: &Browser,
    login: impl AsyncFnOnce(&Browser),
    expect_name: &str,
    expect_email: &str,
    screenshot: &str,
) {
    browser.goto(&format!("{}/me?from=start", site.base)).await;
    login(browser).await;
    assert_eq!(browser.text("#user-email").await, expect_email);
    let landed = browser.client.current_url().await.unwrap();
    assert_eq!(
        (landed.path(), landed.query()),
        ("/me", Some("from=start")),
        "the login did not return to where it started"
    );

    browser.click("#home").await;
    assert_eq!(browser.text("#name").await, expect_name);
    assert_eq!(browser.text("#email").await, expect_email);
    let shot = browser.screenshot(screenshot).await;
    eprintln!("screenshot of the signed-in page: {}", shot.display());

    browser.click("#me").await;
    assert_eq!(browser.text("#user-email").await, expect_email);
    let before: u64 = browser.text("#refreshes").await.parse().unwrap();

    // Past the access token's lifetime: the next /me must refresh before calling userinfo.
    tokio::time::sleep(Duration::from_millis(ACCESS_TOKEN_SECS * 1000 + 600)).await;
    browser.client.refresh().await.unwrap();
    let after: u64 = browser.text("#refreshes").await.parse().unwrap();
    assert!(
        after > before,
        "no refresh after the access token expired ({before} → {after})"
    );
    assert_eq!(browser.text("#user-email").await, expect_email);
    browser.screenshot(&format!("{screenshot}-me")).await;

    browser.click("#logout").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_provider_query() {
    bounded(dev_provider_session(ResponseMode::Query, "dev-query")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_provider_form_post() {
    bounded(dev_provider_session(ResponseMode::FormPost, "dev-form-post")).await;
}

async fn dev_provider_session(mode: ResponseMode, name: &str) {
    let site = dev_site(mode).await;
    let browser = Browser::start().await;
    let dev = site.app.dev_provider().unwrap();
    let tokens_before = dev.request_count("/oidc/token");
    full_session(
        &site,
        &browser,
        async |b: &Browser| dev_login(b).await,
        "Alice Example",
        "alice@example.com",
        name,
    )
    .await;
    // The development provider needs no confirmation: back home, signed out.
    browser.wait_for("#login").await;
    assert_eq!(browser.text("h1").await, "Welcome");
    let dev = site.app.dev_provider().unwrap();
    // The code exchange, then at least one refresh_token grant.
    assert!(dev.request_count("/oidc/token") >= tokens_before + 2);
    assert!(dev.request_count("/oidc/token/revocation") >= 1, "logout revokes");
    check_relays(&site, mode);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panva_query() {
    bounded(panva_session(ResponseMode::Query, "panva-query")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panva_form_post() {
    bounded(panva_session(ResponseMode::FormPost, "panva-form-post")).await;
}

async fn panva_session(mode: ResponseMode, name: &str) {
    let (site, op) = panva_site(mode).await;
    let browser = Browser::start().await;
    full_session(
        &site,
        &browser,
        async |b: &Browser| panva_login(b, "bob").await,
        "Test User bob",
        "bob@example.com",
        name,
    )
    .await;
    // oidc-provider asks before ending its own session.
    browser.click("button[name=logout]").await;
    browser.wait_for("#login").await;
    assert_eq!(browser.text("h1").await, "Welcome");
    check_relays(&site, mode);
    browser.close().await;
    drop(op);
}

/// In form_post mode the cross-site POST came without the cookie and went through the relay.
fn check_relays(site: &Site, mode: ResponseMode) {
    let relays = site.app.form_post_relays();
    match mode {
        ResponseMode::FormPost => assert!(relays >= 1, "the form_post callback was never relayed"),
        _ => assert_eq!(relays, 0),
    }
}

/// "Cancel" at the provider comes back as access_denied: an error page with a way home. In
/// form_post mode, so the error too travels through the relay. Opening /callback by hand is
/// an error page as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_provider_cancel_and_direct_callback() {
    bounded(async {
        let site = dev_site(ResponseMode::FormPost).await;
        let browser = Browser::start().await;
        browser.goto(&format!("{}/", site.base)).await;
        browser.click("#login").await;
        browser.click("button[name=cancel]").await;
        assert_eq!(browser.text("#problem-title").await, "Sign-in cancelled");
        browser.screenshot("dev-cancel").await;
        browser.click("#home").await;
        browser.wait_for("#login").await;
        assert!(site.app.form_post_relays() >= 1);

        browser.goto(&format!("{}/callback", site.base)).await;
        assert_eq!(browser.text("#problem-title").await, "Nothing to sign in with");
        browser
            .goto(&format!("{}/callback?code=forged&state=forged", site.base))
            .await;
        assert_eq!(
            browser.text("#problem-title").await,
            "This sign-in link is no longer valid"
        );
        browser.close().await;
    })
    .await;
}

/// The same callback URL twice: the first signs in, the second is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_provider_replayed_callback() {
    bounded(async {
        let site = dev_site(ResponseMode::Query).await;
        let browser = Browser::start().await;
        browser.goto(&format!("{}/", site.base)).await;
        browser.click("#login").await;
        // The provider's login page is served at the authorization URL: log in there outside
        // the browser to learn the callback URL, then let the browser follow it, twice.
        browser.wait_for("input[name=username]").await;
        let authorize_url = browser.client.current_url().await.unwrap();
        let response = login_without_browser(authorize_url.as_str(), "alice", "alice-password")
            .await
            .unwrap();
        let AuthorizationResponse::Redirect(callback) = response else {
            panic!("expected a redirect, got {response:?}");
        };
        browser.goto(callback.as_str()).await;
        assert_eq!(browser.text("#name").await, "Alice Example");

        browser.goto(callback.as_str()).await;
        assert_eq!(
            browser.text("#problem-title").await,
            "This sign-in link is no longer valid"
        );
        // Still signed in: the replay changed nothing.
        browser.click("#home").await;
        assert_eq!(browser.text("#name").await, "Alice Example");
        browser.close().await;
    })
    .await;
}

/// A session whose refresh token expired with its access token: `/me` says to sign in again,
/// and the home page offers "Log in" once more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_provider_session_ends() {
    bounded(async {
        let site = dev_site_with(ResponseMode::Query, |dev| {
            dev.refresh_token_lifetime = Duration::from_secs(1);
        })
        .await;
        let browser = Browser::start().await;
        browser.goto(&format!("{}/", site.base)).await;
        browser.click("#login").await;
        dev_login(&browser).await;
        assert_eq!(browser.text("#name").await, "Alice Example");
        tokio::time::sleep(Duration::from_millis(ACCESS_TOKEN_SECS * 1000 + 600)).await;
        browser.click("#me").await;
        assert_eq!(browser.text("#problem-title").await, "Please sign in again");
        browser.click("#home").await;
        browser.wait_for("#login").await;
        browser.close().await;
    })
    .await;
}

/// "[ Cancel ]" on panva's login page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panva_cancel() {
    bounded(async {
        let (site, _op) = panva_site(ResponseMode::Query).await;
        let browser = Browser::start().await;
        browser.goto(&format!("{}/", site.base)).await;
        browser.click("#login").await;
        browser.wait_for("input[name=login]").await;
        browser.click("a[href$='/abort']").await;
        assert_eq!(browser.text("#problem-title").await, "Sign-in cancelled");
        browser.close().await;
    })
    .await;
}

/// Back-channel logout (OpenID Back-Channel Logout 1.0): bob signs into the app through panva;
/// then, in the same browser, another client (`rp-rs256`) sends him to panva's end_session
/// endpoint (RP-initiated logout) and he confirms. panva ends his session there and posts a logout
/// token to every client of that session with a `backchannel_logout_uri`, the app included. The
/// app's cookie session is still in the browser, yet its protected page no longer knows him.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panva_logout_elsewhere_ends_the_login_here() {
    bounded(async {
        let (site, op) = panva_site_with(ResponseMode::Query, true).await;
        let browser = Browser::start().await;
        browser.goto(&format!("{}/me", site.base)).await;
        panva_login(&browser, "bob").await;
        assert_eq!(browser.text("#user-email").await, "bob@example.com");
        browser.click("#home").await;
        assert_eq!(browser.text("#name").await, "Test User bob");

        // RP-initiated logout of the other client, without coming back to it: panva asks first.
        let end_session = format!("{}?client_id={}", op.url("/session/end"), panva::RP_RS256);
        browser.goto(&end_session).await;
        browser.click("button[name=logout]").await;
        // panva waits for the deliveries before it shows its sign-out page.
        browser.wait_for("body").await;
        let delivered = format!("backchannel.success client={PANVA_CLIENT} sub=bob");
        let deadline = Instant::now() + STEP;
        while !op.log().contains(&delivered) {
            assert!(
                Instant::now() < deadline,
                "panva did not deliver a logout token that the app accepted; provider log:\n{}",
                op.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!op.log().contains("backchannel.error"), "{}", op.log());

        // The app's protected page: the login is gone, so it sends bob to sign in again (and
        // panva, whose session ended too, asks for his credentials).
        browser.goto(&format!("{}/me", site.base)).await;
        browser.wait_for("input[name=login]").await;
        browser.screenshot("panva-backchannel-logout").await;
        browser.goto(&format!("{}/", site.base)).await;
        browser.wait_for("#login").await;
        assert_eq!(browser.text("h1").await, "Welcome");
        browser.close().await;
        drop(op);
    })
    .await;
}
