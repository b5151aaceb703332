//! [`RequireScope`]: a per-route scope requirement behind a [`BearerLayer`](crate::BearerLayer).

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::Request;
use axum::response::Response;
use futures_util::future::Either;
use tower_layer::Layer;
use tower_service::Service;

use crate::bearer::{Bearer, Realm};
use crate::challenge::{BearerError, DpopChallenge, quotable};

/// Admits a request only when its bearer token grants every one of the scopes; otherwise `403`
/// with `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"` (RFC 6750 §3.1). A
/// request that reached it without a token (an [`optional`](crate::BearerLayer::optional)
/// layer) gets `401` with the plain challenge.
///
/// Apply it with `route_layer` (or `MethodRouter::layer`) inside the [`BearerLayer`](crate::BearerLayer):
///
/// ```
/// # use authing_oidc_axum::RequireScope;
/// # use axum::{Router, routing::get};
/// let api: Router = Router::new()
///     .route("/orders", get(|| async { "…" }).layer(RequireScope::new("orders:read")));
/// ```
#[derive(Clone, Debug)]
pub struct RequireScope {
    scopes: Arc<[String]>,
    joined: Arc<str>,
}

impl RequireScope {
    /// Requires `scope`.
    ///
    /// # Panics
    ///
    /// When `scope` is empty or holds a character RFC 6749 §3.3 does not allow in a scope
    /// (a space, `"`, `\`, a control character): a scope requirement is fixed in code. Use
    /// [`RequireScope::try_all`] for scopes read from configuration.
    pub fn new(scope: &str) -> Self {
        match Self::try_all([scope]) {
            Some(s) => s,
            None => panic!("not a valid scope: {scope:?}"),
        }
    }

    /// Requires every scope of `scopes`; `None` when there is none or one is not a valid scope
    /// token (RFC 6749 §3.3).
    pub fn try_all<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Option<Self> {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        let valid = |s: &String| !s.is_empty() && !s.contains(' ') && quotable(s);
        if scopes.is_empty() || !scopes.iter().all(valid) {
            return None;
        }
        Some(RequireScope {
            joined: scopes.join(" ").into(),
            scopes: scopes.into(),
        })
    }

    /// The refusal for a request with these extensions, if any.
    fn refusal(&self, extensions: &axum::http::Extensions) -> Option<Response> {
        let realm = extensions.get::<Realm>().and_then(|r| r.0.as_deref());
        let dpop = extensions.get::<DpopChallenge>();
        match extensions.get::<Bearer>() {
            None => Some(BearerError::Missing.response_with(realm, dpop)),
            Some(bearer) if self.scopes.iter().all(|s| bearer.has_scope(s)) => None,
            Some(_) => Some(
                BearerError::InsufficientScope {
                    scope: self.joined.to_string(),
                }
                .response_with(realm, dpop),
            ),
        }
    }
}

impl<S> Layer<S> for RequireScope {
    type Service = RequireScopeService<S>;

    fn layer(&self, inner: S) -> RequireScopeService<S> {
        RequireScopeService {
            inner,
            scope: self.clone(),
        }
    }
}

/// The service of a [`RequireScope`].
#[derive(Clone, Debug)]
pub struct RequireScopeService<S> {
    inner: S,
    scope: RequireScope,
}

impl<S, B> Service<Request<B>> for RequireScopeService<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<std::future::Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match self.scope.refusal(request.extensions()) {
            Some(refusal) => Either::Left(std::future::ready(Ok(refusal))),
            None => Either::Right(self.inner.call(request)),
        }
    }
}
