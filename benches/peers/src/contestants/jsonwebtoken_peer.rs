//! jsonwebtoken 11 (aws-lc backend): `decode` with a `Validation` for `iss`,
//! `aud`, `exp` and the algorithm; the `DecodingKey` built once from the JWK.
//! It has no notion of `nonce` or `at_hash`: the application compares them.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::{Refusal, at_hash_matches};
use crate::fixture::{ACCESS_TOKEN, CLIENT_ID, NONCE, SECRET};
use crate::keys::Alg;

/// The whole payload as the application's struct.
#[derive(Deserialize)]
#[allow(dead_code)] // deserializing is the work being timed
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    nonce: Option<String>,
    auth_time: Option<i64>,
    at_hash: Option<String>,
    name: Option<String>,
    given_name: Option<String>,
    middle_name: Option<String>,
    family_name: Option<String>,
    nickname: Option<String>,
    preferred_username: Option<String>,
    profile: Option<String>,
    picture: Option<String>,
    website: Option<String>,
    gender: Option<String>,
    birthdate: Option<String>,
    zoneinfo: Option<String>,
    locale: Option<String>,
    updated_at: Option<String>,
    email: Option<String>,
    email_verified: Option<bool>,
    phone_number: Option<String>,
    phone_number_verified: Option<bool>,
}

/// A key and a validation prepared once.
pub struct JsonWebToken {
    alg: Alg,
    key: DecodingKey,
    validation: Validation,
}

impl JsonWebToken {
    /// The key for `alg` from the JWKS (by `kid`), or the client secret for HS256.
    pub fn new(jwks: &serde_json::Value, alg: Alg, issuer: &str) -> Result<JsonWebToken, Refusal> {
        let key = match alg.kid() {
            None => DecodingKey::from_secret(SECRET.as_bytes()),
            Some(kid) => {
                let set: JwkSet = serde_json::from_value(jwks.clone()).map_err(|e| e.to_string())?;
                let jwk = set.find(kid).ok_or("no such kid")?;
                DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?
            }
        };
        let algorithm = match alg {
            Alg::Rs256 => Algorithm::RS256,
            Alg::Ps256 => Algorithm::PS256,
            Alg::Es256 => Algorithm::ES256,
            Alg::EdDsa => Algorithm::EdDSA,
            Alg::Hs256 => Algorithm::HS256,
        };
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[CLIENT_ID]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Ok(JsonWebToken { alg, key, validation })
    }

    /// Decodes and validates `token`, then checks `nonce` and `at_hash`.
    pub fn verify(&self, token: &str) -> Result<(), Refusal> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(|e| e.to_string())?;
        if data.claims.nonce.as_deref() != Some(NONCE) {
            return Err("nonce".into());
        }
        if !at_hash_matches(self.alg, data.claims.at_hash.as_deref(), ACCESS_TOKEN) {
            return Err("at_hash".into());
        }
        Ok(())
    }
}
