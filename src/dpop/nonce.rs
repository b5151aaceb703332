//! DPoP nonces (RFC 9449 §8, §9): the latest nonce each server gave, and
//! whether an answer asks for a retry with a new one.

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use url::Url;

/// The header a server puts its nonce in (RFC 9449 §8.1).
pub(crate) const DPOP_NONCE: &str = "dpop-nonce";

/// The error code of a server that wants a (new) nonce (RFC 9449 §8, §9).
pub(crate) const USE_DPOP_NONCE: &str = "use_dpop_nonce";

/// More servers than any client talks to: past it the cache starts afresh
/// rather than grow (a forgotten nonce costs one retry).
const MAX_SERVERS: usize = 64;

/// A nonce longer than this is not one a server means seriously.
const MAX_NONCE_LEN: usize = 1024;

/// The latest nonce each server (origin) sent, shared by every clone of a
/// client and every session it made: a nonce belongs to the server, not to a
/// key (RFC 9449 §8.1).
#[derive(Default, Debug)]
pub(crate) struct NonceCache {
    by_origin: Mutex<HashMap<String, String>>,
}

impl NonceCache {
    /// The nonce to send to `url`'s server, if it gave one.
    pub(crate) fn get(&self, url: &Url) -> Option<String> {
        self.lock().get(&origin(url)).cloned()
    }

    /// Remembers the nonce an answer from `url` carries, and says whether
    /// the request should be sent again with it: the answer refuses the
    /// proof with `use_dpop_nonce` (a token endpoint's 400 JSON error, §8; a
    /// resource server's 401 `WWW-Authenticate: DPoP` challenge, §9) and
    /// carries a nonce other than the one `sent`. The caller retries at most
    /// once.
    pub(crate) fn observe(
        &self,
        url: &Url,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        sent: Option<&str>,
    ) -> Option<String> {
        let fresh = headers
            .get(DPOP_NONCE)
            .and_then(|v| v.to_str().ok())
            .filter(|n| is_nonce(n))
            .map(str::to_owned)?;
        {
            let mut map = self.lock();
            if map.len() >= MAX_SERVERS && !map.contains_key(&origin(url)) {
                map.clear();
            }
            map.insert(origin(url), fresh.clone());
        }
        let asks = !status.is_success() && (body_asks(body) || challenge_asks(headers));
        (asks && sent != Some(fresh.as_str())).then_some(fresh)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.by_origin.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// RFC 9449 §8.1: `nonce = 1*NQCHAR` (printable ASCII but `"` and `\`).
fn is_nonce(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= MAX_NONCE_LEN
        && n.bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

/// A token endpoint's `{"error": "use_dpop_nonce"}` (RFC 9449 §8).
fn body_asks(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct OnlyError {
        error: Option<serde_json::Value>,
    }
    serde_json::from_slice::<OnlyError>(body)
        .ok()
        .and_then(|b| b.error)
        .is_some_and(|e| e == USE_DPOP_NONCE)
}

/// A resource server's `WWW-Authenticate: DPoP error="use_dpop_nonce"` (RFC 9449 §9).
fn challenge_asks(headers: &HeaderMap) -> bool {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| crate::http::challenge_params(v, "DPoP"))
        .any(|params| params.iter().any(|(k, v)| k == "error" && v == USE_DPOP_NONCE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_nonce_error_with_a_new_nonce_asks_for_one_retry() {
        let cache = NonceCache::default();
        let url = Url::parse("https://op.example/token?x=1").unwrap();
        let other = Url::parse("https://api.example/me").unwrap();
        let body = br#"{"error":"use_dpop_nonce"}"#;
        let h = headers(&[(DPOP_NONCE, "n-1")]);
        assert_eq!(
            cache.observe(&url, StatusCode::BAD_REQUEST, &h, body, None),
            Some("n-1".into())
        );
        assert_eq!(
            cache.get(&Url::parse("https://op.example/par").unwrap()),
            Some("n-1".into())
        );
        assert_eq!(cache.get(&other), None);
        // The same nonce again: retrying cannot help.
        assert_eq!(
            cache.observe(&url, StatusCode::BAD_REQUEST, &h, body, Some("n-1")),
            None
        );
        // A success that rotates the nonce: remembered, no retry.
        let h2 = headers(&[(DPOP_NONCE, "n-2")]);
        assert_eq!(cache.observe(&url, StatusCode::OK, &h2, b"{}", Some("n-1")), None);
        assert_eq!(cache.get(&url), Some("n-2".into()));
        // Another error: no retry. No nonce header: no retry.
        let invalid = br#"{"error":"invalid_dpop_proof"}"#;
        assert_eq!(
            cache.observe(&url, StatusCode::BAD_REQUEST, &h, invalid, None),
            None
        );
        assert_eq!(
            cache.observe(&url, StatusCode::BAD_REQUEST, &HeaderMap::new(), body, None),
            None
        );
    }

    #[test]
    fn a_resource_server_asks_in_its_challenge() {
        let cache = NonceCache::default();
        let url = Url::parse("https://api.example/me").unwrap();
        let h = headers(&[
            ("www-authenticate", r#"Bearer realm="x""#),
            (
                "www-authenticate",
                r#"DPoP error="use_dpop_nonce", error_description="nonce required""#,
            ),
            (DPOP_NONCE, "abc"),
        ]);
        assert_eq!(
            cache.observe(&url, StatusCode::UNAUTHORIZED, &h, b"", None),
            Some("abc".into())
        );
        let bearer = headers(&[
            ("www-authenticate", r#"Bearer error="use_dpop_nonce""#),
            (DPOP_NONCE, "abc"),
        ]);
        assert_eq!(
            cache.observe(&url, StatusCode::UNAUTHORIZED, &bearer, b"", None),
            None
        );
    }

    #[test]
    fn malformed_nonces_are_ignored() {
        let cache = NonceCache::default();
        let url = Url::parse("https://op.example/token").unwrap();
        for bad in ["a b", "q\"uote", "back\\slash"] {
            let h = headers(&[(DPOP_NONCE, bad)]);
            assert_eq!(
                cache.observe(
                    &url,
                    StatusCode::BAD_REQUEST,
                    &h,
                    br#"{"error":"use_dpop_nonce"}"#,
                    None
                ),
                None
            );
        }
        assert_eq!(cache.get(&url), None);
    }
}
