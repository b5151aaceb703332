//! Signed userinfo (OIDC Core §5.3.2) and JWT introspection answers
//! (RFC 9701), chosen by the answer's content type, against a recording
//! server on 127.0.0.1 (docs/protocol.md §4.5).

#[path = "support/keys.rs"]
mod keys;
#[path = "support/mock.rs"]
mod mock;

use authing_oidc::{AccessToken, AuthenticationClient, Error, IdTokenError, SigningAlgorithm};
use keys::{Signer, keys, rsa_jwk, sign_with_header};
use mock::{Canned, MockServer};
use serde_json::{Value, json};

const CLIENT_ID: &str = "app-1";
const SECRET: &str = "client-secret-that-is-long-enough-for-hs256";

async fn server() -> MockServer {
    let server = MockServer::start().await;
    server.on(
        "/oidc/.well-known/jwks.json",
        Canned::json(200, json!({"keys": [rsa_jwk(&keys().rsa, Some("rsa-1"))]})),
    );
    server
}

fn client(
    server: &MockServer,
    configure: impl FnOnce(authing_oidc::AuthenticationClientBuilder) -> authing_oidc::AuthenticationClientBuilder,
) -> AuthenticationClient {
    configure(
        AuthenticationClient::builder()
            .app_id(CLIENT_ID)
            .secret(SECRET)
            .app_host(server.url()),
    )
    .build()
    .unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn jwt(typ: Option<&str>, claims: &Value) -> String {
    let mut header = json!({"alg": "RS256", "kid": "rsa-1"});
    if let Some(typ) = typ {
        header["typ"] = typ.into();
    }
    sign_with_header(Signer::Rsa(&keys().rsa), &header, claims)
}

fn userinfo_claims(server: &MockServer) -> Value {
    json!({"iss": format!("{}/oidc", server.url()), "aud": CLIENT_ID, "iat": now(), "exp": now() + 300,
        "sub": "user-1", "email": "u@example.com"})
}

fn introspection_claims(server: &MockServer) -> Value {
    json!({"iss": format!("{}/oidc", server.url()), "aud": CLIENT_ID, "iat": now(),
        "token_introspection": {"active": true, "sub": "user-1", "client_id": CLIENT_ID, "scope": "openid"}})
}

fn signed_reason(e: Error) -> IdTokenError {
    match e {
        Error::SignedResponse { reason, .. } => reason,
        other => panic!("expected a signed-response refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn signed_userinfo_is_verified_by_its_content_type() {
    let server = server().await;
    let at = AccessToken::new("at-1");
    let c = client(&server, |b| b);
    let body = jwt(Some("JWT"), &userinfo_claims(&server));
    server.on(
        "/oidc/me",
        Canned::raw(200, "application/jwt; charset=utf-8", body),
    );
    let info = c.get_user_info_by_access_token(&at).await.unwrap();
    assert_eq!(info.sub, "user-1");
    assert_eq!(info.standard.email.as_deref(), Some("u@example.com"));
    // Plain JSON stays accepted for a client not registered for signed answers.
    server.on("/oidc/me", Canned::json(200, json!({"sub": "user-1"})));
    assert_eq!(c.get_user_info_by_access_token(&at).await.unwrap().sub, "user-1");
}

#[tokio::test]
async fn a_signed_userinfo_for_another_client_issuer_or_key_is_refused() {
    let server = server().await;
    let at = AccessToken::new("at-1");
    let c = client(&server, |b| b);
    type Expect = fn(&IdTokenError) -> bool;
    let cases: Vec<(Value, Expect)> = vec![
        (json!({"aud": "another-app"}), |r| {
            *r == IdTokenError::AudienceMismatch
        }),
        (json!({"iss": "https://op.example"}), |r| {
            matches!(r, IdTokenError::IssuerMismatch { .. })
        }),
        (json!({"exp": now() - 3600}), |r| *r == IdTokenError::Expired),
    ];
    for (change, expected) in cases {
        let mut claims = userinfo_claims(&server);
        for (k, v) in change.as_object().unwrap() {
            claims[k] = v.clone();
        }
        server.on(
            "/oidc/me",
            Canned::raw(200, "application/jwt", jwt(None, &claims)),
        );
        let reason = signed_reason(c.get_user_info_by_access_token(&at).await.unwrap_err());
        assert!(expected(&reason), "{reason:?}");
    }
    // A tampered signature.
    let body = jwt(None, &userinfo_claims(&server));
    let at_sig = body.rfind('.').unwrap() + 10;
    let flipped = if &body[at_sig..=at_sig] == "A" { "B" } else { "A" };
    let body = format!("{}{flipped}{}", &body[..at_sig], &body[at_sig + 1..]);
    server.on("/oidc/me", Canned::raw(200, "application/jwt", body));
    let reason = signed_reason(c.get_user_info_by_access_token(&at).await.unwrap_err());
    assert_eq!(reason, IdTokenError::BadSignature);
    // Another kind of JWT (a logout token) is not a userinfo answer.
    server.on(
        "/oidc/me",
        Canned::raw(
            200,
            "application/jwt",
            jwt(Some("logout+jwt"), &userinfo_claims(&server)),
        ),
    );
    let reason = signed_reason(c.get_user_info_by_access_token(&at).await.unwrap_err());
    assert!(matches!(reason, IdTokenError::TypeNotAllowed(_)), "{reason:?}");
}

#[tokio::test]
async fn a_client_registered_for_signed_answers_refuses_json_and_other_algorithms() {
    let server = server().await;
    let at = AccessToken::new("at-1");
    let c = client(&server, |b| {
        b.userinfo_signed_response_alg(SigningAlgorithm::RS256)
            .introspection_signed_response_alg(SigningAlgorithm::RS256)
    });
    server.on("/oidc/me", Canned::json(200, json!({"sub": "user-1"})));
    let e = c.get_user_info_by_access_token(&at).await.unwrap_err();
    assert!(
        matches!(&e, Error::UnsignedResponse { content_type, .. } if content_type == "application/json"),
        "{e:?}"
    );
    server.on(
        "/oidc/token/introspection",
        Canned::json(200, json!({"active": true})),
    );
    let e = c.introspect_token(&at).await.unwrap_err();
    assert!(matches!(e, Error::UnsignedResponse { .. }), "{e:?}");
    // RFC 9701 §4: the registered client asks for the JWT answer.
    let asked = server.requests().last().unwrap().header("accept");
    assert_eq!(asked.as_deref(), Some("application/token-introspection+jwt"));
    // An HS256 answer (keyed with the client secret) is not the registered RS256.
    let header = json!({"alg": "HS256"});
    let hs = sign_with_header(
        Signer::Hmac(SECRET.as_bytes()),
        &header,
        &userinfo_claims(&server),
    );
    server.on("/oidc/me", Canned::raw(200, "application/jwt", hs));
    let reason = signed_reason(c.get_user_info_by_access_token(&at).await.unwrap_err());
    assert!(
        matches!(reason, IdTokenError::AlgorithmNotAllowed(_)),
        "{reason:?}"
    );
    // The registered algorithm passes.
    let body = jwt(None, &userinfo_claims(&server));
    server.on("/oidc/me", Canned::raw(200, "application/jwt", body));
    assert_eq!(c.get_user_info_by_access_token(&at).await.unwrap().sub, "user-1");
}

#[tokio::test]
async fn jwt_introspection_is_verified_and_unwrapped() {
    let server = server().await;
    let at = AccessToken::new("at-1");
    let c = client(&server, |b| b);
    let body = jwt(Some("token-introspection+jwt"), &introspection_claims(&server));
    server.on(
        "/oidc/token/introspection",
        Canned::raw(200, "application/token-introspection+jwt", body),
    );
    let i = c.introspect_token(&at).await.unwrap();
    assert!(i.active);
    assert_eq!(i.sub.as_deref(), Some("user-1"));
    assert_eq!(i.client_id.as_deref(), Some(CLIENT_ID));
    // An unregistered client asks for JSON.
    let asked = server.requests().last().unwrap().header("accept");
    assert_eq!(asked.as_deref(), Some("application/json"));

    // RFC 9701 §5: typ token-introspection+jwt, iat and token_introspection are required.
    let refused = [
        (jwt(Some("JWT"), &introspection_claims(&server)), "typ"),
        (jwt(None, &introspection_claims(&server)), "typ"),
        (
            {
                let mut claims = introspection_claims(&server);
                claims.as_object_mut().unwrap().remove("iat");
                jwt(Some("token-introspection+jwt"), &claims)
            },
            "iat",
        ),
        (
            {
                let mut claims = introspection_claims(&server);
                claims.as_object_mut().unwrap().remove("token_introspection");
                jwt(Some("token-introspection+jwt"), &claims)
            },
            "token_introspection",
        ),
        (
            {
                let mut claims = introspection_claims(&server);
                claims["aud"] = "another-app".into();
                jwt(Some("token-introspection+jwt"), &claims)
            },
            "aud",
        ),
    ];
    for (body, what) in refused {
        server.on(
            "/oidc/token/introspection",
            Canned::raw(200, "application/token-introspection+jwt", body),
        );
        let reason = signed_reason(c.introspect_token(&at).await.unwrap_err());
        let ok = match what {
            "typ" => matches!(
                reason,
                IdTokenError::TypeNotAllowed(_) | IdTokenError::MissingClaim("typ")
            ),
            "iat" => reason == IdTokenError::MissingClaim("iat"),
            "token_introspection" => reason == IdTokenError::MissingClaim("token_introspection"),
            _ => reason == IdTokenError::AudienceMismatch,
        };
        assert!(ok, "{what}: {reason:?}");
    }
}
