//! The token endpoint's answer (RFC 6749 §5.1, OIDC Core §3.1.3.3).

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::secret::{AccessToken, IdToken, RefreshToken};

/// Tokens from the token endpoint. Every token is a secret type; `Debug`
/// shows which tokens are present, never their values.
#[derive(Clone)]
#[non_exhaustive]
pub struct TokenSet {
    /// The access token.
    pub access_token: AccessToken,
    /// `"Bearer"`, or `"DPoP"` for tokens bound to a DPoP key (RFC 9449 §5);
    /// any other type is refused when parsing.
    pub token_type: String,
    /// Lifetime of the access token in seconds, when the provider said.
    pub expires_in: Option<u64>,
    /// The refresh token, when one was issued.
    pub refresh_token: Option<RefreshToken>,
    /// The raw id_token, when one was issued. Unverified until checked by
    /// [`crate::id_token::IdTokenVerifier`].
    pub id_token: Option<IdToken>,
    /// The granted scope, when the provider said.
    pub scope: Option<String>,
    /// The granted `authorization_details` (RFC 9396 §7), when the
    /// provider sent them.
    pub authorization_details: Option<Vec<crate::authorization_details::AuthorizationDetail>>,
    /// Any other fields of the response.
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token)
            .field("id_token", &self.id_token)
            .field("scope", &self.scope)
            .field("authorization_details", &self.authorization_details)
            // Unknown fields may be tokens of some other kind: names only.
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The wire form, parsed leniently; [`TokenSet::from_raw`] then refuses what
/// is unsafe.
#[derive(Deserialize)]
pub(crate) struct RawTokenResponse {
    access_token: Option<AccessToken>,
    token_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    expires_in: Option<u64>,
    refresh_token: Option<RefreshToken>,
    id_token: Option<IdToken>,
    scope: Option<String>,
    #[serde(default)]
    authorization_details: Option<Vec<crate::authorization_details::AuthorizationDetail>>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl RawTokenResponse {
    /// The `token_type` as the provider wrote it.
    pub(crate) fn token_type(&self) -> Option<&str> {
        self.token_type.as_deref()
    }
}

impl TokenSet {
    /// Why a token response is refused, or the token set. The `token_type`
    /// must be `Bearer`, or `DPoP` when the request carried a DPoP proof
    /// (`dpop`); either in any case (docs/protocol.md §2.6, §2.13).
    pub(crate) fn from_raw(raw: RawTokenResponse, dpop: bool) -> Result<TokenSet, String> {
        let access_token = raw
            .access_token
            .ok_or_else(|| "the token response has no access_token".to_owned())?;
        let expected = if dpop { "DPoP" } else { "Bearer" };
        let token_type = match raw.token_type {
            Some(t) if t.eq_ignore_ascii_case(expected) => expected.to_owned(),
            Some(t) => return Err(format!("token_type {t:?} is not {expected}")),
            None => return Err("the token response has no token_type".to_owned()),
        };
        Ok(TokenSet {
            access_token,
            token_type,
            expires_in: raw.expires_in,
            refresh_token: raw.refresh_token,
            id_token: raw.id_token,
            scope: raw.scope,
            authorization_details: raw.authorization_details,
            extra: raw.extra,
        })
    }
}

/// A refresh grant's 2xx answer: the tokens, or why they were refused, and
/// the new refresh token the answer carried either way.
pub(crate) struct RefreshAnswer {
    /// The strictly parsed token set, or why the answer was refused.
    pub(crate) tokens: crate::error::Result<TokenSet>,
    /// The answer's `refresh_token`, read on its own (see [`refresh_token_member`]).
    pub(crate) rotated: Option<RefreshToken>,
}

/// The `refresh_token` member of a 2xx token answer, read whatever else the
/// answer holds. A provider that rotates refresh tokens retired the old one
/// when it sent this answer (RFC 6749 §6, OAuth 2.0 Security BCP §4.14.2), so
/// an answer refused for another member must not take the grant with it.
pub(crate) fn refresh_token_member(body: &[u8]) -> Option<RefreshToken> {
    /// Only the member that matters; serde skips the others unread, however malformed.
    #[derive(Deserialize)]
    struct OnlyRefreshToken {
        refresh_token: Option<Value>,
    }
    let only: OnlyRefreshToken = serde_json::from_slice(body).ok()?;
    match only.refresh_token? {
        Value::String(s) if !s.is_empty() => Some(RefreshToken::new(s)),
        _ => None,
    }
}

/// `expires_in` as a number or a numeric string (some providers send
/// `"3600"`); `null` as absent.
pub(crate) fn lenient_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    use serde::de::Error as _;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| *f >= 0.0 && f.is_finite())
                    .map(|f| f as u64)
            })
            .map(Some)
            .ok_or_else(|| D::Error::custom("expires_in is not a non-negative number")),
        Some(Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| D::Error::custom("expires_in is not a number")),
        Some(_) => Err(D::Error::custom("expires_in is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ExposeSecret as _;

    fn parse(json: &str) -> Result<TokenSet, String> {
        let raw: RawTokenResponse = serde_json::from_str(json).map_err(|e| e.to_string())?;
        TokenSet::from_raw(raw, false)
    }

    #[test]
    fn tolerates_string_expires_in_and_lowercase_bearer() {
        let t = parse(r#"{"access_token":"a","token_type":"bearer","expires_in":"3600","foo":1}"#).unwrap();
        assert_eq!(t.expires_in, Some(3600));
        assert_eq!(t.token_type, "Bearer");
        assert_eq!(t.access_token.expose_secret(), "a");
        assert!(t.scope.is_none());
        assert_eq!(t.extra.get("foo"), Some(&Value::from(1)));
    }

    #[test]
    fn refuses_missing_access_token_and_other_types() {
        assert!(
            parse(r#"{"token_type":"Bearer"}"#)
                .unwrap_err()
                .contains("access_token")
        );
        assert!(
            parse(r#"{"access_token":"a","token_type":"mac"}"#)
                .unwrap_err()
                .contains("mac")
        );
        assert!(parse(r#"{"access_token":"a"}"#).is_err());
    }

    #[test]
    fn the_refresh_token_is_read_from_answers_refused_for_other_members() {
        for body in [
            r#"{"access_token":"a","refresh_token":"r2","expires_in":-1,"token_type":"Bearer"}"#,
            r#"{"access_token":"a","refresh_token":"r2"}"#,
            r#"{"refresh_token":"r2","scope":["openid"],"token_type":7}"#,
        ] {
            assert!(parse(body).is_err(), "{body}");
            let rt = refresh_token_member(body.as_bytes()).unwrap();
            assert_eq!(rt.expose_secret(), "r2");
        }
        for body in [
            r#"{"refresh_token":""}"#,
            r#"{"refresh_token":5}"#,
            r#"{"access_token":"a"}"#,
            "not json",
        ] {
            assert!(refresh_token_member(body.as_bytes()).is_none(), "{body}");
        }
    }

    #[test]
    fn debug_shows_no_token() {
        let t = parse(
            r#"{"access_token":"canary-at","token_type":"Bearer","refresh_token":"canary-rt","id_token":"canary-it","other_token":"canary-x"}"#,
        )
        .unwrap();
        let d = format!("{t:?}");
        assert!(!d.contains("canary"), "{d}");
        assert!(d.contains("other_token"));
    }
}
