//! DPoP-bound access tokens at the bearer layer (RFC 9449 §4.3, §7), end to end: panva's
//! oidc-provider issues them (plugins `dpop.mjs` and `resource.mjs`: a JWT access token for one
//! resource, an opaque one — introspected — for another, each bound to the session's key with
//! `cnf.jkt`), this crate's own client side makes the requests (`Authenticated::send` over TCP,
//! `authorize_request` for in-process calls), and the layer checks them. Then every refusal: a
//! proof missing, doubled, forged, for another method or URI, stale, replayed, for another token
//! or key, signed with `none` or HS256, or carrying a private key; a bound token sent as
//! `Bearer`; an unbound one sent as `DPoP`. Each answer's status and challenges are compared
//! exactly.

#[path = "../../../tests/support/panva.rs"]
#[allow(dead_code)]
mod panva;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authing_oidc::bearer::{BearerVerifierBuilder, DpopMode};
use authing_oidc::clock::ManualClock;
use authing_oidc::flow::{Authenticated, CallbackParams, Unauthorized};
use authing_oidc::{AuthenticationClient, ExposeSecret as _, SigningAlgorithm};
use authing_oidc_axum::{Bearer, BearerLayer, RequireScope};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use panva::{PanvaOptions, PanvaProvider};
use serde_json::{Value, json};
use tower::ServiceExt as _;
use url::Url;

const JWT_API: &str = "https://api.jwt.test";
const OPAQUE_API: &str = "https://api.opaque.test";
const ALGS: &str = r#"algs="ES256 PS256 RS256 EdDSA""#;

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The challenges of a layer with realm `api` that takes both schemes, the error (if any) in
/// the named one.
fn both(error_in: Option<(&str, &str)>) -> Vec<String> {
    let (bearer, dpop) = match error_in {
        None => (String::new(), String::new()),
        Some(("Bearer", error)) => (format!(", {error}"), String::new()),
        Some((_, error)) => (String::new(), format!(", {error}")),
    };
    vec![
        format!(r#"Bearer realm="api"{bearer}"#),
        format!(r#"DPoP realm="api"{dpop}, {ALGS}"#),
    ]
}

const BAD_PROOF: &str =
    r#"error="invalid_dpop_proof", error_description="The DPoP proof is not valid for this request""#;
const BAD_TOKEN: &str =
    r#"error="invalid_token", error_description="The access token is not valid for this resource""#;

fn app(verifier: BearerVerifierBuilder, origin: Option<&str>) -> Router {
    let mut layer = BearerLayer::new(verifier.build().unwrap()).realm("api").unwrap();
    if let Some(origin) = origin {
        layer = layer.public_origin(origin).unwrap();
    }
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

/// A request to `app` with these headers (pairs of name and value).
async fn call(app: &Router, method: &str, path: &str, headers: &[(String, String)]) -> Response<Body> {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    app.clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

fn challenges(response: &Response<Body>) -> Vec<String> {
    response
        .headers()
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

async fn body(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Asserts a refusal: status and the exact challenges; and that nothing echoes the secrets.
async fn assert_refused(response: Response<Body>, status: StatusCode, www: Vec<String>, secrets: &[&str]) {
    assert_eq!(response.status(), status);
    assert_eq!(challenges(&response), www);
    let text = body(response).await;
    for secret in secrets {
        assert!(!text.contains(secret), "the body echoes a token or proof");
    }
}

/// The headers `authorize_request` gives for `method url`, as (name, value) pairs.
async fn authorized(session: &Authenticated, method: &str, url: &str) -> Vec<(String, String)> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let headers = session
        .authorize_request(&method, &Url::parse(url).unwrap())
        .await
        .unwrap();
    headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect()
}

fn value<'h>(headers: &'h [(String, String)], name: &str) -> &'h str {
    &headers.iter().find(|(k, _)| k == name).unwrap().1
}

/// `Authorization: DPoP <token>` with these proofs.
fn dpop_headers(token: &str, proofs: &[&str]) -> Vec<(String, String)> {
    let mut headers = vec![("authorization".to_owned(), format!("DPoP {token}"))];
    headers.extend(proofs.iter().map(|p| ("dpop".to_owned(), (*p).to_owned())));
    headers
}

/// A P-256 key of the test's own, to sign proofs any way a test wants.
struct TestKey {
    pair: EcdsaKeyPair,
    jwk: Value,
}

impl TestKey {
    fn new() -> TestKey {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..])});
        TestKey { pair, jwk }
    }

    fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk})
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let signature = self.pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", b64(signature.as_ref()))
    }
}

