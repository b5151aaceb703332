//! The pushed authorization request endpoint
//! ([RFC 9126 §2](https://www.rfc-editor.org/rfc/rfc9126#section-2)): the client posts its
//! authorization request, authenticated as at the token endpoint, and gets a single-use
//! `request_uri` that the authorization endpoint takes instead of the parameters.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{OAuthError, json_response};
use crate::client_auth::{Endpoint, authenticate};
use crate::params::{Params, encode_pairs};
use crate::provider::Provider;
use crate::store::{now, random_string};

/// How long a `request_uri` stays usable.
const PUSHED_LIFETIME_SECS: u64 = 60;

/// Client authentication parameters: not part of the authorization request.
const CLIENT_AUTH: [&str; 3] = ["client_secret", "client_assertion", "client_assertion_type"];

/// `POST /oidc/par` and `POST /oauth/par`.
pub(super) async fn push(State(provider): State<Arc<Provider>>, headers: HeaderMap, body: Bytes) -> Response {
    let form = Params::parse(&body);
    if let Some(name) = form.duplicated() {
        return OAuthError::invalid_request(format!("{name} is repeated")).into_response();
    }
    let client = match authenticate(&provider, Endpoint::Token, &headers, &form) {
        Ok(client) => client,
        Err(failure) => return OAuthError::invalid_client(failure).into_response(),
    };
    if form.contains("request_uri") {
        return OAuthError::invalid_request("request_uri cannot be pushed (RFC 9126 §2.1)").into_response();
    }
    if form.contains("request") {
        return OAuthError::invalid_request("request objects are not supported by the dev provider")
            .into_response();
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .into_owned()
        .filter(|(k, _)| !CLIENT_AUTH.contains(&k.as_str()))
        .collect();
    let mut pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    if !pairs.iter().any(|(k, _)| *k == "client_id") {
        pairs.push(("client_id", client.app_id.as_str()));
    }
    let request = encode_pairs(pairs);
    let request_uri = format!("urn:ietf:params:oauth:request_uri:{}", random_string(32));
    let mut store = provider.store();
    store.purge_expired();
    store.pushed.insert(
        request_uri.clone(),
        (
            client.app_id.clone(),
            request.into_bytes(),
            now() + PUSHED_LIFETIME_SECS,
        ),
    );
    json_response(
        StatusCode::CREATED,
        &json!({"request_uri": request_uri, "expires_in": PUSHED_LIFETIME_SECS}),
    )
}
