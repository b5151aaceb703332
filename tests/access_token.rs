//! RFC 9068 access-token verification on the JWT core, against an in-process
//! JWKS server on 127.0.0.1.

#[path = "support/keys.rs"]
mod keys;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use authing_oidc::access_token::{AccessTokenClaims, TypPolicy};
use authing_oidc::clock::{Clock as _, ManualClock};
use authing_oidc::{AccessToken, AuthenticationClient, Error, ExposeSecret as _, IdTokenError};
use keys::{JwksServer, Signer, keys, rsa_jwk, sign_with_header};
use serde_json::{Value, json};

const CLIENT_ID: &str = "app-1";
const API: &str = "https://api.example.com";
const SECRET: &str = "client-secret-that-is-long-enough-for-hs256";

struct Env {
    server: JwksServer,
    clock: Arc<ManualClock>,
    client: AuthenticationClient,
}

impl Env {
    async fn new() -> Env {
        let server = JwksServer::start(json!({"keys": [rsa_jwk(&keys().rsa, Some("rsa-1"))]})).await;
        let clock = Arc::new(ManualClock::new(SystemTime::now()));
        let client = AuthenticationClient::builder()
            .app_id(CLIENT_ID)
            .secret(SECRET)
            .app_host(server.app_host())
            .clock(clock.clone())
            .build()
            .unwrap();
        Env {
            server,
            clock,
            client,
        }
    }

    fn claims(&self) -> Value {
        let now = self.clock.unix_now() as i64;
        json!({"iss": self.server.issuer(), "sub": "user-1", "aud": API, "exp": now + 600, "iat": now,
            "jti": "at-1", "client_id": CLIENT_ID, "scope": "openid orders:read"})
    }

    fn token(&self, typ: Option<&str>, claims: &Value) -> AccessToken {
        let mut header = json!({"alg": "RS256", "kid": "rsa-1"});
        if let Some(typ) = typ {
            header["typ"] = typ.into();
        }
        AccessToken::new(sign_with_header(Signer::Rsa(&keys().rsa), &header, claims))
    }

    async fn verify(&self, policy: TypPolicy, token: &AccessToken) -> Result<AccessTokenClaims, Error> {
        self.client
            .access_token_verifier([API])
            .typ_policy(policy)
            .verify(token)
            .await
    }
}

