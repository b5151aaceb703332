//! Redirect URIs on the wire, byte for byte (docs/protocol.md §1, §2.4,
//! §2.7): for every rewrite a URL parser would make, each request that
//! carries the value — the authorize URL, the token request, both logout
//! URLs, the CAS service — carries the string exactly as configured or
//! passed. A fragment is refused, at build time and per call.
//!
//! The authorize and logout URLs are requested from a recording server on
//! 127.0.0.1, so the assertions are on what a provider receives.

#[path = "support/mock.rs"]
mod mock;

use authing_oidc::flow::{CallbackParams, PendingCallback, Unauthorized};
use authing_oidc::{
    AuthenticationClient, AuthenticationClientBuilder, AuthorizationCode, AuthorizeParams, Error, IdToken,
    LogoutParams, Protocol,
};
use mock::{Canned, MockServer};
use serde_json::json;

/// One URI per kind of rewrite `url::Url` makes when it re-serialises.
const REWRITES: [(&str, &str); 11] = [
    ("bare origin", "http://127.0.0.1:3000"),
    ("bare localhost origin", "http://localhost:3000"),
    ("upper-case host", "https://App.EXAMPLE.com/cb"),
    ("upper-case scheme", "HTTPS://app.example/cb"),
    ("dot segments", "https://app.example/a/../cb/./x"),
    ("default https port", "https://app.example:443/cb"),
    ("default http port", "http://127.0.0.1:80/cb"),
    (
        "percent-encoding of raw characters",
        "https://app.example/café?q=a|b",
    ),
    ("IDN host", "https://bücher.example/cb"),
    ("query without path", "https://app.example?a=1"),
    ("backslash", "https://app.example\\cb"),
];

/// Forms `url::Url` happens to keep today, which other URL code (or a later
/// `url`) normalises: an empty query and lower-case percent-encoding.
const KEPT_TODAY: [(&str, &str); 2] = [
    ("trailing ?", "https://app.example/cb?"),
    ("percent-encoding case", "https://app.example/%7ecb/%c3%a9"),
];

fn cases() -> impl Iterator<Item = (&'static str, &'static str)> {
    REWRITES.into_iter().chain(KEPT_TODAY)
}

#[test]
fn every_rewrite_case_is_one_the_parser_rewrites() {
    for (kind, raw) in REWRITES {
        let reserialised = url::Url::parse(raw).unwrap().to_string();
        assert_ne!(
            reserialised, raw,
            "{kind}: url::Url keeps it, the case proves nothing"
        );
    }
}

fn builder(server: &MockServer, redirect_uri: &str) -> AuthenticationClientBuilder {
    AuthenticationClient::builder()
        .app_id("app")
        .secret("app-secret")
        .app_host(server.url())
        .redirect_uri(redirect_uri)
}

/// Requests `url` from the recording server, as a browser would, and returns the decoded value of
/// `name` in the query it received.
async fn received(browser: &reqwest::Client, server: &MockServer, url: &url::Url, name: &str) -> String {
    let before = server.requests().len();
    browser.get(url.as_str()).send().await.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), before + 1);
    let query = &requests[before].query;
    let values: Vec<&String> = query.iter().filter(|(k, _)| k == name).map(|(_, v)| v).collect();
    assert_eq!(
        values.len(),
        1,
        "{name} appears {} times in {query:?}",
        values.len()
    );
    values[0].clone()
}

fn form_value(server: &MockServer, name: &str) -> String {
    let last = server.requests().pop().unwrap();
    let values: Vec<String> = last
        .form()
        .into_iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(values.len(), 1, "{name} in {:?}", last.form());
    values[0].clone()
}

#[tokio::test]
async fn the_authorize_url_carries_the_configured_and_the_passed_uri_unchanged() {
    let server = MockServer::start().await;
    let browser = reqwest::Client::new();
    for (kind, raw) in cases() {
        let client = builder(&server, raw).build().unwrap();
        assert_eq!(client.redirect_uri().unwrap().as_str(), raw, "{kind}");
        let login = client.build_authorize_url(AuthorizeParams::new()).unwrap();
        assert_eq!(
            received(&browser, &server, &login.url, "redirect_uri").await,
            raw,
            "{kind}"
        );

        let other = builder(&server, "https://other.example/cb").build().unwrap();
        let login = other
            .build_authorize_url(AuthorizeParams::new().redirect_uri(raw))
            .unwrap();
        assert_eq!(
            received(&browser, &server, &login.url, "redirect_uri").await,
            raw,
            "{kind}, per call"
        );

        let oauth = builder(&server, raw).protocol(Protocol::Oauth).build().unwrap();
        let login = oauth.build_authorize_url(AuthorizeParams::new()).unwrap();
        assert_eq!(
            received(&browser, &server, &login.url, "redirect_uri").await,
            raw,
            "{kind}, oauth"
        );
    }
}

