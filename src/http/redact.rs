//! What a request sent that must never come back out: every secret in every
//! spelling it took on the wire, so a provider (or a gateway in front of it)
//! that echoes the request cannot put it into an error.
//!
//! A secret is registered once, where it is put on the wire; the spellings
//! follow from how it was sent. A value in a form body or a query is also
//! registered form-urlencoded; a credential in a header is registered exactly
//! as the header carried it. Client authentication that sends a JWT (a client
//! assertion in the body, a DPoP proof in a header) registers it the same way.

/// The secrets one request carried, each in every spelling a provider could echo.
#[derive(Clone, Default)]
pub(crate) struct Redactions {
    spellings: Vec<String>,
}

/// Shorter values are too likely to occur by chance to be replaced everywhere.
const MIN_LEN: usize = 4;

impl Redactions {
    /// A secret value sent in a form body, a query or inside a header: the
    /// value itself (what the provider decodes), form-urlencoded and
    /// percent-encoded (what the wire carried), and as it would be escaped into
    /// an HTML or JSON error page.
    pub(crate) fn value(&mut self, raw: &str) {
        let form: String = url::form_urlencoded::byte_serialize(raw.as_bytes()).collect();
        // RFC 3986 percent-encoding differs from form encoding only for the space.
        let percent = form.replace('+', "%20");
        let html = raw
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;");
        let json = serde_json::to_string(raw).unwrap_or_default();
        let json = json
            .strip_prefix('"')
            .and_then(|j| j.strip_suffix('"'))
            .unwrap_or_default()
            .to_owned();
        for spelling in [raw.to_owned(), form, percent, html, json] {
            self.exact(spelling);
        }
    }

    /// A credential exactly as a header carried it (the base64 of a Basic
    /// value, a DPoP proof): echoed, it is echoed byte for byte.
    pub(crate) fn exact(&mut self, spelling: String) {
        if spelling.len() >= MIN_LEN && !self.spellings.contains(&spelling) {
            self.spellings.push(spelling);
        }
    }

    /// Adds every spelling `other` holds.
    pub(crate) fn extend(&mut self, other: &Redactions) {
        for s in &other.spellings {
            self.exact(s.clone());
        }
    }

    /// Replaces every registered spelling in `text` with `[REDACTED]`, longest
    /// first, so a spelling that contains another is taken out whole.
    pub(crate) fn apply(&self, text: &mut String) {
        let mut by_length: Vec<&String> = self.spellings.iter().collect();
        by_length.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for s in by_length {
            if text.contains(s.as_str()) {
                *text = text.replace(s.as_str(), "[REDACTED]");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_value_is_taken_out() {
        let mut r = Redactions::default();
        r.value("a b/c&\"d");
        let mut text = "raw a b/c&\"d form a+b%2Fc%26%22d pct a%20b%2Fc%26%22d \
                        html a b/c&amp;&quot;d json a b/c&\\\"d"
            .to_owned();
        r.apply(&mut text);
        assert_eq!(
            text,
            "raw [REDACTED] form [REDACTED] pct [REDACTED] html [REDACTED] json [REDACTED]"
        );
    }

    #[test]
    fn short_values_are_not_registered() {
        let mut r = Redactions::default();
        r.value("abc");
        let mut text = "abc".to_owned();
        r.apply(&mut text);
        assert_eq!(text, "abc");
    }

    #[test]
    fn the_longest_spelling_goes_first() {
        let mut r = Redactions::default();
        r.exact("secret".into());
        r.exact("Basic-secret-value".into());
        let mut text = "x Basic-secret-value y".to_owned();
        r.apply(&mut text);
        assert_eq!(text, "x [REDACTED] y");
    }
}
