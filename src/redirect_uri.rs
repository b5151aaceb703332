//! [`RedirectUri`]: a URL the browser is sent back to, checked once and then
//! sent exactly as the user wrote it.
//!
//! Providers compare redirect URIs as simple strings (RFC 6749 §3.1.2.3,
//! OIDC Core §3.1.2.1), so re-serialising one through a URL parser — which
//! adds a slash to a bare origin, lower-cases the host, removes dot segments,
//! drops a default port and re-cases percent-encoding — makes it a different
//! URI from the registered one. The parsed form is kept for checks only; the
//! wire always carries the original string (docs/protocol.md §1).

use url::Url;

use crate::error::{Error, Result};

/// A validated redirect URI (`redirect_uri`, `post_logout_redirect_uri`, the
/// CAS `service`): absolute, `http` or `https`, `https` unless the host is
/// loopback (`127.0.0.1`, `[::1]`, `localhost`) or the client opted in with
/// `insecure_allow_http`, and without a fragment (RFC 6749 §3.1.2).
///
/// [`as_str`](Self::as_str) is the string as given, byte for byte; that is
/// what every request carries.
///
/// ```
/// use authing_oidc::RedirectUri;
/// let uri = RedirectUri::parse("http://localhost:3000")?;
/// assert_eq!(uri.as_str(), "http://localhost:3000"); // no slash added
/// assert!(RedirectUri::parse("https://app.example/cb#x").is_err());
/// # Ok::<(), authing_oidc::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RedirectUri {
    raw: String,
    parsed: Url,
}

impl RedirectUri {
    /// Validates `raw` as a redirect URI, refusing plain `http` to a
    /// non-loopback host. A refusal is [`Error::Config`]: a redirect URI has
    /// to be registered at the provider, so a bad one is a configuration
    /// mistake wherever it is passed.
    pub fn parse(raw: &str) -> Result<Self> {
        Self::check("redirect_uri", raw, false)
    }

    /// Validates `raw` as the redirect URI called `what`, allowing plain
    /// `http` to any host when `insecure_http` is set.
    pub(crate) fn check(what: &str, raw: &str, insecure_http: bool) -> Result<Self> {
        // The URL parser silently drops surrounding spaces, tabs and newlines, so the
        // string on the wire would not be the one checked: such a value is refused.
        if raw.chars().any(|c| c.is_control()) || raw.trim() != raw {
            return Err(Error::config(format!(
                "{what} {raw:?} contains whitespace or control characters around or inside it"
            )));
        }
        // Absolute, http(s), https unless loopback, a host: the rules every configured URL
        // follows (config.rs), checked in one place.
        let parsed = crate::config::provider_url(what, raw, insecure_http)?;
        // RFC 6749 §3.1.2: "The endpoint URI MUST NOT include a fragment component";
        // an empty one (`…#`) is a fragment too.
        if parsed.fragment().is_some() || raw.contains('#') {
            return Err(Error::config(format!("{what} {raw:?} must not have a fragment")));
        }
        Ok(RedirectUri {
            raw: raw.to_owned(),
            parsed,
        })
    }

    /// The URI exactly as given: what goes on the wire.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The parsed form, for checks (scheme, host, port, path). Never send its
    /// serialisation: it may differ from [`as_str`](Self::as_str).
    pub fn url(&self) -> &Url {
        &self.parsed
    }
}

impl std::fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.raw)
    }
}

impl std::fmt::Debug for RedirectUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RedirectUri").field(&self.raw).finish()
    }
}

impl std::str::FromStr for RedirectUri {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_byte_for_byte() {
        for raw in [
            "http://localhost:3000",
            "https://App.Example.COM/cb",
            "https://a.example/x/../cb",
            "https://a.example:443/cb",
            "http://127.0.0.1:80/cb",
            "https://a.example/%7ecb%2f",
            "https://a.example/cb?",
            "https://bücher.example/cb",
            "https://a.example/a b",
        ] {
            let uri = RedirectUri::parse(raw).unwrap();
            assert_eq!(uri.as_str(), raw);
            assert_eq!(uri.to_string(), raw);
        }
    }

    #[test]
    fn refused() {
        for raw in [
            "https://a.example/cb#x",
            "https://a.example/cb#",
            "http://a.example/cb",
            "ftp://a.example/cb",
            "/cb",
            "a.example/cb",
            " https://a.example/cb",
            "https://a.example/cb\n",
            "https://a.example/c\tb",
            "",
        ] {
            assert!(
                matches!(RedirectUri::parse(raw), Err(Error::Config(_))),
                "{raw:?} accepted"
            );
        }
        assert!(RedirectUri::check("redirect_uri", "http://a.example/cb", true).is_ok());
        assert!(RedirectUri::check("redirect_uri", "http://a.example/cb#", true).is_err());
        for loopback in ["http://127.0.0.1:1/cb", "http://[::1]:1", "http://LocalHost"] {
            assert!(RedirectUri::parse(loopback).is_ok(), "{loopback}");
        }
    }
}
