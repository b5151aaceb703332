//! The grants beyond the login flow (issue 13): the device flow (RFC 8628), CIBA poll mode,
//! token exchange (RFC 8693) and dynamic client registration (RFC 7591 / 7592).
//!
//! Exact request shapes against the recording mock (tests/support/mock.rs); each flow end to end
//! against panva's oidc-provider with the plugins `device.mjs`, `ciba.mjs`, `exchange.mjs` and
//! `registration*.mjs` (tests/interop/plugins), including the refusals: a device login the user
//! denies, one that expires, `slow_down` measured on the provider's side, a CIBA request denied.

#[path = "support/mock.rs"]
mod mock;

#[path = "support/panva.rs"]
#[allow(dead_code)]
mod panva;

use std::collections::HashMap;
use std::time::Duration;

use authing_oidc::ciba::UserHint;
use authing_oidc::flow::{BackchannelLogin, DeviceLogin};
use authing_oidc::registration::{ClientMetadata, Registrar};
use authing_oidc::token_exchange::{TokenExchangeRequest, TokenType};
use authing_oidc::{
    AccessSecret, AccessToken, ActorToken, AuthMethod, AuthenticationClient, Error, ExposeSecret,
    InitialAccessToken, SubjectToken,
};
use mock::{Canned, MockServer};
use panva::{PanvaOptions, PanvaProvider};
use serde_json::{Value, json};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";
const EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
const ID: &str = "urn:ietf:params:oauth:token-type:id_token";

fn form(r: &mock::Recorded) -> HashMap<String, Vec<String>> {
    let mut m: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in r.form() {
        m.entry(k).or_default().push(v);
    }
    m
}

fn one<'a>(f: &'a HashMap<String, Vec<String>>, name: &str) -> &'a str {
    let v = f.get(name).unwrap_or_else(|| panic!("no {name} in {f:?}"));
    assert_eq!(v.len(), 1, "{name} repeated: {f:?}");
    &v[0]
}

/// A mock provider with discovery metadata naming its grant endpoints.
async fn discovered_mock() -> (MockServer, AuthenticationClient) {
    let server = MockServer::start().await;
    let base = server.url();
    server.on(
        "/.well-known/openid-configuration",
        Canned::json(
            200,
            json!({
                "issuer": base,
                "authorization_endpoint": format!("{base}/auth"),
                "token_endpoint": format!("{base}/token"),
                "jwks_uri": format!("{base}/jwks"),
                "device_authorization_endpoint": format!("{base}/device/auth"),
                "backchannel_authentication_endpoint": format!("{base}/backchannel"),
                "registration_endpoint": format!("{base}/reg"),
            }),
        ),
    );
    let client = AuthenticationClient::builder()
        .app_id("app")
        .secret("app-secret")
        .discover(&base)
        .await
        .unwrap();
    (server, client)
}

fn token_requests(server: &MockServer) -> Vec<mock::Recorded> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/token")
        .collect()
}

// ------------------------------------------------------------------------------- on the wire

#[tokio::test]
async fn device_flow_requests_on_the_wire() {
    let (server, client) = discovered_mock().await;
    server.on(
        "/device/auth",
        Canned::json(
            200,
            json!({"device_code": "dc-1", "user_code": "ABCD-EFGH", "verification_uri": format!("{}/device", server.url()),
                   "verification_uri_complete": format!("{}/device?user_code=ABCD-EFGH", server.url()), "expires_in": 30, "interval": 1}),
        ),
    );
    server.on("/token", Canned::json(400, json!({"error": "access_denied"})));
    // A scope without openid is refused before any request, not rewritten.
    let e = DeviceLogin::new(client.clone())
        .scope("profile")
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput(m) if m.contains("openid")),
        "{e:?}"
    );
    assert!(server.requests().iter().all(|r| r.path != "/device/auth"));
    // The configured scope goes byte for byte: its order and spacing kept, openid not moved.
    let device = DeviceLogin::new(client)
        .scope("profile  openid")
        .start()
        .await
        .unwrap();
    assert_eq!(device.user_code(), "ABCD-EFGH");
    assert!(device.verification_uri().ends_with("/device"));
    assert!(
        device
            .verification_uri_complete()
            .unwrap()
            .ends_with("user_code=ABCD-EFGH")
    );
    assert_eq!(device.expires_in(), Duration::from_secs(30));
    assert_eq!(device.interval(), Duration::from_secs(1));
    assert!(!format!("{device:?}").contains("dc-1"));

    let e = device.wait().await.unwrap_err();
    assert!(e.is_access_denied(), "{e:?}");

    let auth = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/device/auth")
        .unwrap();
    let f = form(&auth);
    assert_eq!(one(&f, "scope"), "profile  openid");
    assert_eq!(one(&f, "client_id"), "app");
    assert_eq!(one(&f, "client_secret"), "app-secret");
    let polls = token_requests(&server);
    assert_eq!(polls.len(), 1);
    let f = form(&polls[0]);
    assert_eq!(one(&f, "grant_type"), DEVICE_GRANT);
    assert_eq!(one(&f, "device_code"), "dc-1");
    assert_eq!(one(&f, "client_id"), "app");
}

