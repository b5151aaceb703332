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
