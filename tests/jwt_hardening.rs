//! Regression tests for the JWT core's hardening (issue 17 #3, #4, #7):
//! explicit typing, `iat` in the future, repeated members, and a hanging
//! JWKS endpoint. Each fails without its fix.

#[path = "support/keys.rs"]
mod keys;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use authing_oidc::clock::{Clock as _, ManualClock};
use authing_oidc::id_token::{IdTokenClaims, VerifyOptions};
use authing_oidc::{AuthenticationClient, AuthenticationClientBuilder, Error, IdToken, IdTokenError};
use keys::{JwksServer, Signer, keys, rsa_jwk, sign_with_header};
use serde_json::{Value, json};

const CLIENT_ID: &str = "app-1";
const SECRET: &str = "client-secret-that-is-long-enough-for-hs256";

struct Env {
    server: JwksServer,
    clock: Arc<ManualClock>,
    client: AuthenticationClient,
}

impl Env {
    async fn new(configure: impl FnOnce(AuthenticationClientBuilder) -> AuthenticationClientBuilder) -> Env {
        let server = JwksServer::start(json!({"keys": [rsa_jwk(&keys().rsa, Some("rsa-1"))]})).await;
        let clock = Arc::new(ManualClock::new(SystemTime::now()));
        let builder = AuthenticationClient::builder()
            .app_id(CLIENT_ID)
            .secret(SECRET)
            .app_host(server.app_host())
            .clock(clock.clone());
        let client = configure(builder).build().unwrap();
        Env {
            server,
            clock,
            client,
        }
    }

    fn now(&self) -> i64 {
        self.clock.unix_now() as i64
    }

    /// Claims that pass every check; no nonce, as an access token or a logout token would
    /// carry none.
    fn claims(&self) -> Value {
        let now = self.now();
        json!({"iss": self.server.issuer(), "sub": "user-1", "aud": CLIENT_ID, "exp": now + 600, "iat": now})
    }

    fn rs256_with_header(&self, header: Value, claims: &Value) -> IdToken {
        IdToken::new(sign_with_header(Signer::Rsa(&keys().rsa), &header, claims))
    }

    async fn verify(&self, token: &IdToken) -> Result<IdTokenClaims, Error> {
        self.client.verify_id_token(token, &VerifyOptions::new()).await
    }
}

fn reason(result: Result<IdTokenClaims, Error>) -> IdTokenError {
    match result {
        Err(Error::IdToken(e)) => e,
        Err(other) => panic!("expected an id_token rejection, got {other:?}"),
        Ok(claims) => panic!("expected a rejection, the token was accepted: {claims:?}"),
    }
}

// ---- #7: explicit typing (RFC 8725 §3.11) ----

#[tokio::test]
async fn other_kinds_of_jwt_are_refused_by_typ() {
    let env = Env::new(|b| b).await;
    for typ in [
        "at+jwt",
        "application/at+jwt",
        "AT+JWT",
        "logout+jwt",
        "application/logout+jwt",
        "Application/Logout+JWT",
        "token-introspection+jwt",
        "application/token-introspection+jwt",
        "dpop+jwt",
        "oauth-authz-req+jwt",
    ] {
        let token = env.rs256_with_header(json!({"alg": "RS256", "kid": "rsa-1", "typ": typ}), &env.claims());
        assert_eq!(
            reason(env.verify(&token).await),
            IdTokenError::TypeNotAllowed(typ.into()),
            "{typ}"
        );
    }
    for typ in [json!("JWT"), json!("jwt"), json!("application/jwt"), Value::Null] {
        let mut header = json!({"alg": "RS256", "kid": "rsa-1"});
        if !typ.is_null() {
            header["typ"] = typ.clone();
        }
        let token = env.rs256_with_header(header, &env.claims());
        env.verify(&token).await.unwrap_or_else(|e| panic!("{typ}: {e}"));
    }
}

#[tokio::test]
async fn an_hs256_access_token_is_refused_by_typ_too() {
    let env = Env::new(|b| b).await;
    let header = json!({"alg": "HS256", "typ": "at+jwt"});
    let token = IdToken::new(sign_with_header(
        Signer::Hmac(SECRET.as_bytes()),
        &header,
        &env.claims(),
    ));
    assert_eq!(
        reason(env.verify(&token).await),
        IdTokenError::TypeNotAllowed("at+jwt".into())
    );
}

// ---- #7: iat in the future ----

#[tokio::test]
async fn iat_far_in_the_future_is_refused_by_default() {
    let env = Env::new(|b| b).await;
    let header = json!({"alg": "RS256", "kid": "rsa-1"});
    // Default: the leeway (60 s) plus 5 minutes.
    let mut claims = env.claims();
    claims["iat"] = json!(env.now() + 360);
    env.verify(&env.rs256_with_header(header.clone(), &claims))
        .await
        .unwrap();
    claims["iat"] = json!(env.now() + 361);
    claims["exp"] = json!(env.now() + 3600);
    assert_eq!(
        reason(env.verify(&env.rs256_with_header(header, &claims)).await),
        IdTokenError::IssuedInFuture
    );
}

