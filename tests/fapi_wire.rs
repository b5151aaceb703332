//! The high-security additions on the wire (docs/protocol.md §7): client
//! assertions (RFC 7523), pushed authorization requests (RFC 9126), request
//! objects (RFC 9101), `authorization_details` (RFC 9396), `resource`
//! (RFC 8707) and the FAPI 2.0 preset, against a recording server on
//! 127.0.0.1. Assertions are checked with an independent JWT library.

#[path = "support/mock.rs"]
mod mock;

use std::collections::HashMap;

use authing_oidc::client_auth::{ASSERTION_LIFETIME, JWT_BEARER_ASSERTION_TYPE};
use authing_oidc::{
    AccessToken, AssertionAudience, AuthMethod, AuthenticationClient, AuthenticationClientBuilder,
    AuthorizationCode, ClientKey, Error, RefreshToken, SigningAlgorithm,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mock::{Canned, MockServer, Recorded};
use serde_json::{Value, json};

const APP_ID: &str = "fapi-client";
const SECRET: &str = "fapi-secret with spaces";
const REDIRECT: &str = "https://rp.example/callback";

fn key_file(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/support/client-keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn builder(server: &MockServer) -> AuthenticationClientBuilder {
    AuthenticationClient::builder()
        .app_id(APP_ID)
        .secret(SECRET)
        .app_host(server.url())
        .redirect_uri(REDIRECT)
}

fn token_body() -> Value {
    json!({"access_token": "at-1", "expires_in": 3600, "refresh_token": "rt-1", "token_type": "Bearer"})
}

fn form_map(r: &Recorded) -> HashMap<String, String> {
    let pairs = r.form();
    let m: HashMap<_, _> = pairs.iter().cloned().collect();
    assert_eq!(m.len(), pairs.len(), "a parameter is repeated: {pairs:?}");
    m
}

fn header_of(jwt: &str) -> Value {
    jsonwebtoken::decode_header(jwt)
        .map(|h| serde_json::to_value(h).unwrap())
        .unwrap()
}

/// Checks the signature with `key` and returns the claims; `aud` must be the one given.
fn verify(jwt: &str, key: &DecodingKey, alg: Algorithm, aud: &str) -> Value {
    let mut v = Validation::new(alg);
    v.set_audience(&[aud]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "sub", "aud", "jti"]);
    v.leeway = 0;
    jsonwebtoken::decode::<Value>(jwt, key, &v).unwrap().claims
}

fn jwk_key(jwk: &Value) -> DecodingKey {
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).unwrap();
    DecodingKey::from_jwk(&jwk).unwrap()
}

/// The RFC 7523 §3 claims every assertion must carry.
fn assert_assertion_claims(claims: &Value, aud: &str) {
    assert_eq!(claims["iss"], APP_ID);
    assert_eq!(claims["sub"], APP_ID);
    assert_eq!(claims["aud"], aud);
    let (iat, exp) = (claims["iat"].as_u64().unwrap(), claims["exp"].as_u64().unwrap());
    assert!(exp > iat && exp - iat <= ASSERTION_LIFETIME.as_secs(), "{claims}");
    assert!(
        claims["jti"].as_str().unwrap().len() >= 22,
        "jti carries 128 bits or more"
    );
}

/// The form of a JWT-authenticated request: no secret, no Basic header.
fn assertion_of(r: &Recorded) -> String {
    let form = form_map(r);
    assert_eq!(form["client_id"], APP_ID);
    assert_eq!(form["client_assertion_type"], JWT_BEARER_ASSERTION_TYPE);
    assert!(!form.contains_key("client_secret"), "{form:?}");
    assert_eq!(r.header("authorization"), None);
    form["client_assertion"].clone()
}

// ------------------------------------------------------------ client assertions

#[tokio::test]
async fn client_secret_jwt_is_hs256_with_the_secret_and_a_fresh_jti_each_time() {
    let server = MockServer::start().await;
    server.on("/oidc/token", Canned::json(200, token_body()));
    let client = builder(&server)
        .token_endpoint_auth_method(AuthMethod::ClientSecretJwt)
        .build()
        .unwrap();
    let rt = RefreshToken::new("rt-0");
    client.get_new_access_token_by_refresh_token(&rt).await.unwrap();
    client.get_new_access_token_by_refresh_token(&rt).await.unwrap();
    let requests = server.requests();
    let issuer = format!("{}/oidc", server.url());
    let key = DecodingKey::from_secret(SECRET.as_bytes());
    let mut jtis = Vec::new();
    for r in &requests {
        assert_eq!(form_map(r)["grant_type"], "refresh_token");
        let jwt = assertion_of(r);
        assert_eq!(header_of(&jwt)["alg"], "HS256");
        let claims = verify(&jwt, &key, Algorithm::HS256, &issuer);
        assert_assertion_claims(&claims, &issuer);
        jtis.push(claims["jti"].as_str().unwrap().to_owned());
    }
    assert_ne!(jtis[0], jtis[1], "a jti is never reused");
}

