//! Rich authorization requests (RFC 9396) and resource indicators
//! (RFC 8707): what a login or a token request asks for beyond `scope`
//! (docs/protocol.md §2.3.4).

use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// One entry of `authorization_details` (RFC 9396 §2): a `type` and the
/// common fields of §2.2, with every other member kept as given.
///
/// A list read with [`parse_list`](Self::parse_list) goes on the wire as the
/// exact text it was read from (member order, whitespace, number spelling;
/// docs/protocol.md §2.3.4): the fields here are a typed view of it. An entry
/// whose fields are changed after parsing, or one built in code with
/// [`new`](Self::new), is serialized instead, deterministically: `type`,
/// `locations`, `actions`, `datatypes`, `identifier`, `privileges`, then the
/// members of `extra` in alphabetical order (objects nested in them too).
/// Equality compares the typed view only, not the text.
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
    /// The text it was parsed from, if it was.
    #[serde(skip)]
    origin: Origin,
}

/// Where an entry read by [`AuthorizationDetail::parse_list`] came from: the
/// whole list's text, its place in the list and its own bytes in the text.
#[derive(Clone, Default)]
struct Origin(Option<Arc<OriginText>>);

struct OriginText {
    list: Arc<str>,
    index: usize,
    len: usize,
    entry: Range<usize>,
}

impl Origin {
    /// The entry's own text, if it still says what `detail` says (its
    /// fields may have been changed since it was parsed).
    fn entry_text<'a>(&'a self, detail: &AuthorizationDetail) -> Option<&'a OriginText> {
        let o = self.0.as_deref()?;
        let text = o.list.get(o.entry.clone())?;
        let reparsed: AuthorizationDetail = serde_json::from_str(text).ok()?;
        (reparsed == *detail).then_some(o)
    }
}

// The text is not part of an entry's value: two entries are equal when
// their typed views are.
impl PartialEq for Origin {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "parsed" } else { "built" })
    }
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
            origin: Origin::default(),
        }
    }

    /// Parses the `authorization_details` parameter: a non-empty JSON array
    /// of objects, each with a string `type` (RFC 9396 §2), at most
    /// [`MAX_LEN`] bytes. The list remembers `json` and sends it as it is.
    ///
    /// Errors say where the text is wrong, never what it holds.
    pub fn parse_list(json: &str) -> Result<Vec<AuthorizationDetail>> {
        if json.len() > MAX_LEN {
            return Err(Error::input(format!(
                "authorization_details is longer than {MAX_LEN} bytes"
            )));
        }
        let entries: Vec<&RawValue> = serde_json::from_str(json).map_err(|e| {
            Error::input(format!(
                "authorization_details is not a JSON array ({})",
                where_wrong(&e)
            ))
        })?;
        let list: Arc<str> = Arc::from(json);
        let len = entries.len();
        let mut out = Vec::with_capacity(len);
        for (index, entry) in entries.into_iter().enumerate() {
            let text = entry.get();
            let mut detail: AuthorizationDetail = serde_json::from_str(text).map_err(|e| {
                Error::input(format!(
                    "authorization_details entry {index} is not an object with a string type ({})",
                    where_wrong(&e)
                ))
            })?;
            // `text` borrows from `json`: its place there, in safe arithmetic.
            let start = (text.as_ptr() as usize).wrapping_sub(json.as_ptr() as usize);
            let entry = start..start + text.len();
            if json.get(entry.clone()) == Some(text) {
                detail.origin = Origin(Some(Arc::new(OriginText {
                    list: list.clone(),
                    index,
                    len,
                    entry,
                })));
            }
            out.push(detail);
        }
        check_list(&out)?;
        Ok(out)
    }
}

/// The longest `authorization_details` text [`AuthorizationDetail::parse_list`]
/// accepts: 64 KiB, far more than a provider takes in a URL or a form.
pub const MAX_LEN: usize = 64 * 1024;

