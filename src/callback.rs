//! The authorization response the browser brings back to the redirect URI,
//! in any of the three response modes, parsed without loss: a repeated
//! parameter is an error, never silently resolved.

use url::Url;

use crate::authorize::ResponseMode;
use crate::error::{Error, Result};

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
        for (i, (name, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(n, _)| n == name) {
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