#[tokio::test]
async fn private_key_jwt_signs_with_each_key_type_and_names_the_kid() {
    let cases = [
        ("rsa", None, Algorithm::RS256, "RS256"),
        ("rsa", Some(SigningAlgorithm::PS256), Algorithm::PS256, "PS256"),
        ("ec", None, Algorithm::ES256, "ES256"),
        ("ed", None, Algorithm::EdDSA, "EdDSA"),
    ];
    for (name, alg, verify_alg, header_alg) in cases {
        let server = MockServer::start().await;
        server.on("/oidc/token", Canned::json(200, token_body()));
        let key = ClientKey::parse(&key_file(&format!("{name}.jwk.json"))).unwrap();
        let public = key.public_jwk();
        let mut b = builder(&server)
            .token_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
            .client_key(key);
        if let Some(alg) = alg {
            b = b.client_assertion_signing_alg(alg);
        }
        let client = b.build().unwrap();
        client
            .get_access_token_by_code(&AuthorizationCode::new("code-1"), None)
            .await
            .unwrap();
        let r = server.single();
        let form = form_map(&r);
        assert_eq!(form["grant_type"], "authorization_code");
        assert_eq!(form["code"], "code-1");
        let jwt = assertion_of(&r);
        let header = header_of(&jwt);
        assert_eq!(header["alg"], header_alg, "{name}");
        assert_eq!(header["kid"], format!("test-{name}"));
        let issuer = format!("{}/oidc", server.url());
        let claims = verify(&jwt, &jwk_key(&public), verify_alg, &issuer);
        assert_assertion_claims(&claims, &issuer);
    }
}

#[tokio::test]
async fn a_pem_key_and_its_jwk_are_the_same_key() {
    for name in ["rsa", "ec", "ed"] {
        let pem = ClientKey::parse(&key_file(&format!("{name}.pem"))).unwrap();
        let jwk = ClientKey::parse(&key_file(&format!("{name}.jwk.json"))).unwrap();
        assert_eq!(pem.key_type(), jwk.key_type());
        let mut public = jwk.public_jwk();
        public.as_object_mut().unwrap().remove("kid");
        assert_eq!(pem.public_jwk(), public, "{name}");
        assert_eq!(pem.kid(), None);
        assert_eq!(pem.with_kid("k").kid(), Some("k"));
    }
}

#[tokio::test]
async fn introspection_and_revocation_use_their_own_methods_and_the_configured_audience() {
    let server = MockServer::start().await;
    server.on(
        "/oidc/token/introspection",
        Canned::json(200, json!({"active": false})),
    );
    server.on("/oidc/token/revocation", Canned::raw(200, "text/plain", ""));
    let key = ClientKey::parse(&key_file("ec.pem")).unwrap().with_kid("pem-kid");
    let public = key.public_jwk();
    let client = builder(&server)
        .introspection_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
        .revocation_endpoint_auth_method(AuthMethod::ClientSecretJwt)
        .client_assertion_audience(AssertionAudience::TokenEndpoint)
        .client_key(key)
        .build()
        .unwrap();
    let at = AccessToken::new("at-x");
    assert!(!client.introspect_token(&at).await.unwrap().active);
    client.revoke_token(&at).await.unwrap();
    let requests = server.requests();
    let token_endpoint = format!("{}/oidc/token", server.url());
    let introspection = &requests[0];
    assert_eq!(introspection.path, "/oidc/token/introspection");
    assert_eq!(form_map(introspection)["token"], "at-x");
    let jwt = assertion_of(introspection);
    assert_eq!(header_of(&jwt)["kid"], "pem-kid");
    let claims = verify(&jwt, &jwk_key(&public), Algorithm::ES256, &token_endpoint);
    assert_assertion_claims(&claims, &token_endpoint);
    let revocation = &requests[1];
    assert_eq!(revocation.path, "/oidc/token/revocation");
    let jwt = assertion_of(revocation);
    let secret = DecodingKey::from_secret(SECRET.as_bytes());
    let claims = verify(&jwt, &secret, Algorithm::HS256, &token_endpoint);
    assert_assertion_claims(&claims, &token_endpoint);
}