/// Where a JSON error is, without the value it is about (which may be
/// anything the user typed, a secret included).
fn where_wrong(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "unreadable",
        Category::Syntax => "invalid JSON",
        Category::Data => "wrong shape",
        Category::Eof => "truncated JSON",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
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

/// The parameter's value: the text the list was parsed from, exactly, when
/// it is still that list; otherwise each entry's own text when it has one and
/// is unchanged, and compact JSON for the others (see [`AuthorizationDetail`]).
pub(crate) fn to_parameter(list: &[AuthorizationDetail]) -> Result<String> {
    let texts: Vec<Option<&OriginText>> = list.iter().map(|d| d.origin.entry_text(d)).collect();
    if let Some(Some(first)) = texts.first() {
        let whole = texts.iter().enumerate().all(|(i, t)| {
            t.is_some_and(|t| Arc::ptr_eq(&t.list, &first.list) && t.index == i && t.len == list.len())
        });
        if whole {
            return Ok(first.list.to_string());
        }
    }
    let mut out = String::from("[");
    for (i, (d, t)) in list.iter().zip(&texts).enumerate() {
        if i > 0 {
            out.push(',');
        }
        match t.and_then(|t| t.list.get(t.entry.clone())) {
            Some(text) => out.push_str(text),
            None => out.push_str(
                &serde_json::to_string(d)
                    .map_err(|_| Error::input("authorization_details do not serialize"))?,
            ),
        }
    }
    out.push(']');
    Ok(out)
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
            r#"[{"type": "x", "locations": ["https://r"], "k": 1}]"#
        );
        assert!(check_resource("https://api.example/v1").is_ok());
        assert!(check_resource("urn:example:api").is_ok());
        assert!(check_resource("/relative").is_err());
        assert!(check_resource("https://api.example/#f").is_err());
    }

    #[test]
    fn parsed_text_goes_out_exactly() {
        let text = r#" [ {"type": "payment", "currency": "EUR",
            "amount": {"value": "1.50", "unit": "EUR"}, "actions": ["b", "a"]},
            {"type":"account","z":1e2,"a":null} ]"#;
        let l = AuthorizationDetail::parse_list(text).unwrap();
        assert_eq!(to_parameter(&l).unwrap(), text);
        // Part of the list: each entry as given, the array rebuilt.
        assert_eq!(
            to_parameter(&l[1..]).unwrap(),
            r#"[{"type":"account","z":1e2,"a":null}]"#
        );
        let swapped = vec![l[1].clone(), l[0].clone()];
        assert!(
            to_parameter(&swapped)
                .unwrap()
                .starts_with(r#"[{"type":"account","z":1e2,"a":null},{"type": "payment""#)
        );
        // A changed entry is serialized; the others keep their text.
        let mut changed = l.clone();
        changed[0].actions = Some(vec!["c".to_owned()]);
        assert_eq!(
            to_parameter(&changed).unwrap(),
            r#"[{"type":"payment","actions":["c"],"amount":{"unit":"EUR","value":"1.50"},"currency":"EUR"},{"type":"account","z":1e2,"a":null}]"#
        );
        // Built in code: fixed order, extra members alphabetical.
        let mut built = AuthorizationDetail::new("t");
        built.extra.insert("b".into(), Value::from(1));
        built.extra.insert("a".into(), Value::from(2));
        built.identifier = Some("i".into());
        assert_eq!(
            to_parameter(&[built]).unwrap(),
            r#"[{"type":"t","identifier":"i","a":2,"b":1}]"#
        );
    }

    #[test]
    fn refusals_name_the_place_not_the_value() {
        for (text, says) in [
            (r#"[{"type": "x", "secret": "hunter2"#, "truncated JSON"),
            (r#"[{"type": "x"}, hunter2]"#, "invalid JSON"),
            (r#"{"type": "hunter2"}"#, "not a JSON array"),
            (r#"["hunter2"]"#, "entry 0 is not an object"),
            (
                r#"[{"type": "x"}, {"secret": "hunter2"}]"#,
                "entry 1 is not an object",
            ),
            (r#"[{"type": 12345, "secret": "hunter2"}]"#, "entry 0"),
            (r#"[{"type": ["hunter2"]}]"#, "entry 0"),
            (r#"[]"#, "empty array"),
            (r#"[{"type": ""}]"#, "empty type"),
        ] {
            let e = AuthorizationDetail::parse_list(text).unwrap_err();
            assert!(matches!(e, Error::InvalidInput(_)), "{text}: {e:?}");
            let shown = format!("{e} {e:?}");
            assert!(shown.contains(says), "{text}: {shown}");
            assert!(
                !shown.contains("hunter2") && !shown.contains("12345"),
                "{text}: {shown}"
            );
        }
        let long = format!(r#"[{{"type": "x", "pad": "{}"}}]"#, "p".repeat(MAX_LEN));
        assert!(AuthorizationDetail::parse_list(&long).is_err());
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
