//! The bearer side: [`BearerLayer`] checks `Authorization: Bearer` access tokens with an
//! [`authing_oidc::bearer::BearerVerifier`] (JWTs locally, opaque tokens by introspection, both
//! cached there) and hands the claims to handlers as [`Bearer`]. A verifier built to accept DPoP
//! makes the layer take `Authorization: DPoP` with its proof too (`crate::dpop`).
//!
//! The caches live in the library, not here: they are about tokens, not HTTP, and a service on
//! another framework (or the CLI) gets the same behaviour from the same verifier. This module
//! only reads the header (RFC 6750 §2.1), answers refusals as RFC 6750 §3 says, and moves the
//! claims into the request.

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use authing_oidc::bearer::{BearerClaims, BearerVerifier};
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Request, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use tower_layer::Layer;
use tower_service::Service;

use crate::challenge::{BearerError, DpopChallenge, quotable};
use crate::dpop::{DpopSettings, Origin};

/// The claims of the request's verified bearer token; a handler argument behind a
/// [`BearerLayer`].
///
/// Dereferences to [`BearerClaims`] (`sub()`, `scope()`, `client_id()`, `has_scope()`, …).
/// Without a token (a route the layer lets through with [`BearerLayer::optional`]) extraction
/// answers `401` with the challenge; take `Option<Bearer>` to accept both.
#[derive(Clone, Debug)]
pub struct Bearer(pub Arc<BearerClaims>);

impl std::ops::Deref for Bearer {
    type Target = BearerClaims;
    fn deref(&self) -> &BearerClaims {
        &self.0
    }
}

/// The realm of the layer that let this request through, for later refusals
/// ([`crate::RequireScope`], the [`Bearer`] extractor).
#[derive(Clone, Debug, Default)]
pub(crate) struct Realm(pub(crate) Option<Arc<str>>);

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        match parts.extensions.get::<Bearer>() {
            Some(bearer) => Ok(bearer.clone()),
            None => {
                let realm = parts.extensions.get::<Realm>().cloned().unwrap_or_default();
                let dpop = parts.extensions.get::<DpopChallenge>();
                Err(BearerError::Missing.response_with(realm.0.as_deref(), dpop))
            }
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Bearer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Infallible> {
        Ok(parts.extensions.get::<Bearer>().cloned())
    }
}

/// A tower layer that admits only requests with a valid bearer token for the verifier's
/// audiences; see docs/bearer.md.
///
/// - no `Authorization: Bearer` → `401`, `WWW-Authenticate: Bearer` (with `realm` when set);
/// - a malformed header (several `Authorization` headers, credentials not a token68) → `400`,
///   `error="invalid_request"`;
/// - a token refused by the verifier → `401`, `error="invalid_token"`;
/// - the provider unreachable for a token that needs it (JWKS, introspection) → `503`.
///
/// With a verifier built with [`DpopMode::Accepted`](authing_oidc::bearer::DpopMode) (or
/// `Required`) the layer also takes `Authorization: DPoP <token>` with a `DPoP` proof (RFC 9449
/// §7.1): a refused proof → `401`, `WWW-Authenticate: DPoP error="invalid_dpop_proof",
/// algs="…"`; every challenge then names each accepted scheme. The proof's `htu` is compared
/// with the request's URI: set [`public_origin`](Self::public_origin) behind a proxy, or
/// [`request_scheme`](Self::request_scheme) when the service is reached over https.
///
/// The token and the proof never appear in an answer or a log line.
#[derive(Clone, Debug)]
pub struct BearerLayer {
    shared: Arc<LayerConfig>,
}

#[derive(Debug)]
struct LayerConfig {
    verifier: BearerVerifier,
    realm: Realm,
    optional: bool,
    /// Set when the verifier accepts DPoP.
    dpop: Option<DpopSettings>,
}

impl BearerLayer {
    /// A layer checking tokens with `verifier` (build it with
    /// [`AuthenticationClient::bearer_verifier`](authing_oidc::AuthenticationClient::bearer_verifier)).
    pub fn new(verifier: BearerVerifier) -> Self {
        let dpop = DpopSettings::of(&verifier, Origin::FromHost("http"));
        BearerLayer {
            shared: Arc::new(LayerConfig {
                verifier,
                realm: Realm(None),
                optional: false,
                dpop,
            }),
        }
    }

    fn config(self) -> LayerConfig {
        Arc::try_unwrap(self.shared).unwrap_or_else(|shared| LayerConfig {
            verifier: shared.verifier.clone(),
            realm: shared.realm.clone(),
            optional: shared.optional,
            dpop: shared.dpop.clone(),
        })
    }

