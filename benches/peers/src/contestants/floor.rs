//! The floor: the signature check alone with aws-lc-rs, the public key parsed
//! once (`ParsedPublicKey`) or the HMAC key prepared once, over a signing
//! input and signature split and decoded before timing starts.

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self, ParsedPublicKey, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::keys::{Alg, Keys};

// Built once per benchmark; boxing the HMAC key would add a pointer chase to the floor.
#[allow(clippy::large_enum_variant)]
enum Key {
    Public(ParsedPublicKey),
    Hmac(hmac::Key),
}

/// A prepared key with one token's signing input and signature.
pub struct Floor {
    key: Key,
    message: Vec<u8>,
    signature: Vec<u8>,
}

impl Floor {
    /// Parses the public key for `alg` once and splits `token`.
    pub fn new(keys: &Keys, alg: Alg, token: &str) -> Floor {
        let key = match alg {
            Alg::Hs256 => Key::Hmac(hmac::Key::new(hmac::HMAC_SHA256, &keys.secret)),
            _ => {
                let (algorithm, bytes): (&'static dyn signature::VerificationAlgorithm, Vec<u8>) = match alg {
                    Alg::Rs256 => (&signature::RSA_PKCS1_2048_8192_SHA256, rsa_public(keys)),
                    Alg::Ps256 => (&signature::RSA_PSS_2048_8192_SHA256, rsa_public(keys)),
                    Alg::Es256 => (
                        &signature::ECDSA_P256_SHA256_FIXED,
                        signature::KeyPair::public_key(&keys.ec).as_ref().to_vec(),
                    ),
                    Alg::EdDsa | Alg::Hs256 => (
                        &signature::ED25519,
                        signature::KeyPair::public_key(&keys.ed).as_ref().to_vec(),
                    ),
                };
                Key::Public(
                    UnparsedPublicKey::new(algorithm, bytes)
                        .parse()
                        .expect("the fixture's public key parses"),
                )
            }
        };
        let dot = token.rfind('.').expect("a compact JWS");
        Floor {
            key,
            message: token.as_bytes()[..dot].to_vec(),
            signature: URL_SAFE_NO_PAD
                .decode(&token[dot + 1..])
                .expect("base64url signature"),
        }
    }

    /// Checks the prepared signature; true when it holds.
    pub fn verify(&self) -> bool {
        match &self.key {
            Key::Public(key) => key.verify_sig(&self.message, &self.signature).is_ok(),
            Key::Hmac(key) => hmac::verify(key, &self.message, &self.signature).is_ok(),
        }
    }
}

/// The RSA public key as aws-lc-rs hands it out (a DER `RSAPublicKey`).
fn rsa_public(keys: &Keys) -> Vec<u8> {
    signature::KeyPair::public_key(&keys.rsa).as_ref().to_vec()
}
