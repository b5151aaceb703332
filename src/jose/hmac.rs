//! The client secret as HMAC keys for HS256/384/512 JWTs (OIDC Core §10.1:
//! the key is the octets of the UTF-8 client secret).
//!
//! The keys are derived once, when the client is built, and kept inside
//! aws-lc; verifying a token neither copies the secret nor sets up a key.

use aws_lc_rs::hmac;

use crate::config::SigningAlgorithm;

/// The client secret keyed for each HMAC algorithm.
pub(crate) struct ClientSecretKeys {
    hs256: hmac::Key,
    hs384: hmac::Key,
    hs512: hmac::Key,
}

impl ClientSecretKeys {
    pub(crate) fn new(secret: &str) -> Self {
        let s = secret.as_bytes();
        ClientSecretKeys {
            hs256: hmac::Key::new(hmac::HMAC_SHA256, s),
            hs384: hmac::Key::new(hmac::HMAC_SHA384, s),
            hs512: hmac::Key::new(hmac::HMAC_SHA512, s),
        }
    }

    /// Checks `signature` over `message` in constant time; `false` for a
    /// non-HMAC algorithm.
    pub(crate) fn verify(&self, alg: SigningAlgorithm, message: &[u8], signature: &[u8]) -> bool {
        self.key(alg)
            .is_some_and(|key| hmac::verify(key, message, signature).is_ok())
    }

    /// The MAC of `message`; `None` for a non-HMAC algorithm.
    pub(crate) fn sign(&self, alg: SigningAlgorithm, message: &[u8]) -> Option<hmac::Tag> {
        self.key(alg).map(|key| hmac::sign(key, message))
    }

    fn key(&self, alg: SigningAlgorithm) -> Option<&hmac::Key> {
        match alg {
            SigningAlgorithm::HS256 => Some(&self.hs256),
            SigningAlgorithm::HS384 => Some(&self.hs384),
            SigningAlgorithm::HS512 => Some(&self.hs512),
            _ => None,
        }
    }
}

impl std::fmt::Debug for ClientSecretKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecretKeys([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_its_own_algorithm_and_secret() {
        let keys = ClientSecretKeys::new("secret");
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, b"secret"), b"msg");
        assert!(keys.verify(SigningAlgorithm::HS256, b"msg", tag.as_ref()));
        assert!(!keys.verify(SigningAlgorithm::HS256, b"msh", tag.as_ref()));
        assert!(!keys.verify(SigningAlgorithm::HS384, b"msg", tag.as_ref()));
        assert!(!keys.verify(SigningAlgorithm::RS256, b"msg", tag.as_ref()));
        let other = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, b"other"), b"msg");
        assert!(!keys.verify(SigningAlgorithm::HS256, b"msg", other.as_ref()));
    }
}
