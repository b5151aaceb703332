//! The authorization response the browser brings back to the redirect URI,
//! in any of the three response modes, parsed without loss: a repeated
//! parameter is an error, never silently resolved.
//!
//! The callback is the one input an unauthenticated stranger can send, so its
//! parsing is linear in its size and refuses anything larger than a real
//! authorization response ([`MAX_CALLBACK_PARAMETERS`], [`MAX_CALLBACK_BYTES`])
//! before decoding it.

use std::collections::HashSet;

use url::Url;

use crate::authorize::ResponseMode;
use crate::error::{Error, Result};

/// The most parameters a callback may carry. A real authorization response
/// has a handful (`code`, `state`, `iss`, `session_state`, or `error` and its
/// description); extensions add a few more.
pub const MAX_CALLBACK_PARAMETERS: usize = 100;

/// The longest callback (encoded query, fragment or form body) accepted, in
/// bytes. Even a hybrid-flow response with an id_token is a few kilobytes.
pub const MAX_CALLBACK_BYTES: usize = 64 * 1024;

pub use crate::error::CallbackLimit;

/// The parameters of one authorization response, and how they arrived.
///
/// Build it from what your web framework hands you:
/// [`from_query`](Self::from_query) for `response_mode=query` (the default),
/// [`from_fragment`](Self::from_fragment) for `fragment` (the fragment reaches
/// a server only if a page script posts it), [`from_form_post`](Self::from_form_post)
/// for `form_post`, or [`from_url`](Self::from_url) for a whole callback URL.
///
/// `Debug` shows parameter names only: the values include the code.
#[derive(Clone)]
pub struct CallbackParams {
    mode: ResponseMode,
    pairs: Vec<(String, String)>,
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackParams")
            .field("mode", &self.mode)
            .field(
                "names",
                &self.pairs.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl CallbackParams {
    /// The query string of the callback request (with or without the leading `?`).
    pub fn from_query(query: &str) -> Result<Self> {
        Self::parse(ResponseMode::Query, query.strip_prefix('?').unwrap_or(query))
    }

    /// The fragment of the callback URL (with or without the leading `#`).
    pub fn from_fragment(fragment: &str) -> Result<Self> {
        Self::parse(
            ResponseMode::Fragment,
            fragment.strip_prefix('#').unwrap_or(fragment),
        )
    }

    /// The `application/x-www-form-urlencoded` body of a `form_post` callback.
    pub fn from_form_post(body: &str) -> Result<Self> {
        Self::parse(ResponseMode::FormPost, body)
    }

    /// A whole callback URL: its fragment when it has one with parameters,
    /// else its query.
    pub fn from_url(url: &str) -> Result<Self> {
        let parsed = Url::parse(url)
            .map_err(|e| Error::MalformedCallback(format!("the callback is not a URL: {e}")))?;
        match parsed.fragment().filter(|f| !f.is_empty()) {
            Some(fragment) => {
                if parsed.query().is_some_and(|q| !q.is_empty()) {
                    return Err(Error::MalformedCallback(
                        "the callback URL has parameters in both its query and its fragment".to_owned(),
                    ));
                }
                Self::from_fragment(fragment)
            }
            None => Self::from_query(parsed.query().unwrap_or("")),
        }
    }

    fn parse(mode: ResponseMode, encoded: &str) -> Result<Self> {
        // Both bounds are checked on the raw text, before anything is decoded or allocated.
        // Pairs are split on `&` and empty ones skipped, as form_urlencoded does.
        let parameters = encoded.split('&').filter(|p| !p.is_empty()).count();
        if parameters > MAX_CALLBACK_PARAMETERS {
            return Err(Error::CallbackTooLarge(CallbackLimit::Parameters(
                MAX_CALLBACK_PARAMETERS,
            )));
        }
        if encoded.len() > MAX_CALLBACK_BYTES {
            return Err(Error::CallbackTooLarge(CallbackLimit::Bytes(MAX_CALLBACK_BYTES)));
        }
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(encoded.as_bytes())
            .into_owned()
            .collect();
        if pairs.is_empty() {
            return Err(Error::MalformedCallback(format!(
                "the callback carries no parameters in its {}",
                mode_name(mode)
            )));
        }
        // RFC 6749 §3.1: request and response parameters must not be repeated.
        // A set, so that the check stays linear in the number of parameters.
        let mut seen = HashSet::with_capacity(pairs.len());
        for (name, _) in &pairs {
            if !seen.insert(name.as_str()) {
                return Err(Error::MalformedCallback(format!(
                    "parameter {name:?} is repeated"
                )));
            }
        }
        Ok(CallbackParams { mode, pairs })
    }

    /// How the parameters arrived.
    pub fn mode(&self) -> ResponseMode {
        self.mode
    }

    /// A parameter's value (each appears at most once).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(crate) fn mode_name(mode: ResponseMode) -> &'static str {
    match mode {
        ResponseMode::Query => "query",
        ResponseMode::Fragment => "fragment",
        ResponseMode::FormPost => "form_post body",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        let e = CallbackParams::from_query("code=a&state=s&code=b").unwrap_err();
        assert!(matches!(e, Error::MalformedCallback(m) if m.contains("code")));
    }

    /// 100,000 distinct names (about 700 KB): refused by count, before any name is compared.
    #[test]
    fn a_hundred_thousand_distinct_names_are_too_many_parameters() {
        let body: String = (0..100_000).map(|i| format!("p{i}=&")).collect();
        let e = CallbackParams::from_form_post(&body).unwrap_err();
        assert!(
            matches!(
                e,
                Error::CallbackTooLarge(CallbackLimit::Parameters(MAX_CALLBACK_PARAMETERS))
            ),
            "{e:?}"
        );
        let e = CallbackParams::from_query(&body).unwrap_err();
        assert!(matches!(e, Error::CallbackTooLarge(CallbackLimit::Parameters(_))));
    }

    #[test]
    fn the_bounds_are_inclusive_and_checked_on_the_raw_text() {
        let at_limit: String = (0..MAX_CALLBACK_PARAMETERS).map(|i| format!("p{i}=v&")).collect();
        assert!(CallbackParams::from_query(&at_limit).is_ok());
        let over = format!("{at_limit}extra=1");
        assert!(matches!(
            CallbackParams::from_query(&over),
            Err(Error::CallbackTooLarge(CallbackLimit::Parameters(_)))
        ));
        // Empty pairs are not parameters.
        assert!(CallbackParams::from_query(&format!("{at_limit}&&&")).is_ok());

        let long = format!("code={}", "c".repeat(MAX_CALLBACK_BYTES - 5));
        assert_eq!(long.len(), MAX_CALLBACK_BYTES);
        assert!(CallbackParams::from_query(&long).is_ok());
        let e = CallbackParams::from_form_post(&format!("{long}c")).unwrap_err();
        assert!(
            matches!(
                e,
                Error::CallbackTooLarge(CallbackLimit::Bytes(MAX_CALLBACK_BYTES))
            ),
            "{e:?}"
        );
        assert!(matches!(
            CallbackParams::from_url(&format!("https://app/cb?{long}&state=s")),
            Err(Error::CallbackTooLarge(_))
        ));
    }

    #[test]
    fn url_uses_fragment_or_query() {
        let p = CallbackParams::from_url("https://app/cb#code=c&state=s").unwrap();
        assert_eq!(p.mode(), ResponseMode::Fragment);
        assert_eq!(p.get("code"), Some("c"));
        let p = CallbackParams::from_url("https://app/cb?code=c%2B1&state=s").unwrap();
        assert_eq!(p.mode(), ResponseMode::Query);
        assert_eq!(p.get("code"), Some("c+1"));
        assert!(CallbackParams::from_url("https://app/cb?code=c#state=s").is_err());
        assert!(CallbackParams::from_url("https://app/cb").is_err());
        assert!(CallbackParams::from_url("not a url").is_err());
    }

    #[test]
    fn debug_shows_names_only() {
        let p = CallbackParams::from_form_post("code=secret-code&state=st").unwrap();
        let d = format!("{p:?}");
        assert!(d.contains("code") && !d.contains("secret-code"));
    }
}
