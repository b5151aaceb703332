//! Local id_token verification (docs/protocol.md §4.2; OIDC Core §3.1.3.7 and §12.2), one
//! test per rule, each asserting the specific rejection reason.
//!
//! The provider is an in-process JWKS server on 127.0.0.1; tokens are signed
//! with keys generated here; time comes from a `ManualClock`.

#[path = "support/keys.rs"]
mod keys;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use authing_oidc::clock::ManualClock;
use authing_oidc::id_token::{IdTokenClaims, VerifyOptions};
use authing_oidc::{
    AccessToken, AuthenticationClient, AuthenticationClientBuilder, Error, IdToken, IdTokenError, Nonce,
    SigningAlgorithm,
};
use keys::{JwksServer, Signer, ec_jwk, ed_jwk, keys, rsa_jwk, sign};
use serde_json::{Value, json};

const CLIENT_ID: &str = "app-1";
const SECRET: &str = "client-secret-that-is-long-enough-for-hs256";
const NONCE: &str = "nonce-0S6_WzA2Mj";

fn default_jwks() -> Value {
    let k = keys();
    json!({"keys": [rsa_jwk(&k.rsa, Some("rsa-1")), ec_jwk(&k.ec, "ec-1"), ed_jwk(&k.ed, "ed-1")]})
}

struct Env {
    started: i64,
    server: JwksServer,
    clock: Arc<ManualClock>,
    client: AuthenticationClient,
}

impl Env {
    /// An Authing-preset client on a fresh server with the default keys.
    async fn new() -> Env {
        Env::with(default_jwks(), |b| b).await
    }

    async fn with(
        jwks: Value,
        configure: impl FnOnce(AuthenticationClientBuilder) -> AuthenticationClientBuilder,
    ) -> Env {
        let server = JwksServer::start(jwks).await;
        let clock = Arc::new(ManualClock::new(SystemTime::now()));
        let client = configure(base_builder(&clock))
            .app_host(server.app_host())
            .build()
            .unwrap();
        Env {
            started: unix(&clock),
            server,
            clock,
            client,
        }
    }

    /// A client built by discovery, advertising `algs`.
    async fn discovered(algs: &[&str]) -> Env {
        let server = JwksServer::start(default_jwks()).await;
        server.set_discovery_algs(algs);
        let clock = Arc::new(ManualClock::new(SystemTime::now()));
        let client = base_builder(&clock).discover(&server.issuer()).await.unwrap();
        Env {
            started: unix(&clock),
            server,
            clock,
            client,
        }
    }

    /// When the user logged in: fixed for the whole test, as in a real session.
    fn auth_time(&self) -> i64 {
        self.started - 10
    }

    fn now(&self) -> i64 {
        unix(&self.clock)
    }

    /// Claims that pass every check.
    fn claims(&self) -> Value {
        let now = self.now();
        json!({
            "iss": self.server.issuer(), "sub": "user-1", "aud": CLIENT_ID,
            "exp": now + 600, "iat": now, "nonce": NONCE, "auth_time": self.auth_time(),
        })
    }

    fn claims_with(&self, changes: Value) -> Value {
        let mut c = self.claims();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    }

    fn rs256(&self, claims: &Value) -> IdToken {
        IdToken::new(sign(Signer::Rsa(&keys().rsa), "RS256", Some("rsa-1"), claims))
    }

    fn hs256(&self, claims: &Value) -> IdToken {
        IdToken::new(sign(Signer::Hmac(SECRET.as_bytes()), "HS256", None, claims))
    }

    async fn verify(&self, token: &IdToken) -> Result<IdTokenClaims, Error> {
        let nonce = Nonce::new(NONCE);
        self.client
            .id_token_verifier()
            .verify(token, &VerifyOptions::new().nonce(&nonce))
            .await
    }
}

fn unix(clock: &ManualClock) -> i64 {
    use authing_oidc::clock::Clock as _;
    clock.unix_now() as i64
}

fn base_builder(clock: &Arc<ManualClock>) -> AuthenticationClientBuilder {
    AuthenticationClient::builder()
        .app_id(CLIENT_ID)
        .secret(SECRET)
        .redirect_uri("http://127.0.0.1/callback")
        .clock(clock.clone())
}

/// The rejection reason, or a panic naming what happened instead.
fn reason(result: Result<IdTokenClaims, Error>) -> IdTokenError {
    match result {
        Err(Error::IdToken(e)) => e,
        Err(other) => panic!("expected an id_token rejection, got {other:?}"),
        Ok(claims) => panic!("expected a rejection, the token was accepted: {claims:?}"),
    }
}