#[tokio::test]
async fn a_custom_audience_goes_on_the_wire_as_given() {
    let server = MockServer::start().await;
    server.on("/oidc/token", Canned::json(200, token_body()));
    let key = ClientKey::parse(&key_file("ed.jwk.json")).unwrap();
    let public = key.public_jwk();
    let client = builder(&server)
        .token_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
        .client_assertion_audience(AssertionAudience::Custom("https://other.example/as".into()))
        .client_key(key)
        .build()
        .unwrap();
    client
        .get_new_access_token_by_refresh_token(&RefreshToken::new("rt"))
        .await
        .unwrap();
    let jwt = assertion_of(&server.single());
    verify(
        &jwt,
        &jwk_key(&public),
        Algorithm::EdDSA,
        "https://other.example/as",
    );
}

#[test]
fn assertion_methods_need_their_key_material() {
    let b = || {
        AuthenticationClient::builder()
            .app_id(APP_ID)
            .app_host("https://a.example")
    };
    let err = b()
        .secret(SECRET)
        .token_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("private key")),
        "{err}"
    );
    let err = b()
        .revocation_endpoint_auth_method(AuthMethod::ClientSecretJwt)
        .token_endpoint_auth_method(AuthMethod::None)
        .introspection_endpoint_auth_method(AuthMethod::None)
        .build()
        .unwrap_err();
    assert!(matches!(&err, Error::Config(m) if m.contains("secret")), "{err}");
    // private_key_jwt everywhere needs no secret at all.
    let key = ClientKey::parse(&key_file("ec.jwk.json")).unwrap();
    b().token_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
        .introspection_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
        .revocation_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
        .client_key(key.clone())
        .build()
        .unwrap();
    // A key cannot sign an algorithm of another type.
    let err = b()
        .token_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
        .client_key(key)
        .client_assertion_signing_alg(SigningAlgorithm::PS256)
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)));
    for m in ["client_secret_jwt", "private_key_jwt"] {
        assert_eq!(m.parse::<AuthMethod>().unwrap().as_str(), m);
    }
}

// ------------------------------------------------------------ PAR, JAR, RAR, resource

use authing_oidc::authorization_details::{AuthorizationDetail, TokenRequestExtras};
use authing_oidc::flow::{CallbackParams, Unauthorized};
use authing_oidc::{AuthorizeParams, ExposeSecret, ResponseMode};

const REQUEST_URI: &str = "urn:ietf:params:oauth:request_uri:pushed-1";

fn par_answer() -> Canned {
    Canned::json(201, json!({"request_uri": REQUEST_URI, "expires_in": 60}))
}