/// The claims of a proof for `htm htu` with `token`, made now.
fn claims(htm: &str, htu: &str, token: &str) -> Value {
    let mut jti = [0u8; 16];
    SystemRandom::new().fill(&mut jti).unwrap();
    let ath = b64(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        token.as_bytes(),
    ));
    json!({"jti": b64(jti), "htm": htm, "htu": htu, "iat": now(), "ath": ath})
}

/// The provider with DPoP (nonces required at its own endpoints) and the two resources, and a
/// resource server's client (rp-m2m, which may introspect) on a clock the test moves.
struct Setup {
    provider: PanvaProvider,
    clock: Arc<ManualClock>,
    client: AuthenticationClient,
}

impl Setup {
    async fn start() -> Setup {
        let provider = PanvaProvider::start(
            PanvaOptions::default()
                .plugin("plugins/dpop.mjs")
                .plugin("plugins/resource.mjs"),
        )
        .await;
        let clock = Arc::new(ManualClock::new(SystemTime::now()));
        let client = AuthenticationClient::builder()
            .app_id(panva::RP_M2M)
            .secret(provider.secret(panva::RP_M2M))
            .clock(clock.clone())
            .discover(provider.issuer())
            .await
            .unwrap();
        Setup {
            provider,
            clock,
            client,
        }
    }

    /// A login of rp-dpop (a DPoP client of this crate) for `resource`: its session, whose
    /// access token the provider binds to the session's key. The resource server's clock is set
    /// to the real time after it, as the proofs' `iat` is.
    async fn sign_in(&self, resource: &str) -> Authenticated {
        let session = self.login(resource).await;
        self.clock.set(SystemTime::now());
        session
    }

    async fn login(&self, resource: &str) -> Authenticated {
        let secret = self.provider.secret("rp-dpop");
        let method = authing_oidc::AuthMethod::ClientSecretPost;
        let client = AuthenticationClient::builder()
            .app_id("rp-dpop")
            .secret(secret.as_str())
            .redirect_uri(panva::CALLBACK)
            .token_endpoint_auth_method(method)
            .introspection_endpoint_auth_method(method)
            .dpop(SigningAlgorithm::ES256)
            .discover(self.provider.issuer())
            .await
            .unwrap();
        let (url, pending) = Unauthorized::new(client)
            .scope("openid api:read")
            .resource(resource)
            .start()
            .unwrap();
        let params = match self.provider.login(url.as_str(), "alice").await {
            panva::Callback::Redirect(url) => CallbackParams::from_url(&url),
            panva::Callback::FormPost { body, .. } => CallbackParams::from_form_post(&body),
        }
        .unwrap();
        pending
            .complete(params)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", self.provider.log()))
    }

    /// An unbound client_credentials token of rp-m2m for `resource`.
    async fn unbound_token(&self, resource: &str) -> String {
        self.clock.set(SystemTime::now());
        let secret = self.provider.secret(panva::RP_M2M);
        let form = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("grant_type", "client_credentials"),
                ("client_id", panva::RP_M2M),
                ("client_secret", secret.as_str()),
                ("resource", resource),
                ("scope", "api:read"),
            ])
            .finish();
        let answer: Value = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(self.provider.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap();
        answer["access_token"].as_str().unwrap().to_owned()
    }
}

