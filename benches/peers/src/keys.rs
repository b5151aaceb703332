//! The signing keys, their JWKs, and compact JWS signing for the five
//! algorithms compared (RFC 7518 §3).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair,
    RsaPublicKeyComponents,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// The algorithms compared, one benchmark group each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, RSA-2048 (what Authing signs with by default).
    Rs256,
    /// RSASSA-PSS with SHA-256, the same RSA-2048 key.
    Ps256,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
    /// HMAC-SHA256 keyed with the client secret.
    Hs256,
}

impl Alg {
    /// Every algorithm, in the order of the tables.
    pub const ALL: [Alg; 5] = [Alg::Rs256, Alg::Ps256, Alg::Es256, Alg::EdDsa, Alg::Hs256];

    /// The JOSE `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Ps256 => "PS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
            Alg::Hs256 => "HS256",
        }
    }

    /// The `kid` in the token header; HS256 tokens carry none (the key is the client secret).
    pub fn kid(self) -> Option<&'static str> {
        match self {
            Alg::Rs256 | Alg::Ps256 => Some("rsa-1"),
            Alg::Es256 => Some("ec-1"),
            Alg::EdDsa => Some("ed-1"),
            Alg::Hs256 => None,
        }
    }
}

/// One key per family, generated once per process.
pub struct Keys {
    /// RSA-2048, for RS256 and PS256.
    pub rsa: RsaKeyPair,
    /// P-256, for ES256.
    pub ec: EcdsaKeyPair,
    /// Ed25519, for EdDSA.
    pub ed: Ed25519KeyPair,
    /// The client secret, for HS256.
    pub secret: Vec<u8>,
}

impl Keys {
    /// Fresh keys; `secret` keys HS256.
    pub fn generate(secret: &str) -> Keys {
        Keys {
            rsa: RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key generation"),
            ec: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 key generation"),
            ed: Ed25519KeyPair::generate().expect("Ed25519 key generation"),
            secret: secret.as_bytes().to_vec(),
        }
    }

    /// The RSA modulus and exponent, big-endian.
    pub fn rsa_components(&self) -> RsaPublicKeyComponents<Vec<u8>> {
        RsaPublicKeyComponents::<Vec<u8>>::from(self.rsa.public_key())
    }

    /// The JWKS with the three public keys (no `alg` member: the RSA key serves RS256 and PS256).
    pub fn jwks(&self) -> Value {
        json!({"keys": [self.rsa_jwk("rsa-1"), ec_jwk(&self.ec, "ec-1"), self.ed_jwk()]})
    }

    /// The RSA public key as a JWK.
    pub fn rsa_jwk(&self, kid: &str) -> Value {
        let c = self.rsa_components();
        json!({"kty": "RSA", "use": "sig", "kid": kid, "n": b64(&c.n), "e": b64(&c.e)})
    }

    fn ed_jwk(&self) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "kid": "ed-1", "x": b64(self.ed.public_key())})
    }

    /// A compact JWS of `claims` with header `{"alg", "typ": "JWT", "kid"}`.
    pub fn sign(&self, alg: Alg, claims: &Value) -> String {
        let mut header = json!({"alg": alg.name(), "typ": "JWT"});
        if let Some(kid) = alg.kid() {
            header["kid"] = kid.into();
        }
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let rng = SystemRandom::new();
        let sig: Vec<u8> = match alg {
            Alg::Rs256 | Alg::Ps256 => {
                let padding: &'static dyn signature::RsaEncoding = if alg == Alg::Rs256 {
                    &signature::RSA_PKCS1_SHA256
                } else {
                    &signature::RSA_PSS_SHA256
                };
                let mut sig = vec![0; self.rsa.public_modulus_len()];
                self.rsa
                    .sign(padding, &rng, input.as_bytes(), &mut sig)
                    .expect("RSA signing");
                sig
            }
            Alg::Es256 => self
                .ec
                .sign(&rng, input.as_bytes())
                .expect("ECDSA signing")
                .as_ref()
                .to_vec(),
            Alg::EdDsa => self.ed.sign(input.as_bytes()).as_ref().to_vec(),
            Alg::Hs256 => {
                let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.secret);
                aws_lc_rs::hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
            }
        };
        format!("{input}.{}", b64(sig))
    }
}

/// A P-256 public key as a JWK (also the filler keys of the JWKS-size benchmark).
pub fn ec_jwk(key: &EcdsaKeyPair, kid: &str) -> Value {
    let point = key.public_key().as_ref();
    json!({"kty": "EC", "crv": "P-256", "use": "sig", "kid": kid, "x": b64(&point[1..33]), "y": b64(&point[33..65])})
}

/// base64url without padding (RFC 7515 §2).
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `at_hash` for `alg`: the left half of the access token's hash, base64url
/// (OIDC Core §3.1.3.6); SHA-256 for the *256 algorithms, SHA-512 for EdDSA
/// with Ed25519.
pub fn at_hash(alg: Alg, access_token: &str) -> String {
    let hash = if alg == Alg::EdDsa {
        &aws_lc_rs::digest::SHA512
    } else {
        &aws_lc_rs::digest::SHA256
    };
    let d = aws_lc_rs::digest::digest(hash, access_token.as_bytes());
    b64(&d.as_ref()[..d.as_ref().len() / 2])
}
