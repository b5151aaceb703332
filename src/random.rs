//! Randomness for state, nonce and PKCE verifiers: straight from the operating
//! system's CSPRNG, never a userspace generator.

use base64::Engine as _;
use rand::TryRngCore as _;

use crate::error::{Error, Result};

/// `n` bytes from the OS CSPRNG.
pub(crate) fn bytes(n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    rand::rngs::OsRng
        .try_fill_bytes(&mut buf)
        .map_err(|e| Error::config(format!("the operating system's random generator failed: {e}")))?;
    Ok(buf)
}

/// A URL-safe random string carrying 256 bits: for `state` and `nonce`.
pub(crate) fn url_safe_token() -> Result<String> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes(32)?))
}

/// `len` characters drawn uniformly from `alphabet` (at most 256 symbols), by
/// rejection sampling so that no symbol is favoured.
pub(crate) fn string_from(alphabet: &[u8], len: usize) -> Result<String> {
    let n = alphabet.len();
    debug_assert!(n > 0 && n <= 256);
    let limit = 256 - (256 % n); // bytes at or above this would bias the draw
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in bytes(len * 2)? {
            if (b as usize) < limit {
                out.push(alphabet[b as usize % n] as char);
                if out.len() == len {
                    break;
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_url_safe_and_distinct() {
        let a = url_safe_token().unwrap();
        let b = url_safe_token().unwrap();
        assert_eq!(a.len(), 43); // 256 bits in unpadded base64url
        assert_ne!(a, b);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn strings_use_only_the_alphabet() {
        let s = string_from(b"ab", 500).unwrap();
        assert_eq!(s.len(), 500);
        assert!(s.contains('a') && s.contains('b'));
        assert!(s.bytes().all(|c| c == b'a' || c == b'b'));
    }
}