/// A JWT access token bound to the session's key: accepted with its proof — over TCP through
/// `Authenticated::send` (the URI taken from `Host`), and in-process with `authorize_request` —
/// and refused every way a proof or token can be wrong.
#[tokio::test]
async fn dpop_bound_jwt_access_tokens_from_panva() {
    let setup = Setup::start().await;
    let session = setup.sign_in(JWT_API).await;
    let token = session.access_token().await.unwrap().access_token;
    let token = token.expose_secret().to_owned();
    let verifier = || setup.client.bearer_verifier([JWT_API]).dpop(DpopMode::Accepted);
    let (_, payload) = token.split_once('.').unwrap();
    let claims_of: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(payload.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims_of["cnf"]["jkt"].as_str(),
        session.dpop_thumbprint(),
        "panva binds the JWT to the session's key"
    );

    // Over TCP: the layer derives the URI from Host (http by default); the client's own send.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = app(verifier(), None);
    tokio::spawn(async move { axum::serve(listener, served).await });
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    for _ in 0..2 {
        let response = session.send(http.get(format!("{base}/me?page=1"))).await.unwrap();
        assert_eq!(response.status(), 200);
        let me: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(
            me,
            json!({"sub": "alice", "scope": "api:read", "client_id": "rp-dpop"})
        );
    }

    // In-process behind a "proxy": the external origin is configured.
    let app = app(verifier(), Some("https://api.jwt.test"));
    let me = "https://api.jwt.test/me";
    let good = authorized(&session, "GET", me).await;
    assert!(value(&good, "authorization").starts_with("DPoP "));
    let proof = value(&good, "dpop").to_owned();
    let secrets = [token.as_str(), proof.as_str()];
    let response = call(&app, "GET", "/me?x=1", &good).await;
    assert_eq!(response.status(), StatusCode::OK);
    // A route's scope requirement answers in the DPoP challenge.
    let write = authorized(&session, "GET", "https://api.jwt.test/write").await;
    let response = call(&app, "GET", "/write", &write).await;
    let scope = r#"error="insufficient_scope", error_description="The access token does not grant the required scope", scope="api:write""#;
    assert_refused(
        response,
        StatusCode::FORBIDDEN,
        both(Some(("DPoP", scope))),
        &secrets,
    )
    .await;

    // Replayed: the accepted proof again.
    let response = call(&app, "GET", "/me", &good).await;
    assert_refused(
        response,
        StatusCode::UNAUTHORIZED,
        both(Some(("DPoP", BAD_PROOF))),
        &secrets,
    )
    .await;

    // The bound token as a bearer token (RFC 9449 §7.1).
    let bearer = vec![("authorization".to_owned(), format!("Bearer {token}"))];
    let response = call(&app, "GET", "/me", &bearer).await;
    assert_refused(
        response,
        StatusCode::UNAUTHORIZED,
        both(Some(("Bearer", BAD_TOKEN))),
        &secrets,
    )
    .await;

    // No proof; two proofs; a forged signature.
    let p1 = value(&authorized(&session, "GET", me).await, "dpop").to_owned();
    let p2 = value(&authorized(&session, "GET", me).await, "dpop").to_owned();
    let mut forged = p1.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    for proofs in [vec![], vec![p1.as_str(), p2.as_str()], vec![forged.as_str()]] {
        let response = call(&app, "GET", "/me", &dpop_headers(&token, &proofs)).await;
        assert_refused(
            response,
            StatusCode::UNAUTHORIZED,
            both(Some(("DPoP", BAD_PROOF))),
            &secrets,
        )
        .await;
    }
    // The good proofs were not spent by those refusals.
    let response = call(&app, "GET", "/me", &dpop_headers(&token, &[&p1])).await;
    assert_eq!(response.status(), StatusCode::OK);

    // Another method; another URI (path, scheme, host).
    for (method, url) in [
        ("POST", me),
        ("GET", "https://api.jwt.test/other"),
        ("GET", "http://api.jwt.test/me"),
        ("GET", "https://api.opaque.test/me"),
    ] {
        let headers = authorized(&session, method, url).await;
        let response = call(&app, "GET", "/me", &headers).await;
        assert_refused(
            response,
            StatusCode::UNAUTHORIZED,
            both(Some(("DPoP", BAD_PROOF))),
            &secrets,
        )
        .await;
    }
    // Query and fragment do not matter, and neither does the case of scheme and host.
    let headers = authorized(&session, "GET", "HTTPS://API.JWT.test:443/me?q=2#top").await;
    assert_eq!(call(&app, "GET", "/me", &headers).await.status(), StatusCode::OK);

    // A proof of a second session (another key, and ath of another token) with this token.
    let other = setup.sign_in(JWT_API).await;
    let headers = authorized(&other, "GET", me).await;
    let response = call(
        &app,
        "GET",
        "/me",
        &dpop_headers(&token, &[value(&headers, "dpop")]),
    )
    .await;
    assert_refused(
        response,
        StatusCode::UNAUTHORIZED,
        both(Some(("DPoP", BAD_PROOF))),
        &secrets,
    )
    .await;

    // The test's own key: a well-formed proof for this request and token, but not the key the
    // token is bound to — the token fails (RFC 9449 §7.1).
    let key = TestKey::new();
    let own = key.sign(&key.header(), &claims("GET", me, &token));
    let response = call(&app, "GET", "/me", &dpop_headers(&token, &[&own])).await;
    assert_refused(
        response,
        StatusCode::UNAUTHORIZED,
        both(Some(("DPoP", BAD_TOKEN))),
        &secrets,
    )
    .await;
    // The same key's proofs with one flaw each are refused as proofs, before the binding.
    let mut private = key.header();
    private["jwk"]["d"] = b64([7u8; 32]).into();
    let mut no_typ = key.header();
    no_typ["typ"] = "JWT".into();
    let mut stale = claims("GET", me, &token);
    stale["iat"] = (now() - 120).into();
    let mut ahead = claims("GET", me, &token);
    ahead["iat"] = (now() + 120).into();
    let mut wrong_ath = claims("GET", me, &token);
    wrong_ath["ath"] = b64([0u8; 32]).into();
    let mut no_jti = claims("GET", me, &token);
    no_jti.as_object_mut().unwrap().remove("jti");
    let hs = json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": b64(b"secret")}});
    let hs_input = format!(
        "{}.{}",
        b64(hs.to_string()),
        b64(claims("GET", me, &token).to_string())
    );
    let mac = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"secret"),
        hs_input.as_bytes(),
    );
    let none = json!({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk});
    let none_input = format!(
        "{}.{}",
        b64(none.to_string()),
        b64(claims("GET", me, &token).to_string())
    );
    let flawed = [
        key.sign(&private, &claims("GET", me, &token)),
        key.sign(&no_typ, &claims("GET", me, &token)),
        key.sign(&key.header(), &stale),
        key.sign(&key.header(), &ahead),
        key.sign(&key.header(), &wrong_ath),
        key.sign(&key.header(), &no_jti),
        format!("{hs_input}.{}", b64(mac.as_ref())),
        format!("{none_input}."),
    ];
    for (i, proof) in flawed.iter().enumerate() {
        let response = call(&app, "GET", "/me", &dpop_headers(&token, &[proof])).await;
        assert_eq!(
            challenges(&response),
            both(Some(("DPoP", BAD_PROOF))),
            "flawed proof #{i}"
        );
        assert_refused(
            response,
            StatusCode::UNAUTHORIZED,
            both(Some(("DPoP", BAD_PROOF))),
            &secrets,
        )
        .await;
    }

    // An unbound token presented with a proof: the token is not DPoP-bound.
    let unbound = setup.unbound_token(JWT_API).await;
    let proof = key.sign(&key.header(), &claims("GET", me, &unbound));
    let response = call(&app, "GET", "/me", &dpop_headers(&unbound, &[&proof])).await;
    assert_refused(
        response,
        StatusCode::UNAUTHORIZED,
        both(Some(("DPoP", BAD_TOKEN))),
        &[&unbound],
    )
    .await;

    // A proof that was fresh when made is stale once the resource server's clock has moved on.
    let headers = authorized(&session, "GET", me).await;
    // From the real time after the proof was made: the clock was last set at sign-in, and under
    // load the requests since can take longer than the proof window's slack.
    setup.clock.set(SystemTime::now());
    setup.clock.advance(Duration::from_secs(61));
    let response = call(&app, "GET", "/me", &headers).await;
    assert_refused(
        response,
        StatusCode::UNAUTHORIZED,
        both(Some(("DPoP", BAD_PROOF))),
        &secrets,
    )
    .await;
}