fn reason(result: Result<AccessTokenClaims, Error>) -> IdTokenError {
    match result {
        Err(Error::AccessToken(e)) => e,
        other => panic!("expected an access-token rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn strict_requires_at_jwt_and_authing_accepts_jwt() {
    let env = Env::new().await;
    let claims = env.claims();
    let at = env
        .verify(TypPolicy::Strict, &env.token(Some("application/at+jwt"), &claims))
        .await
        .unwrap();
    assert!(at.has_scope("orders:read") && !at.has_scope("orders:write"));
    assert_eq!(at.client_id.as_deref(), Some(CLIENT_ID));
    for typ in [Some("JWT"), None] {
        assert!(matches!(
            reason(env.verify(TypPolicy::Strict, &env.token(typ, &claims)).await),
            IdTokenError::TypeNotAllowed(_) | IdTokenError::MissingClaim("typ")
        ));
        env.verify(TypPolicy::Authing, &env.token(typ, &claims))
            .await
            .unwrap();
    }
    for typ in [
        "logout+jwt",
        "token-introspection+jwt",
        "dpop+jwt",
        "oauth-authz-req+jwt",
    ] {
        for policy in [TypPolicy::Strict, TypPolicy::Authing] {
            assert!(matches!(
                reason(env.verify(policy, &env.token(Some(typ), &claims)).await),
                IdTokenError::TypeNotAllowed(_)
            ));
        }
    }
}

#[tokio::test]
async fn unmarked_id_tokens_and_logout_tokens_are_not_access_tokens_either() {
    let env = Env::new().await;
    let verifier = env.client.access_token_verifier([CLIENT_ID]);
    // An id_token from a refresh (or the device flow): no nonce, no at_hash, and, as
    // id_tokens never do, no scope. Its aud is the app the API trusts.
    let now = env.clock.unix_now() as i64;
    let id_token = json!({"iss": env.server.issuer(), "sub": "user-1", "aud": CLIENT_ID,
        "exp": now + 600, "iat": now, "auth_time": now - 60, "name": "User One"});
    let err = verifier.verify(&env.token(Some("JWT"), &id_token)).await;
    assert!(matches!(reason(err), IdTokenError::MissingClaim("scope")));
    // A logout token with typ JWT and an exp and sub.
    let mut logout = id_token.clone();
    logout["events"] = json!({"http://schemas.openid.net/event/backchannel-logout": {}});
    logout["scope"] = "openid".into();
    let err = verifier.verify(&env.token(Some("JWT"), &logout)).await;
    assert!(matches!(reason(err), IdTokenError::TypeNotAllowed(_)));
    // The same claims with a scope and no mark are an access token.
    let mut access = id_token;
    access["scope"] = "openid".into();
    assert!(verifier.verify(&env.token(Some("JWT"), &access)).await.is_ok());
}

#[tokio::test]
async fn an_id_token_is_not_an_access_token() {
    let env = Env::new().await;
    // An id_token for the same client, its aud the audience the API trusts.
    let mut claims = env.claims();
    claims["aud"] = CLIENT_ID.into();
    claims["nonce"] = "n-1".into();
    let verifier = env.client.access_token_verifier([CLIENT_ID]);
    let err = verifier.verify(&env.token(Some("JWT"), &claims)).await;
    assert!(matches!(reason(err), IdTokenError::TypeNotAllowed(_)));
    let strict = verifier.typ_policy(TypPolicy::Strict);
    assert!(matches!(
        reason(strict.verify(&env.token(None, &claims)).await),
        IdTokenError::MissingClaim("typ")
    ));
}

#[tokio::test]
async fn registered_claims_and_rfc_9068_requirements() {
    let env = Env::new().await;
    let with = |changes: Value| {
        let mut c = env.claims();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let now = env.clock.unix_now() as i64;
    let cases = [
        (json!({"iss": "https://evil"}), "iss"),
        (json!({"aud": "https://other-api"}), "aud"),
        (json!({"aud": [CLIENT_ID, "https://other-api"]}), "aud"),
        (json!({"exp": now - 61}), "exp"),
        (json!({"nbf": now + 61}), "nbf"),
        (json!({"iat": now + 3600}), "iat"),
        (json!({"iat": null}), "iat missing"),
        (json!({"sub": null}), "sub missing"),
        (json!({"client_id": null}), "client_id missing"),
        (json!({"jti": null}), "jti missing"),
    ];
    for (changes, what) in cases {
        let token = env.token(Some("at+jwt"), &with(changes));
        assert!(env.verify(TypPolicy::Strict, &token).await.is_err(), "{what}");
    }
    // Authing's tokens may lack client_id and jti.
    let token = env.token(Some("JWT"), &with(json!({"client_id": null, "jti": null})));
    env.verify(TypPolicy::Authing, &token).await.unwrap();
    // Any of several configured audiences.
    let token = env.token(Some("at+jwt"), &with(json!({"aud": ["https://other", API]})));
    env.verify(TypPolicy::Strict, &token).await.unwrap();
}

#[tokio::test]
async fn hs256_with_the_client_secret_is_refused() {
    let env = Env::new().await;
    let token = AccessToken::new(sign_with_header(
        Signer::Hmac(SECRET.as_bytes()),
        &json!({"alg": "HS256", "typ": "at+jwt"}),
        &env.claims(),
    ));
    assert!(matches!(
        reason(env.verify(TypPolicy::Strict, &token).await),
        IdTokenError::AlgorithmNotAllowed(_)
    ));
}

/// Signs a payload given as raw JSON text (serde_json cannot build a repeated member).
fn sign_raw(payload: &str) -> AccessToken {
    use aws_lc_rs::{rand::SystemRandom, signature::RSA_PKCS1_SHA256};
    let header = r#"{"alg":"RS256","kid":"rsa-1","typ":"at+jwt"}"#;
    let input = format!("{}.{}", keys::b64(header), keys::b64(payload));
    let pair = &keys().rsa;
    let mut sig = vec![0; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    AccessToken::new(format!("{input}.{}", keys::b64(sig)))
}

#[tokio::test]
async fn repeated_claims_are_refused_in_the_one_parse() {
    let env = Env::new().await;
    let c = env.claims();
    let base = format!(
        r#""iss":"{}","sub":"user-1","aud":"{API}","exp":{},"iat":{},"jti":"at-1","client_id":"{CLIENT_ID}""#,
        c["iss"].as_str().unwrap(),
        c["exp"],
        c["iat"]
    );
    let ok = sign_raw(&format!(r#"{{{base},"scope":"a","tenant":"t1"}}"#));
    let claims = env.verify(TypPolicy::Strict, &ok).await.unwrap();
    assert_eq!(claims.extra["tenant"], "t1");
    for payload in [
        // a registered claim, a claim of RFC 9068, an unknown one, and one spelled with an escape
        format!(r#"{{{base},"sub":"user-2"}}"#),
        format!(r#"{{{base},"scope":"a","scope":"admin"}}"#),
        format!(r#"{{{base},"tenant":"t1","tenant":"t2"}}"#),
        format!(r#"{{{base},"tenant":"t1","t\u0065nant":"t2"}}"#),
    ] {
        assert!(
            matches!(
                reason(env.verify(TypPolicy::Strict, &sign_raw(&payload)).await),
                IdTokenError::Malformed(_)
            ),
            "{payload}"
        );
    }
    // A missing claim is named; a value of the wrong type is not quoted.
    let missing = sign_raw(&format!(r#"{{{base}}}"#).replace(r#""iat""#, r#""iat_""#));
    match reason(env.verify(TypPolicy::Strict, &missing).await) {
        IdTokenError::Malformed(why) => assert!(why.contains("iat"), "{why}"),
        other => panic!("{other:?}"),
    }
    let wrong = sign_raw(&format!(r#"{{{base},"nbf":"secret-value"}}"#));
    match reason(env.verify(TypPolicy::Strict, &wrong).await) {
        IdTokenError::Malformed(why) => assert!(!why.contains("secret-value"), "{why}"),
        other => panic!("{other:?}"),
    }
}

// ---- the bearer verifier's cache (docs/protocol.md §4.6) ----

#[tokio::test]
async fn the_bearer_cache_answers_the_same_token_only_and_until_its_exp() {
    let env = Env::new().await;
    let verifier = env.client.bearer_verifier([API]).build().unwrap();
    let token = env.token(Some("at+jwt"), &env.claims());
    let text = token.expose_secret();
    assert!(
        verifier.try_cached(text).is_none(),
        "nothing is cached before a verification"
    );
    let claims = verifier.verify(&token).await.unwrap();
    let hit = verifier.try_cached(text).expect("a verified token is cached");
    assert!(Arc::ptr_eq(&claims, &hit));
    // The same claims under another signature byte, or one character more or less, are other
    // tokens: no hit, and the verifier refuses them.
    let last = text.len() - 1;
    let flipped = format!("{}{}", &text[..last], if text.ends_with('A') { 'B' } else { 'A' });
    for other in [flipped.as_str(), &text[..last], &format!("{text}A")] {
        assert!(verifier.try_cached(other).is_none());
        assert!(verifier.verify_str(other).await.is_err());
    }
    assert!(
        verifier.try_cached(text).is_some(),
        "the refusals evicted nothing"
    );
    // At its exp the entry is gone (the leeway extends the check, not the cache) ...
    env.clock.advance(Duration::from_secs(600));
    assert!(
        verifier.try_cached(text).is_none(),
        "an entry is not served at its exp"
    );
    // ... and once past the leeway the token is refused.
    env.clock.advance(Duration::from_secs(3600));
    assert!(matches!(
        verifier.verify(&token).await,
        Err(Error::AccessToken(IdTokenError::Expired))
    ));
    assert!(verifier.try_cached(text).is_none());
}

#[tokio::test]
async fn a_sender_constrained_token_is_refused_as_bearer_on_every_path_even_once_cached() {
    let env = Env::new().await;
    let verifier = env.client.bearer_verifier([API]).build().unwrap();
    let mut claims = env.claims();
    claims["cnf"] = json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"});
    let token = env.token(Some("at+jwt"), &claims);
    let text = token.expose_secret();
    let refused = |r: Result<Arc<authing_oidc::bearer::BearerClaims>, Error>| match r {
        Err(Error::AccessToken(IdTokenError::TypeNotAllowed(why))) => assert!(why.contains("cnf"), "{why}"),
        other => panic!("a bound token must be refused as bearer: {other:?}"),
    };
    // The first check fetches the JWKS (async); the token is then cached for DPoP use, and
    // every later path (sync verify_now, the cache lookup, verify_str) still refuses it.
    refused(verifier.verify_str(text).await);
    for _ in 0..2 {
        refused(
            verifier
                .verify_now(text)
                .expect("the key is held: answered synchronously"),
        );
        assert!(
            verifier.try_cached(text).is_none(),
            "the cache never hands a bound token to a bearer caller"
        );
        refused(verifier.verify_str(text).await);
    }
}