#[tokio::test]
async fn the_token_request_carries_the_configured_uri_unchanged() {
    let server = MockServer::start().await;
    server.on(
        "/oidc/token",
        Canned::json(200, json!({"access_token": "at", "token_type": "Bearer"})),
    );
    for (kind, raw) in cases() {
        let client = builder(&server, raw).build().unwrap();
        client
            .get_access_token_by_code(&AuthorizationCode::new("c"), None)
            .await
            .unwrap();
        assert_eq!(form_value(&server, "redirect_uri"), raw, "{kind}");
    }
}

/// The typed flow: the authorize URL and the code exchange carry the same
/// string, also after the pending login went through a store as JSON.
#[tokio::test]
async fn the_typed_flow_sends_the_same_string_twice() {
    let server = MockServer::start().await;
    let browser = reqwest::Client::new();
    // No id_token: the login fails after the exchange, which is all this test needs.
    server.on(
        "/oidc/token",
        Canned::json(200, json!({"access_token": "at", "token_type": "Bearer"})),
    );
    for (kind, raw) in cases() {
        for per_call in [false, true] {
            for through_store in [false, true] {
                let configured = if per_call { "https://other.example/cb" } else { raw };
                let client = builder(&server, configured).build().unwrap();
                let mut login = Unauthorized::new(client.clone());
                if per_call {
                    login = login.redirect_uri(raw);
                }
                let (url, mut pending) = login.start().unwrap();
                assert_eq!(pending.redirect_uri(), raw);
                let state = received(&browser, &server, &url, "state").await;
                assert_eq!(
                    received(&browser, &server, &url, "redirect_uri").await,
                    raw,
                    "{kind}"
                );
                if through_store {
                    let json = serde_json::to_string(&pending.export_with_secrets()).unwrap();
                    pending = PendingCallback::restore_from_trusted_store(
                        client,
                        serde_json::from_str(&json).unwrap(),
                    )
                    .unwrap();
                }
                let callback = CallbackParams::from_query(&format!("code=c&state={state}")).unwrap();
                let e = pending.complete(callback).await.unwrap_err();
                assert!(matches!(e, Error::InvalidResponse { .. }), "{e:?}");
                assert_eq!(
                    form_value(&server, "redirect_uri"),
                    raw,
                    "{kind} per_call={per_call}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_logout_urls_carry_the_uri_unchanged() {
    let server = MockServer::start().await;
    let browser = reqwest::Client::new();
    for (kind, raw) in cases() {
        let client = builder(&server, raw).build().unwrap();
        let url = client.build_logout_url(LogoutParams::simple()).unwrap();
        assert_eq!(
            received(&browser, &server, &url, "redirect_uri").await,
            raw,
            "{kind}"
        );

        let other = builder(&server, "https://other.example/cb").build().unwrap();
        let url = other.build_logout_url(LogoutParams::simple_to(raw)).unwrap();
        assert_eq!(
            received(&browser, &server, &url, "redirect_uri").await,
            raw,
            "{kind}, per call"
        );

        let url = other
            .build_logout_url(LogoutParams::expert(IdToken::new("e.y.j"), raw).with_state("s"))
            .unwrap();
        assert_eq!(
            received(&browser, &server, &url, "post_logout_redirect_uri").await,
            raw,
            "{kind}, expert"
        );
    }
}

#[tokio::test]
async fn cas_service_and_logout_carry_the_uri_unchanged() {
    let server = MockServer::start().await;
    let browser = reqwest::Client::new();
    for (kind, raw) in cases() {
        let cas = builder(&server, raw).protocol(Protocol::Cas).build().unwrap();
        let login = cas.build_authorize_url(AuthorizeParams::new()).unwrap();
        assert_eq!(login.url.path(), "/cas-idp/app");
        assert_eq!(
            received(&browser, &server, &login.url, "service").await,
            raw,
            "{kind}"
        );
        let login = cas
            .build_authorize_url(AuthorizeParams::new().redirect_uri(raw))
            .unwrap();
        assert_eq!(
            received(&browser, &server, &login.url, "service").await,
            raw,
            "{kind}, per call"
        );
        let url = cas.build_logout_url(LogoutParams::simple()).unwrap();
        assert_eq!(
            received(&browser, &server, &url, "url").await,
            raw,
            "{kind}, logout"
        );
    }
}

const REFUSED: [&str; 6] = [
    "https://app.example/cb#x",
    "https://app.example/cb#",
    "http://127.0.0.1:3000#",
    "http://app.example/cb",
    "app.example/cb",
    "custom-scheme:/cb",
];

#[tokio::test]
async fn a_fragment_or_an_insecure_uri_is_refused_at_build_time_and_per_call() {
    let server = MockServer::start().await;
    let client = builder(&server, "https://app.example/cb").build().unwrap();
    let cas = builder(&server, "https://app.example/cb")
        .protocol(Protocol::Cas)
        .build()
        .unwrap();
    let config_error = |r: Result<_, Error>, what: &str| {
        assert!(matches!(r, Err(Error::Config(_))), "{what}: {:?}", r.err());
    };
    for raw in REFUSED {
        config_error(builder(&server, raw).build().map(|_| ()), raw);
        config_error(
            client
                .build_authorize_url(AuthorizeParams::new().redirect_uri(raw))
                .map(|_| ()),
            raw,
        );
        config_error(
            cas.build_authorize_url(AuthorizeParams::new().redirect_uri(raw))
                .map(|_| ()),
            raw,
        );
        config_error(
            Unauthorized::new(client.clone())
                .redirect_uri(raw)
                .start()
                .map(|_| ()),
            raw,
        );
        config_error(
            client.build_logout_url(LogoutParams::simple_to(raw)).map(|_| ()),
            raw,
        );
        config_error(
            client
                .build_logout_url(LogoutParams::expert(IdToken::new("e.y.j"), raw))
                .map(|_| ()),
            raw,
        );
    }
    // Plain http to another host is the insecure opt-in's to allow; a fragment never is.
    let insecure = builder(&server, "http://app.example/cb")
        .insecure_allow_http()
        .build()
        .unwrap();
    assert!(
        insecure
            .build_logout_url(LogoutParams::simple_to("http://app.example/out"))
            .is_ok()
    );
    config_error(
        insecure
            .build_logout_url(LogoutParams::simple_to("http://app.example/out#"))
            .map(|_| ()),
        "insecure with fragment",
    );
    assert!(server.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn app_host_keeps_its_path_and_tolerates_one_trailing_slash() {
    let server = MockServer::start().await;
    server.on(
        "/base/oidc/token",
        Canned::json(200, json!({"access_token": "at", "token_type": "Bearer"})),
    );
    for host in [
        format!("{}/base", server.url()),
        format!("{}/base/", server.url()),
    ] {
        let client = AuthenticationClient::builder()
            .app_id("app")
            .secret("s")
            .app_host(&host)
            .redirect_uri("http://127.0.0.1:3000")
            .build()
            .unwrap();
        assert_eq!(client.issuer(), format!("{}/base/oidc", server.url()));
        client
            .get_access_token_by_code(&AuthorizationCode::new("c"), None)
            .await
            .unwrap();
        assert_eq!(
            server.requests().pop().unwrap().path,
            "/base/oidc/token",
            "{host}"
        );
        let login = client.build_authorize_url(AuthorizeParams::new()).unwrap();
        assert_eq!(login.url.path(), "/base/oidc/auth");
        let logout = client.build_logout_url(LogoutParams::simple()).unwrap();
        assert_eq!(logout.path(), "/base/login/profile/logout");
    }
    let bare = AuthenticationClient::builder()
        .app_id("app")
        .secret("s")
        .app_host(format!("{}/", server.url()))
        .build()
        .unwrap();
    assert_eq!(bare.issuer(), format!("{}/oidc", server.url()));
    for doubled in [format!("{}//", server.url()), format!("{}/base//", server.url())] {
        let r = AuthenticationClient::builder()
            .app_id("app")
            .secret("s")
            .app_host(&doubled)
            .build();
        assert!(matches!(r, Err(Error::Config(_))), "{doubled}");
    }
}

/// A pending login saved by an earlier version holds the re-serialised URI;
/// it still restores, and the exchange repeats what it holds.
#[tokio::test]
async fn an_old_saved_pending_login_still_restores() {
    let server = MockServer::start().await;
    server.on(
        "/oidc/token",
        Canned::json(200, json!({"access_token": "at", "token_type": "Bearer"})),
    );
    let client = builder(&server, "http://localhost:3000").build().unwrap();
    let (_, pending) = Unauthorized::new(client.clone()).start().unwrap();
    let mut saved = serde_json::to_value(pending.export_with_secrets()).unwrap();
    assert_eq!(saved["redirect_uri"], "http://localhost:3000");
    saved["redirect_uri"] = json!("http://localhost:3000/");
    let state = saved["state"].as_str().unwrap().to_owned();
    let restored = PendingCallback::restore_from_trusted_store(
        client.clone(),
        serde_json::from_value(saved.clone()).unwrap(),
    )
    .unwrap();
    assert_eq!(restored.redirect_uri(), "http://localhost:3000/");
    let callback = CallbackParams::from_query(&format!("code=c&state={state}")).unwrap();
    restored.complete(callback).await.unwrap_err();
    assert_eq!(form_value(&server, "redirect_uri"), "http://localhost:3000/");

    // A stored value that is not a redirect URI at all is refused, typed.
    saved["redirect_uri"] = json!("https://app.example/cb#frag");
    let e = PendingCallback::restore_from_trusted_store(client, serde_json::from_value(saved).unwrap())
        .unwrap_err();
    assert!(matches!(e, Error::Restore(_)), "{e:?}");
}
