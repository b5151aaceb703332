//! Signing compact JWS (RFC 7515 §5.1): the one place this crate makes a
//! JWT, for client assertions (RFC 7523), DPoP proofs (RFC 9449) and
//! request objects (RFC 9101).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Map, Value};

use super::hmac::ClientSecretKeys;
use crate::config::SigningAlgorithm;
use crate::error::{Error, Result};
use crate::secret::{ClientSecret, ExposeSecret as _};

/// Signs JWTs with one key and one algorithm.
///
/// HS256/384/512 are keyed with the client secret (OIDC Core §10.1, as for
/// `client_secret_jwt`, RFC 7523 §2.2); RS*, PS*, ES256/384 and EdDSA with a
/// PKCS#8 private key. `Debug` shows the algorithm and `kid`, never the key.
///
/// ```
/// use authing_oidc::{ClientSecret, SigningAlgorithm, jose::JwsSigner};
/// use authing_oidc::ExposeSecret as _;
/// let signer = JwsSigner::client_secret(SigningAlgorithm::HS256, &ClientSecret::new("s3cret"))?;
/// let jwt = signer.sign(Some("JWT"), &serde_json::json!({"iss": "app"}))?;
/// assert_eq!(jwt.expose_secret().split('.').count(), 3);
/// # Ok::<(), authing_oidc::Error>(())
/// ```
pub struct JwsSigner {
    alg: SigningAlgorithm,
    kid: Option<String>,
    key: SigningKey,
}

