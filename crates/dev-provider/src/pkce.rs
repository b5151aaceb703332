//! PKCE checks ([RFC 7636](https://www.rfc-editor.org/rfc/rfc7636)).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::client_auth::constant_time_eq;
use crate::store::PkceMethod;

/// 43..=128 characters from `A-Z a-z 0-9 - . _ ~` (RFC 7636 §4.1, §4.2).
pub(crate) fn is_valid_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `verifier` answers `challenge` (RFC 7636 §4.6).
pub(crate) fn verify(verifier: &str, challenge: &str, method: PkceMethod) -> bool {
    if !is_valid_value(verifier) {
        return false;
    }
    match method {
        PkceMethod::S256 => {
            let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            constant_time_eq(&digest, challenge)
        }
        PkceMethod::Plain => constant_time_eq(verifier, challenge),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        assert!(verify(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            PkceMethod::S256
        ));
        assert!(!verify(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            PkceMethod::Plain
        ));
        assert!(!is_valid_value("short"));
        assert!(!is_valid_value(&"a".repeat(129)));
        assert!(!is_valid_value(&format!("{}!", "a".repeat(43))));
    }
}
