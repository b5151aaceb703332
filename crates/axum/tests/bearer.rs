//! The bearer layer against real providers: panva's oidc-provider issuing RFC 9068 JWT access
//! tokens for one resource and opaque ones (introspected) for another (plugin
//! `plugins/resource.mjs`), and the embedded development provider in Authing's shape (`typ: JWT`,
//! no `client_id`). Requests go through the axum router in-process; the provider counts its
//! introspection requests and JWKS fetches, so single-flight and the one re-fetch are measured on
//! its side. Every refusal's status and `WWW-Authenticate` header is compared exactly.

#[path = "../../../tests/support/panva.rs"]
#[allow(dead_code)]
mod panva;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use authing_oidc::access_token::TypPolicy;
use authing_oidc::bearer::BearerVerifierBuilder;
use authing_oidc::clock::ManualClock;
use authing_oidc::{AccessSecret, AuthenticationClient};
use authing_oidc_axum::{Bearer, BearerLayer, RequireScope};
use authing_oidc_dev_provider::{DevProvider, DevProviderConfig};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use panva::{PanvaOptions, PanvaProvider};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const JWT_API: &str = "https://api.jwt.test";
const OPAQUE_API: &str = "https://api.opaque.test";
const INVALID: &str = r#"Bearer realm="api", error="invalid_token", error_description="The access token is not valid for this resource""#;
const EXPIRED: &str =
    r#"Bearer realm="api", error="invalid_token", error_description="The access token expired""#;

fn app(verifier: BearerVerifierBuilder) -> Router {
    let layer = BearerLayer::new(verifier.build().unwrap()).realm("api").unwrap();
    Router::new()
        .route(
            "/me",
            get(|bearer: Bearer| async move {
                json!({"sub": bearer.sub(), "scope": bearer.scope(), "client_id": bearer.client_id()})
                    .to_string()
            }),
        )
        .route(
            "/write",
            get(|| async { "written" }).layer(RequireScope::new("api:write")),
        )
        .layer(layer)
}

async fn call(app: &Router, path: &str, authorization: Option<&str>) -> Response<Body> {
    let mut request = Request::get(path);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    app.clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

async fn get_with(app: &Router, path: &str, token: &str) -> Response<Body> {
    call(app, path, Some(&format!("Bearer {token}"))).await
}

fn challenge(response: &Response<Body>) -> Option<&str> {
    response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap())
}

