//! OAuth 2.0 Token Exchange (RFC 8693): trade a token for another one — a
//! narrower access token for a downstream API, a token for another audience,
//! a token that says who acts for whom.
//!
//! One request, so one stateless method,
//! [`AuthenticationClient::exchange_token`], with the configured client
//! authentication (docs/protocol.md §2.8):
//!
//! ```no_run
//! use authing_oidc::token_exchange::{TokenExchangeRequest, TokenType};
//! use authing_oidc::{AuthenticationClient, SubjectToken, ExposeSecret};
//! # async fn run(client: AuthenticationClient, incoming: &str) -> Result<(), authing_oidc::Error> {
//! let request = TokenExchangeRequest::new(SubjectToken::new(incoming), TokenType::AccessToken)
//!     .audience("https://orders.example.com")
//!     .scope("orders:read");
//! let answer = client.exchange_token(&request).await?;
//! assert_eq!(answer.issued_token_type, TokenType::AccessToken);
//! let downstream = answer.access_token.expose_secret();
//! # let _ = downstream; Ok(()) }
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::AuthenticationClient;
use crate::error::{Error, Result};
use crate::http::{Body, Form, Reply};
use crate::secret::{ActorToken, ExposeSecret as _, IssuedToken, RefreshToken, SubjectToken};
use crate::token_set::lenient_u64;

/// The grant type of RFC 8693 §2.1.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// A token type identifier (RFC 8693 §3): the registered URNs as variants,
/// anything else as [`TokenType::Other`], kept byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenType {
    /// `urn:ietf:params:oauth:token-type:access_token`
    AccessToken,
    /// `urn:ietf:params:oauth:token-type:refresh_token`
    RefreshToken,
    /// `urn:ietf:params:oauth:token-type:id_token`
    IdToken,
    /// `urn:ietf:params:oauth:token-type:saml1`
    Saml1,
    /// `urn:ietf:params:oauth:token-type:saml2`
    Saml2,
    /// `urn:ietf:params:oauth:token-type:jwt`
    Jwt,
    /// Any other identifier (a provider's own URI), as given.
    Other(String),
}

const REGISTERED: [(&str, TokenType); 6] = [
    (
        "urn:ietf:params:oauth:token-type:access_token",
        TokenType::AccessToken,
    ),
    (
        "urn:ietf:params:oauth:token-type:refresh_token",
        TokenType::RefreshToken,
    ),
    ("urn:ietf:params:oauth:token-type:id_token", TokenType::IdToken),
    ("urn:ietf:params:oauth:token-type:saml1", TokenType::Saml1),
    ("urn:ietf:params:oauth:token-type:saml2", TokenType::Saml2),
    ("urn:ietf:params:oauth:token-type:jwt", TokenType::Jwt),
];

impl TokenType {
    /// The identifier as it goes on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            TokenType::Other(s) => s,
            known => REGISTERED
                .iter()
                .find(|(_, t)| t == known)
                .map(|(s, _)| *s)
                .unwrap_or_default(),
        }
    }
}

impl FromStr for TokenType {
    type Err = Error;

    /// A registered URN becomes its variant, any other non-empty identifier
    /// [`TokenType::Other`]; an empty one is refused.
    fn from_str(s: &str) -> Result<Self> {
        if s.trim().is_empty() {
            return Err(Error::input("a token type identifier is empty"));
        }
        Ok(REGISTERED
            .iter()
            .find(|(urn, _)| *urn == s)
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| TokenType::Other(s.to_owned())))
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TokenType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TokenType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What to exchange and what for (RFC 8693 §2.1). Every value goes on the
/// wire as given.
#[derive(Debug, Clone)]
#[must_use]
pub struct TokenExchangeRequest {
    subject_token: SubjectToken,
    subject_token_type: TokenType,
    actor: Option<(ActorToken, TokenType)>,
    requested_token_type: Option<TokenType>,
    audience: Vec<String>,
    resource: Vec<String>,
    scope: Option<String>,
}

impl TokenExchangeRequest {
    /// An exchange of `subject_token`, of type `subject_token_type`.
    pub fn new(subject_token: SubjectToken, subject_token_type: TokenType) -> Self {
        TokenExchangeRequest {
            subject_token,
            subject_token_type,
            actor: None,
            requested_token_type: None,
            audience: Vec::new(),
            resource: Vec::new(),
            scope: None,
        }
    }

