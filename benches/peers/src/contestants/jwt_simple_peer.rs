//! jwt-simple 0.15 (`pure-rust` feature: its default, `boring`, builds
//! BoringSSL from source). `verify_token` checks the signature, `iss`, `aud`,
//! `exp`, `nonce`; the application checks `at_hash`. Its options are taken by
//! value, so each call gets a clone of the prepared ones.

use std::collections::HashSet;

use jwt_simple::prelude::{
    ECDSAP256PublicKeyLike as _, ES256PublicKey, Ed25519PublicKey, EdDSAPublicKeyLike as _, HS256Key,
    MACLike as _, PS256PublicKey, RS256PublicKey, RSAPublicKeyLike as _, VerificationOptions,
};

use super::{AuthingProfile, Refusal, at_hash_matches};
use crate::fixture::{ACCESS_TOKEN, CLIENT_ID, NONCE, SECRET};
use crate::keys::{Alg, Keys};

enum Key {
    Rs256(RS256PublicKey),
    Ps256(PS256PublicKey),
    Es256(ES256PublicKey),
    EdDsa(Ed25519PublicKey),
    Hs256(HS256Key),
}

/// A key and verification options prepared once.
pub struct JwtSimple {
    alg: Alg,
    key: Key,
    options: VerificationOptions,
}

impl JwtSimple {
    /// The key for `alg`, from the raw public key (jwt-simple reads no JWKs).
    pub fn new(keys: &Keys, alg: Alg, issuer: &str) -> Result<JwtSimple, Refusal> {
        use aws_lc_rs::signature::KeyPair as _;
        let c = keys.rsa_components();
        let key = match alg {
            Alg::Rs256 => Key::Rs256(RS256PublicKey::from_components(&c.n, &c.e).map_err(|e| e.to_string())?),
            Alg::Ps256 => Key::Ps256(PS256PublicKey::from_components(&c.n, &c.e).map_err(|e| e.to_string())?),
            Alg::Es256 => Key::Es256(
                ES256PublicKey::from_bytes(keys.ec.public_key().as_ref()).map_err(|e| e.to_string())?,
            ),
            Alg::EdDsa => Key::EdDsa(
                Ed25519PublicKey::from_bytes(keys.ed.public_key().as_ref()).map_err(|e| e.to_string())?,
            ),
            Alg::Hs256 => Key::Hs256(HS256Key::from_bytes(SECRET.as_bytes())),
        };
        let options = VerificationOptions {
            allowed_issuers: Some(HashSet::from([issuer.to_owned()])),
            allowed_audiences: Some(HashSet::from([CLIENT_ID.to_owned()])),
            required_nonce: Some(NONCE.to_owned()),
            ..VerificationOptions::default()
        };
        Ok(JwtSimple { alg, key, options })
    }

    /// Verifies `token`, then checks `at_hash`.
    pub fn verify(&self, token: &str) -> Result<(), Refusal> {
        let options = Some(self.options.clone());
        let claims = match &self.key {
            Key::Rs256(k) => k.verify_token::<AuthingProfile>(token, options),
            Key::Ps256(k) => k.verify_token::<AuthingProfile>(token, options),
            Key::Es256(k) => k.verify_token::<AuthingProfile>(token, options),
            Key::EdDsa(k) => k.verify_token::<AuthingProfile>(token, options),
            Key::Hs256(k) => k.verify_token::<AuthingProfile>(token, options),
        }
        .map_err(|e| e.to_string())?;
        if !at_hash_matches(self.alg, claims.custom.at_hash.as_deref(), ACCESS_TOKEN) {
            return Err("at_hash".into());
        }
        Ok(())
    }
}
