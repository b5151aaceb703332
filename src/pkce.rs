//! PKCE (RFC 7636): code verifiers and their challenges.

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::secret::{CodeVerifier, ExposeSecret as _};

/// The unreserved characters a verifier is made of (RFC 7636 §4.1).
const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

/// The shortest verifier RFC 7636 allows, and the default length.
pub const MIN_VERIFIER_LEN: usize = 43;
/// The longest verifier RFC 7636 allows.
pub const MAX_VERIFIER_LEN: usize = 128;

/// How the challenge is derived from the verifier (RFC 7636 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CodeChallengeMethod {
    /// `BASE64URL(SHA256(verifier))`, unpadded. The default, and the only one
    /// many providers accept.
    #[default]
    S256,
    /// The verifier itself. Offers no protection if the authorization request
    /// is observed; supported because Authing and the Python SDK offer it.
    Plain,
}

impl CodeChallengeMethod {
    /// `S256` or `plain`.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeChallengeMethod::S256 => "S256",
            CodeChallengeMethod::Plain => "plain",
        }
    }
}

impl std::str::FromStr for CodeChallengeMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "S256" => Ok(CodeChallengeMethod::S256),
            "plain" => Ok(CodeChallengeMethod::Plain),
            other => Err(Error::input(format!(
                "unknown code_challenge_method {other:?} (S256 or plain)"
            ))),
        }
    }
}

/// A code challenge: public, sent in the authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// The challenge as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CodeChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new code verifier of `length` characters (43..=128) from the unreserved
/// set, drawn from the operating system's CSPRNG.
///
/// The Python SDK calls this `generate_code_challenge`.
///
/// ```
/// let verifier = authing_oidc::pkce::generate_code_verifier(43)?;
/// # Ok::<(), authing_oidc::Error>(())
/// ```
pub fn generate_code_verifier(length: usize) -> Result<CodeVerifier> {
    if !(MIN_VERIFIER_LEN..=MAX_VERIFIER_LEN).contains(&length) {
        return Err(Error::input(format!(
            "a code verifier has {MIN_VERIFIER_LEN} to {MAX_VERIFIER_LEN} characters, not {length}"
        )));
    }
    Ok(CodeVerifier::new(crate::random::string_from(UNRESERVED, length)?))
}

/// The challenge for `verifier` (RFC 7636 §4.2). The verifier must be 43..=128
/// unreserved characters.
///
/// The Python SDK calls this `generate_code_challenge_digest`.
///
/// ```
/// use authing_oidc::{pkce, CodeVerifier};
/// let v = CodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
/// let c = pkce::code_challenge(&v, pkce::CodeChallengeMethod::S256)?;
/// assert_eq!(c.as_str(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
/// # Ok::<(), authing_oidc::Error>(())
/// ```
pub fn code_challenge(verifier: &CodeVerifier, method: CodeChallengeMethod) -> Result<CodeChallenge> {
    let v = verifier.expose_secret();
    check_verifier_form("code verifier", v)?;
    Ok(CodeChallenge(match method {
        CodeChallengeMethod::S256 => {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()))
        }
        CodeChallengeMethod::Plain => v.to_owned(),
    }))
}

/// Checks the RFC 7636 form shared by verifiers and challenges: 43..=128
/// characters from the unreserved set. The message never quotes the value.
pub(crate) fn check_verifier_form(what: &str, value: &str) -> Result<()> {
    if !(MIN_VERIFIER_LEN..=MAX_VERIFIER_LEN).contains(&value.len()) {
        return Err(Error::input(format!(
            "a {what} has {MIN_VERIFIER_LEN} to {MAX_VERIFIER_LEN} characters, not {}",
            value.len()
        )));
    }
    if !value.bytes().all(|b| UNRESERVED.contains(&b)) {
        return Err(Error::input(format!(
            "a {what} may only contain A-Z a-z 0-9 - . _ ~"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let v = CodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        let c = code_challenge(&v, CodeChallengeMethod::S256).unwrap();
        assert_eq!(c.as_str(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let p = code_challenge(&v, CodeChallengeMethod::Plain).unwrap();
        assert_eq!(p.as_str(), v.expose_secret());
    }

    #[test]
    fn verifier_lengths_and_alphabet() {
        for len in [43, 64, 128] {
            let v = generate_code_verifier(len).unwrap();
            assert_eq!(v.expose_secret().len(), len);
            assert!(check_verifier_form("v", v.expose_secret()).is_ok());
        }
        assert!(generate_code_verifier(42).is_err());
        assert!(generate_code_verifier(129).is_err());
        let a = generate_code_verifier(43).unwrap();
        let b = generate_code_verifier(43).unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn malformed_verifiers_are_refused_without_quoting_them() {
        let short = CodeVerifier::new("too-short-canary");
        let e = code_challenge(&short, CodeChallengeMethod::S256).unwrap_err();
        assert!(!e.to_string().contains("canary"));
        let bad = CodeVerifier::new(format!("{}!canary", "a".repeat(43)));
        let e = code_challenge(&bad, CodeChallengeMethod::S256).unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)));
        assert!(!e.to_string().contains("canary"));
    }
}
