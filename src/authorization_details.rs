//! Rich authorization requests (RFC 9396) and resource indicators
//! (RFC 8707): what a login or a token request asks for beyond `scope`
//! (docs/protocol.md §2.3.4).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// One entry of `authorization_details` (RFC 9396 §2): a `type` and the
/// common fields of §2.2, with every other member kept as given.
///
/// ```
/// use authing_oidc::authorization_details::AuthorizationDetail;
/// let details = AuthorizationDetail::parse_list(
///     r#"[{"type": "payment_initiation", "actions": ["initiate"],
///          "instructedAmount": {"currency": "EUR", "amount": "123.50"}}]"#,
/// )?;
/// assert_eq!(details[0].r#type, "payment_initiation");
/// assert_eq!(details[0].extra["instructedAmount"]["currency"], "EUR");
/// # Ok::<(), authing_oidc::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuthorizationDetail {
    /// The kind of authorization (required; RFC 9396 §2).
    pub r#type: String,
    /// Where the resource is (§2.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locations: Option<Vec<String>>,
    /// What the client wants to do (§2.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<String>>,
    /// Which kinds of data (§2.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datatypes: Option<Vec<String>>,
    /// A specific resource (§2.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Privilege levels (§2.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileges: Option<Vec<String>>,
    /// The type-specific members, as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AuthorizationDetail {
    /// An entry of this `type` with no other member.
    pub fn new(r#type: impl Into<String>) -> Self {
        AuthorizationDetail {
            r#type: r#type.into(),
            locations: None,
            actions: None,
            datatypes: None,
            identifier: None,
            privileges: None,
            extra: Map::new(),
        }
    }

    /// Parses the `authorization_details` parameter: a non-empty JSON array
    /// of objects, each with a string `type` (RFC 9396 §2).
    pub fn parse_list(json: &str) -> Result<Vec<AuthorizationDetail>> {
        let list: Vec<AuthorizationDetail> = serde_json::from_str(json).map_err(|e| {
            Error::input(format!(
                "authorization_details is not a JSON array of objects with a string type: {e}"
            ))
        })?;
        check_list(&list)?;
        Ok(list)
    }
}

/// A list that can go on the wire: not empty, no empty `type`.
pub(crate) fn check_list(list: &[AuthorizationDetail]) -> Result<()> {
    if list.is_empty() {
        return Err(Error::input("authorization_details is an empty array"));
    }
    if list.iter().any(|d| d.r#type.is_empty()) {
        return Err(Error::input("an authorization_details entry has an empty type"));
    }
    Ok(())
}

/// The parameter's value: the array as compact JSON.
pub(crate) fn to_parameter(list: &[AuthorizationDetail]) -> Result<String> {
    serde_json::to_string(list).map_err(|_| Error::input("authorization_details do not serialize"))
}

/// A resource indicator must be an absolute URI without a fragment
/// (RFC 8707 §2); it goes on the wire as given.
pub(crate) fn check_resource(resource: &str) -> Result<()> {
    let url = url::Url::parse(resource)
        .map_err(|_| Error::input(format!("resource {resource:?} is not an absolute URI")))?;
    if url.fragment().is_some() {
        return Err(Error::input(format!(
            "resource {resource:?} has a fragment (RFC 8707 §2)"
        )));
    }
    Ok(())
}

/// What a token request (code exchange or refresh) may add: RFC 8707
/// `resource` values and RFC 9396 `authorization_details`.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct TokenRequestExtras {
    /// `resource`, repeated once per value (RFC 8707 §2.2).
    pub resource: Vec<String>,
    /// `authorization_details` (RFC 9396 §6).
    pub authorization_details: Option<Vec<AuthorizationDetail>>,
}