enum SigningKey {
    Hmac(Box<ClientSecretKeys>),
    Rsa(RsaKeyPair, &'static dyn sig::RsaEncoding),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl std::fmt::Debug for JwsSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwsSigner")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl JwsSigner {
    /// An HS256/384/512 signer keyed with the client secret's UTF-8 bytes.
    pub fn client_secret(alg: SigningAlgorithm, secret: &ClientSecret) -> Result<Self> {
        if !alg.is_symmetric() {
            return Err(Error::config(format!(
                "{} needs a private key, not the client secret",
                alg.as_str()
            )));
        }
        Ok(JwsSigner {
            alg,
            kid: None,
            key: SigningKey::Hmac(Box::new(ClientSecretKeys::new(secret.expose_secret()))),
        })
    }

    /// A signer with a PKCS#8 (DER) private key: RSA (2048 bits or more) for
    /// RS*/PS*, P-256 for ES256, P-384 for ES384, Ed25519 for EdDSA. The key
    /// must fit the algorithm.
    pub fn private_key(alg: SigningAlgorithm, pkcs8_der: &[u8]) -> Result<Self> {
        use SigningAlgorithm as A;
        // The error names the algorithm only: aws-lc's reason could describe the key.
        let rejected = || Error::config(format!("the private key does not fit {}", alg.as_str()));
        let rsa = |encoding: &'static dyn sig::RsaEncoding| -> Result<SigningKey> {
            let pair = RsaKeyPair::from_pkcs8(pkcs8_der).map_err(|_| rejected())?;
            Ok(SigningKey::Rsa(pair, encoding))
        };
        let ecdsa = |algorithm: &'static sig::EcdsaSigningAlgorithm| -> Result<SigningKey> {
            EcdsaKeyPair::from_pkcs8(algorithm, pkcs8_der)
                .map(SigningKey::Ecdsa)
                .map_err(|_| rejected())
        };
        let key = match alg {
            A::RS256 => rsa(&sig::RSA_PKCS1_SHA256)?,
            A::RS384 => rsa(&sig::RSA_PKCS1_SHA384)?,
            A::RS512 => rsa(&sig::RSA_PKCS1_SHA512)?,
            A::PS256 => rsa(&sig::RSA_PSS_SHA256)?,
            A::PS384 => rsa(&sig::RSA_PSS_SHA384)?,
            A::PS512 => rsa(&sig::RSA_PSS_SHA512)?,
            A::ES256 => ecdsa(&sig::ECDSA_P256_SHA256_FIXED_SIGNING)?,
            A::ES384 => ecdsa(&sig::ECDSA_P384_SHA384_FIXED_SIGNING)?,
            A::EdDSA => SigningKey::Ed25519(Ed25519KeyPair::from_pkcs8(pkcs8_der).map_err(|_| rejected())?),
            A::HS256 | A::HS384 | A::HS512 => {
                return Err(Error::config(format!(
                    "{} is keyed with the client secret: use JwsSigner::client_secret",
                    alg.as_str()
                )));
            }
        };
        Ok(JwsSigner { alg, kid: None, key })
    }

    /// Names the key in the header's `kid` (RFC 7515 §4.1.4).
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The algorithm this signer signs with.
    pub fn alg(&self) -> SigningAlgorithm {
        self.alg
    }

    /// Signs `claims` as a compact JWS with header `alg`, `kid` (when set)
    /// and `typ` (when given).
    pub fn sign<C: Serialize + ?Sized>(&self, typ: Option<&str>, claims: &C) -> Result<SecretString> {
        self.sign_with_header(typ, Map::new(), claims)
    }

    /// Like [`sign`](Self::sign), with more header members (for example the
    /// public `jwk` of a DPoP proof, RFC 9449 §4.2). `alg`, `kid` and `typ`
    /// are this signer's; `extra` may not set them.
    pub fn sign_with_header<C: Serialize + ?Sized>(
        &self,
        typ: Option<&str>,
        extra: Map<String, Value>,
        claims: &C,
    ) -> Result<SecretString> {
        let mut header = extra;
        for reserved in ["alg", "kid", "typ"] {
            if header.contains_key(reserved) {
                return Err(Error::input(format!(
                    "the extra header members may not set {reserved}"
                )));
            }
        }
        header.insert("alg".into(), self.alg.as_str().into());
        if let Some(kid) = &self.kid {
            header.insert("kid".into(), kid.as_str().into());
        }
        if let Some(typ) = typ {
            header.insert("typ".into(), typ.into());
        }
        let header = serde_json::to_vec(&header).map_err(|e| Error::input(format!("JWS header: {e}")))?;
        // The claims may be secret (a DPoP proof's ath, a request object's contents): the error
        // names no value.
        let payload =
            serde_json::to_vec(claims).map_err(|_| Error::input("the claims do not serialize to JSON"))?;
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signature = self.signature(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(SecretString::from(token))
    }

    fn signature(&self, message: &[u8]) -> Result<Vec<u8>> {
        let failed = || Error::config(format!("{} signing failed", self.alg.as_str()));
        match &self.key {
            SigningKey::Hmac(keys) => keys
                .sign(self.alg, message)
                .map(|tag| tag.as_ref().to_vec())
                .ok_or_else(failed),
            SigningKey::Rsa(pair, encoding) => {
                let mut out = vec![0; pair.public_modulus_len()];
                pair.sign(*encoding, &SystemRandom::new(), message, &mut out)
                    .map_err(|_| failed())?;
                Ok(out)
            }
            SigningKey::Ecdsa(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| failed()),
            SigningKey::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::signature::KeyPair as _;

    use super::*;
    use crate::clock::SystemClock;
    use crate::jose::jwks::JwksCache;
    use crate::jose::jws::{HeaderRules, OTHER_KINDS, TypRule};
    use crate::jose::{Keys, Policy, decode_payload, keys::parse_jwks, verify_signature};

    fn b64(b: impl AsRef<[u8]>) -> String {
        URL_SAFE_NO_PAD.encode(b)
    }

    /// A cache that never fetches (no URI) holding `jwks`.
    fn cache_with(jwks: Value) -> Arc<JwksCache> {
        let http = crate::http::Http::new(reqwest::Client::new(), std::time::Duration::from_secs(1), 1024);
        let cache = JwksCache::new(
            http,
            Err(Error::config("no jwks_uri in this test")),
            Arc::new(SystemClock),
            std::time::Duration::from_secs(10),
        );
        cache.preload(parse_jwks(jwks.to_string().as_bytes()).unwrap());
        Arc::new(cache)
    }

    async fn round_trip(signer: &JwsSigner, jwks: Value, secret: Option<&ClientSecretKeys>) -> Result<Value> {
        let claims = serde_json::json!({"iss": "app", "sub": "app", "n": 1});
        let token = signer.sign(Some("JWT"), &claims)?;
        let cache = cache_with(jwks);
        let policy = Policy {
            accepts: &|_| true,
            header: HeaderRules {
                typ: TypRule::Forbid(OTHER_KINDS),
                understood_crit: &[],
            },
        };
        let keys = Keys {
            client_secret: secret,
            jwks: &cache,
        };
        let verified = verify_signature(token.expose_secret(), policy, keys).await?;
        assert_eq!(verified.alg, signer.alg());
        Ok(serde_json::from_slice(&decode_payload(verified.payload)?).unwrap())
    }

    #[tokio::test]
    async fn every_algorithm_signs_what_the_core_verifies() {
        use SigningAlgorithm as A;
        let rng = SystemRandom::new();
        let rsa = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let rsa_der = rsa.as_der().unwrap();
        let c = sig::RsaPublicKeyComponents::<Vec<u8>>::from(rsa.public_key());
        let rsa_jwk =
            serde_json::json!({"keys": [{"kty": "RSA", "kid": "r", "n": b64(&c.n), "e": b64(&c.e)}]});
        for alg in [A::RS256, A::RS384, A::RS512, A::PS256, A::PS384, A::PS512] {
            let signer = JwsSigner::private_key(alg, rsa_der.as_ref())
                .unwrap()
                .with_kid("r");
            let claims = round_trip(&signer, rsa_jwk.clone(), None).await.unwrap();
            assert_eq!(claims["n"], 1, "{alg:?}");
        }
        let p256 = EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, p256.as_ref()).unwrap();
        let point = pair.public_key().as_ref();
        let ec_jwk = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "e",
            "x": b64(&point[1..33]), "y": b64(&point[33..])}]});
        let signer = JwsSigner::private_key(A::ES256, p256.as_ref())
            .unwrap()
            .with_kid("e");
        round_trip(&signer, ec_jwk, None).await.unwrap();
        let ed = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(ed.as_ref()).unwrap();
        let ed_jwk = serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "d",
            "x": b64(pair.public_key().as_ref())}]});
        let signer = JwsSigner::private_key(A::EdDSA, ed.as_ref())
            .unwrap()
            .with_kid("d");
        round_trip(&signer, ed_jwk, None).await.unwrap();
        let secret = ClientSecret::new("client-secret");
        let signer = JwsSigner::client_secret(A::HS256, &secret).unwrap();
        let keys = ClientSecretKeys::new("client-secret");
        round_trip(&signer, serde_json::json!({"keys": []}), Some(&keys))
            .await
            .unwrap();
        let other = ClientSecretKeys::new("another-secret");
        let err = round_trip(&signer, serde_json::json!({"keys": []}), Some(&other)).await;
        assert!(matches!(
            err,
            Err(Error::IdToken(crate::IdTokenError::BadSignature))
        ));
    }

    #[test]
    fn keys_must_fit_the_algorithm() {
        let rng = SystemRandom::new();
        let p256 = EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        use SigningAlgorithm as A;
        assert!(JwsSigner::private_key(A::ES256, p256.as_ref()).is_ok());
        for alg in [A::RS256, A::ES384, A::EdDSA, A::HS256] {
            assert!(JwsSigner::private_key(alg, p256.as_ref()).is_err(), "{alg:?}");
        }
        assert!(JwsSigner::client_secret(A::RS256, &ClientSecret::new("s")).is_err());
        let signer = JwsSigner::client_secret(A::HS256, &ClientSecret::new("s")).unwrap();
        let mut extra = Map::new();
        extra.insert("alg".into(), "none".into());
        assert!(
            signer
                .sign_with_header(None, extra, &serde_json::json!({}))
                .is_err()
        );
        let debug = format!("{signer:?}");
        assert!(!debug.contains("\"s\""), "{debug}");
    }
}
