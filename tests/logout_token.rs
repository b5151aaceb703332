//! OpenID Back-Channel Logout 1.0 §2.6: one test per refusal, and the token a
//! conformant provider sends accepted, against an in-process JWKS server on
//! 127.0.0.1 (docs/protocol.md §4.4; docs/security.md lists each check with
//! its test here).

#[path = "support/keys.rs"]
mod keys;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use authing_oidc::clock::{Clock as _, ManualClock};
use authing_oidc::logout_token::{BACKCHANNEL_LOGOUT_EVENT, LogoutTokenClaims};
use authing_oidc::{
    AuthenticationClient, Error, IdTokenError, LogoutToken, LogoutTokenError, SigningAlgorithm,
};
use aws_lc_rs::signature::KeyPair as _;
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
    async fn new() -> Env {
        Env::with(|b| b).await
    }

    async fn with(
        configure: impl FnOnce(
            authing_oidc::AuthenticationClientBuilder,
        ) -> authing_oidc::AuthenticationClientBuilder,
    ) -> Env {
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

    /// The claims of a conformant logout token (§2.4), as panva sends them.
    fn claims(&self, jti: &str) -> Value {
        json!({"iss": self.server.issuer(), "aud": CLIENT_ID, "iat": self.now(), "exp": self.now() + 120,
            "jti": jti, "sub": "user-1", "sid": "sid-1",
            "events": {BACKCHANNEL_LOGOUT_EVENT: {}}})
    }

    fn token(&self, claims: &Value) -> LogoutToken {
        self.token_typ(Some("logout+jwt"), claims)
    }

    fn token_typ(&self, typ: Option<&str>, claims: &Value) -> LogoutToken {
        let mut header = json!({"alg": "RS256", "kid": "rsa-1"});
        if let Some(typ) = typ {
            header["typ"] = typ.into();
        }
        LogoutToken::new(sign_with_header(Signer::Rsa(&keys().rsa), &header, claims))
    }

    async fn verify(&self, token: &LogoutToken) -> Result<LogoutTokenClaims, Error> {
        self.client.verify_logout_token(token).await
    }
}

