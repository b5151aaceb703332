//! The userinfo endpoint ([OIDC Core §5.3](https://openid.net/specs/openid-connect-core-1_0.html#UserInfo)).
//!
//! Only the `Authorization: Bearer` header is accepted: a token in the query string ends up in
//! logs and browser history, so it is refused even though RFC 6750 §2.3 allows it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::json_response;
use crate::claims::user_claims;
use crate::params::Params;
use crate::provider::Provider;

/// `GET` or `POST /oidc/me` and `/oauth/me`.
pub(super) async fn userinfo(
    State(provider): State<Arc<Provider>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = Params::from_query(uri.query());
    if query.contains("access_token") || Params::parse(&body).contains("access_token") {
        return bearer_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send the access token in the Authorization header only",
        );
    }
    let Some(token) = bearer_token(&headers) else {
        let mut response = json_response(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "invalid_token", "error_description": "no Bearer token"}),
        );
        // RFC 6750 §3.1: no error code when the request carried no credentials.
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"authing-oidc-dev-provider\""),
        );
        return response;
    };
    let claims = {
        let store = provider.store();
        let Some(record) = store.active_access_token(token) else {
            return bearer_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "token is invalid, expired or revoked",
            );
        };
        if record.grant_id.is_none() {
            return bearer_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "client_credentials tokens carry no user",
            );
        }
        let mut claims = Map::new();
        claims.insert("sub".into(), json!(record.sub));
        if let Some(user) = provider.user_by_sub(&record.sub) {
            claims.extend(user_claims(user, &record.scope));
        }
        claims
    };
    json_response(StatusCode::OK, &Value::Object(claims))
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// An RFC 6750 §3 error: the code in `WWW-Authenticate` and in the JSON body.
fn bearer_error(status: StatusCode, error: &'static str, description: &'static str) -> Response {
    let mut response = json_response(status, &json!({"error": error, "error_description": description}));
    let challenge = format!(
        "Bearer realm=\"authing-oidc-dev-provider\", error=\"{error}\", error_description=\"{description}\""
    );
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