fn url_query(url: &url::Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// Members deliberately not in alphabetical order, a nested object, spaces: the text the
/// request must carry exactly.
const PAYMENT: &str = r#"[{"type": "payment_initiation", "actions": ["initiate"], "instructedAmount": {"currency": "EUR", "amount": "1.00"}}]"#;

fn payment() -> Vec<AuthorizationDetail> {
    AuthorizationDetail::parse_list(PAYMENT).unwrap()
}

#[tokio::test]
async fn par_pushes_the_whole_request_and_the_browser_gets_only_client_id_and_request_uri() {
    let server = MockServer::start().await;
    server.on("/oidc/par", par_answer());
    let client = builder(&server)
        .pushed_authorization_requests(true)
        .build()
        .unwrap();
    assert!(client.uses_par());
    // The synchronous start cannot push: it refuses, and sends nothing.
    let err = Unauthorized::new(client.clone()).start().unwrap_err();
    assert!(matches!(&err, Error::Config(m) if m.contains("begin")), "{err}");
    assert!(client.build_authorize_url(AuthorizeParams::new()).is_err());
    assert!(server.requests().is_empty());
    let (url, pending) = Unauthorized::new(client)
        .resource("https://api.example/a")
        .resource("https://api.example/b")
        .authorization_details(payment())
        .begin()
        .await
        .unwrap();
    assert_eq!(url.path(), "/oidc/auth");
    let q = url_query(&url);
    assert_eq!(q.len(), 2, "{q:?}");
    assert_eq!(q["client_id"], APP_ID);
    assert_eq!(q["request_uri"], REQUEST_URI);
    let pushed = server.single();
    assert_eq!(pushed.method, "POST");
    assert_eq!(pushed.path, "/oidc/par");
    let pairs = pushed.form();
    let resources: Vec<_> = pairs
        .iter()
        .filter(|(k, _)| k == "resource")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(resources, ["https://api.example/a", "https://api.example/b"]);
    let form: HashMap<_, _> = pairs.iter().filter(|(k, _)| k != "resource").cloned().collect();
    assert_eq!(form["client_id"], APP_ID);
    assert_eq!(form["client_secret"], SECRET);
    assert_eq!(form["response_type"], "code");
    assert_eq!(form["redirect_uri"], REDIRECT);
    assert!(form["scope"].split(' ').any(|s| s == "openid"));
    assert_eq!(form["code_challenge_method"], "S256");
    assert!(form.contains_key("state") && form.contains_key("nonce"));
    assert_eq!(form["authorization_details"], PAYMENT);
    let raw = std::str::from_utf8(&pushed.body).unwrap();
    let encoded: String = url::form_urlencoded::byte_serialize(PAYMENT.as_bytes()).collect();
    assert!(
        raw.split('&')
            .any(|pair| pair == format!("authorization_details={encoded}")),
        "{raw}"
    );
    // The pending login checks the callback against the pushed state.
    let good = format!("code=c&state={}", form["state"]);
    pending
        .check_binding(&CallbackParams::from_query(&good).unwrap())
        .unwrap();
}

#[tokio::test]
async fn a_provider_that_requires_par_gets_it_without_configuration() {
    let server = MockServer::start().await;
    let issuer = server.url();
    server.on(
        "/.well-known/openid-configuration",
        Canned::json(
            200,
            json!({
                "issuer": issuer, "authorization_endpoint": format!("{issuer}/authorize"),
                "token_endpoint": format!("{issuer}/token"), "jwks_uri": format!("{issuer}/jwks"),
                "pushed_authorization_request_endpoint": format!("{issuer}/request"),
                "require_pushed_authorization_requests": true,
            }),
        ),
    );
    server.on("/request", par_answer());
    let client = AuthenticationClient::builder()
        .app_id(APP_ID)
        .secret(SECRET)
        .redirect_uri(REDIRECT)
        .token_endpoint_auth_method(AuthMethod::ClientSecretBasic)
        .discover(&issuer)
        .await
        .unwrap();
    assert!(client.uses_par());
    let (url, _pending) = Unauthorized::new(client).begin().await.unwrap();
    assert_eq!(url.path(), "/authorize");
    assert_eq!(url_query(&url)["request_uri"], REQUEST_URI);
    let pushed = server.requests().pop().unwrap();
    assert_eq!(pushed.path, "/request");
    // The token endpoint's method authenticates the push.
    assert!(pushed.header("authorization").unwrap().starts_with("Basic "));
    assert!(!form_map(&pushed).contains_key("client_secret"));
}

#[tokio::test]
async fn a_pushed_request_refused_is_an_op_error_and_an_empty_request_uri_is_refused() {
    let server = MockServer::start().await;
    server.on(
        "/oidc/par",
        Canned::json(
            400,
            json!({"error": "invalid_request", "error_description": "bad"}),
        ),
    );
    let client = builder(&server)
        .pushed_authorization_requests(true)
        .build()
        .unwrap();
    let err = Unauthorized::new(client.clone()).begin().await.unwrap_err();
    assert!(
        matches!(&err, Error::Op(op) if op.error.as_deref() == Some("invalid_request")),
        "{err}"
    );
    server.on(
        "/oidc/par",
        Canned::json(201, json!({"request_uri": "", "expires_in": 60})),
    );
    let err = client
        .push_authorization_request(AuthorizeParams::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err}");
}

fn jwt_claims(jwt: &str, public: &Value, alg: Algorithm, issuer: &str) -> Value {
    let mut v = Validation::new(alg);
    v.set_audience(&[issuer]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "nbf", "jti"]);
    jsonwebtoken::decode::<Value>(jwt, &jwk_key(public), &v)
        .unwrap()
        .claims
}