// ---- signatures and algorithms (§3.1.3.7 steps 6-8) ----

#[tokio::test]
async fn valid_rs256_is_accepted() {
    let env = Env::new().await;
    let claims = env.verify(&env.rs256(&env.claims())).await.unwrap();
    assert_eq!(claims.sub, "user-1");
    assert_eq!(claims.aud, vec![CLIENT_ID.to_owned()]);
    assert_eq!(claims.nonce.as_deref(), Some(NONCE));
    assert_eq!(env.server.jwks_hits(), 1);
    // The second verification uses the cached keys.
    env.verify(&env.rs256(&env.claims())).await.unwrap();
    assert_eq!(env.server.jwks_hits(), 1);
}

#[tokio::test]
async fn valid_es256_is_accepted() {
    let env = Env::with(default_jwks(), |b| {
        b.id_token_signed_response_alg(SigningAlgorithm::ES256)
    })
    .await;
    let token = IdToken::new(sign(Signer::Ec(&keys().ec), "ES256", Some("ec-1"), &env.claims()));
    env.verify(&token).await.unwrap();
}

#[tokio::test]
async fn valid_eddsa_is_accepted() {
    let env = Env::with(default_jwks(), |b| {
        b.id_token_signed_response_alg(SigningAlgorithm::EdDSA)
    })
    .await;
    let token = IdToken::new(sign(Signer::Ed(&keys().ed), "EdDSA", Some("ed-1"), &env.claims()));
    env.verify(&token).await.unwrap();
}

#[tokio::test]
async fn valid_hs256_is_accepted_without_fetching_keys() {
    let env = Env::new().await;
    env.verify(&env.hs256(&env.claims())).await.unwrap();
    assert_eq!(env.server.jwks_hits(), 0);
}

#[tokio::test]
async fn valid_tokens_are_accepted_from_a_discovered_provider() {
    let env = Env::discovered(&["RS256", "ES256", "EdDSA", "HS256"]).await;
    let k = keys();
    let c = env.claims();
    env.verify(&env.rs256(&c)).await.unwrap();
    env.verify(&IdToken::new(sign(Signer::Ec(&k.ec), "ES256", Some("ec-1"), &c)))
        .await
        .unwrap();
    env.verify(&IdToken::new(sign(Signer::Ed(&k.ed), "EdDSA", Some("ed-1"), &c)))
        .await
        .unwrap();
    env.verify(&env.hs256(&c)).await.unwrap();
}

/// Flips one character in the middle of the signature.
fn tamper_signature(token: &IdToken) -> IdToken {
    use authing_oidc::ExposeSecret as _;
    let s = token.expose_secret();
    let dot = s.rfind('.').unwrap();
    let mut bytes = s.as_bytes().to_vec();
    let i = dot + 1 + (s.len() - dot) / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    IdToken::new(String::from_utf8(bytes).unwrap())
}

#[tokio::test]
async fn bad_rs256_signature_is_refused() {
    let env = Env::new().await;
    let token = tamper_signature(&env.rs256(&env.claims()));
    assert_eq!(reason(env.verify(&token).await), IdTokenError::BadSignature);
    // Signed by another RSA key under the same kid.
    let other = IdToken::new(sign(
        Signer::Rsa(&keys().rsa2),
        "RS256",
        Some("rsa-1"),
        &env.claims(),
    ));
    assert_eq!(reason(env.verify(&other).await), IdTokenError::BadSignature);
}

#[tokio::test]
async fn bad_es256_signature_is_refused() {
    let env = Env::with(default_jwks(), |b| {
        b.id_token_signed_response_alg(SigningAlgorithm::ES256)
    })
    .await;
    let token = IdToken::new(sign(Signer::Ec(&keys().ec), "ES256", Some("ec-1"), &env.claims()));
    assert_eq!(
        reason(env.verify(&tamper_signature(&token)).await),
        IdTokenError::BadSignature
    );
}

#[tokio::test]
async fn bad_hs256_signature_is_refused() {
    let env = Env::new().await;
    let token = tamper_signature(&env.hs256(&env.claims()));
    assert_eq!(reason(env.verify(&token).await), IdTokenError::BadSignature);
    let wrong_secret = IdToken::new(sign(
        Signer::Hmac(b"another-secret"),
        "HS256",
        None,
        &env.claims(),
    ));
    assert_eq!(
        reason(env.verify(&wrong_secret).await),
        IdTokenError::BadSignature
    );
}

