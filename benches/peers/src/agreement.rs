//! The benchmarks compare like with like: every contestant accepts the same
//! token for every algorithm, and refuses it when the nonce, the access token
//! or the signature is not the one expected. `benches/verify.rs` runs this
//! before timing anything (it is not a test, so that CI does not build the
//! peers twice).

use authing_oidc::id_token::VerifyOptions;
use authing_oidc::{AccessToken, IdToken, Nonce};

use crate::contestants::{Floor, JsonWebToken, JwtSimple, OpenIdConnect};
use crate::keys::at_hash;
use crate::{ACCESS_TOKEN, Alg, Fixture, NONCE};

/// The same claims as the fixture's `alg` token's with one member replaced.
fn with(fx: &Fixture, alg: Alg, name: &str, value: serde_json::Value) -> serde_json::Value {
    let mut claims = fx.claims(alg);
    claims[name] = value;
    claims
}

/// Panics unless every contestant accepts `fx`'s token for every algorithm and
/// refuses it with another nonce, another `at_hash` or a changed signature.
pub async fn check_agreement(fx: &Fixture) {
    let issuer = fx.issuer.clone();
    let nonce = Nonce::new(NONCE);
    let access_token = AccessToken::new(ACCESS_TOKEN);
    let opts = VerifyOptions::new().nonce(&nonce).access_token(&access_token);
    for alg in Alg::ALL {
        let token = fx.token(alg);
        let wrong_nonce = fx.keys.sign(alg, &with(fx, alg, "nonce", "another-nonce".into()));
        let wrong_at_hash = fx
            .keys
            .sign(alg, &with(fx, alg, "at_hash", at_hash(alg, "another").into()));
        // One signature character changed (not the last: its low bits may be padding).
        let mut bad_signature = token.to_owned().into_bytes();
        let i = bad_signature.len() - 10;
        bad_signature[i] = if bad_signature[i] == b'A' { b'B' } else { b'A' };
        let bad_signature = String::from_utf8(bad_signature).expect("ASCII");

        assert!(Floor::new(&fx.keys, alg, token).verify(), "{alg:?}");
        assert!(!Floor::new(&fx.keys, alg, &bad_signature).verify(), "{alg:?}");

        let verifier = fx.client(alg).expect("client").id_token_verifier();
        verifier
            .verify(&IdToken::new(token), &opts)
            .await
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        for bad in [&wrong_nonce, &wrong_at_hash, &bad_signature] {
            assert!(
                verifier.verify(&IdToken::new(bad.as_str()), &opts).await.is_err(),
                "{alg:?}"
            );
        }

        let jsonwebtoken = JsonWebToken::new(&fx.jwks, alg, &issuer).expect("jsonwebtoken");
        let openidconnect = OpenIdConnect::new(&fx.jwks, alg, &issuer).expect("openidconnect");
        let jwt_simple = JwtSimple::new(&fx.keys, alg, &issuer).expect("jwt-simple");
        jsonwebtoken
            .verify(token)
            .unwrap_or_else(|e| panic!("jsonwebtoken {alg:?}: {e}"));
        openidconnect
            .verify(token)
            .unwrap_or_else(|e| panic!("openidconnect {alg:?}: {e}"));
        jwt_simple
            .verify(token)
            .unwrap_or_else(|e| panic!("jwt_simple {alg:?}: {e}"));
        for bad in [&wrong_nonce, &wrong_at_hash, &bad_signature] {
            assert!(jsonwebtoken.verify(bad).is_err(), "jsonwebtoken {alg:?}");
            assert!(openidconnect.verify(bad).is_err(), "openidconnect {alg:?}");
            assert!(jwt_simple.verify(bad).is_err(), "jwt-simple {alg:?}");
        }
    }
}