#[tokio::test]
async fn jar_by_value_carries_every_parameter_signed() {
    let server = MockServer::start().await;
    let key = ClientKey::parse(&key_file("ec.jwk.json")).unwrap();
    let public = key.public_jwk();
    let client = builder(&server)
        .client_key(key)
        .request_objects(true)
        .build()
        .unwrap();
    let login = client
        .build_authorize_url(
            AuthorizeParams::new()
                .max_age(300u64)
                .resource("https://api.example/a")
                .resource("https://api.example/b")
                .authorization_details(payment()),
        )
        .unwrap();
    let q = url_query(&login.url);
    // client_id and request, plus response_type and scope repeated as OIDC Core §6.1 asks.
    assert_eq!(q.len(), 4, "{q:?}");
    assert_eq!(q["client_id"], APP_ID);
    let jwt = &q["request"];
    assert_eq!(header_of(jwt)["typ"], "oauth-authz-req+jwt");
    assert_eq!(header_of(jwt)["kid"], "test-ec");
    let issuer = format!("{}/oidc", server.url());
    let claims = jwt_claims(jwt, &public, Algorithm::ES256, &issuer);
    assert_eq!(claims["iss"], APP_ID);
    assert_eq!(claims["client_id"], APP_ID);
    assert_eq!(claims["redirect_uri"], REDIRECT);
    assert_eq!(claims["response_type"], "code");
    assert_eq!(q["response_type"], "code");
    assert_eq!(claims["scope"], q["scope"].as_str());
    assert!(q["scope"].split(' ').any(|s| s == "openid"), "{q:?}");
    assert_eq!(claims["max_age"], 300);
    assert_eq!(claims["state"], login.state.as_ref().unwrap().expose_secret());
    assert_eq!(claims["nonce"], login.nonce.as_ref().unwrap().expose_secret());
    assert_eq!(
        claims["resource"],
        json!(["https://api.example/a", "https://api.example/b"])
    );
    assert_eq!(claims["authorization_details"][0]["type"], "payment_initiation");
    // The text itself is the claim's value in the signed payload.
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).unwrap();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let payload = String::from_utf8(payload).unwrap();
    assert!(
        payload.contains(&format!(r#""authorization_details":{PAYMENT}"#)),
        "{payload}"
    );
    let (nbf, exp) = (claims["nbf"].as_u64().unwrap(), claims["exp"].as_u64().unwrap());
    assert!(exp > nbf && exp - nbf <= 3600);
    assert!(server.requests().is_empty(), "by value: nothing is sent");
}

#[tokio::test]
async fn jar_inside_par_pushes_only_the_request_object_and_the_client_assertion() {
    let server = MockServer::start().await;
    server.on("/oidc/par", par_answer());
    let key = ClientKey::parse(&key_file("ed.jwk.json")).unwrap();
    let public = key.public_jwk();
    let client = builder(&server)
        .client_key(key)
        .token_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
        .request_objects(true)
        .pushed_authorization_requests(true)
        .build()
        .unwrap();
    let (url, _) = Unauthorized::new(client).begin().await.unwrap();
    assert_eq!(url_query(&url)["request_uri"], REQUEST_URI);
    let pushed = server.single();
    let form = form_map(&pushed);
    let mut names: Vec<_> = form.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "client_assertion",
            "client_assertion_type",
            "client_id",
            "request"
        ]
    );
    let issuer = format!("{}/oidc", server.url());
    let claims = jwt_claims(&form["request"], &public, Algorithm::EdDSA, &issuer);
    assert_eq!(claims["code_challenge_method"], "S256");
    let assertion = verify(
        &form["client_assertion"],
        &jwk_key(&public),
        Algorithm::EdDSA,
        &issuer,
    );
    assert_assertion_claims(&assertion, &issuer);
}