#[tokio::test]
async fn alg_none_is_refused() {
    let env = Env::new().await;
    let token = IdToken::new(sign(Signer::Unsigned, "none", None, &env.claims()));
    assert_eq!(
        reason(env.verify(&token).await),
        IdTokenError::AlgorithmNotAllowed("none".into())
    );
    // Also when the client pins an algorithm, and from a discovered provider.
    let disc = Env::discovered(&["RS256", "none"]).await;
    let token = IdToken::new(sign(Signer::Unsigned, "none", None, &disc.claims()));
    assert_eq!(
        reason(disc.verify(&token).await),
        IdTokenError::AlgorithmNotAllowed("none".into())
    );
}

#[tokio::test]
async fn es256_header_with_an_rsa_kid_is_an_algorithm_key_mismatch() {
    let env = Env::discovered(&["RS256", "ES256"]).await;
    let token = IdToken::new(sign(
        Signer::Ec(&keys().ec),
        "ES256",
        Some("rsa-1"),
        &env.claims(),
    ));
    assert_eq!(
        reason(env.verify(&token).await),
        IdTokenError::AlgorithmKeyMismatch {
            alg: "ES256".into(),
            kid: Some("rsa-1".into())
        }
    );
}

#[tokio::test]
async fn jwk_alg_pins_the_algorithm() {
    let env = Env::discovered(&["RS256", "PS256"]).await;
    let mut pinned = rsa_jwk(&keys().rsa, Some("rsa-1"));
    pinned["alg"] = "RS256".into();
    env.server.set_jwks(json!({"keys": [pinned]}));
    // A PS256 header on a key whose JWK says RS256.
    let token = IdToken::new(sign(
        Signer::Rsa(&keys().rsa),
        "PS256",
        Some("rsa-1"),
        &env.claims(),
    ));
    assert_eq!(
        reason(env.verify(&token).await),
        IdTokenError::AlgorithmKeyMismatch {
            alg: "PS256".into(),
            kid: Some("rsa-1".into())
        }
    );
    env.verify(&env.rs256(&env.claims())).await.unwrap();
}

#[tokio::test]
async fn hs256_with_an_rsa_kid_is_checked_with_the_client_secret_only() {
    let env = Env::new().await;
    let rsa = &keys().rsa;
    let components = aws_lc_rs::signature::RsaPublicKeyComponents::<Vec<u8>>::from(
        aws_lc_rs::signature::KeyPair::public_key(rsa),
    );
    // The classic RS256→HS256 confusion: HMAC keyed with the RSA public key's bytes, in
    // every form an attacker might guess the verifier uses.
    let jwk_text = rsa_jwk(rsa, Some("rsa-1")).to_string();
    let forms: [&[u8]; 3] = [
        aws_lc_rs::signature::KeyPair::public_key(rsa).as_ref(),
        &components.n,
        jwk_text.as_bytes(),
    ];
    for public in forms {
        let forged = IdToken::new(sign(Signer::Hmac(public), "HS256", Some("rsa-1"), &env.claims()));
        assert_eq!(reason(env.verify(&forged).await), IdTokenError::BadSignature);
    }
    // The same header signed with the client secret is fine: the kid is ignored for HS*.
    let honest = IdToken::new(sign(
        Signer::Hmac(SECRET.as_bytes()),
        "HS256",
        Some("rsa-1"),
        &env.claims(),
    ));
    env.verify(&honest).await.unwrap();
}

#[tokio::test]
async fn authing_preset_refuses_algorithms_authing_does_not_offer() {
    let env = Env::new().await;
    let token = IdToken::new(sign(Signer::Ec(&keys().ec), "ES256", Some("ec-1"), &env.claims()));
    assert_eq!(
        reason(env.verify(&token).await),
        IdTokenError::AlgorithmNotAllowed("ES256".into())
    );
}

#[tokio::test]
async fn algorithm_not_advertised_by_discovery_is_refused() {
    let env = Env::discovered(&["RS256"]).await;
    let es = IdToken::new(sign(Signer::Ec(&keys().ec), "ES256", Some("ec-1"), &env.claims()));
    assert_eq!(
        reason(env.verify(&es).await),
        IdTokenError::AlgorithmNotAllowed("ES256".into())
    );
    assert_eq!(
        reason(env.verify(&env.hs256(&env.claims())).await),
        IdTokenError::AlgorithmNotAllowed("HS256".into())
    );
    env.verify(&env.rs256(&env.claims())).await.unwrap();
}

