//! `ClientCredentialsSource`'s cache against a recording mock, with a clock the tests control:
//! a token without `expires_in` is not cached forever, the margin is settable, and a token an
//! API refused can be evicted; and a source built from where the provider is plus the access
//! key pair alone, with no application of its own.

#[path = "support/mock.rs"]
mod mock;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use authing_oidc::clock::ManualClock;
use authing_oidc::m2m::{ClientCredentialsSource, DEFAULT_UNSTATED_LIFETIME};
use authing_oidc::{AccessSecret, AccessToken, AuthenticationClient, ExposeSecret};
use authing_oidc_dev_provider::{DevProvider, DevProviderConfig};
use mock::{Canned, MockServer};
use serde_json::{Value, json};

struct Fixture {
    server: MockServer,
    clock: Arc<ManualClock>,
    source: ClientCredentialsSource,
}

async fn fixture() -> Fixture {
    let server = MockServer::start().await;
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let client = AuthenticationClient::builder()
        .app_id("app")
        .secret("app-secret")
        .app_host(server.url())
        .clock(clock.clone())
        .build()
        .unwrap();
    let source =
        ClientCredentialsSource::new(client, "api:read", "key", AccessSecret::new("secret")).unwrap();
    Fixture {
        server,
        clock,
        source,
    }
}

impl Fixture {
    fn answer(&self, token: &str, expires_in: Option<u64>) {
        let mut body = json!({"access_token": token, "token_type": "Bearer"});
        if let Some(e) = expires_in {
            body["expires_in"] = Value::from(e);
        }
        self.server.on("/oidc/token", Canned::json(200, body));
    }

    async fn token(&self) -> String {
        self.source
            .token()
            .await
            .unwrap()
            .access_token
            .expose_secret()
            .to_owned()
    }

    fn requests(&self) -> usize {
        self.server.requests().len()
    }

    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }
}

#[tokio::test]
async fn a_token_without_expires_in_is_cached_for_the_unstated_lifetime_only() {
    let f = fixture().await;
    f.answer("m-1", None);
    let first = f.source.token().await.unwrap();
    assert_eq!(first.expires_in, None, "no lifetime is invented for the caller");
    f.answer("m-2", None);
    // 300 s with a margin of min(60 s, 10%) = 30 s: cached up to 269 s, renewed at 270 s.
    let lifetime = DEFAULT_UNSTATED_LIFETIME.as_secs();
    f.advance(lifetime - 31);
    assert_eq!(f.token().await, "m-1");
    assert_eq!(f.requests(), 1);
    f.advance(1);
    assert_eq!(f.token().await, "m-2");
    assert_eq!(f.requests(), 2);
}

#[tokio::test]
async fn the_unstated_lifetime_is_configurable() {
    let f = fixture().await;
    f.source.set_unstated_lifetime(Duration::from_secs(20));
    f.answer("m-1", None);
    assert_eq!(f.token().await, "m-1");
    f.answer("m-2", None);
    // 20 s with a margin of 2 s: renewed at 18 s.
    f.advance(17);
    assert_eq!(f.token().await, "m-1");
    f.advance(1);
    assert_eq!(f.token().await, "m-2");
}

#[tokio::test]
async fn the_refresh_margin_is_settable() {
    let f = fixture().await;
    f.source.set_refresh_margin(Duration::from_secs(120));
    f.answer("m-1", Some(3600));
    assert_eq!(f.token().await, "m-1");
    f.answer("m-2", Some(3600));
    f.advance(3600 - 121);
    let t = f.source.token().await.unwrap();
    assert_eq!(t.access_token.expose_secret(), "m-1");
    assert_eq!(t.expires_in, Some(Duration::from_secs(121)));
    f.advance(1);
    assert_eq!(f.token().await, "m-2", "renewed 120 s before expiry, not 60 s");
}

#[tokio::test]
async fn invalidate_evicts_the_refused_token_once() {
    let f = fixture().await;
    f.answer("m-1", Some(3600));
    assert_eq!(f.token().await, "m-1");
    f.answer("m-2", Some(3600));
    // An API answered 401 to m-1.
    f.source.invalidate(&AccessToken::new("m-1"));
    assert_eq!(f.token().await, "m-2");
    assert_eq!(f.requests(), 2);
    // A second task reporting the same 401 late does not evict the new token.
    f.source.invalidate(&AccessToken::new("m-1"));
    assert_eq!(f.token().await, "m-2");
    assert_eq!(f.requests(), 2);
}

/// From an app host and the key pair: the token request goes to the app host's token endpoint
/// and is authenticated by the key pair, nothing else.
#[tokio::test]
async fn a_source_needs_only_the_app_host_and_the_key_pair() {
    let server = MockServer::start().await;
    server.on(
        "/oidc/token",
        Canned::json(
            200,
            json!({"access_token": "m-1", "token_type": "Bearer", "expires_in": 3600}),
        ),
    );
    let source =
        ClientCredentialsSource::for_app_host(&server.url(), "api:read", "key", AccessSecret::new("secret"))
            .unwrap();
    let token = source.token().await.unwrap();
    assert_eq!(token.access_token.expose_secret(), "m-1");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/oidc/token");
    let mut form = requests[0].form();
    form.sort();
    let expected: Vec<(String, String)> = [
        ("client_id", "key"),
        ("client_secret", "secret"),
        ("grant_type", "client_credentials"),
        ("scope", "api:read"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(form, expected);
    assert_eq!(requests[0].header("authorization"), None);

    for (key, scope) in [("", "api:read"), (" ", "api:read"), ("key", " ")] {
        let refused =
            ClientCredentialsSource::for_app_host(&server.url(), scope, key, AccessSecret::new("s"));
        assert!(refused.is_err(), "{key:?} / {scope:?}");
    }
    assert!(ClientCredentialsSource::for_app_host("not a url", "s", "key", AccessSecret::new("s")).is_err());
}

/// From an issuer by discovery, against the development provider's machine-to-machine pair:
/// a real token, cached, and renewed after `invalidate`.
#[tokio::test]
async fn a_source_by_discovery_gets_tokens_from_the_dev_provider() {
    let provider = DevProvider::start(DevProviderConfig::default()).await.unwrap();
    let source = ClientCredentialsSource::discover(
        &provider.issuer(),
        "openid",
        "dev-m2m-access-key",
        AccessSecret::new("dev-m2m-access-secret"),
    )
    .await
    .unwrap();
    let first = source.token().await.unwrap();
    assert_eq!(
        source.token().await.unwrap().access_token.expose_secret(),
        first.access_token.expose_secret()
    );
    assert_eq!(provider.request_count("/oidc/token"), 1);
    source.invalidate(&first.access_token);
    let second = source.token().await.unwrap();
    assert_ne!(
        second.access_token.expose_secret(),
        first.access_token.expose_secret()
    );
    assert_eq!(provider.request_count("/oidc/token"), 2);

    let wrong = ClientCredentialsSource::discover(
        &provider.issuer(),
        "openid",
        "dev-m2m-access-key",
        AccessSecret::new("wrong"),
    )
    .await
    .unwrap();
    assert!(wrong.token().await.is_err(), "a wrong secret gets no token");
    provider.shutdown().await;
}