#[tokio::test]
async fn resource_and_authorization_details_on_token_and_refresh_requests_and_granted_details_typed() {
    let server = MockServer::start().await;
    let mut body = token_body();
    body["authorization_details"] = json!([{"type": "payment_initiation", "actions": ["initiate"], "instructedAmount": {"currency": "EUR", "amount": "1.00"}}]);
    server.on("/oidc/token", Canned::json(200, body));
    let client = builder(&server).build().unwrap();
    let extras = TokenRequestExtras::new()
        .resource("https://api.example/a")
        .resource("urn:example:b")
        .authorization_details(payment());
    let tokens = client
        .get_access_token_by_code_with(&AuthorizationCode::new("c"), None, &extras)
        .await
        .unwrap();
    let granted = tokens.authorization_details.as_ref().unwrap();
    assert_eq!(granted[0].r#type, "payment_initiation");
    assert_eq!(granted[0].actions.as_deref(), Some(&["initiate".to_owned()][..]));
    assert!(!tokens.extra.contains_key("authorization_details"));
    client
        .get_new_access_token_by_refresh_token_with(
            &RefreshToken::new("rt"),
            &TokenRequestExtras::new().resource("https://api.example/a"),
        )
        .await
        .unwrap();
    let requests = server.requests();
    let code_pairs = requests[0].form();
    let resources: Vec<_> = code_pairs
        .iter()
        .filter(|(k, _)| k == "resource")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(resources, ["https://api.example/a", "urn:example:b"]);
    assert!(
        code_pairs
            .iter()
            .any(|(k, v)| k == "authorization_details" && v == PAYMENT)
    );
    let refresh = form_map(&requests[1]);
    assert_eq!(refresh["grant_type"], "refresh_token");
    assert_eq!(refresh["resource"], "https://api.example/a");
    // A resource with a fragment, or a relative one, is refused before anything is sent.
    let bad = TokenRequestExtras::new().resource("https://api.example/#x");
    assert!(
        client
            .get_new_access_token_by_refresh_token_with(&RefreshToken::new("rt"), &bad)
            .await
            .is_err()
    );
    assert!(
        client
            .build_authorize_url(AuthorizeParams::new().resource("relative"))
            .is_err()
    );
    assert_eq!(server.requests().len(), 2);
}

// ------------------------------------------------------------ the FAPI 2.0 preset

fn fapi2(server: &MockServer) -> AuthenticationClientBuilder {
    AuthenticationClient::builder()
        .app_id(APP_ID)
        .app_host(server.url())
        .redirect_uri(REDIRECT)
        .client_key(ClientKey::parse(&key_file("rsa.jwk.json")).unwrap())
        .fapi2()
}

fn is_conflict(r: Result<AuthenticationClient, Error>, what: &str) {
    match r {
        Err(Error::ProfileConflict { profile, reason }) => {
            assert_eq!(profile, "FAPI 2.0");
            assert!(reason.contains(what), "{reason}");
        }
        other => panic!("expected a FAPI 2.0 conflict about {what}, got {other:?}"),
    }
}

#[tokio::test]
async fn the_fapi2_preset_refuses_a_contradicting_configuration() {
    let server = MockServer::start().await;
    is_conflict(
        fapi2(&server)
            .token_endpoint_auth_method(AuthMethod::ClientSecretBasic)
            .build(),
        "private_key_jwt",
    );
    is_conflict(
        fapi2(&server)
            .secret("s")
            .revocation_endpoint_auth_method(AuthMethod::ClientSecretPost)
            .build(),
        "revocation",
    );
    is_conflict(
        fapi2(&server).pushed_authorization_requests(false).build(),
        "pushed",
    );
    is_conflict(
        fapi2(&server)
            .id_token_signed_response_alg(SigningAlgorithm::RS256)
            .build(),
        "id_tokens",
    );
    is_conflict(
        fapi2(&server)
            .client_assertion_signing_alg(SigningAlgorithm::RS256)
            .build(),
        "PS256",
    );
    is_conflict(fapi2(&server).insecure_allow_http().build(), "http");
    is_conflict(
        AuthenticationClient::builder()
            .app_id(APP_ID)
            .app_host(server.url())
            .fapi2()
            .build(),
        "private key",
    );
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn the_fapi2_preset_pushes_with_a_ps256_assertion_and_keeps_to_query_and_iss() {
    let server = MockServer::start().await;
    server.on("/oidc/par", par_answer());
    let client = fapi2(&server).build().unwrap();
    assert!(client.uses_par());
    // No response mode other than query: refused before anything is sent.
    let err = Unauthorized::new(client.clone())
        .response_mode(ResponseMode::FormPost)
        .begin()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::ProfileConflict { reason, .. } if reason.contains("query")),
        "{err}"
    );
    // The stateless URL builder keeps to PKCE S256 as well.
    let err = client
        .push_authorization_request(AuthorizeParams::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::ProfileConflict { reason, .. } if reason.contains("PKCE")),
        "{err}"
    );
    assert!(server.requests().is_empty());
    let (url, pending) = Unauthorized::new(client).begin().await.unwrap();
    assert_eq!(url_query(&url)["request_uri"], REQUEST_URI);
    let pushed = server.single();
    let jwt = assertion_of(&pushed);
    assert_eq!(header_of(&jwt)["alg"], "PS256");
    let form = form_map(&pushed);
    // iss is required in the callback, whatever discovery says.
    let without_iss = format!("code=c&state={}", form["state"]);
    let err = pending
        .check_binding(&CallbackParams::from_query(&without_iss).unwrap())
        .unwrap_err();
    assert!(matches!(err, Error::IssMismatch(_)), "{err}");
    let with_iss = format!(
        "{without_iss}&iss={}",
        url::form_urlencoded::byte_serialize(format!("{}/oidc", server.url()).as_bytes()).collect::<String>()
    );
    pending
        .check_binding(&CallbackParams::from_query(&with_iss).unwrap())
        .unwrap();
}

// ------------------------------------------------------------ the development provider