    /// The `realm` of every challenge (RFC 7235 §2.2). Refused (a configuration error) when it
    /// holds a `"`, a `\` or a control character, which a quoted-string cannot carry as is.
    pub fn realm(self, realm: &str) -> authing_oidc::Result<Self> {
        if !quotable(realm) {
            return Err(authing_oidc::Error::Config(
                "a realm may hold visible ASCII and spaces, without '\"' or '\\'".into(),
            ));
        }
        let mut config = self.config();
        config.realm = Realm(Some(realm.into()));
        Ok(BearerLayer {
            shared: Arc::new(config),
        })
    }

    /// Let requests without any `Authorization` header through (without a [`Bearer`]); a token
    /// that is present must still be valid. Pair it with [`crate::RequireScope`] or the
    /// [`Bearer`] extractor on the routes that need a token.
    pub fn optional(self) -> Self {
        let mut config = self.config();
        config.optional = true;
        BearerLayer {
            shared: Arc::new(config),
        }
    }
}

impl BearerLayer {
    /// The origin (`https://api.example.com`) clients call this service at, for the DPoP proof's
    /// `htu` (RFC 9449 §4.3 point 9): set it when a proxy or load balancer stands in front, so
    /// that the URI the layer compares is the external one, and a proof made for another host
    /// that reaches this service (e.g. with a forged `Host`) is refused. Without it the origin is
    /// the request's `Host` with the [`request_scheme`](Self::request_scheme). A configuration
    /// error unless it is `http` or `https`, a host and an optional port, nothing more.
    pub fn public_origin(self, origin: &str) -> authing_oidc::Result<Self> {
        let origin = crate::dpop::public_origin(origin).ok_or_else(|| {
            authing_oidc::Error::Config(
                "the public origin is scheme://host[:port] with http or https, nothing else".into(),
            )
        })?;
        Ok(self.with_origin(Origin::Public(origin)))
    }

    /// The scheme of the URI derived from the `Host` header when no
    /// [`public_origin`](Self::public_origin) is set: `http` (the default) or `https`
    /// (a configuration error otherwise).
    pub fn request_scheme(self, scheme: &str) -> authing_oidc::Result<Self> {
        let scheme = match scheme {
            "http" => "http",
            "https" => "https",
            _ => {
                return Err(authing_oidc::Error::Config(
                    "the request scheme is http or https".into(),
                ));
            }
        };
        Ok(self.with_origin(Origin::FromHost(scheme)))
    }

    fn with_origin(self, origin: Origin) -> Self {
        let mut config = self.config();
        if let Some(dpop) = &mut config.dpop {
            dpop.origin = origin;
        }
        BearerLayer {
            shared: Arc::new(config),
        }
    }
}

impl<S> Layer<S> for BearerLayer {
    type Service = BearerService<S>;

    fn layer(&self, inner: S) -> BearerService<S> {
        BearerService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service of a [`BearerLayer`].
#[derive(Clone, Debug)]
pub struct BearerService<S> {
    inner: S,
    shared: Arc<LayerConfig>,
}

/// What the `Authorization` header holds: `T` is the token, checked as a token68 (`&str`) or not
/// yet (`&[u8]`).
pub(crate) enum Credentials<T> {
    None,
    Malformed,
    Token(T),
}

/// Whether `c` is a character of a token68 before its `=` padding (RFC 7235 §2.1), by ranges:
/// letters, `-` to `9` (`-`, `.`, `/` and the digits), `+`, `_` and `~`.
const fn token68_char(c: u8) -> bool {
    let letter = (c | 0x20).wrapping_sub(b'a') < 26;
    let dash_to_nine = c.wrapping_sub(b'-') < 13;
    letter | dash_to_nine | (c == b'+') | (c == b'_') | (c == b'~')
}

/// RFC 6750 §2.1: `scheme` (lowercase: `bearer`, or `dpop` for RFC 9449 §7.1; matched
/// case-insensitively, RFC 7235 §2.1) then one or more spaces and a token68 (`b64token`).
/// Another scheme counts as no token.
pub(crate) fn credentials<'h>(headers: &'h HeaderMap, scheme: &[u8]) -> Credentials<&'h str> {
    match raw_credentials(headers, scheme) {
        Credentials::Token(token) => as_token68(token).map_or(Credentials::Malformed, Credentials::Token),
        Credentials::None => Credentials::None,
        Credentials::Malformed => Credentials::Malformed,
    }
}