#[tokio::test]
async fn max_iat_skew_is_configurable() {
    let env = Env::new(|b| b.max_iat_skew(Duration::from_secs(10))).await;
    let header = json!({"alg": "RS256", "kid": "rsa-1"});
    let mut claims = env.claims();
    claims["iat"] = json!(env.now() + 10);
    env.verify(&env.rs256_with_header(header.clone(), &claims))
        .await
        .unwrap();
    claims["iat"] = json!(env.now() + 11);
    assert_eq!(
        reason(env.verify(&env.rs256_with_header(header, &claims)).await),
        IdTokenError::IssuedInFuture
    );
}

// ---- #4: repeated members ----

/// Signs a payload given as raw JSON text (serde_json cannot build a repeated member).
fn sign_raw(header: &str, payload: &str) -> IdToken {
    use aws_lc_rs::{rand::SystemRandom, signature::RSA_PKCS1_SHA256};
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let pair = &keys().rsa;
    let mut sig = vec![0; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    IdToken::new(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

#[tokio::test]
async fn repeated_profile_extra_and_header_members_are_refused() {
    let env = Env::new(|b| b).await;
    let c = env.claims();
    let base = format!(
        r#""iss":"{}","sub":"user-1","aud":"{CLIENT_ID}","exp":{},"iat":{}"#,
        c["iss"].as_str().unwrap(),
        c["exp"],
        c["iat"]
    );
    let header = r#"{"alg":"RS256","kid":"rsa-1"}"#;
    env.verify(&sign_raw(
        header,
        &format!(r#"{{{base},"email":"a@example.com","role":"user"}}"#),
    ))
    .await
    .unwrap();
    for payload in [
        format!(r#"{{{base},"email":"a@example.com","email":"b@example.com"}}"#),
        format!(r#"{{{base},"role":"user","role":"admin"}}"#),
        format!(r#"{{{base},"role":"user","r\u006fle":"admin"}}"#),
    ] {
        assert!(
            matches!(
                reason(env.verify(&sign_raw(header, &payload)).await),
                IdTokenError::Malformed(_)
            ),
            "{payload}"
        );
    }
    for header in [
        r#"{"alg":"RS256","kid":"rsa-1","kid":"rsa-2"}"#,
        r#"{"alg":"RS256","kid":"rsa-1","typ":"JWT","typ":"at+jwt"}"#,
        r#"{"alg":"RS256","kid":"rsa-1","x5u":"a","x5u":"b"}"#,
    ] {
        let token = sign_raw(header, &format!("{{{base}}}"));
        assert!(
            matches!(reason(env.verify(&token).await), IdTokenError::Malformed(_)),
            "{header}"
        );
    }
}

// ---- #3: a hanging JWKS endpoint ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_jwks_endpoint_does_not_queue_verifications() {
    let env = Env::new(|b| b.timeout(Duration::from_secs(2))).await;
    let token = env.rs256_with_header(json!({"alg": "RS256", "kid": "rsa-1"}), &env.claims());
    env.verify(&token).await.unwrap();
    assert_eq!(env.server.jwks_hits(), 1);
    // The keys go stale (default max-age one hour) and the endpoint starts hanging.
    env.server.set_delay(Duration::from_secs(30));
    env.clock.advance(Duration::from_secs(3601));
    let token = env.rs256_with_header(json!({"alg": "RS256", "kid": "rsa-1"}), &env.claims());
    let started = tokio::time::Instant::now();
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let client = env.client.clone();
            let token = token.clone();
            tokio::spawn(async move { client.verify_id_token(&token, &VerifyOptions::new()).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    // Without stale-while-revalidate, the first waits the 2 s timeout and the rest queue behind.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "verifications waited for the hanging fetch: {:?}",
        started.elapsed()
    );
    // One background re-fetch, not one per verification.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(env.server.jwks_hits(), 2);
    // The hanging attempt takes 11 s of the client's clock (more than the 10 s interval) and
    // then times out. The interval counts from its end: the next stale verification must not
    // start another fetch at once.
    env.clock.advance(Duration::from_secs(11));
    tokio::time::sleep(Duration::from_millis(2300)).await;
    env.verify(&token).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        env.server.jwks_hits(),
        2,
        "re-fetched right after a failed attempt ended"
    );
    // After the interval, one more attempt.
    env.clock.advance(Duration::from_secs(10));
    env.server.set_delay(Duration::from_millis(0));
    env.verify(&token).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(env.server.jwks_hits(), 3);
}
