//! Token introspection (RFC 7662) and Authing's online `validate_token`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The introspection endpoint's answer. An inactive token is a result, not an
/// error: `active == false` and nothing else is meaningful (RFC 7662 §2.2).
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[non_exhaustive]
pub struct Introspection {
    /// Whether the token is currently active.
    pub active: bool,
    /// Scope of the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// A human-readable identifier of the resource owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The token's type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Expiry, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not-before time, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// The subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The audience (a string or a list, kept as sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Value>,
    /// The issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The token's identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Any other members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for Introspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspection")
            .field("active", &self.active)
            .field("sub", &self.sub)
            .field("client_id", &self.client_id)
            .field("exp", &self.exp)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Which token `validate_token` checks: exactly one, by construction.
#[derive(Debug, Clone, Copy)]
pub enum TokenToValidate<'a> {
    /// Check an id_token (`?id_token=…`).
    IdToken(&'a crate::IdToken),
    /// Check an access token (`?access_token=…`).
    AccessToken(&'a crate::AccessToken),
}

/// The answer of Authing's online `validate_token`.
///
/// `#[must_use]`: a caller cannot drop the verdict by accident, and cannot
/// mistake [`ValidateTokenResult::Invalid`] for a valid token. Exhaustive: a
/// verdict is one of two, so a `match` needs no catch-all arm that would have
/// to guess.
#[derive(Clone, PartialEq)]
#[must_use]
pub enum ValidateTokenResult {
    /// The token is valid; these are its claims (`sub` among them).
    Valid(Map<String, Value>),
    /// Authing says the token is invalid.
    Invalid {
        /// Authing's `code` (e.g. `400`).
        code: String,
        /// Authing's `message` (e.g. `id_token 不合法`).
        message: String,
    },
}

impl ValidateTokenResult {
    /// True for [`ValidateTokenResult::Valid`].
    pub fn is_valid(&self) -> bool {
        matches!(self, ValidateTokenResult::Valid(_))
    }

    /// The subject of a valid token.
    pub fn sub(&self) -> Option<&str> {
        match self {
            ValidateTokenResult::Valid(claims) => claims.get("sub").and_then(Value::as_str),
            ValidateTokenResult::Invalid { .. } => None,
        }
    }
}

impl std::fmt::Debug for ValidateTokenResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValidateTokenResult::Valid(_) => f
                .debug_struct("Valid")
                .field("sub", &self.sub())
                .finish_non_exhaustive(),
            ValidateTokenResult::Invalid { code, message } => f
                .debug_struct("Invalid")
                .field("code", code)
                .field("message", message)
                .finish(),
        }
    }
}