    /// The token of the party that acts for the subject (delegation, RFC 8693 §1.1).
    pub fn actor(mut self, actor_token: ActorToken, actor_token_type: TokenType) -> Self {
        self.actor = Some((actor_token, actor_token_type));
        self
    }

    /// The type of token wanted; the provider chooses when absent.
    pub fn requested_token_type(mut self, token_type: TokenType) -> Self {
        self.requested_token_type = Some(token_type);
        self
    }

    /// A logical name of the service the token is for; repeatable.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience.push(audience.into());
        self
    }

    /// The absolute URI of a resource the token is for; repeatable.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource.push(resource.into());
        self
    }

    /// The scope wanted.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    fn form(&self) -> Result<Form> {
        if self.subject_token.expose_secret().is_empty() {
            return Err(Error::input("subject_token is empty"));
        }
        let mut form = Form::new();
        form.push("grant_type", GRANT_TYPE)
            .push_secret("subject_token", self.subject_token.expose_secret())
            .push("subject_token_type", self.subject_token_type.as_str());
        if let Some((token, kind)) = &self.actor {
            if token.expose_secret().is_empty() {
                return Err(Error::input("actor_token is empty"));
            }
            form.push_secret("actor_token", token.expose_secret())
                .push("actor_token_type", kind.as_str());
        }
        if let Some(t) = &self.requested_token_type {
            form.push("requested_token_type", t.as_str());
        }
        for a in &self.audience {
            form.push("audience", a.as_str());
        }
        for r in &self.resource {
            // RFC 8693 §2.1: an absolute URI without a fragment.
            let url = url::Url::parse(r).map_err(|e| Error::input(format!("resource {r:?}: {e}")))?;
            if url.fragment().is_some() {
                return Err(Error::input(format!("resource {r:?} has a fragment")));
            }
            form.push("resource", r.as_str());
        }
        if let Some(s) = &self.scope {
            form.push("scope", s.as_str());
        }
        Ok(form)
    }
}

/// The answer of a token exchange (RFC 8693 §2.2.1). `Debug` shows which
/// tokens are present, never their values.
#[derive(Clone)]
#[non_exhaustive]
pub struct TokenExchangeResponse {
    /// The issued token, whatever its type (the member is called
    /// `access_token` for historical reasons).
    pub access_token: IssuedToken,
    /// What the issued token is.
    pub issued_token_type: TokenType,
    /// `Bearer`, or `N_A` when the issued token is not an access token.
    pub token_type: String,
    /// Lifetime of the issued token in seconds, when the provider said.
    pub expires_in: Option<u64>,
    /// The scope of the issued token, when the provider said.
    pub scope: Option<String>,
    /// A refresh token, when one was issued.
    pub refresh_token: Option<RefreshToken>,
    /// Any other member.
    pub extra: Map<String, Value>,
}

impl fmt::Debug for TokenExchangeResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchangeResponse")
            .field("access_token", &self.access_token)
            .field("issued_token_type", &self.issued_token_type)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("refresh_token", &self.refresh_token)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Deserialize)]
