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
use crate::dpop;
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
    let (scheme, token) = match access_token(&headers) {
        Some(found) => found,
        None => (Scheme::Bearer, ""),
    };
    // RFC 9449 §7.1: `Authorization: DPoP` comes with a proof for this request and token.
    let htu = format!("{}{}", provider.app_host, uri.path());
    let method = if body.is_empty() && !headers.contains_key(header::CONTENT_TYPE) {
        "GET"
    } else {
        "POST"
    };
    let proof = if scheme == Scheme::Dpop {
        match dpop::check(&provider, &headers, method, &htu, Some(token)) {
            Ok(Some(proof)) => Some(proof),
            Ok(None) => {
                let e = dpop::ProofError::Invalid("Authorization: DPoP without a DPoP proof");
                return super::token::dpop_error(&provider, StatusCode::UNAUTHORIZED, &e, true);
            }
            Err(e) => return super::token::dpop_error(&provider, StatusCode::UNAUTHORIZED, &e, true),
        }
    } else {
        None
    };
    let token = Some(token).filter(|t| !t.is_empty());
    let Some(token) = token else {
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
        // RFC 9449 §7.2: a bound token needs a proof of its key; a bearer token needs none.
        if record.jkt.as_deref() != proof.as_ref().map(|p| p.jkt.as_str()) {
            return bearer_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the token's DPoP binding does not match the request",
            );
        }
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

#[derive(PartialEq, Eq)]
enum Scheme {
    Bearer,
    Dpop,
}

/// The token of `Authorization: Bearer` or `Authorization: DPoP`.
fn access_token(headers: &HeaderMap) -> Option<(Scheme, &str)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    if token.is_empty() {
        return None;
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        Some((Scheme::Bearer, token))
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Some((Scheme::Dpop, token))
    } else {
        None
    }
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