#[tokio::test]
async fn device_authorization_answers_are_checked() {
    let (server, client) = discovered_mock().await;
    for body in [
        json!({"user_code": "U", "verification_uri": "https://op.example/device", "expires_in": 30}),
        json!({"device_code": "d", "verification_uri": "https://op.example/device", "expires_in": 30}),
        json!({"device_code": "d", "user_code": "U", "expires_in": 30}),
        json!({"device_code": "d", "user_code": "U", "verification_uri": "https://op.example/device"}),
        json!({"device_code": "d", "user_code": "U", "verification_uri": "http://op.example/device", "expires_in": 30}),
    ] {
        server.on("/device/auth", Canned::json(200, body.clone()));
        let e = client.device_authorization("openid").await.unwrap_err();
        assert!(
            matches!(e, Error::InvalidResponse { .. } | Error::Config(_)),
            "{body}: {e:?}"
        );
    }
    // A provider's URI is its answer: a bad one is an invalid answer, and a client secret it
    // echoes is scrubbed from the error.
    server.on(
        "/device/auth",
        Canned::json(
            200,
            json!({"device_code": "d", "user_code": "U", "expires_in": 30,
            "verification_uri": "http://op.example/device?echo=app-secret"}),
        ),
    );
    let e = client.device_authorization("openid").await.unwrap_err();
    assert!(matches!(e, Error::InvalidResponse { .. }), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("app-secret"), "{e}");
    // No interval: RFC 8628's default of 5 s.
    server.on(
        "/device/auth",
        Canned::json(200, json!({"device_code": "d", "user_code": "U", "verification_uri": "https://op.example/device", "expires_in": "30"})),
    );
    assert_eq!(client.device_authorization("openid").await.unwrap().interval, 5);
    // The Authing preset names no device or CIBA endpoint: a configuration error, no request.
    let authing = AuthenticationClient::builder()
        .app_id("app")
        .secret("s")
        .app_host(server.url())
        .build()
        .unwrap();
    let before = server.requests().len();
    assert!(matches!(
        DeviceLogin::new(authing.clone()).start().await,
        Err(Error::Config(_))
    ));
    let ciba = BackchannelLogin::new(authing, UserHint::LoginHint("alice".into()));
    assert!(matches!(ciba.start().await, Err(Error::Config(_))));
    assert_eq!(server.requests().len(), before);
}

