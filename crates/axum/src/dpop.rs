//! `Authorization: DPoP` at the [`BearerLayer`](crate::BearerLayer) (RFC 9449 §7): the request's
//! credentials, its `DPoP` proofs and its URI handed to
//! [`BearerVerifier::verify_dpop`](authing_oidc::bearer::BearerVerifier::verify_dpop), which
//! does every check. This module only reads the request and shapes the answers.
//!
//! The proof's `htu` must name the URI the client called (§4.3 point 9). Behind a proxy or load
//! balancer that is not what this service sees, so the layer takes the external origin from
//! [`BearerLayer::public_origin`](crate::BearerLayer::public_origin); without it, the origin is
//! the request's own (an absolute request URI, or the `Host` header) with the scheme of
//! [`BearerLayer::request_scheme`](crate::BearerLayer::request_scheme) (default `http`). The
//! path is the request's path as the layer sees it: put the layer outside any `nest`, which
//! strips its prefix.

use std::sync::Arc;

use authing_oidc::bearer::{BearerClaims, BearerVerifier, DpopMode, DpopRequest};
use axum::http::{HeaderMap, Method, Uri, header};
use url::Url;

use crate::bearer::{Credentials, credentials};
use crate::challenge::{BearerError, DpopChallenge, Scheme};

/// The header a DPoP proof travels in (RFC 9449 §4.1).
const DPOP: &str = "dpop";

/// Where the layer's URIs start: the configured external origin, or the request's own.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    /// `scheme://host[:port]`, as configured (validated, without a trailing slash).
    Public(Arc<str>),
    /// The request's `Host`, with this scheme unless the request URI names one.
    FromHost(&'static str),
}

/// The DPoP side of a layer whose verifier accepts it.
#[derive(Debug, Clone)]
pub(crate) struct DpopSettings {
    pub(crate) challenge: DpopChallenge,
    pub(crate) origin: Origin,
}

impl DpopSettings {
    /// The settings for `verifier`, or `None` when it refuses DPoP.
    pub(crate) fn of(verifier: &BearerVerifier, origin: Origin) -> Option<Self> {
        let bearer = match verifier.dpop_mode() {
            DpopMode::Accepted => true,
            DpopMode::Required => false,
            _ => return None,
        };
        let algs: Vec<&str> = verifier.dpop_algorithms().iter().map(|a| a.as_str()).collect();
        Some(DpopSettings {
            challenge: DpopChallenge {
                bearer,
                algs: algs.join(" ").into(),
                used: Scheme::Bearer,
            },
            origin,
        })
    }

    /// The request's absolute URI, for comparing with `htu`; `None` when it cannot be told.
    fn uri(&self, uri: &Uri, headers: &HeaderMap) -> Option<Url> {
        let path = uri.path();
        if !path.starts_with('/') {
            return None;
        }
        let text = match &self.origin {
            Origin::Public(origin) => format!("{origin}{path}"),
            Origin::FromHost(scheme) => {
                let host = match uri.authority() {
                    Some(authority) => authority.as_str(),
                    None => headers.get(header::HOST)?.to_str().ok()?,
                };
                // A host and port only: nothing that could move the URI's path or user info.
                let hostlike =
                    |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'[' | b']' | b'_');
                if host.is_empty() || !host.bytes().all(hostlike) {
                    return None;
                }
                let scheme = uri.scheme_str().unwrap_or(scheme);
                format!("{scheme}://{host}{path}")
            }
        };
        Url::parse(&text).ok()
    }

    /// The outcome of a request's credentials: `Ok(None)` without any (for an optional
    /// layer), the claims of an accepted token, or the refusal to answer with. The challenge
    /// says which scheme the request used.
    pub(crate) async fn check(
        &self,
        verifier: &BearerVerifier,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> (DpopChallenge, Result<Option<Arc<BearerClaims>>, BearerError>) {
        let mut challenge = self.challenge.clone();
        let outcome = match credentials(headers, b"bearer") {
            Credentials::Token(token) => verify(verifier.verify_str(token).await),
            Credentials::Malformed => Err(BearerError::InvalidRequest),
            Credentials::None => match credentials(headers, b"dpop") {
                Credentials::None => Ok(None),
                Credentials::Malformed => {
                    challenge.used = Scheme::Dpop;
                    Err(BearerError::InvalidRequest)
                }
                Credentials::Token(token) => {
                    challenge.used = Scheme::Dpop;
                    match self.uri(uri, headers) {
                        Some(uri) => {
                            let proofs = proofs(headers);
                            let dpop = DpopRequest::new(method.as_str(), &uri, token, &proofs);
                            verify(verifier.verify_dpop(&dpop).await)
                        }
                        None => Err(BearerError::InvalidRequest),
                    }
                }
            },
        };
        (challenge, outcome)
    }
}

