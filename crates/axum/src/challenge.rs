//! RFC 6750 §3 answers: the `WWW-Authenticate: Bearer` challenge and its
//! error codes, built in one place so every refusal of the bearer layer and
//! of [`RequireScope`](crate::RequireScope) has the same shape. With DPoP
//! accepted (RFC 9449 §7.1) each answer carries one challenge per accepted
//! scheme, `DPoP` with `algs`; the error code goes in the challenge of the
//! scheme the request used.
//!
//! Nothing from the request is echoed: the `error_description` is one of a
//! few fixed sentences, the `scope` is the route's configured requirement,
//! the realm the service's own configuration.

use std::sync::Arc;

use authing_oidc::{DpopProofError, Error, IdTokenError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why a request was refused, as RFC 6750 §3.1 names it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BearerError {
    /// No bearer token at all: `401` with a plain challenge and no error
    /// code (RFC 6750 §3.1: "SHOULD NOT include an error code").
    Missing,
    /// A malformed `Authorization` header (several of them, or credentials
    /// that are not a token68): `400 invalid_request`.
    InvalidRequest,
    /// The token is expired, revoked, malformed or not for this API:
    /// `401 invalid_token`.
    InvalidToken {
        /// Which fixed sentence describes it.
        expired: bool,
    },
    /// The DPoP proof fails a check of RFC 9449 §4.3 (missing, malformed,
    /// not for this request, too old, replayed, …): `401
    /// invalid_dpop_proof` in the `DPoP` challenge (§7.1).
    InvalidDpopProof,
    /// The token lacks a scope the route requires: `403 insufficient_scope`
    /// with the required scope.
    InsufficientScope {
        /// The scope the route requires (space-separated).
        scope: String,
    },
    /// The provider could not be reached to check the token (JWKS or
    /// introspection): `503`, and the client may retry.
    Unavailable,
    /// Any other failure (a misconfiguration): `500`.
    Internal,
}

impl BearerError {
    /// The error of a library verification failure.
    pub fn from_verification(error: &Error) -> Self {
        match error {
            Error::AccessToken(reason) => BearerError::InvalidToken {
                expired: *reason == IdTokenError::Expired,
            },
            Error::DpopProof(reason) => match reason {
                // The token is not bound to the proof's key: the token is what fails (RFC 9449 §7.1).
                DpopProofError::TokenNotBound | DpopProofError::KeyMismatch => {
                    BearerError::InvalidToken { expired: false }
                }
                // A scheme this resource does not take is no credentials at all.
                DpopProofError::Required | DpopProofError::NotAccepted => BearerError::Missing,
                DpopProofError::ReplayMemoryFull => BearerError::Unavailable,
                _ => BearerError::InvalidDpopProof,
            },
            e if e.is_transient() => BearerError::Unavailable,
            _ => BearerError::Internal,
        }
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            BearerError::Missing | BearerError::InvalidToken { .. } | BearerError::InvalidDpopProof => {
                StatusCode::UNAUTHORIZED
            }
            BearerError::InvalidRequest => StatusCode::BAD_REQUEST,
            BearerError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            BearerError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            BearerError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The RFC 6750 §3.1 error code, if this error has one.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            BearerError::InvalidRequest => Some("invalid_request"),
            BearerError::InvalidToken { .. } => Some("invalid_token"),
            BearerError::InvalidDpopProof => Some("invalid_dpop_proof"),
            BearerError::InsufficientScope { .. } => Some("insufficient_scope"),
            BearerError::Missing | BearerError::Unavailable | BearerError::Internal => None,
        }
    }

    fn description(&self) -> Option<&'static str> {
        match self {
            BearerError::InvalidRequest => Some("The Authorization header is malformed"),
            BearerError::InvalidToken { expired: true } => Some("The access token expired"),
            BearerError::InvalidToken { expired: false } => {
                Some("The access token is not valid for this resource")
            }
            BearerError::InsufficientScope { .. } => {
                Some("The access token does not grant the required scope")
            }
            BearerError::InvalidDpopProof => Some("The DPoP proof is not valid for this request"),
            BearerError::Missing | BearerError::Unavailable | BearerError::Internal => None,
        }
    }

    /// The `WWW-Authenticate` value, if this answer carries one. `realm` is
    /// already checked to be a valid quoted-string body.
    pub fn challenge(&self, realm: Option<&str>) -> Option<String> {
        self.challenge_in(Scheme::Bearer, realm, true, None)
    }

    /// The challenge of `scheme`: with the error code when `with_error`,
    /// with `algs` for `DPoP`.
    fn challenge_in(
        &self,
        scheme: Scheme,
        realm: Option<&str>,
        with_error: bool,
        algs: Option<&str>,
    ) -> Option<String> {
        let mut params = Vec::new();
        if let Some(realm) = realm {
            params.push(format!("realm=\"{realm}\""));
        }
        match self {
            BearerError::Missing => {}
            BearerError::Unavailable | BearerError::Internal => return None,
            _ if !with_error => {}
            _ => {
                if let Some(code) = self.code() {
                    params.push(format!("error=\"{code}\""));
                }
                if let Some(text) = self.description() {
                    params.push(format!("error_description=\"{text}\""));
                }
                if let BearerError::InsufficientScope { scope } = self {
                    params.push(format!("scope=\"{scope}\""));
                }
            }
        }
        if let Some(algs) = algs {
            params.push(format!("algs=\"{algs}\""));
        }
        let name = scheme.name();
        Some(if params.is_empty() {
            name.to_owned()
        } else {
            format!("{name} {}", params.join(", "))
        })
    }

    /// The response: status, challenge, and a small JSON body with the same
    /// code and description for clients that read bodies.
    pub fn response(&self, realm: Option<&str>) -> Response {
        self.response_with(realm, None)
    }

    /// [`response`](Self::response) for a resource that accepts DPoP: one
    /// challenge per accepted scheme, the error in the one the request used
    /// (an `invalid_dpop_proof` always in `DPoP`'s).
    pub(crate) fn response_with(&self, realm: Option<&str>, dpop: Option<&DpopChallenge>) -> Response {
        let Some(dpop) = dpop else {
            return self.respond([self.challenge(realm)]);
        };
        let error_in = match self {
            BearerError::InvalidDpopProof => Scheme::Dpop,
            _ => dpop.used,
        };
        let bearer = dpop
            .bearer
            .then(|| self.challenge_in(Scheme::Bearer, realm, error_in == Scheme::Bearer, None));
        let proof = self.challenge_in(Scheme::Dpop, realm, error_in == Scheme::Dpop, Some(&dpop.algs));
        self.respond([bearer.flatten(), proof])
    }

    fn respond<const N: usize>(&self, challenges: [Option<String>; N]) -> Response {
        let mut response = match (self.code(), self.description()) {
            (Some(code), Some(text)) => (
                self.status(),
                [(header::CONTENT_TYPE, "application/json")],
                format!("{{\"error\":\"{code}\",\"error_description\":\"{text}\"}}"),
            )
                .into_response(),
            _ => self.status().into_response(),
        };
        for challenge in challenges.into_iter().flatten() {
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response.headers_mut().append(header::WWW_AUTHENTICATE, value);
            }
        }
        if *self == BearerError::Unavailable {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// An authorization scheme of the layer (RFC 6750, RFC 9449 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Bearer,
    Dpop,
}

impl Scheme {
    fn name(self) -> &'static str {
        match self {
            Scheme::Bearer => "Bearer",
            Scheme::Dpop => "DPoP",
        }
    }
}

/// What the challenges of a layer that accepts DPoP say, and which scheme
/// the request used; a request extension, like the realm, for the refusals
/// made after the layer ([`RequireScope`](crate::RequireScope), the extractor).
#[derive(Debug, Clone)]
pub(crate) struct DpopChallenge {
    /// Whether `Bearer` is accepted too.
    pub(crate) bearer: bool,
    /// The `algs` parameter: the proof algorithms, space-separated.
    pub(crate) algs: Arc<str>,
    /// The scheme of the request's credentials (`Bearer` when it had none).
    pub(crate) used: Scheme,
}

/// Whether `s` may stand inside a quoted-string of a challenge as it is:
/// visible ASCII and spaces, without `"` or `\` (RFC 6750 §3 restricts
/// `scope`, `error` and `error_description` to these too).
pub(crate) fn quotable(s: &str) -> bool {
    s.bytes()
        .all(|b| (b == b' ' || b.is_ascii_graphic()) && b != b'"' && b != b'\\')
}