/// The development provider takes what the SDK now sends: a pushed request authenticated by
/// private_key_jwt, a `request_uri` used once, and assertions at the token, introspection and
/// revocation endpoints; a client_secret_jwt client logs in too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_provider_serves_private_key_jwt_client_secret_jwt_and_par() {
    use authing_oidc_dev_provider::{
        AuthorizationResponse, ClientAuthMethod, ClientRegistration, DevProvider, DevProviderConfig,
        login_without_browser,
    };
    let key = ClientKey::parse(&key_file("ec.jwk.json")).unwrap();
    let mut config = DevProviderConfig::default();
    config.clients.push(ClientRegistration::private_key_jwt(
        "dev-app-pkjwt",
        json!({"keys": [key.public_jwk()]}),
    ));
    config.clients.push(ClientRegistration::confidential(
        "dev-app-csjwt",
        "dev-app-csjwt-secret",
        ClientAuthMethod::ClientSecretJwt,
    ));
    let provider = DevProvider::start(config).await.unwrap();
    let redirect = authing_oidc_dev_provider::DEFAULT_REDIRECT_URI;
    let clients = [
        AuthenticationClient::builder()
            .app_id("dev-app-pkjwt")
            .app_host(provider.app_host())
            .redirect_uri(redirect)
            .client_key(key)
            .token_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
            .introspection_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
            .revocation_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
            .pushed_authorization_requests(true)
            .build()
            .unwrap(),
        AuthenticationClient::builder()
            .app_id("dev-app-csjwt")
            .secret("dev-app-csjwt-secret")
            .app_host(provider.app_host())
            .redirect_uri(redirect)
            .token_endpoint_auth_method(AuthMethod::ClientSecretJwt)
            .introspection_endpoint_auth_method(AuthMethod::ClientSecretJwt)
            .revocation_endpoint_auth_method(AuthMethod::ClientSecretJwt)
            .build()
            .unwrap(),
    ];
    for client in clients {
        let (url, pending) = Unauthorized::new(client.clone())
            .scope("openid email offline_access")
            .begin()
            .await
            .unwrap();
        if client.uses_par() {
            let q = url_query(&url);
            assert_eq!(q.len(), 2, "{q:?}");
            assert!(q["request_uri"].starts_with("urn:ietf:params:oauth:request_uri:"));
        }
        let callback = match login_without_browser(url.as_str(), "alice", "alice-password")
            .await
            .unwrap()
        {
            AuthorizationResponse::Redirect(u) => u.to_string(),
            other => panic!("{other:?}"),
        };
        if client.uses_par() {
            // The request_uri was used: a second use is refused, with no code.
            let again = login_without_browser(url.as_str(), "alice", "alice-password").await;
            assert!(
                !matches!(again, Ok(AuthorizationResponse::Redirect(ref u)) if u.query_pairs().any(|(k, _)| k == "code")),
                "{again:?}"
            );
        }
        let session = pending
            .complete(CallbackParams::from_url(&callback).unwrap())
            .await
            .unwrap();
        assert_eq!(
            session.userinfo().await.unwrap().standard.email.as_deref(),
            Some("alice@example.com")
        );
        session.force_refresh().await.unwrap();
        assert!(session.introspect().await.unwrap().active);
        session.revoke().await.unwrap();
        assert!(!session.introspect().await.unwrap().active);
    }
    // A wrong audience is refused by the development provider too.
    let key = ClientKey::parse(&key_file("ec.jwk.json")).unwrap();
    let wrong = AuthenticationClient::builder()
        .app_id("dev-app-pkjwt")
        .app_host(provider.app_host())
        .redirect_uri(redirect)
        .client_key(key)
        .token_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
        .introspection_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
        .revocation_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
        .client_assertion_audience(AssertionAudience::Custom("https://elsewhere.example".into()))
        .pushed_authorization_requests(true)
        .build()
        .unwrap();
    let err = Unauthorized::new(wrong).begin().await.unwrap_err();
    assert!(
        matches!(&err, Error::Op(op) if op.error.as_deref() == Some("invalid_client")),
        "{err}"
    );
}

