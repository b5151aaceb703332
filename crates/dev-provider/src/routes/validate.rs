//! Authing's online token check, `GET /api/v2/oidc/validate_token`.
//!
//! Like Authing, an invalid token is answered with HTTP 200 and `{"code": 400, "message"}`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use super::json_response;
use crate::params::Params;
use crate::provider::Provider;
use crate::verify::{IdTokenProblem, verify_id_token};

/// `?id_token=…` or `?access_token=…`, exactly one.
pub(super) async fn validate_token(State(provider): State<Arc<Provider>>, uri: Uri) -> Response {
    let params = Params::from_query(uri.query());
    let body = match (params.get("id_token"), params.get("access_token")) {
        _ if params.duplicated().is_some() => refusal("参数重复 (a parameter is repeated)"),
        (Some(token), None) => match verify_id_token(&provider, token, true) {
            Ok((claims, _)) => claims,
            Err(IdTokenProblem::Malformed) => refusal("id_token 格式有误"),
            Err(IdTokenProblem::Invalid) => refusal("id_token 不合法"),
        },
        (None, Some(token)) => access_token_claims(&provider, token),
        _ => refusal("请提供 id_token 或 access_token 中的一个 (exactly one of id_token, access_token)"),
    };
    json_response(StatusCode::OK, &body)
}

fn refusal(message: &str) -> Value {
    json!({"code": 400, "message": message})
}

fn access_token_claims(provider: &Provider, token: &str) -> Value {
    if token.split('.').count() != 3 {
        return refusal("access_token 格式有误");
    }
    match provider.store().active_access_token(token) {
        Some(r) => json!({
            "jti": r.jti, "sub": r.sub, "iat": r.iat, "exp": r.exp, "scope": r.scope,
            "iss": provider.issuer, "aud": r.client_id,
        }),
        None => refusal("access_token 不合法"),
    }
}
