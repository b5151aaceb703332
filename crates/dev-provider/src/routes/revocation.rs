//! Token revocation ([RFC 7009](https://www.rfc-editor.org/rfc/rfc7009)).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::OAuthError;
use crate::client_auth::{Endpoint, authenticate};
use crate::params::Params;
use crate::provider::Provider;

/// `POST /oidc/token/revocation`: 200 with an empty body whether or not the token was known
/// (RFC 7009 §2.2). Revoking a refresh token ends its whole grant, access tokens included.
pub(super) async fn revoke(
    State(provider): State<Arc<Provider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&provider, &headers, &body) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => error.into_response(),
    }
}

fn handle(provider: &Provider, headers: &HeaderMap, body: &[u8]) -> Result<(), OAuthError> {
    let form = Params::parse(body);
    if let Some(name) = form.duplicated() {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} is repeated"
        )));
    }
    let client =
        authenticate(provider, Endpoint::Revocation, headers, &form).map_err(OAuthError::invalid_client)?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let mut store = provider.store();
    if let Some(record) = store.access_tokens.get_mut(token) {
        if record.client_id == client.app_id {
            record.revoked = true;
        }
        return Ok(());
    }
    let grant = match store.refresh_tokens.get_mut(token) {
        Some(record) if record.client_id == client.app_id => {
            record.revoked = true;
            Some(record.grant_id.clone())
        }
        _ => None,
    };
    if let Some(grant_id) = grant {
        store.revoke_grant(&grant_id);
    }
    Ok(())
}