#[tokio::test]
async fn configured_rs256_refuses_an_hs256_token() {
    let env = Env::with(default_jwks(), |b| {
        b.id_token_signed_response_alg(SigningAlgorithm::RS256)
    })
    .await;
    assert_eq!(
        reason(env.verify(&env.hs256(&env.claims())).await),
        IdTokenError::AlgorithmNotAllowed("HS256".into())
    );
    env.verify(&env.rs256(&env.claims())).await.unwrap();
}

#[tokio::test]
async fn malformed_tokens_are_refused() {
    let env = Env::new().await;
    for bad in ["", "abc", "a.b", "a.b.c.d", "a.b.c.d.e", "e30.e30.", "!!.e30.AA"] {
        assert!(
            matches!(
                reason(env.verify(&IdToken::new(bad)).await),
                IdTokenError::Malformed(_)
            ),
            "{bad:?}"
        );
    }
}

// ---- claims (§3.1.3.7 steps 2-5, 9-13) ----

#[tokio::test]
async fn issuer_mismatch_is_refused() {
    let env = Env::new().await;
    let c = env.claims_with(json!({"iss": "https://evil.example/oidc"}));
    assert!(matches!(
        reason(env.verify(&env.rs256(&c)).await),
        IdTokenError::IssuerMismatch { .. }
    ));
}

#[tokio::test]
async fn aud_mismatch_is_refused() {
    let env = Env::new().await;
    let c = env.claims_with(json!({"aud": "another-app"}));
    assert_eq!(
        reason(env.verify(&env.rs256(&c)).await),
        IdTokenError::AudienceMismatch
    );
}

#[tokio::test]
async fn missing_aud_is_refused() {
    let env = Env::new().await;
    let c = env.claims_with(json!({"aud": null}));
    assert_eq!(
        reason(env.verify(&env.rs256(&c)).await),
        IdTokenError::AudienceMismatch
    );
}

#[tokio::test]
async fn extra_untrusted_aud_without_azp_is_refused() {
    let env = Env::new().await;
    let c = env.claims_with(json!({"aud": [CLIENT_ID, "api-1"]}));
    assert_eq!(
        reason(env.verify(&env.rs256(&c)).await),
        IdTokenError::UntrustedAudience("api-1".into())
    );
    // azp does not make an untrusted audience acceptable.
    let c = env.claims_with(json!({"aud": [CLIENT_ID, "api-1"], "azp": CLIENT_ID}));
    assert_eq!(
        reason(env.verify(&env.rs256(&c)).await),
        IdTokenError::UntrustedAudience("api-1".into())
    );
}

#[tokio::test]
async fn extra_trusted_aud_with_azp_is_accepted_and_needs_azp() {
    let env = Env::with(default_jwks(), |b| b.trust_audience("api-1")).await;
    let c = env.claims_with(json!({"aud": [CLIENT_ID, "api-1"], "azp": CLIENT_ID}));
    let claims = env.verify(&env.rs256(&c)).await.unwrap();
    assert_eq!(claims.aud, vec![CLIENT_ID.to_owned(), "api-1".to_owned()]);
    // §3.1.3.7 step 4: several audiences need azp.
    let c = env.claims_with(json!({"aud": [CLIENT_ID, "api-1"]}));
    assert_eq!(
        reason(env.verify(&env.rs256(&c)).await),
        IdTokenError::AuthorizedPartyMismatch
    );
}

#[tokio::test]
async fn azp_mismatch_is_refused() {
    let env = Env::new().await;
    let c = env.claims_with(json!({"azp": "another-app"}));
    assert_eq!(
        reason(env.verify(&env.rs256(&c)).await),
        IdTokenError::AuthorizedPartyMismatch
    );
}

#[tokio::test]
async fn expired_token_is_refused_after_the_leeway() {
    let env = Env::new().await;
    let token = env.rs256(&env.claims());
    // 30 s past exp: inside the default 60 s leeway.
    env.clock.advance(Duration::from_secs(630));
    env.verify(&token).await.unwrap();
    env.clock.advance(Duration::from_secs(31));
    assert_eq!(reason(env.verify(&token).await), IdTokenError::Expired);
}

#[tokio::test]
async fn nbf_in_the_future_is_refused() {
    let env = Env::new().await;
    let c = env.claims_with(json!({"nbf": env.now() + 300}));
    assert_eq!(
        reason(env.verify(&env.rs256(&c)).await),
        IdTokenError::NotYetValid
    );
    let c = env.claims_with(json!({"nbf": env.now() + 30}));
    env.verify(&env.rs256(&c)).await.unwrap();
}

