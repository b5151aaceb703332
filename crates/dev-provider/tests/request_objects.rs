//! Signed request objects (RFC 9101) by value and inside pushed requests (RFC 9126 §3), and
//! the FAPI 2.0 client's registration rules (PAR required, PKCE S256, DPoP-bound tokens).

mod support;

use authing_oidc_dev_provider::{
    AuthorizationResponse, ClientRegistration, DevProvider, DevProviderConfig, RunningDevProvider,
    login_without_browser,
};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::*;
use url::Url;

const CLIENT: &str = "jar-app";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A fresh P-256 key pair: the signing key and the public JWK.
fn key_pair(kid: &str) -> (EncodingKey, Value) {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = pair.public_key().as_ref();
    let public = json!({
        "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    (
        EncodingKey::from_ec_der(pair.to_pkcs8v1().unwrap().as_ref()),
        public,
    )
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn sign(key: &EncodingKey, kid: &str, typ: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    header.typ = Some(typ.to_owned());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// The authorization request as a request object's claims, with a fresh `jti`.
fn request_claims(p: &RunningDevProvider, state: &str) -> Value {
    json!({
        "iss": CLIENT, "aud": p.issuer(), "client_id": CLIENT,
        "iat": now(), "nbf": now(), "exp": now() + 300,
        "jti": format!("jti-{state}-{}", rand_suffix()),
        "response_type": "code", "scope": "openid email",
        "redirect_uri": REDIRECT_URI, "state": state, "nonce": "n-1",
        "code_challenge": S256_CHALLENGE, "code_challenge_method": "S256",
        "max_age": 600,
    })
}

fn rand_suffix() -> String {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A private_key_jwt client assertion (RFC 7523) for CLIENT.
fn assertion(p: &RunningDevProvider, key: &EncodingKey) -> String {
    let claims = json!({
        "iss": CLIENT, "sub": CLIENT, "aud": p.issuer(),
        "iat": now(), "exp": now() + 60, "jti": rand_suffix(),
    });
    sign(key, "registered", "JWT", &claims)
}

/// A provider with CLIENT registered for private_key_jwt with `public`.
async fn provider_with(public: Value) -> RunningDevProvider {
    let mut config = DevProviderConfig::default();
    config.clients.push(ClientRegistration::private_key_jwt(
        CLIENT,
        json!({"keys": [public]}),
    ));
    DevProvider::start(config).await.unwrap()
}

fn by_value(p: &RunningDevProvider, outer: &[(&str, &str)]) -> String {
    let mut url = Url::parse(&format!("{}/auth", p.issuer())).unwrap();
    url.query_pairs_mut().extend_pairs(outer);
    url.to_string()
}

#[tokio::test]
async fn a_request_object_by_value_is_the_request() {
    let (key, public) = key_pair("registered");
    let p = provider_with(public).await;
    let jwt = sign(
        &key,
        "registered",
        "oauth-authz-req+jwt",
        &request_claims(&p, "s-inside"),
    );
    // Outside: client_id, and response_type and scope as OIDC Core §6.1 wants; an outer
    // state is ignored, the object's is used (RFC 9101 §5).
    let url = by_value(
        &p,
        &[
            ("client_id", CLIENT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("state", "s-outside"),
            ("request", &jwt),
        ],
    );
    let response = login_without_browser(&url, "alice", "alice-password")
        .await
        .unwrap();
    let AuthorizationResponse::Redirect(callback) = &response else {
        panic!("{response:?}")
    };
    assert!(callback.as_str().starts_with(REDIRECT_URI), "{callback}");
    assert_eq!(response.param("state").as_deref(), Some("s-inside"));
    assert!(response.param("code").is_some(), "{response:?}");

    // The same object again is a replay.
    let again = get(&url).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.text.contains("jti replay"), "{}", again.text);
}

#[tokio::test]
async fn a_request_object_signed_with_another_key_is_refused() {
    let (_, public) = key_pair("registered");
    let (wrong, _) = key_pair("registered");
    let p = provider_with(public).await;
    let jwt = sign(
        &wrong,
        "registered",
        "oauth-authz-req+jwt",
        &request_claims(&p, "s"),
    );
    let url = by_value(
        &p,
        &[
            ("client_id", CLIENT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("request", &jwt),
        ],
    );
    let page = get(&url).await;
    // Never redirected: the object's redirect_uri is not trusted until it verifies.
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.text);
    assert!(page.headers.get("location").is_none());
    assert!(page.text.contains("invalid_request_object"), "{}", page.text);
    assert!(
        login_without_browser(&url, "alice", "alice-password")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn outer_parameters_follow_oidc_core_6_1() {
    let (key, public) = key_pair("registered");
    let p = provider_with(public).await;
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("response_type", "code")], "scope"),
        (&[("scope", "openid")], "response_type"),
        (
            &[("response_type", "token"), ("scope", "openid")],
            "response_type differs",
        ),
        (&[("response_type", "code"), ("scope", "email")], "scope"),
    ];
    for (outer, expected) in cases {
        let jwt = sign(
            &key,
            "registered",
            "oauth-authz-req+jwt",
            &request_claims(&p, "s"),
        );
        let mut pairs = vec![("client_id", CLIENT), ("request", jwt.as_str())];
        pairs.extend_from_slice(outer);
        let page = get(&by_value(&p, &pairs)).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{outer:?}");
        assert!(page.text.contains(expected), "{outer:?}: {}", page.text);
    }
    // A wrongly typed JWT, a symmetric one and an expired one are refused too.
    let typed = sign(&key, "registered", "JWT", &request_claims(&p, "s"));
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &request_claims(&p, "s"),
        &EncodingKey::from_secret(b"a shared secret"),
    )
    .unwrap();
    let mut expired_claims = request_claims(&p, "s");
    expired_claims["exp"] = json!(now() - 120);
    let expired = sign(&key, "registered", "oauth-authz-req+jwt", &expired_claims);
    for jwt in [typed, hs, expired] {
        let page = get(&by_value(
            &p,
            &[
                ("client_id", CLIENT),
                ("response_type", "code"),
                ("scope", "openid"),
                ("request", &jwt),
            ],
        ))
        .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST);
        assert!(page.text.contains("invalid_request_object"), "{}", page.text);
    }
}

#[tokio::test]
async fn a_pushed_request_object_is_verified_with_the_registered_key() {
    let (key, public) = key_pair("registered");
    let (wrong, _) = key_pair("registered");
    let p = provider_with(public).await;
    let push = |request: String, extra: Vec<(&'static str, &'static str)>| {
        let client_assertion = assertion(&p, &key);
        let p = &p;
        async move {
            let mut pairs = vec![
                ("client_id", CLIENT),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", client_assertion.as_str()),
                ("request", request.as_str()),
            ];
            pairs.extend(extra);
            post(p, "/par", &pairs, None).await
        }
    };

    // Signed with another key: refused, whatever the (valid) client authentication.
    let bad = push(
        sign(
            &wrong,
            "registered",
            "oauth-authz-req+jwt",
            &request_claims(&p, "s"),
        ),
        vec![],
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert_eq!(bad.error(), "invalid_request_object");

    // RFC 9126 §3: authorization parameters go inside the object, not beside it.
    let beside = push(
        sign(
            &key,
            "registered",
            "oauth-authz-req+jwt",
            &request_claims(&p, "s"),
        ),
        vec![("scope", "openid")],
    )
    .await;
    assert_eq!(beside.error(), "invalid_request", "{}", beside.text);

    let good = push(
        sign(
            &key,
            "registered",
            "oauth-authz-req+jwt",
            &request_claims(&p, "s-pushed"),
        ),
        vec![],
    )
    .await;
    assert_eq!(good.status, StatusCode::CREATED, "{}", good.text);
    let request_uri = good.json()["request_uri"].as_str().unwrap().to_owned();
    let url = by_value(&p, &[("client_id", CLIENT), ("request_uri", &request_uri)]);
    let response = login_without_browser(&url, "alice", "alice-password")
        .await
        .unwrap();
    assert_eq!(response.param("state").as_deref(), Some("s-pushed"));
    let code = response.param("code").unwrap();
    // The object's PKCE challenge and redirect_uri hold at the token endpoint.
    let client_assertion = assertion(&p, &key);
    let tokens = post(
        &p,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
            ("client_id", CLIENT),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &client_assertion),
        ],
        None,
    )
    .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    assert_eq!(
        jwt_claims(tokens.json()["id_token"].as_str().unwrap())["nonce"],
        "n-1"
    );
}

#[tokio::test]
async fn the_fapi_client_must_push_use_s256_and_bind_its_tokens() {
    let p = start().await;
    let fapi = p.client("dev-app-fapi").unwrap();
    assert!(fapi.require_pushed_authorization_requests && fapi.dpop_bound_access_tokens);
    let jwk = fapi.client_key().unwrap();
    assert_eq!(jwk["kty"], "EC");
    assert!(jwk["d"].is_string());
    // The published registration holds the public half only.
    let registered = &fapi.jwks.as_ref().unwrap()["keys"][0];
    assert_eq!(registered["x"], jwk["x"]);
    assert!(registered.get("d").is_none());

    // Not pushed: refused (the client and redirect_uri are known, so the error is delivered).
    let direct = login_without_browser(
        &authorize_url(
            &p,
            "dev-app-fapi",
            &[
                ("code_challenge", S256_CHALLENGE),
                ("code_challenge_method", "S256"),
            ],
        ),
        "alice",
        "alice-password",
    )
    .await
    .unwrap();
    assert_eq!(direct.param("error").as_deref(), Some("invalid_request"));
    assert!(
        direct.param("error_description").unwrap().contains("push"),
        "{direct:?}"
    );
    assert!(direct.param("code").is_none());
}