/// [`credentials`] without the token68 check of the token: the layer's hot path hands these
/// bytes to the verifier's cache as they are, and checks the syntax only for a token the
/// verifier did not accept (an accepted one is a verified JWS, base64url and dots only).
pub(crate) fn raw_credentials<'h>(headers: &'h HeaderMap, scheme: &[u8]) -> Credentials<&'h [u8]> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Credentials::None;
    };
    if values.next().is_some() {
        return Credentials::Malformed;
    }
    authorization(value.as_bytes(), scheme)
}

/// The scan of one `Authorization` value (see [`raw_credentials`]).
pub(crate) fn authorization<'v>(bytes: &'v [u8], scheme: &[u8]) -> Credentials<&'v [u8]> {
    let Some(space) = bytes.iter().position(|b| *b == b' ') else {
        return if bytes.eq_ignore_ascii_case(scheme) {
            Credentials::Malformed
        } else {
            Credentials::None
        };
    };
    if !bytes[..space].eq_ignore_ascii_case(scheme) {
        return Credentials::None;
    }
    let rest = &bytes[space..];
    Credentials::Token(&rest[rest.iter().position(|b| *b != b' ').unwrap_or(rest.len())..])
}

/// `token` as text if it is a token68 (RFC 7235 §2.1): at least one token68 character, then
/// only `=`. A token68 is ASCII, so the UTF-8 check after it cannot fail.
pub(crate) fn as_token68(token: &[u8]) -> Option<&str> {
    let body = token.iter().rposition(|b| *b != b'=').map_or(0, |i| i + 1);
    if body == 0 {
        return None;
    }
    // Sixteen lanes at a time with no early exit, so that it compiles to SIMD compares.
    let (chunks, rest) = token[..body].as_chunks::<16>();
    let mut bad = [0u8; 16];
    for chunk in chunks {
        for (b, &c) in bad.iter_mut().zip(chunk) {
            *b |= u8::from(!token68_char(c));
        }
    }
    let bad = rest.iter().fold(bad.iter().fold(0, |a, b| a | b), |a, &c| {
        a | u8::from(!token68_char(c))
    });
    if bad != 0 {
        return None;
    }
    std::str::from_utf8(token).ok()
}

/// The future of a [`BearerService`]: ready at once for a request refused on its header or its
/// token, the inner service's own future for a token the verifier answers without waiting (one
/// it has cached, or a JWT whose key it holds; neither allocates here), and a boxed future only
/// for a token that needs the network (a JWKS fetch, an introspection), whose allocation is
/// nothing beside that.
type ResponseFuture<F, E> = Either<Either<Ready<Result<Response, E>>, F>, Verifying<E>>;

type Verifying<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

fn answer<F, E>(refusal: BearerError, realm: &Realm) -> ResponseFuture<F, E> {
    Either::Left(Either::Left(ready(Ok(refusal.response(realm.0.as_deref())))))
}

/// The answer to a token the verifier refused or could not check, logged without the token.
fn refusal(error: &authing_oidc::Error) -> BearerError {
    let refusal = BearerError::from_verification(error);
    match refusal {
        BearerError::InvalidToken { .. } => tracing::debug!(%error, "bearer token refused"),
        _ => tracing::warn!(%error, "bearer token could not be checked"),
    }
    refusal
}

/// Hands the verdict to what runs behind the layer: the claims (if any) for [`Bearer`], the
/// realm for later refusals ([`crate::RequireScope`], the extractor).
fn admit<B>(request: &mut Request<B>, claims: Option<Arc<BearerClaims>>, realm: &Realm) {
    let extensions = request.extensions_mut();
    if let Some(claims) = claims {
        extensions.insert(Bearer(claims));
    }
    // A missing `Realm` reads as no realm, so a layer without one inserts nothing (an
    // allocation saved per request) and only clears what an outer layer may have set.
    if realm.0.is_some() {
        extensions.insert(realm.clone());
    } else {
        extensions.remove::<Realm>();
    }
}