fn reason(result: Result<LogoutTokenClaims, Error>) -> LogoutTokenError {
    match result {
        Err(Error::LogoutToken(e)) => e,
        other => panic!("expected a logout-token refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_conformant_token_is_accepted_with_each_typ() {
    let env = Env::new().await;
    for (i, typ) in [
        Some("logout+jwt"),
        Some("application/logout+jwt"),
        Some("JWT"),
        None,
    ]
    .into_iter()
    .enumerate()
    {
        let claims = env.claims(&format!("jti-{i}"));
        let ok = env.verify(&env.token_typ(typ, &claims)).await.unwrap();
        assert_eq!(ok.iss, env.server.issuer());
        assert_eq!(ok.sub.as_deref(), Some("user-1"));
        assert_eq!(ok.sid.as_deref(), Some("sid-1"));
        assert_eq!(ok.jti, format!("jti-{i}"));
    }
    // Only one of sid and sub is enough (§2.4).
    for drop in ["sid", "sub"] {
        let mut claims = env.claims(&format!("only-{drop}"));
        claims.as_object_mut().unwrap().remove(drop);
        env.verify(&env.token(&claims)).await.unwrap();
    }
}

#[tokio::test]
async fn the_typ_of_another_kind_is_refused() {
    let env = Env::new().await;
    for (i, typ) in ["at+jwt", "token-introspection+jwt", "dpop+jwt", "secevent+jwt"]
        .into_iter()
        .enumerate()
    {
        let token = env.token_typ(Some(typ), &env.claims(&format!("t-{i}")));
        assert!(matches!(
            reason(env.verify(&token).await),
            LogoutTokenError::Jwt(IdTokenError::TypeNotAllowed(_))
        ));
    }
}

#[tokio::test]
async fn a_token_with_a_nonce_is_refused() {
    let env = Env::new().await;
    let mut claims = env.claims("n-1");
    claims["nonce"] = "n-0S6_WzA2Mj".into();
    assert_eq!(
        reason(env.verify(&env.token(&claims)).await),
        LogoutTokenError::NoncePresent
    );
}

#[tokio::test]
async fn a_token_without_the_logout_event_is_refused() {
    let env = Env::new().await;
    let bad_events = [
        None,
        Some(json!({})),
        Some(json!({"http://schemas.openid.net/event/other": {}})),
        // The event's value must be a JSON object.
        Some(json!({BACKCHANNEL_LOGOUT_EVENT: "yes"})),
        // An array of event names (an early draft) is not the object of §2.4.
        Some(json!([BACKCHANNEL_LOGOUT_EVENT])),
    ];
    for (i, events) in bad_events.into_iter().enumerate() {
        let mut claims = env.claims(&format!("e-{i}"));
        match events {
            Some(e) => claims["events"] = e,
            None => {
                claims.as_object_mut().unwrap().remove("events");
            }
        }
        assert_eq!(
            reason(env.verify(&env.token(&claims)).await),
            LogoutTokenError::MissingEvent
        );
    }
}

#[tokio::test]
async fn a_token_for_another_audience_or_issuer_is_refused() {
    let env = Env::new().await;
    let mut claims = env.claims("a-1");
    claims["aud"] = "another-app".into();
    assert_eq!(
        reason(env.verify(&env.token(&claims)).await),
        LogoutTokenError::Jwt(IdTokenError::AudienceMismatch)
    );
    claims["aud"] = json!([CLIENT_ID, "untrusted"]);
    assert!(matches!(
        reason(env.verify(&env.token(&claims)).await),
        LogoutTokenError::Jwt(IdTokenError::UntrustedAudience(_))
    ));
    let mut claims = env.claims("a-2");
    claims["iss"] = "https://op.example".into();
    assert!(matches!(
        reason(env.verify(&env.token(&claims)).await),
        LogoutTokenError::Jwt(IdTokenError::IssuerMismatch { .. })
    ));
}

#[tokio::test]
async fn a_replayed_jti_is_refused_and_a_missing_one_too() {
    let env = Env::new().await;
    let token = env.token(&env.claims("once"));
    env.verify(&token).await.unwrap();
    assert_eq!(reason(env.verify(&token).await), LogoutTokenError::Replayed);
    // Another token with the same jti is the same logout: refused as well, also through
    // a clone of the client (the memory is the client's).
    let mut claims = env.claims("once");
    claims["sid"] = "sid-2".into();
    assert_eq!(
        reason(env.client.clone().verify_logout_token(&env.token(&claims)).await),
        LogoutTokenError::Replayed
    );
    for jti in [None, Some(json!(""))] {
        let mut claims = env.claims("x");
        match jti {
            Some(j) => claims["jti"] = j,
            None => {
                claims.as_object_mut().unwrap().remove("jti");
            }
        }
        assert_eq!(
            reason(env.verify(&env.token(&claims)).await),
            LogoutTokenError::Jwt(IdTokenError::MissingClaim("jti"))
        );
    }
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    // The RS256 → HS256 confusion (RFC 8725 §2.1): the "secret" is the provider's public key.
    let public = keys().rsa.public_key().as_ref().to_vec();
    let forge = |env: &Env| {
        let header = json!({"alg": "HS256", "kid": "rsa-1", "typ": "logout+jwt"});
        LogoutToken::new(sign_with_header(
            Signer::Hmac(&public),
            &header,
            &env.claims("hs-1"),
        ))
    };
    // The Authing preset accepts HS256 (with the client secret): the signature fails.
    let env = Env::new().await;
    assert_eq!(
        reason(env.verify(&forge(&env)).await),
        LogoutTokenError::Jwt(IdTokenError::BadSignature)
    );
    // Registered for RS256: the algorithm itself is refused.
    let env = Env::with(|b| b.id_token_signed_response_alg(SigningAlgorithm::RS256)).await;
    assert!(matches!(
        reason(env.verify(&forge(&env)).await),
        LogoutTokenError::Jwt(IdTokenError::AlgorithmNotAllowed(_))
    ));
    // HS256 with the real client secret is a valid logout token (OIDC Core §10.1).
    let env = Env::new().await;
    let header = json!({"alg": "HS256", "typ": "logout+jwt"});
    let token = sign_with_header(Signer::Hmac(SECRET.as_bytes()), &header, &env.claims("hs-2"));
    env.verify(&LogoutToken::new(token)).await.unwrap();
}

#[tokio::test]
async fn alg_none_is_refused() {
    let env = Env::new().await;
    let header = json!({"alg": "none", "typ": "logout+jwt"});
    let token = sign_with_header(Signer::Unsigned, &header, &env.claims("none-1"));
    assert!(matches!(
        reason(env.verify(&LogoutToken::new(token)).await),
        LogoutTokenError::Jwt(IdTokenError::AlgorithmNotAllowed(_))
    ));
}

#[tokio::test]
async fn a_token_without_sid_and_sub_is_refused() {
    let env = Env::new().await;
    let mut claims = env.claims("s-1");
    claims.as_object_mut().unwrap().remove("sid");
    claims.as_object_mut().unwrap().remove("sub");
    assert_eq!(
        reason(env.verify(&env.token(&claims)).await),
        LogoutTokenError::MissingSidAndSub
    );
    // An empty or non-string identifier names no session either.
    for (i, bad) in [json!(""), json!(42)].into_iter().enumerate() {
        let mut claims = env.claims(&format!("s-{}", i + 2));
        claims.as_object_mut().unwrap().remove("sid");
        claims["sub"] = bad;
        assert_eq!(
            reason(env.verify(&env.token(&claims)).await),
            LogoutTokenError::MissingSidAndSub
        );
    }
}

#[tokio::test]
async fn the_clock_checks_refuse_expired_future_and_old_tokens() {
    let env = Env::new().await;
    let now = env.now();
    // Expired beyond the 60 s leeway.
    let mut claims = env.claims("c-1");
    claims["iat"] = (now - 300).into();
    claims["exp"] = (now - 61).into();
    assert_eq!(
        reason(env.verify(&env.token(&claims)).await),
        LogoutTokenError::Jwt(IdTokenError::Expired)
    );
    // iat further in the future than the leeway plus 300 s.
    let mut claims = env.claims("c-2");
    claims["iat"] = (now + 361 + 5).into();
    claims["exp"] = (now + 600).into();
    assert_eq!(
        reason(env.verify(&env.token(&claims)).await),
        LogoutTokenError::Jwt(IdTokenError::IssuedInFuture)
    );
    // No iat at all.
    let mut claims = env.claims("c-3");
    claims.as_object_mut().unwrap().remove("iat");
    assert_eq!(
        reason(env.verify(&env.token(&claims)).await),
        LogoutTokenError::Jwt(IdTokenError::MissingClaim("iat"))
    );
    // No exp (it is optional) but issued longer ago than the window: its jti may be forgotten.
    let mut claims = env.claims("c-4");
    claims.as_object_mut().unwrap().remove("exp");
    claims["iat"] = (now - 600 - 60 - 1).into();
    assert_eq!(
        reason(env.verify(&env.token(&claims)).await),
        LogoutTokenError::TooOld
    );
    claims["iat"] = (now - 600).into();
    env.verify(&env.token(&claims)).await.unwrap();
}

#[tokio::test]
async fn a_jti_is_remembered_as_long_as_its_token_could_pass() {
    let env = Env::new().await;
    // Without exp, only the age window bounds the token's life (and its jti's memory).
    let mut claims = env.claims("r-1");
    claims.as_object_mut().unwrap().remove("exp");
    let token = env.token(&claims);
    env.verify(&token).await.unwrap();
    // Just before the window closes the replay is still caught …
    env.clock.advance(Duration::from_secs(600 + 60 - 1));
    assert_eq!(reason(env.verify(&token).await), LogoutTokenError::Replayed);
    // … and after it, the token is refused by its own age.
    env.clock.advance(Duration::from_secs(2));
    assert_eq!(reason(env.verify(&token).await), LogoutTokenError::TooOld);
    // With exp, an expired token fails before the memory is consulted.
    let token = env.token(&env.claims("r-2"));
    env.verify(&token).await.unwrap();
    env.clock.advance(Duration::from_secs(120 + 60));
    assert_eq!(
        reason(env.verify(&token).await),
        LogoutTokenError::Jwt(IdTokenError::Expired)
    );
}

#[tokio::test]
async fn an_unknown_key_is_refused_and_the_secret_never_shows() {
    let env = Env::new().await;
    let header = json!({"alg": "RS256", "kid": "rsa-2", "typ": "logout+jwt"});
    let token = LogoutToken::new(sign_with_header(
        Signer::Rsa(&keys().rsa2),
        &header,
        &env.claims("k-1"),
    ));
    let err = env.verify(&token).await.unwrap_err();
    assert!(matches!(
        err,
        Error::LogoutToken(LogoutTokenError::Jwt(IdTokenError::UnknownKid(_)))
    ));
    use authing_oidc::ExposeSecret as _;
    let shown = format!("{err} {err:?} {token:?}");
    assert!(!shown.contains(token.expose_secret()));
    assert!(!shown.contains(&token.expose_secret()[..20]));
}