#[tokio::test]
async fn missing_iat_is_refused() {
    let env = Env::new().await;
    let c = env.claims_with(json!({"iat": null}));
    assert_eq!(
        reason(env.verify(&env.rs256(&c)).await),
        IdTokenError::MissingClaim("iat")
    );
}

#[tokio::test]
async fn missing_sub_is_refused() {
    let env = Env::new().await;
    let c = env.claims_with(json!({"sub": null}));
    assert_eq!(
        reason(env.verify(&env.rs256(&c)).await),
        IdTokenError::MissingClaim("sub")
    );
    let c = env.claims_with(json!({"sub": ""}));
    assert_eq!(
        reason(env.verify(&env.rs256(&c)).await),
        IdTokenError::MissingClaim("sub")
    );
}

#[tokio::test]
async fn missing_exp_is_refused() {
    let env = Env::new().await;
    let c = env.claims_with(json!({"exp": null}));
    assert_eq!(
        reason(env.verify(&env.rs256(&c)).await),
        IdTokenError::MissingClaim("exp")
    );
}

#[tokio::test]
async fn nonce_mismatch_is_refused() {
    let env = Env::new().await;
    let c = env.claims_with(json!({"nonce": "another-nonce"}));
    assert_eq!(
        reason(env.verify(&env.rs256(&c)).await),
        IdTokenError::NonceMismatch
    );
}

#[tokio::test]
async fn nonce_missing_when_expected_is_refused() {
    let env = Env::new().await;
    let token = env.rs256(&env.claims_with(json!({"nonce": null})));
    assert_eq!(
        reason(env.verify(&token).await),
        IdTokenError::MissingClaim("nonce")
    );
    // Standalone use without a nonce does not check it.
    env.client
        .verify_id_token(&token, &VerifyOptions::new())
        .await
        .unwrap();
}

#[tokio::test]
async fn at_hash_matching_the_access_token_is_accepted() {
    let env = Env::new().await;
    let access_token = AccessToken::new("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y");
    let c = env
        .claims_with(json!({"at_hash": keys::at_hash_sha256("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y")}));
    let nonce = Nonce::new(NONCE);
    let opts = VerifyOptions::new().nonce(&nonce).access_token(&access_token);
    let verifier = env.client.id_token_verifier();
    verifier.verify(&env.rs256(&c), &opts).await.unwrap();
    verifier.verify(&env.hs256(&c), &opts).await.unwrap();
}

#[tokio::test]
async fn at_hash_mismatch_is_refused() {
    let env = Env::new().await;
    let access_token = AccessToken::new("another-access-token");
    let c = env.claims_with(json!({"at_hash": keys::at_hash_sha256("the-real-access-token")}));
    let nonce = Nonce::new(NONCE);
    let opts = VerifyOptions::new().nonce(&nonce).access_token(&access_token);
    assert_eq!(
        reason(env.client.id_token_verifier().verify(&env.rs256(&c), &opts).await),
        IdTokenError::AtHashMismatch
    );
    // Without an access token at hand, at_hash cannot be checked and is not.
    env.verify(&env.rs256(&c)).await.unwrap();
}

#[tokio::test]
async fn auth_time_older_than_max_age_is_refused() {
    let env = Env::new().await;
    let c = env.claims_with(json!({"auth_time": env.now() - 1000}));
    let nonce = Nonce::new(NONCE);
    let verifier = env.client.id_token_verifier();
    let opts = VerifyOptions::new()
        .nonce(&nonce)
        .max_age(Duration::from_secs(300));
    assert_eq!(
        reason(verifier.verify(&env.rs256(&c), &opts).await),
        IdTokenError::AuthTimeTooOld
    );
    let recent = env.claims_with(json!({"auth_time": env.now() - 100}));
    verifier.verify(&env.rs256(&recent), &opts).await.unwrap();
}

#[tokio::test]
async fn auth_time_missing_with_max_age_is_refused() {
    let env = Env::new().await;
    let c = env.claims_with(json!({"auth_time": null}));
    let nonce = Nonce::new(NONCE);
    let opts = VerifyOptions::new()
        .nonce(&nonce)
        .max_age(Duration::from_secs(300));
    assert_eq!(
        reason(env.client.id_token_verifier().verify(&env.rs256(&c), &opts).await),
        IdTokenError::MissingClaim("auth_time")
    );
    // Without max_age, auth_time is not required.
    env.verify(&env.rs256(&c)).await.unwrap();
}