#[tokio::test]
async fn ciba_requests_on_the_wire() {
    let (server, client) = discovered_mock().await;
    server.on(
        "/backchannel",
        Canned::json(
            200,
            json!({"auth_req_id": "arid-1", "expires_in": 60, "interval": 1}),
        ),
    );
    server.on("/token", Canned::json(400, json!({"error": "expired_token"})));
    // CIBA Core §7.1 requires openid: a scope without it is refused before any request.
    for scope in ["email", "openid-like email", "OPENID email"] {
        let e = BackchannelLogin::new(client.clone(), UserHint::LoginHint("alice@example.com".into()))
            .scope(scope)
            .start()
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput(m) if m.contains("openid")),
            "{scope}: {e:?}"
        );
    }
    assert!(server.requests().iter().all(|r| r.path != "/backchannel"));
    let waiting = BackchannelLogin::new(client, UserHint::LoginHint("alice@example.com".into()))
        .scope("email openid")
        .binding_message("W4SCT")
        .start()
        .await
        .unwrap();
    assert!(!format!("{waiting:?}").contains("arid-1"));
    let e = waiting.wait().await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::AuthorizationExpired {
                by_provider: true,
                ..
            }
        ),
        "{e:?}"
    );

    let req = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/backchannel")
        .unwrap();
    let f = form(&req);
    assert_eq!(one(&f, "scope"), "email openid", "sent as configured");
    assert_eq!(one(&f, "login_hint"), "alice@example.com");
    assert_eq!(one(&f, "binding_message"), "W4SCT");
    assert_eq!(one(&f, "client_secret"), "app-secret");
    assert!(!f.contains_key("id_token_hint"));
    let polls = token_requests(&server);
    assert_eq!(polls.len(), 1);
    let f = form(&polls[0]);
    assert_eq!(one(&f, "grant_type"), CIBA_GRANT);
    assert_eq!(one(&f, "auth_req_id"), "arid-1");
}

#[tokio::test]
async fn token_exchange_on_the_wire() {
    let server = MockServer::start().await;
    let client = AuthenticationClient::builder()
        .app_id("app")
        .secret("app secret&")
        .app_host(server.url())
        .token_endpoint_auth_method(AuthMethod::ClientSecretBasic)
        .build()
        .unwrap();
    server.on(
        "/oidc/token",
        Canned::json(
            200,
            json!({"access_token": "issued", "issued_token_type": ID, "token_type": "N_A", "expires_in": 60}),
        ),
    );
    let request = TokenExchangeRequest::new(SubjectToken::new("subject"), TokenType::AccessToken)
        .actor(ActorToken::new("actor"), "urn:example:custom".parse().unwrap())
        .requested_token_type(TokenType::IdToken)
        .audience("api-a")
        .audience("api b")
        .resource("https://rs.example/x")
        .scope("read write");
    let answer = client.exchange_token(&request).await.unwrap();
    assert_eq!(answer.issued_token_type, TokenType::IdToken);
    assert_eq!(answer.token_type, "N_A");
    assert_eq!(answer.access_token.expose_secret(), "issued");

    let r = server.single();
    assert!(r.header("authorization").unwrap().starts_with("Basic "));
    let f = form(&r);
    assert_eq!(one(&f, "grant_type"), EXCHANGE_GRANT);
    assert_eq!(one(&f, "subject_token"), "subject");
    assert_eq!(one(&f, "subject_token_type"), ACCESS);
    assert_eq!(one(&f, "actor_token"), "actor");
    assert_eq!(one(&f, "actor_token_type"), "urn:example:custom");
    assert_eq!(one(&f, "requested_token_type"), ID);
    assert_eq!(f["audience"], vec!["api-a", "api b"]);
    assert_eq!(one(&f, "resource"), "https://rs.example/x");
    assert_eq!(one(&f, "scope"), "read write");
    assert!(!f.contains_key("client_secret"));

    // N_A is for tokens that are not access tokens; an access token must be Bearer.
    server.on(
        "/oidc/token",
        Canned::json(
            200,
            json!({"access_token": "issued", "issued_token_type": ACCESS, "token_type": "N_A"}),
        ),
    );
    let plain = TokenExchangeRequest::new(SubjectToken::new("subject"), TokenType::AccessToken);
    assert!(matches!(
        client.exchange_token(&plain).await,
        Err(Error::InvalidResponse { .. })
    ));
    server.on(
        "/oidc/token",
        Canned::json(200, json!({"access_token": "issued", "token_type": "Bearer"})),
    );
    assert!(matches!(
        client.exchange_token(&plain).await,
        Err(Error::InvalidResponse { .. })
    ));
}

