//! The FAPI 2.0 Security Profile's rules that apply per request
//! (docs/security.md, "FAPI 2.0"); the builder's preset
//! ([`fapi2`](crate::AuthenticationClientBuilder::fapi2)) turns them on and
//! refuses a configuration that contradicts them.

use super::Inner;
use crate::authorize::{AuthorizeParams, ResponseMode};
use crate::config::SigningAlgorithm;
use crate::error::{Error, Result};
use crate::pkce::CodeChallengeMethod;

/// The profile's name in errors.
pub(crate) const FAPI2: &str = "FAPI 2.0";

/// The only JWS algorithms FAPI 2.0 Security Profile §5.4 allows, for
/// id_tokens, client assertions and request objects.
pub const FAPI2_ALGORITHMS: [SigningAlgorithm; 3] = [
    SigningAlgorithm::PS256,
    SigningAlgorithm::ES256,
    SigningAlgorithm::EdDSA,
];

pub(crate) fn conflict(reason: impl Into<String>) -> Error {
    Error::ProfileConflict {
        profile: FAPI2,
        reason: reason.into(),
    }
}

impl Inner {
    /// An authorization request under the profile: response type `code`
    /// (§5.3.2.2), PKCE with S256 (§5.3.2.2), no response mode other than
    /// `query` (the profile's callback carries `iss`, RFC 9207, which a
    /// `form_post` or `fragment` response would carry elsewhere).
    pub(crate) fn profile_checks_authorize(&self, params: &AuthorizeParams) -> Result<()> {
        if !self.fapi2 {
            return Ok(());
        }
        if params.response_type.as_deref().is_some_and(|t| t != "code") {
            return Err(conflict("the response type must be code"));
        }
        if params.response_mode.is_some_and(|m| m != ResponseMode::Query) {
            return Err(conflict("the response mode must be query"));
        }
        match (&params.code_challenge, params.code_challenge_method) {
            (Some(_), None | Some(CodeChallengeMethod::S256)) => Ok(()),
            (Some(_), Some(_)) => Err(conflict("PKCE must use S256")),
            (None, _) => Err(conflict("the authorization request needs a PKCE S256 challenge")),
        }
    }

    /// Whether an id_token's algorithm is allowed by the profile (§5.4).
    pub(crate) fn profile_allows_id_token_alg(&self, alg: SigningAlgorithm) -> bool {
        !self.fapi2 || FAPI2_ALGORITHMS.contains(&alg)
    }
}