impl<S, B> Service<Request<B>> for BearerService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let shared = &self.shared;
        // DPoP: a proof is checked on every request, and a bound token's binding with it; the
        // verifier's caches still spare the token's signature.
        if shared.dpop.is_some() {
            return Either::Right(self.verify_then_call(request));
        }
        let claims = match raw_credentials(request.headers(), b"bearer") {
            Credentials::None if shared.optional => None,
            Credentials::None => return answer(BearerError::Missing, &shared.realm),
            Credentials::Malformed => return answer(BearerError::InvalidRequest, &shared.realm),
            // The bytes go to the cache as they are: an accepted token is a token68 (see
            // `raw_credentials`), any other answer checks the syntax first.
            Credentials::Token(token) => match shared.verifier.verify_now_bytes(token) {
                Some(Ok(claims)) => Some(claims),
                _ if as_token68(token).is_none() => {
                    return answer(BearerError::InvalidRequest, &shared.realm);
                }
                Some(Err(error)) => return answer(refusal(&error), &shared.realm),
                None => return Either::Right(self.verify_then_call(request)),
            },
        };
        admit(&mut request, claims, &shared.realm);
        Either::Left(Either::Right(self.inner.call(request)))
    }
}

impl<S> BearerService<S> {
    /// The path of a token that needs the network (JWKS, introspection), and of every request
    /// when DPoP is accepted: checked in a boxed future that then calls the inner service.
    fn verify_then_call<B>(&mut self, mut request: Request<B>) -> Verifying<S::Error>
    where
        S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Send + 'static,
        B: Send + 'static,
    {
        // The clone that was driven to readiness serves this request (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let realm = shared.realm.0.as_deref();
            if let Some(dpop) = &shared.dpop {
                let (method, uri, headers) = (request.method(), request.uri(), request.headers());
                let (challenge, outcome) = dpop.check(&shared.verifier, method, uri, headers).await;
                match outcome {
                    Ok(None) if shared.optional => {}
                    Ok(None) => return Ok(BearerError::Missing.response_with(realm, Some(&challenge))),
                    Ok(Some(claims)) => {
                        request.extensions_mut().insert(Bearer(claims));
                    }
                    Err(refusal) => return Ok(refusal.response_with(realm, Some(&challenge))),
                }
                request.extensions_mut().insert(challenge);
                request.extensions_mut().insert(shared.realm.clone());
                return inner.call(request).await;
            }
            // `call` found a token in this header; it is read again rather than copied.
            let Credentials::Token(token) = credentials(request.headers(), b"bearer") else {
                return Ok(BearerError::InvalidRequest.response(realm));
            };
            match shared.verifier.verify_str(token).await {
                Ok(claims) => admit(&mut request, Some(claims), &shared.realm),
                Err(error) => return Ok(refusal(&error).response(realm)),
            }
            inner.call(request).await
        })
    }
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        self.response(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token68_characters_are_those_of_rfc_7235() {
        for c in 0..=255u8 {
            let expected = c.is_ascii_alphanumeric() || b"-._~+/".contains(&c);
            assert_eq!(token68_char(c), expected, "{c:#04x}");
        }
        for good in [
            "a",
            "a.b-c_d~e+f/g",
            "YQ==",
            "a=",
            "0123456789abcdef0123456789-._~+/Z==",
        ] {
            assert_eq!(as_token68(good.as_bytes()), Some(good), "{good}");
        }
        for bad in ["", "=", "a b", "a=b", "a\tb", "é", "a,b"] {
            assert_eq!(as_token68(bad.as_bytes()), None, "{bad}");
        }
        // Every byte at every place of a token longer than the SIMD chunks, the tail included.
        for c in 0..=255u8 {
            for at in [0, 15, 16, 31, 40] {
                let mut token = [b'a'; 41];
                token[at] = c;
                let expected = token68_char(c) || (c == b'=' && at == 40);
                assert_eq!(as_token68(&token).is_some(), expected, "{c:#04x} at {at}");
            }
        }
    }

    #[test]
    fn credentials_are_read_from_one_bearer_header() {
        let headers = |values: &[&str]| {
            let mut map = HeaderMap::new();
            for v in values {
                map.append(header::AUTHORIZATION, v.parse().unwrap());
            }
            map
        };
        assert!(matches!(credentials(&headers(&[]), b"bearer"), Credentials::None));
        assert!(matches!(
            credentials(&headers(&["Basic YTpi"]), b"bearer"),
            Credentials::None
        ));
        assert!(matches!(
            credentials(&headers(&["Bearer"]), b"bearer"),
            Credentials::Malformed
        ));
        assert!(matches!(
            credentials(&headers(&["Bearer a", "Bearer b"]), b"bearer"),
            Credentials::Malformed
        ));
        assert!(matches!(
            credentials(&headers(&["bEaReR   tok.en"]), b"bearer"),
            Credentials::Token("tok.en")
        ));
    }
}