#[tokio::test]
async fn registration_on_the_wire() {
    let (server, _client) = discovered_mock().await;
    let base = server.url();
    let registered = json!({
        "client_id": "new-client", "client_secret": "new-secret", "client_secret_expires_at": 0,
        "registration_access_token": "rat-1", "registration_client_uri": format!("{base}/reg/new-client"),
        "redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "client_secret_basic",
    });
    server.on("/reg", Canned::json(201, registered.clone()));
    let registrar = Registrar::discover(AuthenticationClient::builder(), &base)
        .await
        .unwrap();
    let metadata = ClientMetadata::new()
        .redirect_uris(["https://app.example/cb"])
        .token_endpoint_auth_method("client_secret_basic");
    let iat = InitialAccessToken::new("initial-1");
    let client = registrar.register(&metadata, Some(&iat)).await.unwrap();
    assert_eq!(client.client_id, "new-client");
    assert_eq!(
        client.client_secret.as_ref().unwrap().expose_secret(),
        "new-secret"
    );
    assert_eq!(
        client.registration_access_token.as_ref().unwrap().expose_secret(),
        "rat-1"
    );
    assert_eq!(
        client.metadata.members()["redirect_uris"],
        json!(["https://app.example/cb"])
    );
    assert!(!client.client_secret_expired(u64::MAX));
    let post = server.requests().into_iter().find(|r| r.path == "/reg").unwrap();
    assert_eq!(post.method, "POST");
    assert_eq!(post.header("authorization").unwrap(), "Bearer initial-1");
    assert_eq!(post.header("content-type").unwrap(), "application/json");
    let body: Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(
        body,
        json!({"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "client_secret_basic"})
    );

    // Read and update go to registration_client_uri with the registration access token.
    let mut updated = registered.clone();
    updated["client_name"] = json!("renamed");
    updated
        .as_object_mut()
        .unwrap()
        .remove("registration_access_token");
    server.on("/reg/new-client", Canned::json(200, updated));
    let read = registrar.read(&client).await.unwrap();
    assert_eq!(
        read.registration_access_token.unwrap().expose_secret(),
        "rat-1",
        "kept when not rotated"
    );
    let renamed = registrar
        .update(&client, &metadata.clone().client_name("renamed"))
        .await
        .unwrap();
    assert_eq!(renamed.metadata.members()["client_name"], "renamed");
    let calls: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/reg/new-client")
        .collect();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].method, "GET");
    assert_eq!(calls[0].header("authorization").unwrap(), "Bearer rat-1");
    assert_eq!(calls[1].method, "PUT");
    assert_eq!(calls[1].header("authorization").unwrap(), "Bearer rat-1");
    let body: Value = serde_json::from_slice(&calls[1].body).unwrap();
    assert_eq!(body["client_id"], "new-client");
    assert_eq!(body["client_name"], "renamed");
    assert!(body.get("registration_access_token").is_none());

    // A secret without client_secret_expires_at is refused (RFC 7591 §3.2.1); an expired one is
    // refused before use.
    let mut no_expiry = registered.clone();
    no_expiry
        .as_object_mut()
        .unwrap()
        .remove("client_secret_expires_at");
    server.on("/reg", Canned::json(201, no_expiry));
    assert!(matches!(
        registrar.register(&metadata, None).await,
        Err(Error::InvalidResponse { .. })
    ));
    let mut expired = registered.clone();
    expired["client_secret_expires_at"] = json!(1_000);
    server.on("/reg", Canned::json(201, expired));
    let old = registrar.register(&metadata, None).await.unwrap();
    assert!(old.client_secret_expired(registrar.now()));
    let e = old
        .configure(AuthenticationClient::builder(), registrar.now())
        .unwrap_err();
    assert!(
        matches!(e, Error::ClientSecretExpired { expired_at: 1_000 }),
        "{e:?}"
    );
    // A registration_client_uri unfit for requests is an invalid answer; the initial access
    // token it echoes is scrubbed from the error.
    let mut echoed = registered.clone();
    echoed["registration_client_uri"] = json!("ftp://op.example/reg?echo=initial-1");
    server.on("/reg", Canned::json(201, echoed));
    let e = registrar.register(&metadata, Some(&iat)).await.unwrap_err();
    assert!(matches!(e, Error::InvalidResponse { .. }), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("initial-1"), "{e}");
    // Server-assigned members are not client metadata.
    let bad = ClientMetadata::new().set("client_id", json!("mine"));
    assert!(matches!(
        registrar.register(&bad, None).await,
        Err(Error::InvalidInput(_))
    ));
}

