//! The HTTP surface: Authing's paths, and the middleware that counts requests and applies the
//! delay and oversized-body faults.

mod authorization_response;
mod authorize;
mod discovery;
mod introspection;
mod logout;
mod par;
mod revocation;
mod token;
mod userinfo;
mod validate;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::client_auth::AuthFailure;
use crate::provider::Provider;

pub(crate) use authorize::{is_loopback_http, redirect_uri_allowed};

/// Every route, for both the `oidc` and `oauth` protocol prefixes where Authing has both.
pub(crate) fn router(provider: Arc<Provider>) -> Router {
    let mut router = Router::new()
        .route(
            "/oidc/.well-known/openid-configuration",
            get(discovery::configuration),
        )
        .route("/oidc/.well-known/jwks.json", get(discovery::jwks))
        .route(
            "/oidc/auth",
            get(|s, u| authorize::authorize(s, u, authorize::Protocol::Oidc)),
        )
        .route(
            "/oauth/auth",
            get(|s, u| authorize::authorize(s, u, authorize::Protocol::Oauth)),
        )
        .route("/api/v2/oidc/validate_token", get(validate::validate_token))
        .route("/login/profile/logout", get(logout::profile_logout))
        .route("/oidc/session/end", get(logout::session_end))
        .route("/cas-idp/logout", get(logout::cas_logout));
    for prefix in ["/oidc", "/oauth"] {
        router = router
            .route(
                &format!("{prefix}/interaction/{{uid}}"),
                post(authorize::interaction),
            )
            .route(&format!("{prefix}/token"), post(token::token))
            .route(&format!("{prefix}/par"), post(par::push))
            .route(
                &format!("{prefix}/me"),
                get(userinfo::userinfo).post(userinfo::userinfo),
            )
            .route(
                &format!("{prefix}/token/introspection"),
                post(introspection::introspect),
            )
            .route(&format!("{prefix}/token/revocation"), post(revocation::revoke));
    }
    router
        .layer(middleware::from_fn_with_state(provider.clone(), observe))
        .with_state(provider)
}

/// Counts the request, applies the delay fault before handling (so a client that gives up
/// leaves no side effect behind), and pads JSON bodies when the oversized fault is on.
async fn observe(State(provider): State<Arc<Provider>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    provider.count_request(&path);
    if let Some(delay) = provider.faults.delay() {
        tokio::time::sleep(delay).await;
    }
    let response = next.run(request).await;
    // Path only: query strings may carry tokens (validate_token) or codes.
    tracing::debug!(%method, %path, status = response.status().as_u16(), "dev-provider request");
    if provider.faults.oversized() && is_json(&response) {
        return pad_json(response).await;
    }
    response
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Size of the padding added by the oversized fault.
const PADDING_BYTES: usize = 2 * 1024 * 1024;

async fn pad_json(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "body read failed").into_response();
    };
    let mut value: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut value {
        map.insert("padding".into(), json!("x".repeat(PADDING_BYTES)));
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(value.to_string()))
}

/// A JSON response that is never cached (token responses must not be, RFC 6749 §5.1).
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// An OAuth error response ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)).
#[derive(Debug)]
pub(crate) struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    basic_challenge: bool,
}

impl OAuthError {
    pub(crate) fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
        }
    }

    pub(crate) fn bad_request(error: &'static str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, description)
    }

    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::bad_request("invalid_request", description)
    }

    pub(crate) fn invalid_grant(description: impl Into<String>) -> Self {
        Self::bad_request("invalid_grant", description)
    }

    /// `invalid_client` is 401; with `WWW-Authenticate: Basic` when the client tried Basic.
    pub(crate) fn invalid_client(failure: AuthFailure) -> Self {
        Self {
            basic_challenge: failure.used_basic,
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_client", failure.description)
        }
    }

    pub(crate) fn server_error(error: &crate::Error) -> Self {
        tracing::error!(%error, "dev-provider internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error",
        )
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = json_response(
            self.status,
            &json!({"error": self.error, "error_description": self.description}),
        );
        if self.basic_challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"authing-oidc-dev-provider\""),
            );
        }
        response
    }
}
