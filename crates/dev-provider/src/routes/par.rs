//! The pushed authorization request endpoint
//! ([RFC 9126 §2](https://www.rfc-editor.org/rfc/rfc9126#section-2)): the client posts its
//! authorization request, authenticated as at the token endpoint, and gets a single-use
//! `request_uri` that the authorization endpoint takes instead of the parameters. The request
//! may be a signed request object (RFC 9126 §3, RFC 9101), and may carry a DPoP proof that
//! binds the code to its key (RFC 9449 §10.1).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::token::{add_nonce, dpop_error};
use super::{OAuthError, json_response};
use crate::client_auth::{Endpoint, authenticate};
use crate::dpop;
use crate::params::{Params, encode_pairs};
use crate::provider::Provider;
use crate::request_object;
use crate::store::{now, random_string};

/// How long a `request_uri` stays usable.
const PUSHED_LIFETIME_SECS: u64 = 60;

/// Client authentication parameters: not part of the authorization request.
const CLIENT_AUTH: [&str; 3] = ["client_secret", "client_assertion", "client_assertion_type"];

/// `POST /oidc/par` and `POST /oauth/par`.
pub(super) async fn push(
    State(provider): State<Arc<Provider>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Params::parse(&body);
    if let Some(name) = form.duplicated() {
        return OAuthError::invalid_request(format!("{name} is repeated")).into_response();
    }
    // RFC 9449 §10.1: a proof sent with the push binds the code to its key, as dpop_jkt does.
    let htu = format!("{}{}", provider.app_host, uri.path());
    let proof = match dpop::check(&provider, &headers, "POST", &htu, None) {
        Ok(proof) => proof,
        Err(e) => return dpop_error(&provider, StatusCode::BAD_REQUEST, &e, false),
    };
    let mut response = match pushed_request(&provider, &headers, &form, &body, proof.as_ref()) {
        Ok(answer) => json_response(StatusCode::CREATED, &answer),
        Err(error) => error.into_response(),
    };
    if proof.is_some() && provider.config.require_dpop_nonce {
        add_nonce(&provider, &mut response);
    }
    response
}

fn pushed_request(
    provider: &Provider,
    headers: &HeaderMap,
    form: &Params,
    body: &[u8],
    proof: Option<&dpop::Proof>,
) -> Result<Value, OAuthError> {
    let client =
        authenticate(provider, Endpoint::Token, headers, form).map_err(OAuthError::invalid_client)?;
    if form.contains("request_uri") {
        return Err(OAuthError::invalid_request(
            "request_uri cannot be pushed (RFC 9126 §2.1)",
        ));
    }
    let mut request = match form.get("request") {
        Some(jwt) => {
            // RFC 9126 §3: beside the request object, only client_id and the client
            // authentication parameters; the authorization request is the object's claims.
            if let Some((name, _)) = form
                .pairs()
                .find(|(name, _)| *name != "request" && *name != "client_id" && !CLIENT_AUTH.contains(name))
            {
                return Err(OAuthError::invalid_request(format!(
                    "{name} must be a claim of the request object (RFC 9126 §3)"
                )));
            }
            request_object::verify(provider, client, jwt)
                .map_err(|why| OAuthError::bad_request("invalid_request_object", why))?
        }
        None => Params::parse(body),
    };
    request.insert_if_absent("client_id", &client.app_id);
    if let Some(proof) = proof {
        match request.get("dpop_jkt") {
            Some(jkt) if jkt != proof.jkt => {
                return Err(OAuthError::invalid_request(
                    "dpop_jkt is not the thumbprint of the DPoP proof's key (RFC 9449 §10.1)",
                ));
            }
            Some(_) => {}
            None => request.insert_if_absent("dpop_jkt", &proof.jkt),
        }
    }
    let encoded = encode_pairs(request.pairs().filter(|(name, _)| !CLIENT_AUTH.contains(name)));
    let request_uri = format!("urn:ietf:params:oauth:request_uri:{}", random_string(32));
    let mut store = provider.store();
    store.purge_expired();
    store.pushed.insert(
        request_uri.clone(),
        (
            client.app_id.clone(),
            encoded.into_bytes(),
            now() + PUSHED_LIFETIME_SECS,
        ),
    );
    Ok(json!({"request_uri": request_uri, "expires_in": PUSHED_LIFETIME_SECS}))
}