// ---- keys: kid, JWKS caching, rotation ----

#[tokio::test]
async fn kid_absent_with_one_usable_key_is_accepted() {
    // One RSA key (the EC and Ed25519 keys do not fit RS256).
    let env = Env::new().await;
    let token = IdToken::new(sign(Signer::Rsa(&keys().rsa), "RS256", None, &env.claims()));
    env.verify(&token).await.unwrap();
}

#[tokio::test]
async fn kid_absent_with_several_keys_is_ambiguous() {
    let k = keys();
    let jwks = json!({"keys": [rsa_jwk(&k.rsa, Some("rsa-1")), rsa_jwk(&k.rsa2, Some("rsa-2"))]});
    let env = Env::with(jwks, |b| b).await;
    let token = IdToken::new(sign(Signer::Rsa(&k.rsa), "RS256", None, &env.claims()));
    assert_eq!(reason(env.verify(&token).await), IdTokenError::AmbiguousKey);
}

#[tokio::test]
async fn unknown_kid_is_refused_after_one_refetch() {
    let env = Env::new().await;
    env.verify(&env.rs256(&env.claims())).await.unwrap();
    assert_eq!(env.server.jwks_hits(), 1);
    env.clock.advance(Duration::from_secs(11));
    let token = IdToken::new(sign(
        Signer::Rsa(&keys().rsa2),
        "RS256",
        Some("rsa-9"),
        &env.claims(),
    ));
    assert_eq!(
        reason(env.verify(&token).await),
        IdTokenError::UnknownKid("rsa-9".into())
    );
    assert_eq!(env.server.jwks_hits(), 2);
}

#[tokio::test]
async fn key_rotation_is_picked_up_with_one_shared_refetch() {
    let env = Env::new().await;
    env.verify(&env.rs256(&env.claims())).await.unwrap();
    assert_eq!(env.server.jwks_hits(), 1);
    // The provider rotates: rsa-2 joins (rsa-1 stays for tokens in flight).
    let k = keys();
    env.server
        .set_jwks(json!({"keys": [rsa_jwk(&k.rsa, Some("rsa-1")), rsa_jwk(&k.rsa2, Some("rsa-2"))]}));
    env.server.set_delay(Duration::from_millis(100));
    env.clock.advance(Duration::from_secs(11));
    let token = IdToken::new(sign(Signer::Rsa(&k.rsa2), "RS256", Some("rsa-2"), &env.claims()));
    let verifier = env.client.id_token_verifier();
    let nonce = Nonce::new(NONCE);
    let opts = VerifyOptions::new().nonce(&nonce);
    let results = futures_join_all((0..32).map(|_| verifier.verify(&token, &opts))).await;
    for r in results {
        assert_eq!(r.unwrap().sub, "user-1");
    }
    assert_eq!(
        env.server.jwks_hits(),
        2,
        "32 concurrent verifications share one re-fetch"
    );
    env.verify(&token).await.unwrap();
    assert_eq!(env.server.jwks_hits(), 2);
}

/// Runs the futures concurrently on this task (no extra dependency).
async fn futures_join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn unknown_kid_refetches_are_rate_limited() {
    let env = Env::new().await;
    env.verify(&env.rs256(&env.claims())).await.unwrap();
    env.clock.advance(Duration::from_secs(11));
    let forged = |kid: &str| IdToken::new(sign(Signer::Rsa(&keys().rsa2), "RS256", Some(kid), &env.claims()));
    assert_eq!(
        reason(env.verify(&forged("a")).await),
        IdTokenError::UnknownKid("a".into())
    );
    assert_eq!(env.server.jwks_hits(), 2);
    // A second unknown kid within the interval: no fetch.
    env.clock.advance(Duration::from_secs(5));
    assert_eq!(
        reason(env.verify(&forged("b")).await),
        IdTokenError::UnknownKid("b".into())
    );
    assert_eq!(env.server.jwks_hits(), 2);
    // After the interval, one more.
    env.clock.advance(Duration::from_secs(6));
    assert_eq!(
        reason(env.verify(&forged("c")).await),
        IdTokenError::UnknownKid("c".into())
    );
    assert_eq!(env.server.jwks_hits(), 3);
}

