//! Where the browser goes after login: a same-origin relative path, or nowhere.
//!
//! `return_to` comes from the request, so it is attacker-controlled. Sending the browser to
//! whatever it names would make `/login` an open redirect (RFC 9700 §4.11.1): a link to our
//! login page that ends on a phishing site. Only a path on this site is accepted: it starts with
//! exactly one `/`, holds no backslash (browsers read `/\host` as `//host`), no control or
//! whitespace character (browsers strip some of them, turning `/\t/host` into `//host`), and no
//! `:` before the first `/`-separated segment could make it a scheme. Everything else is refused,
//! never repaired.

/// The longest `return_to` kept; a longer one is refused rather than cut.
const MAX_LEN: usize = 2048;

/// Checks `candidate` as a post-login destination; `Some` only for a same-origin relative path
/// (with an optional query), returned unchanged.
pub fn checked_return_to(candidate: &str) -> Option<&str> {
    let rest = candidate.strip_prefix('/')?;
    let ok = candidate.len() <= MAX_LEN
        // `//host` is a network-path reference (RFC 3986 §4.2): another origin.
        && !rest.starts_with('/')
        // Browsers treat `\` as `/` in http(s) URLs (WHATWG URL), so `/\host` is `//host`.
        && !candidate.contains('\\')
        // Tabs and newlines are removed by URL parsers, other controls are not ours to pass on.
        && !candidate.chars().any(|c| c.is_control() || c.is_whitespace())
        // A fragment belongs to the browser; an encoded slash or backslash at the start is
        // decoded by some servers into the forms above.
        && !candidate.contains('#')
        && !starts_with_encoded_separator(rest);
    ok.then_some(candidate)
}

fn starts_with_encoded_separator(rest: &str) -> bool {
    let lower = rest.get(..3).map(str::to_ascii_lowercase);
    matches!(lower.as_deref(), Some("%2f" | "%5c"))
}

#[cfg(test)]
mod tests {
    use super::checked_return_to;

    #[test]
    fn accepts_paths_with_queries() {
        for ok in ["/", "/dashboard", "/a/b?x=1&y=%2F", "/caf%C3%A9", "/a:b", "/a//b"] {
            assert_eq!(checked_return_to(ok), Some(ok), "{ok}");
        }
    }

    #[test]
    fn refuses_absolute_urls() {
        for bad in [
            "https://evil.example/",
            "http://evil.example",
            "HTTPS://evil.example/x",
        ] {
            assert_eq!(checked_return_to(bad), None, "{bad}");
        }
    }

    #[test]
    fn refuses_network_path_references() {
        for bad in ["//evil.example", "//evil.example/path", "///evil.example"] {
            assert_eq!(checked_return_to(bad), None, "{bad}");
        }
    }

    #[test]
    fn refuses_backslashes() {
        for bad in [
            "/\\evil.example",
            "\\\\evil.example",
            "/ok\\path",
            "\\/evil.example",
        ] {
            assert_eq!(checked_return_to(bad), None, "{bad}");
        }
    }

    #[test]
    fn refuses_schemes_and_relative_references() {
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "mailto:a@b",
            "dashboard",
            "",
            "?x=1",
            "#top",
        ] {
            assert_eq!(checked_return_to(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn refuses_control_and_whitespace_characters() {
        for bad in [
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\nSet-Cookie:x",
            "/a\u{0}b",
            "/a b",
            "/\u{7f}",
        ] {
            assert_eq!(checked_return_to(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn refuses_encoded_separators_fragments_and_huge_values() {
        for bad in [
            "/%2f/evil.example",
            "/%2F/evil.example",
            "/%5c/evil.example",
            "/a#frag",
        ] {
            assert_eq!(checked_return_to(bad), None, "{bad}");
        }
        let huge = format!("/{}", "a".repeat(4096));
        assert_eq!(checked_return_to(&huge), None);
    }
}
