//! Request parameters from query strings and `application/x-www-form-urlencoded` bodies.
//!
//! Parsed by hand rather than through serde so that a repeated parameter can be refused:
//! RFC 6749 §3.1 and §3.2 say request parameters MUST NOT be included more than once.

use std::collections::HashMap;

use url::form_urlencoded;

/// Decoded parameters, each name at most once.
#[derive(Debug, Default)]
pub(crate) struct Params {
    values: HashMap<String, String>,
    duplicated: Option<String>,
}

impl Params {
    /// Parses `a=1&b=2`; remembers the first repeated name instead of failing, so a caller can
    /// still read `client_id` and `redirect_uri` to decide where to send the error.
    pub(crate) fn parse(input: &[u8]) -> Self {
        let mut params = Params::default();
        for (name, value) in form_urlencoded::parse(input) {
            if params.values.contains_key(name.as_ref()) {
                if params.duplicated.is_none() {
                    params.duplicated = Some(name.into_owned());
                }
                continue;
            }
            params.values.insert(name.into_owned(), value.into_owned());
        }
        params
    }

    /// Parameters from decoded pairs (a request object's claims); a repeated name is
    /// remembered as [`parse`](Self::parse) does.
    pub(crate) fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut params = Params::default();
        for (name, value) in pairs {
            if params.values.contains_key(&name) {
                params.duplicated.get_or_insert(name);
                continue;
            }
            params.values.insert(name, value);
        }
        params
    }

    /// Sets `name` unless it is there already.
    pub(crate) fn insert_if_absent(&mut self, name: &str, value: &str) {
        self.values
            .entry(name.to_owned())
            .or_insert_with(|| value.to_owned());
    }

    /// Every parameter, in no particular order.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub(crate) fn from_query(query: Option<&str>) -> Self {
        Self::parse(query.unwrap_or("").as_bytes())
    }

    /// The value, treating an empty value as absent (RFC 6749 §3.1).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The first parameter name that appeared more than once.
    pub(crate) fn duplicated(&self) -> Option<&str> {
        self.duplicated.as_deref()
    }

    /// Whether `name` itself was repeated (only the first repeated name is tracked, which is
    /// enough: any repetition is an error).
    pub(crate) fn is_duplicated(&self, name: &str) -> bool {
        self.duplicated.as_deref() == Some(name)
    }
}

/// Decodes one form-urlencoded component (`+` is a space, `%XX` a byte), as RFC 6749 §2.3.1
/// requires for the two halves of Basic credentials. `None` for a malformed escape or bytes
/// that are not UTF-8, so a secret sent without encoding does not decode by luck.
pub(crate) fn decode_form_component(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let text = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(text, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Serialises pairs as `application/x-www-form-urlencoded`.
pub(crate) fn encode_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_remembered_and_first_value_kept() {
        let p = Params::parse(b"a=1&b=2&a=3");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.duplicated(), Some("a"));
        assert!(p.is_duplicated("a"));
        assert!(!p.is_duplicated("b"));
    }

    #[test]
    fn empty_values_count_as_absent() {
        let p = Params::parse(b"state=");
        assert_eq!(p.get("state"), None);
        assert!(p.contains("state"));
    }

    #[test]
    fn form_components_decode_strictly() {
        assert_eq!(
            decode_form_component("s3cr3t+with+spaces%26%2B%2F%3D%25").as_deref(),
            Some("s3cr3t with spaces&+/=%")
        );
        assert_eq!(decode_form_component("bad%"), None);
        assert_eq!(decode_form_component("bad%zz"), None);
    }
}