#[tokio::test]
async fn refetch_interval_is_configurable() {
    let env = Env::with(default_jwks(), |b| {
        b.jwks_min_refetch_interval(Duration::from_secs(60))
    })
    .await;
    env.verify(&env.rs256(&env.claims())).await.unwrap();
    env.clock.advance(Duration::from_secs(30));
    let token = IdToken::new(sign(Signer::Rsa(&keys().rsa2), "RS256", Some("x"), &env.claims()));
    assert_eq!(
        reason(env.verify(&token).await),
        IdTokenError::UnknownKid("x".into())
    );
    assert_eq!(env.server.jwks_hits(), 1);
}

#[tokio::test]
async fn keys_are_refetched_after_their_max_age() {
    let env = Env::new().await;
    env.server.set_cache_control("public, max-age=120");
    env.verify(&env.rs256(&env.claims())).await.unwrap();
    env.clock.advance(Duration::from_secs(100));
    env.verify(&env.rs256(&env.claims())).await.unwrap();
    assert_eq!(env.server.jwks_hits(), 1);
    env.clock.advance(Duration::from_secs(21));
    env.verify(&env.rs256(&env.claims())).await.unwrap();
    assert_eq!(env.server.jwks_hits(), 2);
}

#[tokio::test]
async fn junk_keys_in_the_jwks_are_skipped() {
    let k = keys();
    let jwks = json!({"keys": [
        {"kty": "PQC", "kid": "future", "pub": "AAAA"},
        {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
        {"kty": "EC", "crv": "P-521", "kid": "p521", "x": "AA", "y": "AA"},
        {"kty": "RSA", "kid": "broken", "n": "***", "e": "AQAB"},
        {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
        "not an object",
        rsa_jwk(&k.rsa, Some("rsa-1")),
    ]});
    let env = Env::with(jwks, |b| b).await;
    env.verify(&env.rs256(&env.claims())).await.unwrap();
    // Without kid, the junk does not count as candidates either.
    let token = IdToken::new(sign(Signer::Rsa(&k.rsa), "RS256", None, &env.claims()));
    env.verify(&token).await.unwrap();
}

#[tokio::test]
async fn jwks_server_down_is_a_transient_error() {
    let env = Env::new().await;
    let token = env.rs256(&env.claims());
    let dead = AuthenticationClient::builder()
        .app_id(CLIENT_ID)
        .secret(SECRET)
        .app_host("http://127.0.0.1:9")
        .build()
        .unwrap();
    let err = dead
        .verify_id_token(&token, &VerifyOptions::new())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}

// ---- refreshed id_tokens (§12.2) ----

async fn original(env: &Env, claims: &Value) -> IdTokenClaims {
    env.verify(&env.rs256(claims)).await.unwrap()
}

fn refreshed_claims(env: &Env, changes: Value) -> Value {
    // A refreshed token: new iat/exp, no nonce unless asked for.
    let mut c = env.claims_with(changes);
    if !c.as_object().unwrap().contains_key("nonce_keep") {
        c.as_object_mut().unwrap().remove("nonce");
    }
    c.as_object_mut().unwrap().remove("nonce_keep");
    c
}

#[tokio::test]
async fn refreshed_id_token_with_the_same_claims_is_accepted() {
    let env = Env::new().await;
    let first = original(&env, &env.claims()).await;
    env.clock.advance(Duration::from_secs(300));
    let verifier = env.client.id_token_verifier();
    let refreshed = env.rs256(&refreshed_claims(&env, json!({})));
    let claims = verifier.verify_refreshed(&refreshed, &first, None).await.unwrap();
    assert_eq!(claims.sub, first.sub);
    assert!(claims.iat > first.iat);
    // The same nonce may be repeated.
    let with_nonce = env.rs256(&refreshed_claims(&env, json!({"nonce_keep": true})));
    verifier
        .verify_refreshed(&with_nonce, &first, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn refreshed_id_token_with_another_sub_is_refused() {
    let env = Env::new().await;
    let first = original(&env, &env.claims()).await;
    let refreshed = env.rs256(&refreshed_claims(&env, json!({"sub": "user-2"})));
    assert_eq!(
        reason(
            env.client
                .id_token_verifier()
                .verify_refreshed(&refreshed, &first, None)
                .await
        ),
        IdTokenError::RefreshClaimChanged("sub")
    );
}

#[tokio::test]
async fn refreshed_id_token_with_another_iss_is_refused() {
    let env = Env::new().await;
    // A session whose original token came from another issuer (e.g. restored state).
    let mut first = original(&env, &env.claims()).await;
    first.iss = "https://old-issuer.example/oidc".into();
    let refreshed = env.rs256(&refreshed_claims(&env, json!({})));
    assert_eq!(
        reason(
            env.client
                .id_token_verifier()
                .verify_refreshed(&refreshed, &first, None)
                .await
        ),
        IdTokenError::RefreshClaimChanged("iss")
    );
}

#[tokio::test]
async fn refreshed_id_token_with_another_aud_is_refused() {
    let env = Env::with(default_jwks(), |b| b.trust_audience("api-1")).await;
    let first = original(
        &env,
        &env.claims_with(json!({"aud": [CLIENT_ID, "api-1"], "azp": CLIENT_ID})),
    )
    .await;
    let refreshed = env.rs256(&refreshed_claims(&env, json!({"azp": CLIENT_ID})));
    assert_eq!(
        reason(
            env.client
                .id_token_verifier()
                .verify_refreshed(&refreshed, &first, None)
                .await
        ),
        IdTokenError::RefreshClaimChanged("aud")
    );
    // The same audiences in another order are the same.
    let reordered = env.rs256(&refreshed_claims(
        &env,
        json!({"aud": ["api-1", CLIENT_ID], "azp": CLIENT_ID}),
    ));
    env.client
        .id_token_verifier()
        .verify_refreshed(&reordered, &first, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn refreshed_id_token_with_another_azp_is_refused() {
    let env = Env::new().await;
    let first = original(&env, &env.claims()).await;
    assert_eq!(first.azp, None);
    // Absent must stay absent.
    let refreshed = env.rs256(&refreshed_claims(&env, json!({"azp": CLIENT_ID})));
    assert_eq!(
        reason(
            env.client
                .id_token_verifier()
                .verify_refreshed(&refreshed, &first, None)
                .await
        ),
        IdTokenError::RefreshClaimChanged("azp")
    );
}

#[tokio::test]
async fn refreshed_id_token_with_another_auth_time_is_refused() {
    let env = Env::new().await;
    let first = original(&env, &env.claims()).await;
    let refreshed = env.rs256(&refreshed_claims(&env, json!({"auth_time": env.now()})));
    assert_eq!(
        reason(
            env.client
                .id_token_verifier()
                .verify_refreshed(&refreshed, &first, None)
                .await
        ),
        IdTokenError::RefreshClaimChanged("auth_time")
    );
}

#[tokio::test]
async fn refreshed_id_token_with_another_nonce_is_refused() {
    let env = Env::new().await;
    let first = original(&env, &env.claims()).await;
    let refreshed = env.rs256(&refreshed_claims(
        &env,
        json!({"nonce_keep": true, "nonce": "another-nonce"}),
    ));
    assert_eq!(
        reason(
            env.client
                .id_token_verifier()
                .verify_refreshed(&refreshed, &first, None)
                .await
        ),
        IdTokenError::RefreshClaimChanged("nonce")
    );
}

#[tokio::test]
async fn refreshed_id_token_still_gets_every_other_check() {
    let env = Env::new().await;
    let first = original(&env, &env.claims()).await;
    let verifier = env.client.id_token_verifier();
    let expired = env.rs256(&refreshed_claims(&env, json!({"exp": env.now() - 3600})));
    assert_eq!(
        reason(verifier.verify_refreshed(&expired, &first, None).await),
        IdTokenError::Expired
    );
    let forged = tamper_signature(&env.rs256(&refreshed_claims(&env, json!({}))));
    assert_eq!(
        reason(verifier.verify_refreshed(&forged, &first, None).await),
        IdTokenError::BadSignature
    );
}

// ---- what the claims reveal ----

#[tokio::test]
async fn debug_of_claims_shows_no_personal_data() {
    let env = Env::new().await;
    let c = env.claims_with(json!({
        "email": "canary-email@example.com", "name": "Canary Name", "phone_number": "+86 13800000000",
        "tenant": "canary-tenant",
    }));
    let claims = env.verify(&env.rs256(&c)).await.unwrap();
    assert_eq!(claims.standard.email.as_deref(), Some("canary-email@example.com"));
    let debug = format!("{claims:?}");
    for canary in ["canary", "Canary", "13800000000", NONCE] {
        assert!(!debug.contains(canary), "{canary} in {debug}");
    }
    assert!(debug.contains("user-1"));
    // Every claim is still reachable, and round-trips.
    let json = claims.to_json();
    assert_eq!(json["tenant"], "canary-tenant");
    assert_eq!(json["aud"], CLIENT_ID);
    let back: IdTokenClaims = serde_json::from_value(json).unwrap();
    assert!(back == claims);
}