/// Which schemes the layer takes follows the verifier: `Refused` (the default) answers a DPoP
/// request as one without credentials, with the Bearer challenge only; `Required` refuses
/// bearer tokens the same way, with the DPoP challenge only.
#[tokio::test]
async fn the_verifier_decides_which_schemes_the_layer_takes() {
    let setup = Setup::start().await;
    let session = setup.sign_in(JWT_API).await;
    let me = "https://api.jwt.test/me";
    let bearer_only = app(
        setup.client.bearer_verifier([JWT_API]),
        Some("https://api.jwt.test"),
    );
    let headers = authorized(&session, "GET", me).await;
    let response = call(&bearer_only, "GET", "/me", &headers).await;
    assert_refused(
        response,
        StatusCode::UNAUTHORIZED,
        vec![r#"Bearer realm="api""#.to_owned()],
        &[],
    )
    .await;

    let dpop_only = app(
        setup.client.bearer_verifier([JWT_API]).dpop(DpopMode::Required),
        Some("https://api.jwt.test"),
    );
    let unbound = setup.unbound_token(JWT_API).await;
    let bearer = vec![("authorization".to_owned(), format!("Bearer {unbound}"))];
    let response = call(&dpop_only, "GET", "/me", &bearer).await;
    let dpop_challenge = vec![format!(r#"DPoP realm="api", {ALGS}"#)];
    assert_refused(
        response,
        StatusCode::UNAUTHORIZED,
        dpop_challenge.clone(),
        &[&unbound],
    )
    .await;
    let response = call(&dpop_only, "GET", "/me", &[]).await;
    assert_refused(response, StatusCode::UNAUTHORIZED, dpop_challenge, &[]).await;
    let response = call(&dpop_only, "GET", "/me", &headers).await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// An opaque token bound to the session's key: the layer learns `cnf.jkt` from introspection.
#[tokio::test]
async fn dpop_bound_opaque_tokens_are_introspected() {
    let setup = Setup::start().await;
    let session = setup.sign_in(OPAQUE_API).await;
    let token = session.access_token().await.unwrap().access_token;
    let token = token.expose_secret().to_owned();
    assert!(!authing_oidc::bearer::looks_like_jwt(&token));
    let app = app(
        setup
            .client
            .bearer_verifier([OPAQUE_API])
            .dpop(DpopMode::Accepted),
        Some("https://api.opaque.test"),
    );
    let me = "https://api.opaque.test/me";
    let headers = authorized(&session, "GET", me).await;
    let response = call(&app, "GET", "/me", &headers).await;
    assert_eq!(response.status(), StatusCode::OK);
    let me_json: Value = serde_json::from_str(&body(response).await).unwrap();
    assert_eq!(me_json["scope"], "api:read");
    assert_eq!(me_json["client_id"], "rp-dpop");

    let secrets = [token.as_str()];
    let bearer = vec![("authorization".to_owned(), format!("Bearer {token}"))];
    let response = call(&app, "GET", "/me", &bearer).await;
    assert_refused(
        response,
        StatusCode::UNAUTHORIZED,
        both(Some(("Bearer", BAD_TOKEN))),
        &secrets,
    )
    .await;
    let key = TestKey::new();
    let own = key.sign(&key.header(), &claims("GET", me, &token));
    let response = call(&app, "GET", "/me", &dpop_headers(&token, &[&own])).await;
    assert_refused(
        response,
        StatusCode::UNAUTHORIZED,
        both(Some(("DPoP", BAD_TOKEN))),
        &secrets,
    )
    .await;
    // An unbound opaque token with a proof.
    let unbound = setup.unbound_token(OPAQUE_API).await;
    let proof = key.sign(&key.header(), &claims("GET", me, &unbound));
    let response = call(&app, "GET", "/me", &dpop_headers(&unbound, &[&proof])).await;
    assert_refused(
        response,
        StatusCode::UNAUTHORIZED,
        both(Some(("DPoP", BAD_TOKEN))),
        &[&unbound],
    )
    .await;
}