/// Every `DPoP` header value; one that is not visible ASCII counts as an empty (malformed) proof.
fn proofs(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all(DPOP)
        .iter()
        .map(|v| v.to_str().unwrap_or_default())
        .collect()
}

fn verify(
    outcome: authing_oidc::Result<Arc<BearerClaims>>,
) -> Result<Option<Arc<BearerClaims>>, BearerError> {
    match outcome {
        Ok(claims) => Ok(Some(claims)),
        Err(error) => {
            let refusal = BearerError::from_verification(&error);
            match refusal {
                BearerError::InvalidToken { .. } | BearerError::InvalidDpopProof | BearerError::Missing => {
                    tracing::debug!(%error, "access token refused");
                }
                _ => tracing::warn!(%error, "access token could not be checked"),
            }
            Err(refusal)
        }
    }
}

/// Checks a configured public origin: `http` or `https`, a host, and nothing else (no user
/// info, path, query or fragment).
pub(crate) fn public_origin(origin: &str) -> Option<Arc<str>> {
    let url = Url::parse(origin).ok()?;
    let bare = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    let text = origin.strip_suffix('/').unwrap_or(origin);
    (bare && !text.ends_with('/')).then(|| text.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn uri_of(settings: &DpopSettings, request: &Request<()>) -> Option<Url> {
        settings.uri(request.uri(), request.headers())
    }

    #[test]
    fn public_origins_are_origins() {
        for ok in [
            "https://api.example.com",
            "https://api.example.com/",
            "http://127.0.0.1:8080",
        ] {
            assert!(public_origin(ok).is_some(), "{ok}");
        }
        for bad in [
            "api.example.com",
            "ftp://api.example.com",
            "https://api.example.com/v1",
            "https://user@api.example.com",
            "https://api.example.com?x=1",
            "https://api.example.com#f",
            "https://api.example.com//",
        ] {
            assert!(public_origin(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_uri_comes_from_the_origin_or_the_host() {
        let settings = |origin| DpopSettings {
            challenge: DpopChallenge {
                bearer: true,
                algs: "ES256".into(),
                used: Scheme::Bearer,
            },
            origin,
        };
        let request = Request::get("/me?x=1")
            .header(header::HOST, "internal:8080")
            .body(())
            .unwrap();
        let public = settings(Origin::Public("https://api.example.com".into()));
        assert_eq!(
            uri_of(&public, &request).unwrap().as_str(),
            "https://api.example.com/me"
        );
        let host = settings(Origin::FromHost("https"));
        assert_eq!(
            uri_of(&host, &request).unwrap().as_str(),
            "https://internal:8080/me"
        );
        for bad in ["evil.example/x", "a@b", "", "a b"] {
            let request = Request::get("/me").header(header::HOST, bad).body(()).unwrap();
            assert!(uri_of(&host, &request).is_none(), "{bad}");
        }
        let no_host = Request::get("/me").body(()).unwrap();
        assert!(uri_of(&host, &no_host).is_none());
        let absolute = Request::get("http://api.example.com/me").body(()).unwrap();
        assert_eq!(
            uri_of(&host, &absolute).unwrap().as_str(),
            "http://api.example.com/me"
        );
    }
}
