//! Token introspection ([RFC 7662](https://www.rfc-editor.org/rfc/rfc7662)).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{OAuthError, json_response};
use crate::client_auth::{Endpoint, authenticate};
use crate::params::Params;
use crate::provider::Provider;

/// `POST /oidc/token/introspection`: `{"active": false}` for anything unknown, expired,
/// revoked, or issued to another client (client_credentials tokens are visible to every
/// client, as resource servers need to check them).
pub(super) async fn introspect(
    State(provider): State<Arc<Provider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&provider, &headers, &body) {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(error) => error.into_response(),
    }
}

fn handle(provider: &Provider, headers: &HeaderMap, body: &[u8]) -> Result<Value, OAuthError> {
    let form = Params::parse(body);
    if let Some(name) = form.duplicated() {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} is repeated"
        )));
    }
    let client = authenticate(provider, Endpoint::Introspection, headers, &form)
        .map_err(OAuthError::invalid_client)?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let store = provider.store();
    if let Some(r) = store.active_access_token(token)
        && (r.client_id == client.app_id || r.grant_id.is_none())
    {
        return Ok(json!({
            "active": true, "sub": r.sub, "client_id": r.client_id, "exp": r.exp,
            "iat": r.iat, "iss": provider.issuer, "jti": r.jti, "scope": r.scope,
            "token_type": "Bearer",
        }));
    }
    if let Some(r) = store.active_refresh_token(token)
        && r.client_id == client.app_id
    {
        let (sub, scope) = store
            .grants
            .get(&r.grant_id)
            .map(|g| (g.sub.clone(), g.scope.clone()))
            .unwrap_or_default();
        // Authing's sample answers token_type "Bearer" for refresh tokens too.
        return Ok(json!({
            "active": true, "sub": sub, "client_id": r.client_id, "exp": r.exp,
            "iat": r.iat, "iss": provider.issuer, "jti": r.jti, "scope": scope,
            "token_type": "Bearer",
        }));
    }
    Ok(json!({"active": false}))
}