// ------------------------------------------------------------------------- against panva

const DEVICE_CLIENT: &str = "rp-device";

fn device_client() -> Value {
    json!({"client_id": DEVICE_CLIENT, "token_endpoint_auth_method": "none",
           "grant_types": [DEVICE_GRANT, "refresh_token"], "response_types": [], "redirect_uris": []})
}

async fn device_op(options: PanvaOptions) -> (PanvaProvider, AuthenticationClient) {
    let op = PanvaProvider::start(options.plugin("plugins/device.mjs").client(device_client())).await;
    let client = AuthenticationClient::builder()
        .app_id(DEVICE_CLIENT)
        .token_endpoint_auth_method(AuthMethod::None)
        .introspection_endpoint_auth_method(AuthMethod::None)
        .revocation_endpoint_auth_method(AuthMethod::None)
        .discover(op.issuer())
        .await
        .unwrap();
    (op, client)
}

async fn provider_json(op: &PanvaProvider, method: reqwest::Method, path: &str) -> Value {
    let r = reqwest::Client::new()
        .request(method, op.url(path))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

/// The device_code polls the provider received: (arrival in ms, error answered).
async fn polls(op: &PanvaProvider) -> Vec<(u64, Option<String>)> {
    provider_json(op, reqwest::Method::GET, "/__device/polls").await["polls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["at"].as_u64().unwrap(), p["error"].as_str().map(str::to_owned)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_approved_after_a_slow_down() {
    let (op, client) = device_op(PanvaOptions::default()).await;
    provider_json(&op, reqwest::Method::POST, "/__device/slow-down?count=1").await;
    let device = DeviceLogin::new(client)
        .scope("openid profile offline_access")
        .start()
        .await
        .unwrap();
    assert_eq!(device.interval(), Duration::from_secs(1));
    let complete = device.verification_uri_complete().unwrap().to_owned();
    assert!(
        complete.contains(device.user_code()) || complete.contains("user_code="),
        "{complete}"
    );
    let waiting = tokio::spawn(device.wait());
    // The user approves once the device has polled (and been told to slow down).
    while polls(&op).await.is_empty() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = op.browser().device(&complete, "dora", true).await.unwrap();
    assert!(
        page.to_lowercase().contains("sign-in") || page.to_lowercase().contains("success"),
        "{page}"
    );
    let session = waiting.await.unwrap().unwrap();
    assert_eq!(session.subject(), "dora");
    assert_eq!(session.claims().iss, op.issuer());
    let user = session.userinfo().await.unwrap();
    assert_eq!(user.sub, "dora");

    let polls = polls(&op).await;
    assert_eq!(polls.len(), 2, "{polls:?}");
    assert_eq!(polls[0].1.as_deref(), Some("slow_down"));
    assert_eq!(polls[1].1, None, "the second poll got the tokens");
    // slow_down adds 5 s to the 1 s interval, as the provider saw it.
    let gap = polls[1].0 - polls[0].0;
    assert!((5_900..8_000).contains(&gap), "{gap} ms between polls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_denied_by_the_user() {
    let (op, client) = device_op(PanvaOptions::default()).await;
    let device = DeviceLogin::new(client).start().await.unwrap();
    let complete = device.verification_uri_complete().unwrap().to_owned();
    op.browser().device(&complete, "dora", false).await.unwrap();
    let e = device.wait().await.unwrap_err();
    assert!(e.is_access_denied(), "{e:?}");
    let polls = polls(&op).await;
    assert_eq!(polls.last().unwrap().1.as_deref(), Some("access_denied"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_expires_and_can_be_cancelled() {
    let (op, client) = device_op(PanvaOptions::default().ttl("DeviceCode", 2)).await;
    let device = DeviceLogin::new(client.clone()).start().await.unwrap();
    assert_eq!(device.expires_in(), Duration::from_secs(2));
    let e = device.wait().await.unwrap_err();
    assert!(matches!(e, Error::AuthorizationExpired { .. }), "{e:?}");
    let seen = polls(&op).await;
    // Polls at 1 s only: the next one would be at the 2 s expiry.
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].1.as_deref(), Some("authorization_pending"));

    // Cancelled: the wait ends at once and no further poll reaches the provider.
    let device = DeviceLogin::new(client).start().await.unwrap();
    let e = device.wait_until(std::future::ready(())).await.unwrap_err();
    assert!(matches!(e, Error::Cancelled), "{e:?}");
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert_eq!(polls(&op).await.len(), seen.len());
}

const CIBA_CLIENT: &str = "rp-ciba";
const CIBA_SECRET: &str = "rp-ciba-secret-0123456789abcdef0123456789";

async fn ciba_op() -> (PanvaProvider, AuthenticationClient) {
    let op = PanvaProvider::start(PanvaOptions::default().plugin("plugins/ciba.mjs").client(json!({
        "client_id": CIBA_CLIENT, "client_secret": CIBA_SECRET, "token_endpoint_auth_method": "client_secret_post",
        "grant_types": [CIBA_GRANT], "response_types": [], "redirect_uris": [],
        "backchannel_token_delivery_mode": "poll",
    })))
    .await;
    let client = AuthenticationClient::builder()
        .app_id(CIBA_CLIENT)
        .secret(CIBA_SECRET)
        .discover(op.issuer())
        .await
        .unwrap();
    (op, client)
}

/// Waits for the CIBA request the provider forwarded to "the user's device", then decides it.
async fn ciba_decide(op: &PanvaProvider, approve: bool) -> Value {
    loop {
        let list = provider_json(op, reqwest::Method::GET, "/__ciba/requests").await;
        if let Some(r) = list["requests"].as_array().and_then(|a| a.last()).cloned() {
            let id = r["id"].as_str().unwrap();
            provider_json(
                op,
                reqwest::Method::POST,
                &format!("/__ciba/decide?id={id}&approve={approve}"),
            )
            .await;
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ciba_approved_and_denied() {
    let (op, client) = ciba_op().await;
    let waiting = BackchannelLogin::new(client.clone(), UserHint::LoginHint("erin".into()))
        .scope("openid profile")
        .binding_message("W4SCT")
        .start()
        .await
        .unwrap();
    assert_eq!(waiting.interval(), Duration::from_secs(1));
    let request = ciba_decide(&op, true).await;
    assert_eq!(request["account"], "erin");
    assert_eq!(request["binding_message"], "W4SCT");
    assert_eq!(request["scope"], "openid profile");
    let session = waiting.wait().await.unwrap();
    assert_eq!(session.subject(), "erin");
    assert_eq!(session.claims().aud, vec![CIBA_CLIENT.to_owned()]);

    let waiting = BackchannelLogin::new(client, UserHint::LoginHint("erin".into()))
        .start()
        .await
        .unwrap();
    ciba_decide(&op, false).await;
    let e = waiting.wait().await.unwrap_err();
    assert!(e.is_access_denied(), "{e:?}");
}

const EXCHANGE_CLIENT: &str = "rp-exchange";
const EXCHANGE_SECRET: &str = "rp-exchange-secret-0123456789abcdef0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_exchange_against_panva() {
    let op = PanvaProvider::start(PanvaOptions::default().plugin("plugins/exchange.mjs").client(json!({
        "client_id": EXCHANGE_CLIENT, "client_secret": EXCHANGE_SECRET, "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["client_credentials", EXCHANGE_GRANT], "response_types": [], "redirect_uris": [],
        "scope": "api:read api:write",
    })))
    .await;
    let client = AuthenticationClient::builder()
        .app_id(EXCHANGE_CLIENT)
        .secret(EXCHANGE_SECRET)
        .token_endpoint_auth_method(AuthMethod::ClientSecretBasic)
        .introspection_endpoint_auth_method(AuthMethod::ClientSecretBasic)
        .discover(op.issuer())
        .await
        .unwrap();
    let subject = client
        .get_access_token_by_client_credentials(
            "api:read api:write",
            EXCHANGE_CLIENT,
            &AccessSecret::new(EXCHANGE_SECRET),
        )
        .await
        .unwrap();

    let request = TokenExchangeRequest::new(
        SubjectToken::new(subject.access_token.expose_secret()),
        TokenType::AccessToken,
    )
    .actor(ActorToken::new("actor-token"), TokenType::Jwt)
    .requested_token_type(TokenType::AccessToken)
    .audience("orders")
    .audience("billing")
    .resource("https://rs.example/orders")
    .scope("api:read");
    let answer = client.exchange_token(&request).await.unwrap();
    assert_eq!(answer.issued_token_type, TokenType::AccessToken);
    assert_eq!(answer.token_type, "Bearer");
    assert_eq!(answer.scope.as_deref(), Some("api:read"));
    let last = provider_json(&op, reqwest::Method::GET, "/__exchange/last").await["last"].clone();
    assert_eq!(last["audience"], json!(["orders", "billing"]));
    assert_eq!(last["resource"], json!(["https://rs.example/orders"]));
    assert_eq!(last["actor_token_type"], "urn:ietf:params:oauth:token-type:jwt");
    assert_eq!(last["has_actor_token"], true);
    // The issued token is a real one of the provider's.
    let issued = AccessToken::new(answer.access_token.expose_secret());
    let intro = client.introspect_token(&issued).await.unwrap();
    assert!(intro.active);
    assert_eq!(intro.scope.as_deref(), Some("api:read"));

    // A token that is not an access token comes with token_type N_A.
    let id = TokenExchangeRequest::new(
        SubjectToken::new(subject.access_token.expose_secret()),
        TokenType::AccessToken,
    )
    .requested_token_type(TokenType::IdToken);
    let answer = client.exchange_token(&id).await.unwrap();
    assert_eq!(
        (answer.issued_token_type, answer.token_type.as_str()),
        (TokenType::IdToken, "N_A")
    );

    let forged = TokenExchangeRequest::new(SubjectToken::new("not-a-token"), TokenType::AccessToken);
    let e = client.exchange_token(&forged).await.unwrap_err();
    assert_eq!(e.oauth_error(), Some("invalid_grant"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_against_panva() {
    let op = PanvaProvider::start(PanvaOptions::default().plugin("plugins/registration-iat.mjs")).await;
    let registrar = Registrar::discover(AuthenticationClient::builder(), op.issuer())
        .await
        .unwrap();
    let metadata = ClientMetadata::new()
        .redirect_uris([panva::CALLBACK])
        .token_endpoint_auth_method("client_secret_basic")
        .client_name("grants test");
    let e = registrar.register(&metadata, None).await.unwrap_err();
    assert!(
        e.op_error()
            .is_some_and(|op| op.status == 401 || op.status == 400),
        "{e:?}"
    );
    let wrong = InitialAccessToken::new("wrong-token");
    assert!(registrar.register(&metadata, Some(&wrong)).await.is_err());

    let iat = InitialAccessToken::new("test-initial-access-token");
    let registered = registrar.register(&metadata, Some(&iat)).await.unwrap();
    assert!(registered.client_secret.is_some());
    assert_eq!(registered.client_secret_expires_at, Some(0));
    assert!(
        registered
            .registration_client_uri
            .as_deref()
            .unwrap()
            .starts_with(op.issuer())
    );
    assert_eq!(registered.metadata.members()["client_name"], "grants test");

    let read = registrar.read(&registered).await.unwrap();
    assert_eq!(read.client_id, registered.client_id);
    let updated = registrar
        .update(&registered, &metadata.clone().client_name("renamed"))
        .await
        .unwrap();
    assert_eq!(updated.metadata.members()["client_name"], "renamed");

    // The registered client works: a login through the typed flow with its id and secret.
    let client = registered
        .configure(AuthenticationClient::builder(), registrar.now())
        .unwrap()
        .redirect_uri(panva::CALLBACK)
        .discover(op.issuer())
        .await
        .unwrap();
    let (url, pending) = authing_oidc::flow::Unauthorized::new(client).start().unwrap();
    let callback = op.login(url.as_str(), "frank").await;
    let session = pending
        .complete(authing_oidc::flow::CallbackParams::from_url(callback.url()).unwrap())
        .await
        .unwrap();
    assert_eq!(session.subject(), "frank");

    registrar.delete(&updated).await.unwrap();
    assert!(registrar.read(&updated).await.is_err());
}