impl TokenRequestExtras {
    /// Nothing extra.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a `resource` value.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource.push(resource.into());
        self
    }

    /// Sets `authorization_details`.
    pub fn authorization_details(mut self, details: Vec<AuthorizationDetail>) -> Self {
        self.authorization_details = Some(details);
        self
    }

    /// Whether it adds nothing.
    pub fn is_empty(&self) -> bool {
        self.resource.is_empty() && self.authorization_details.is_none()
    }

    /// The checked `(name, value)` pairs to send.
    pub(crate) fn pairs(&self) -> Result<Vec<(&'static str, String)>> {
        let mut out = Vec::new();
        for r in &self.resource {
            check_resource(r)?;
            out.push(("resource", r.clone()));
        }
        if let Some(d) = &self.authorization_details {
            check_list(d)?;
            out.push(("authorization_details", to_parameter(d)?));
        }
        Ok(out)
    }
}

/// Which `resource` values the typed flow's token requests — the code
/// exchange and every refresh of the session — send (RFC 8707 §2.2;
/// docs/protocol.md §2.3.4). Set with
/// [`Unauthorized::token_resource`](crate::flow::Unauthorized::token_resource).
///
/// A `resource` on a token request chooses the audience of the access token
/// it returns. Without one the provider picks: panva's oidc-provider, for one,
/// then issues a token for its userinfo endpoint, not for the resource the
/// login asked for. Most providers issue a token for one audience only and
/// refuse several `resource` values on a token request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenResource {
    /// The default: the login's `resource` when it asked for exactly one;
    /// none when it asked for none or for several (the provider picks).
    #[default]
    IfOne,
    /// Every `resource` the login asked for, in its order.
    All,
    /// This one `resource`, which the login must have asked for (RFC 8707
    /// §2.2: a token request asks for a subset of the grant).
    Only(String),
    /// None: the provider picks the audience.
    Omit,
}

impl TokenResource {
    /// The values to send, given what the login asked for.
    pub(crate) fn select(&self, requested: &[String]) -> Result<Vec<String>> {
        Ok(match self {
            TokenResource::IfOne if requested.len() == 1 => requested.to_vec(),
            TokenResource::IfOne | TokenResource::Omit => Vec::new(),
            TokenResource::All => requested.to_vec(),
            TokenResource::Only(r) if requested.iter().any(|x| x == r) => vec![r.clone()],
            TokenResource::Only(r) => {
                return Err(Error::config(format!(
                    "token_resource {r:?} is not a resource the login asks for (RFC 8707 §2.2)"
                )));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_resources() {
        assert!(AuthorizationDetail::parse_list("[]").is_err());
        assert!(AuthorizationDetail::parse_list(r#"[{"actions": []}]"#).is_err());
        assert!(AuthorizationDetail::parse_list(r#"{"type": "x"}"#).is_err());
        let l = AuthorizationDetail::parse_list(r#"[{"type": "x", "locations": ["https://r"], "k": 1}]"#)
            .unwrap();
        assert_eq!(l[0].locations.as_deref(), Some(&["https://r".to_owned()][..]));
        assert_eq!(
            to_parameter(&l).unwrap(),
            r#"[{"type":"x","locations":["https://r"],"k":1}]"#
        );
        assert!(check_resource("https://api.example/v1").is_ok());
        assert!(check_resource("urn:example:api").is_ok());
        assert!(check_resource("/relative").is_err());
        assert!(check_resource("https://api.example/#f").is_err());
    }

    #[test]
    fn token_resource_selects_from_the_login() {
        let one = vec!["https://a/".to_owned()];
        let two = vec!["https://a/".to_owned(), "https://b/".to_owned()];
        assert_eq!(TokenResource::IfOne.select(&one).unwrap(), one);
        assert!(TokenResource::IfOne.select(&two).unwrap().is_empty());
        assert!(TokenResource::IfOne.select(&[]).unwrap().is_empty());
        assert_eq!(TokenResource::All.select(&two).unwrap(), two);
        assert!(TokenResource::Omit.select(&one).unwrap().is_empty());
        let only = TokenResource::Only("https://b/".to_owned());
        assert_eq!(only.select(&two).unwrap(), vec!["https://b/".to_owned()]);
        assert!(only.select(&one).is_err(), "not asked for at the login");
    }
}