/// The FAPI 2.0 preset against the development provider's FAPI clients, end to end and
/// offline: a pushed request (plain, and a signed request object) with a private_key_jwt
/// assertion and a DPoP proof (the provider demands its nonce), the login, the code exchange,
/// an ES256 or PS256 id_token, DPoP-bound tokens, userinfo, a rotating refresh, introspection
/// and revocation. Configured by the Authing preset and by discovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fapi2_preset_runs_the_whole_profile_against_the_dev_provider() {
    use authing_oidc_dev_provider::{
        AuthorizationResponse, ClientRegistration, DevProvider, DevProviderConfig, IdTokenAlg,
        login_without_browser,
    };
    use base64::Engine as _;
    let mut config = DevProviderConfig::default();
    config.require_dpop_nonce = true;
    config
        .clients
        .push(ClientRegistration::fapi2("dev-app-fapi-ps").with_id_token_alg(IdTokenAlg::PS256));
    let provider = DevProvider::start(config).await.unwrap();
    let claims_of = |jwt: &str, part: usize| -> Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(part).unwrap())
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    let cases = [
        ("dev-app-fapi", SigningAlgorithm::ES256, false, false),
        ("dev-app-fapi", SigningAlgorithm::ES256, true, true),
        ("dev-app-fapi-ps", SigningAlgorithm::PS256, false, true),
        ("dev-app-fapi-ps", SigningAlgorithm::PS256, true, false),
    ];
    for (app_id, alg, jar, discovered) in cases {
        let what = format!("{app_id} jar={jar} discovered={discovered}");
        let registered = provider.client(app_id).unwrap();
        let key = ClientKey::parse(&registered.client_key().unwrap().to_string()).unwrap();
        let builder = AuthenticationClient::builder()
            .app_id(app_id)
            .redirect_uri(authing_oidc_dev_provider::DEFAULT_REDIRECT_URI)
            .client_key(key)
            .request_objects(jar)
            .fapi2();
        let client = if discovered {
            // The provider's metadata says which id_token algorithms to expect.
            builder.discover(&provider.issuer()).await.unwrap()
        } else {
            builder
                .app_host(provider.app_host())
                .id_token_signed_response_alg(alg)
                .build()
                .unwrap()
        };
        let pars_before = provider.request_count("/oidc/par");
        let (url, pending) = Unauthorized::new(client.clone())
            .scope("openid profile email offline_access")
            .begin()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        // One push refused for want of the DPoP nonce, one accepted.
        assert_eq!(provider.request_count("/oidc/par") - pars_before, 2, "{what}");
        let q = url_query(&url);
        assert_eq!(q.len(), 2, "{what}: {q:?}");
        assert!(q["request_uri"].starts_with("urn:ietf:params:oauth:request_uri:"));
        let response = login_without_browser(url.as_str(), "alice", "alice-password")
            .await
            .unwrap();
        let AuthorizationResponse::Redirect(callback) = response else {
            panic!("{what}: {response:?}")
        };
        let callback = CallbackParams::from_url(callback.as_str()).unwrap();
        let session = pending
            .complete(callback)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(session.subject(), "dev-user-alice");
        let id_token = session.id_token();
        assert_eq!(
            claims_of(id_token.expose_secret(), 0)["alg"],
            alg.as_str(),
            "{what}"
        );
        let jkt = session.dpop_thumbprint().unwrap().to_owned();
        let at = session.current_access_token().access_token;
        assert_eq!(
            claims_of(at.expose_secret(), 1)["cnf"]["jkt"],
            jkt.as_str(),
            "{what}"
        );
        // The bound token is refused without its proof.
        assert!(client.get_user_info_by_access_token(&at).await.is_err(), "{what}");
        assert_eq!(
            session.userinfo().await.unwrap().standard.email.as_deref(),
            Some("alice@example.com")
        );
        let before = session.refresh_token().unwrap();
        session
            .force_refresh()
            .await
            .unwrap_or_else(|e| panic!("{what}: refresh: {e}"));
        assert!(!session.refresh_token().unwrap().ct_eq(before.expose_secret()));
        assert_eq!(
            claims_of(session.current_access_token().access_token.expose_secret(), 1)["cnf"]["jkt"],
            jkt.as_str()
        );
        assert!(session.introspect().await.unwrap().active);
        session.revoke().await.unwrap();
        assert!(!session.introspect().await.unwrap().active);
    }
}

/// The development provider refuses a FAPI client whose assertion or request object is signed
/// with a key it did not register, and a FAPI 2.0 client without DPoP gets no token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_provider_refuses_a_fapi_client_signing_with_another_key() {
    use authing_oidc_dev_provider::{DevProvider, DevProviderConfig};
    let provider = DevProvider::start(DevProviderConfig::default()).await.unwrap();
    let other = ClientKey::parse(&key_file("ec.jwk.json")).unwrap();
    for jar in [false, true] {
        let client = AuthenticationClient::builder()
            .app_id("dev-app-fapi")
            .app_host(provider.app_host())
            .redirect_uri(authing_oidc_dev_provider::DEFAULT_REDIRECT_URI)
            .client_key(other.clone())
            .id_token_signed_response_alg(SigningAlgorithm::ES256)
            .request_objects(jar)
            .fapi2()
            .build()
            .unwrap();
        match Unauthorized::new(client).begin().await {
            Err(Error::Op(op)) => assert_eq!(op.error.as_deref(), Some("invalid_client"), "{op}"),
            other => panic!("jar={jar}: expected invalid_client, got {other:?}"),
        }
    }
    // By value (no PAR, so no client authentication): the request object itself is refused.
    let by_value = AuthenticationClient::builder()
        .app_id("dev-app-fapi")
        .app_host(provider.app_host())
        .redirect_uri(authing_oidc_dev_provider::DEFAULT_REDIRECT_URI)
        .client_key(other)
        .token_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
        .introspection_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
        .revocation_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
        .request_objects(true)
        .build()
        .unwrap();
    let (url, _pending) = Unauthorized::new(by_value).start().unwrap();
    assert!(url_query(&url).contains_key("request"));
    let page = reqwest::get(url.as_str()).await.unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("invalid_request_object"));
}