async fn body(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Asserts a refusal: status and the exact challenge; and that nothing echoes the token.
async fn assert_refused(response: Response<Body>, status: StatusCode, www: &str, token: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(challenge(&response), Some(www));
    let text = body(response).await;
    assert!(
        !token.is_empty() && !text.contains(token),
        "the body echoes the token"
    );
}

struct Panva {
    provider: PanvaProvider,
    http: reqwest::Client,
    clock: Arc<ManualClock>,
    client: AuthenticationClient,
}

impl Panva {
    async fn start(options: PanvaOptions) -> Panva {
        let provider = PanvaProvider::start(options.plugin("plugins/resource.mjs")).await;
        let clock = Arc::new(ManualClock::new(SystemTime::now()));
        let client = AuthenticationClient::builder()
            .app_id(panva::RP_M2M)
            .secret(provider.secret(panva::RP_M2M))
            .clock(clock.clone())
            .jwks_min_refetch_interval(Duration::from_secs(30))
            .discover(provider.issuer())
            .await
            .unwrap();
        Panva {
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            provider,
            clock,
            client,
        }
    }

    /// A client_credentials access token of rp-m2m for `resource`.
    async fn token(&self, resource: &str, scope: &str) -> String {
        let secret = self.provider.secret(panva::RP_M2M);
        let answer: Value = self
            .http
            .post(self.provider.url("/token"))
            .header(header::CONTENT_TYPE.as_str(), "application/x-www-form-urlencoded")
            .body(form(&[
                ("grant_type", "client_credentials"),
                ("client_id", panva::RP_M2M),
                ("client_secret", &secret),
                ("resource", resource),
                ("scope", scope),
            ]))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap();
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token: {answer}"))
            .to_owned()
    }

    async fn revoke(&self, token: &str) {
        let secret = self.provider.secret(panva::RP_M2M);
        let status = self
            .http
            .post(self.provider.url("/token/revocation"))
            .header(header::CONTENT_TYPE.as_str(), "application/x-www-form-urlencoded")
            .body(form(&[
                ("token", token),
                ("client_id", panva::RP_M2M),
                ("client_secret", &secret),
            ]))
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success());
    }

    /// (introspection requests, JWKS fetches) the provider has served.
    async fn counters(&self) -> (u64, u64) {
        let c: Value = self
            .http
            .get(self.provider.url("/test/counters"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap();
        (c["introspection"].as_u64().unwrap(), c["jwks"].as_u64().unwrap())
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// `header.payload.signature` → (header JSON, payload part).
fn split(token: &str) -> (Value, String) {
    let mut parts = token.split('.');
    let header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
    (header, parts.next().unwrap().to_owned())
}

fn with_header(header: &Value, payload: &str, signature: &str) -> String {
    format!(
        "{}.{payload}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string())
    )
}

#[tokio::test]
async fn jwt_access_tokens_from_panva() {
    let panva = Panva::start(PanvaOptions::default()).await;
    let verifier = || {
        panva
            .client
            .bearer_verifier([JWT_API, "https://another.api.test"])
            .typ_policy(TypPolicy::Strict)
    };
    let app = app(verifier());
    let token = panva.token(JWT_API, "api:read").await;
    let (header, payload) = split(&token);
    assert_eq!(
        header["typ"], "at+jwt",
        "panva issues RFC 9068 tokens for this resource"
    );

    // Valid: the handler sees the claims; a second request pays no signature check (cached,
    // which the benches measure) and still answers the same.
    for _ in 0..2 {
        let response = get_with(&app, "/me", &token).await;
        assert_eq!(response.status(), StatusCode::OK);
        let me: Value = serde_json::from_str(&body(response).await).unwrap();
        assert_eq!(
            me,
            json!({"sub": panva::RP_M2M, "scope": "api:read", "client_id": panva::RP_M2M})
        );
    }
    let (_, jwks_after_first) = panva.counters().await;
    assert_eq!(jwks_after_first, 1);

    // Missing scope: 403 naming the scope the route needs.
    let response = get_with(&app, "/write", &token).await;
    assert_refused(
        response,
        StatusCode::FORBIDDEN,
        r#"Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant the required scope", scope="api:write""#,
        &token,
    )
    .await;
    let writer = panva.token(JWT_API, "api:read api:write").await;
    let response = get_with(&app, "/write", &writer).await;
    assert_eq!(response.status(), StatusCode::OK);

    // Wrong audience: the same token at an API that trusts only another resource.
    let other = self::app(panva.client.bearer_verifier(["https://other.api.test"]));
    assert_refused(
        get_with(&other, "/me", &token).await,
        StatusCode::UNAUTHORIZED,
        INVALID,
        &token,
    )
    .await;
    // A client_id allow-list that does not hold rp-m2m.
    let allow = self::app(verifier().client_ids(["rp-rs256"]));
    assert_refused(
        get_with(&allow, "/me", &token).await,
        StatusCode::UNAUTHORIZED,
        INVALID,
        &token,
    )
    .await;
    let allow = self::app(verifier().client_ids([panva::RP_M2M]));
    assert_eq!(get_with(&allow, "/me", &token).await.status(), StatusCode::OK);

    // alg none, with and without a signature part.
    let none = json!({"alg": "none", "typ": "at+jwt"});
    for forged in [
        with_header(&none, &payload, ""),
        with_header(&none, &payload, "AAAA"),
    ] {
        assert_refused(
            get_with(&app, "/me", &forged).await,
            StatusCode::UNAUTHORIZED,
            INVALID,
            &forged,
        )
        .await;
    }

    // HS256 keyed with the provider's public key (RS→HS confusion): the JWKS text of the key.
    let jwks = panva
        .http
        .get(panva.provider.url("/jwks"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let hs = json!({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]});
    let input = format!("{}.{payload}", URL_SAFE_NO_PAD.encode(hs.to_string()));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, jwks.as_bytes());
    let mac = URL_SAFE_NO_PAD.encode(aws_lc_rs::hmac::sign(&key, input.as_bytes()).as_ref());
    let forged = format!("{input}.{mac}");
    assert_refused(
        get_with(&app, "/me", &forged).await,
        StatusCode::UNAUTHORIZED,
        INVALID,
        &forged,
    )
    .await;

    // Unknown kid: one JWKS re-fetch, then 401; a second unknown kid within the minimum
    // interval does not make the provider serve the keys again.
    let signature = token.rsplit('.').next().unwrap();
    for (i, kid) in ["rotated-away-1", "rotated-away-2"].into_iter().enumerate() {
        let mut h = header.clone();
        h["kid"] = kid.into();
        let forged = with_header(&h, &payload, signature);
        assert_refused(
            get_with(&app, "/me", &forged).await,
            StatusCode::UNAUTHORIZED,
            INVALID,
            &forged,
        )
        .await;
        let (_, jwks) = panva.counters().await;
        assert_eq!(jwks, 2, "after unknown kid #{}", i + 1);
    }

    // Expired: the token's exp has passed on the API's clock (beyond the leeway), even though
    // the verified token is in the cache.
    panva.clock.advance(Duration::from_secs(601 + 60));
    assert_refused(
        get_with(&app, "/me", &token).await,
        StatusCode::UNAUTHORIZED,
        EXPIRED,
        &token,
    )
    .await;
}

#[tokio::test]
async fn a_token_of_another_issuer_is_refused() {
    let dir = std::env::temp_dir().join(format!("bearer-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let keys = dir.join("keys.json");
    let panva = Panva::start(PanvaOptions::default().write_keys_file(&keys)).await;
    // Another provider signing with the very same keys: only `iss` tells its tokens apart.
    let impostor = Panva::start(PanvaOptions::default().keys_file(&keys)).await;
    let token = impostor.token(JWT_API, "api:read").await;
    let app = app(panva.client.bearer_verifier([JWT_API]));
    let own = panva.token(JWT_API, "api:read").await;
    assert_eq!(get_with(&app, "/me", &own).await.status(), StatusCode::OK);
    assert_eq!(split(&own).0["kid"], split(&token).0["kid"]);
    assert_refused(
        get_with(&app, "/me", &token).await,
        StatusCode::UNAUTHORIZED,
        INVALID,
        &token,
    )
    .await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn opaque_tokens_are_introspected_once_and_cached() {
    let panva = Panva::start(PanvaOptions::default()).await;
    let app = app(panva
        .client
        .bearer_verifier([OPAQUE_API])
        .introspection_ttl(Duration::from_secs(1))
        .negative_ttl(Duration::from_secs(1)));

    // 1,000 concurrent requests with one new opaque token: one introspection request.
    let token = panva.token(OPAQUE_API, "api:read").await;
    assert!(!authing_oidc::bearer::looks_like_jwt(&token));
    let (before, _) = panva.counters().await;
    let requests = (0..1000).map(|_| get_with(&app, "/me", &token));
    let responses = futures_util::future::join_all(requests).await;
    assert!(responses.iter().all(|r| r.status() == StatusCode::OK));
    let (after, _) = panva.counters().await;
    assert_eq!(
        after - before,
        1,
        "introspection requests for 1,000 concurrent callers"
    );
    let me: Value = serde_json::from_str(&body(get_with(&app, "/me", &token).await).await).unwrap();
    assert_eq!(
        me,
        json!({"sub": null, "scope": "api:read", "client_id": panva::RP_M2M})
    );

    // Revoked: still accepted while the cache entry lasts, refused once it has ended.
    panva.revoke(&token).await;
    assert_eq!(get_with(&app, "/me", &token).await.status(), StatusCode::OK);
    panva.clock.advance(Duration::from_millis(1100));
    assert_refused(
        get_with(&app, "/me", &token).await,
        StatusCode::UNAUTHORIZED,
        INVALID,
        &token,
    )
    .await;
    // The refusal is cached briefly: a repeat asks nobody.
    let (count, _) = panva.counters().await;
    assert_refused(
        get_with(&app, "/me", &token).await,
        StatusCode::UNAUTHORIZED,
        INVALID,
        &token,
    )
    .await;
    assert_eq!(panva.counters().await.0, count);

    // Scope and audience apply to opaque tokens too.
    let reader = panva.token(OPAQUE_API, "api:read").await;
    let response = get_with(&app, "/write", &reader).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let for_jwt_api = self::app(panva.client.bearer_verifier([JWT_API]));
    assert_refused(
        get_with(&for_jwt_api, "/me", &reader).await,
        StatusCode::UNAUTHORIZED,
        INVALID,
        &reader,
    )
    .await;
    // An unknown opaque token.
    let made_up = "made-up-opaque-token";
    assert_refused(
        get_with(&app, "/me", made_up).await,
        StatusCode::UNAUTHORIZED,
        INVALID,
        made_up,
    )
    .await;
}

#[tokio::test]
async fn malformed_and_missing_credentials() {
    let panva = Panva::start(PanvaOptions::default()).await;
    let app = app(panva.client.bearer_verifier([JWT_API]));
    let (introspections, jwks) = panva.counters().await;
    for value in [None, Some("Basic cnAtbTJtOnNlY3JldA=="), Some("Bearerish abc")] {
        let response = call(&app, "/me", value).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{value:?}");
        assert_eq!(challenge(&response), Some(r#"Bearer realm="api""#));
    }
    for value in [
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer tok\"en",
        "Bearer ===",
        "bearer a,b",
    ] {
        let response = call(&app, "/me", Some(value)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{value:?}");
        assert_eq!(
            challenge(&response),
            Some(
                r#"Bearer realm="api", error="invalid_request", error_description="The Authorization header is malformed""#
            )
        );
    }
    // Two Authorization headers.
    let request = Request::get("/me")
        .header(header::AUTHORIZATION, "Bearer a.b.c")
        .header(header::AUTHORIZATION, "Bearer d.e.f")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // The scheme is case-insensitive and padding is allowed.
    let token = panva.token(JWT_API, "api:read").await;
    let response = call(&app, "/me", Some(&format!("bEaReR   {token}"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    // The layer asks the cache with the header's bytes before any syntax check: a cached token
    // with a byte outside the token68 alphabet added is still malformed, not a hit or a 401.
    for value in [
        format!("Bearer {token},"),
        format!("Bearer {token} x"),
        format!("Bearer ,{token}"),
    ] {
        let response = call(&app, "/me", Some(&value)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    // None of the malformed requests reached the provider.
    assert_eq!(panva.counters().await, (introspections, jwks + 1));
}

#[tokio::test]
async fn dev_provider_tokens_in_authings_shape() {
    let provider = DevProvider::start(DevProviderConfig::default()).await.unwrap();
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let client = AuthenticationClient::builder()
        .app_id("dev-app")
        .secret("dev-app-secret")
        .app_host(provider.app_host())
        .clock(clock.clone())
        .build()
        .unwrap();
    let m2m = client
        .get_access_token_by_client_credentials(
            "api:read",
            "dev-m2m-access-key",
            &AccessSecret::new("dev-m2m-access-secret"),
        )
        .await
        .unwrap();
    let token = authing_oidc::ExposeSecret::expose_secret(&m2m.access_token).to_owned();
    let (header, _) = split(&token);
    assert_eq!(header["typ"], "JWT", "Authing's access tokens say JWT");

    // The Authing preset accepts it; a token's aud is the app (here the access key) it was
    // issued to, so the API lists it among its audiences.
    let app = app(client.bearer_verifier(["dev-app", "dev-m2m-access-key"]));
    let response = get_with(&app, "/me", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = serde_json::from_str(&body(response).await).unwrap();
    assert_eq!(
        me,
        json!({"sub": "dev-m2m-access-key", "scope": "api:read", "client_id": null})
    );
    assert_refused(
        get_with(&app, "/write", &token).await,
        StatusCode::FORBIDDEN,
        r#"Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant the required scope", scope="api:write""#,
        &token,
    )
    .await;

    // Strict RFC 9068 refuses typ JWT; an API trusting only dev-app refuses the m2m token.
    let strict = self::app(
        client
            .bearer_verifier(["dev-m2m-access-key"])
            .typ_policy(TypPolicy::Strict),
    );
    assert_refused(
        get_with(&strict, "/me", &token).await,
        StatusCode::UNAUTHORIZED,
        INVALID,
        &token,
    )
    .await;
    let dev_app_only = self::app(client.bearer_verifier(["dev-app"]));
    assert_refused(
        get_with(&dev_app_only, "/me", &token).await,
        StatusCode::UNAUTHORIZED,
        INVALID,
        &token,
    )
    .await;

    // Expired on the API's clock.
    clock.advance(Duration::from_secs(3 * 3600));
    assert_refused(
        get_with(&app, "/me", &token).await,
        StatusCode::UNAUTHORIZED,
        EXPIRED,
        &token,
    )
    .await;
    provider.shutdown().await;
}