struct RawExchangeResponse {
    access_token: Option<IssuedToken>,
    issued_token_type: Option<String>,
    token_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    expires_in: Option<u64>,
    scope: Option<String>,
    refresh_token: Option<RefreshToken>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl TokenExchangeResponse {
    /// The checks of RFC 8693 §2.2.1 on a 2xx answer: the token and its type
    /// are required; `token_type` is `Bearer` (any case), or `N_A` for a token
    /// that is not an access token.
    fn from_raw(raw: RawExchangeResponse) -> std::result::Result<Self, String> {
        let access_token = raw
            .access_token
            .filter(|t| !t.expose_secret().is_empty())
            .ok_or("the token exchange answer has no access_token")?;
        let issued_token_type: TokenType = raw
            .issued_token_type
            .ok_or("the token exchange answer has no issued_token_type")?
            .parse()
            .map_err(|_| "issued_token_type is empty".to_owned())?;
        let token_type = match raw.token_type {
            Some(t) if t.eq_ignore_ascii_case("bearer") => "Bearer".to_owned(),
            Some(t) if t == "N_A" && issued_token_type != TokenType::AccessToken => t,
            Some(t) if t == "N_A" => return Err("token_type N_A for an issued access token".to_owned()),
            Some(t) => return Err(format!("token_type {t:?} is neither Bearer nor N_A")),
            None => return Err("the token exchange answer has no token_type".to_owned()),
        };
        Ok(TokenExchangeResponse {
            access_token,
            issued_token_type,
            token_type,
            expires_in: raw.expires_in,
            scope: raw.scope,
            refresh_token: raw.refresh_token,
            extra: raw.extra,
        })
    }
}

/// The checks of RFC 8693 §2.2 on a token endpoint's answer to an exchange.
pub(crate) fn response_from(reply: &Reply) -> Result<TokenExchangeResponse> {
    let raw: RawExchangeResponse = reply.json(Body::Sensitive)?;
    TokenExchangeResponse::from_raw(raw).map_err(|reason| Error::InvalidResponse {
        endpoint: reply.endpoint.clone(),
        reason: reply.provider_text(&reason),
    })
}

impl AuthenticationClient {
    /// Exchanges a token (RFC 8693 §2): `POST` to the token endpoint with
    /// `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` and the
    /// configured client authentication. The answer is checked as
    /// [`TokenExchangeResponse`] says.
    pub async fn exchange_token(&self, request: &TokenExchangeRequest) -> Result<TokenExchangeResponse> {
        let form = request.form()?;
        let reply = self
            .token_reply("exchange_token", form, Some(self.inner.token_auth), None)
            .await?;
        response_from(&reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> std::result::Result<TokenExchangeResponse, String> {
        TokenExchangeResponse::from_raw(serde_json::from_str(json).map_err(|e| e.to_string())?)
    }

    #[test]
    fn token_types_round_trip() {
        for (urn, t) in REGISTERED {
            assert_eq!(urn.parse::<TokenType>().unwrap(), t);
            assert_eq!(t.as_str(), urn);
        }
        let other: TokenType = "urn:example:custom".parse().unwrap();
        assert_eq!(other, TokenType::Other("urn:example:custom".into()));
        assert_eq!(other.as_str(), "urn:example:custom");
        assert!("".parse::<TokenType>().is_err());
    }

    #[test]
    fn n_a_only_for_tokens_that_are_not_access_tokens() {
        let id = r#"{"access_token":"x","issued_token_type":"urn:ietf:params:oauth:token-type:id_token","token_type":"N_A"}"#;
        let r = parse(id).unwrap();
        assert_eq!(r.issued_token_type, TokenType::IdToken);
        assert_eq!(r.token_type, "N_A");
        let at = r#"{"access_token":"x","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"N_A"}"#;
        assert!(parse(at).unwrap_err().contains("N_A"));
        let bearer = r#"{"access_token":"x","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"bearer","expires_in":"60"}"#;
        let r = parse(bearer).unwrap();
        assert_eq!((r.token_type.as_str(), r.expires_in), ("Bearer", Some(60)));
    }

    #[test]
    fn required_members() {
        assert!(parse(r#"{"issued_token_type":"urn:x","token_type":"Bearer"}"#).is_err());
        assert!(parse(r#"{"access_token":"","issued_token_type":"urn:x","token_type":"Bearer"}"#).is_err());
        assert!(
            parse(r#"{"access_token":"x","token_type":"Bearer"}"#)
                .unwrap_err()
                .contains("issued_token_type")
        );
        assert!(parse(r#"{"access_token":"x","issued_token_type":"urn:x"}"#).is_err());
        assert!(parse(r#"{"access_token":"x","issued_token_type":"urn:x","token_type":"mac"}"#).is_err());
    }

    #[test]
    fn debug_shows_no_token() {
        let r = parse(r#"{"access_token":"canary-1","issued_token_type":"urn:x","token_type":"Bearer","refresh_token":"canary-2"}"#).unwrap();
        assert!(!format!("{r:?}").contains("canary"));
    }
}
