//! openidconnect-rs 4.1: `IdToken` parse, then `claims()` with an
//! `IdTokenVerifier` built once from the JWKS (signature, `iss`, `aud`, `exp`,
//! `iat`, `nonce`). It does not check `at_hash`; the row does it as the
//! crate's own example does (`AccessTokenHash::from_token` and compare).
//! Built with `accept-rfc3339-timestamps`, without which it refuses Authing's
//! `updated_at` string.

use openidconnect::core::{
    CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKey, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AccessToken, AccessTokenHash, ClientId, ClientSecret, IssuerUrl, JsonWebKey as _, Nonce,
};

use super::Refusal;
use crate::fixture::{ACCESS_TOKEN, CLIENT_ID, NONCE, SECRET};
use crate::keys::Alg;

/// A verifier, the expected nonce and the access token, prepared once.
pub struct OpenIdConnect {
    verifier: CoreIdTokenVerifier<'static>,
    nonce: Nonce,
    access_token: AccessToken,
    /// For HS256, the key `at_hash` is computed with (the JWKS has none).
    symmetric: Option<CoreJsonWebKey>,
}

impl OpenIdConnect {
    /// A confidential client's verifier (the secret keys HS256) allowing `alg` only.
    pub fn new(jwks: &serde_json::Value, alg: Alg, issuer: &str) -> Result<OpenIdConnect, Refusal> {
        let keys: CoreJsonWebKeySet = serde_json::from_value(jwks.clone()).map_err(|e| e.to_string())?;
        let issuer = IssuerUrl::new(issuer.to_owned()).map_err(|e| e.to_string())?;
        let allowed = match alg {
            Alg::Rs256 => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            Alg::Ps256 => CoreJwsSigningAlgorithm::RsaSsaPssSha256,
            Alg::Es256 => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            Alg::EdDsa => CoreJwsSigningAlgorithm::EdDsa,
            Alg::Hs256 => CoreJwsSigningAlgorithm::HmacSha256,
        };
        let verifier = CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(CLIENT_ID.to_owned()),
            ClientSecret::new(SECRET.to_owned()),
            issuer,
            keys,
        )
        .set_allowed_algs([allowed]);
        Ok(OpenIdConnect {
            verifier,
            nonce: Nonce::new(NONCE.to_owned()),
            access_token: AccessToken::new(ACCESS_TOKEN.to_owned()),
            symmetric: (alg == Alg::Hs256).then(|| CoreJsonWebKey::new_symmetric(SECRET.as_bytes().to_vec())),
        })
    }

    /// Parses and verifies `token`, then checks `at_hash`.
    pub fn verify(&self, token: &str) -> Result<(), Refusal> {
        let id_token: CoreIdToken = token.parse().map_err(|e: serde_json::Error| e.to_string())?;
        let claims = id_token
            .claims(&self.verifier, &self.nonce)
            .map_err(|e| e.to_string())?;
        let expected = claims.access_token_hash().ok_or("no at_hash")?;
        let alg = id_token.signing_alg().map_err(|e| e.to_string())?;
        let key = match &self.symmetric {
            Some(key) => key,
            None => id_token.signing_key(&self.verifier).map_err(|e| e.to_string())?,
        };
        let actual = AccessTokenHash::from_token(&self.access_token, alg, key).map_err(|e| e.to_string())?;
        if actual != *expected {
            return Err("at_hash".into());
        }
        Ok(())
    }
}
