//! The token endpoint: authorization_code, refresh_token and client_credentials grants
//! ([RFC 6749 §4.1.3, §6, §4.4](https://www.rfc-editor.org/rfc/rfc6749)).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{OAuthError, json_response};
use crate::claims::has_scope;
use crate::client_auth::{AuthFailure, Endpoint, authenticate, constant_time_eq};
use crate::config::{ClientRegistration, GrantType};
use crate::dpop;
use crate::faults::TokenResponseFault;
use crate::params::Params;
use crate::pkce;
use crate::provider::Provider;
use crate::store::now;
use crate::tokens::{finish_token_response, issue_for_grant, mint_access_token};

/// `POST /oidc/token` and `POST /oauth/token`.
pub(super) async fn token(
    State(provider): State<Arc<Provider>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if provider.faults.take_token_unavailable() {
        tracing::info!("dev-provider token endpoint: injected 503");
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": "temporarily_unavailable", "error_description": "injected fault: try again"}),
        );
    }
    // RFC 9449 §4.3: a proof, when sent, is checked before anything else.
    let htu = format!("{}{}", provider.app_host, uri.path());
    let proof = match dpop::check(&provider, &headers, "POST", &htu, None) {
        Ok(proof) => proof,
        Err(e) => return dpop_error(&provider, StatusCode::BAD_REQUEST, &e, false),
    };
    let mut response = match handle(&provider, &headers, &body, proof.as_ref()) {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(error) => error.into_response(),
    };
    if proof.is_some() && provider.config.require_dpop_nonce {
        add_nonce(&provider, &mut response);
    }
    response
}

fn handle(
    provider: &Provider,
    headers: &HeaderMap,
    body: &[u8],
    proof: Option<&dpop::Proof>,
) -> Result<Value, OAuthError> {
    let form = Params::parse(body);
    if let Some(name) = form.duplicated() {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} is repeated"
        )));
    }
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is missing"))?;
    if grant_type == "client_credentials" {
        return client_credentials(provider, headers, &form);
    }
    let client =
        authenticate(provider, Endpoint::Token, headers, &form).map_err(OAuthError::invalid_client)?;
    // RFC 9449 §5.2: a client registered for bound tokens never gets a bearer token.
    if client.dpop_bound_access_tokens && proof.is_none() {
        return Err(OAuthError::invalid_request(
            "this client's tokens are DPoP-bound: send a DPoP proof",
        ));
    }
    let jkt = proof.map(|p| p.jkt.as_str());
    match grant_type {
        "authorization_code" => authorization_code(provider, client, &form, jkt),
        "refresh_token" => refresh_token(provider, client, &form, jkt),
        _ => Err(OAuthError::bad_request(
            "unsupported_grant_type",
            "grant_type is not supported",
        )),
    }
}

fn require_grant(client: &ClientRegistration, grant: GrantType) -> Result<(), OAuthError> {
    if client.grant_types.contains(&grant) {
        Ok(())
    } else {
        Err(OAuthError::bad_request(
            "unauthorized_client",
            "client may not use this grant type",
        ))
    }
}

fn authorization_code(
    provider: &Provider,
    client: &ClientRegistration,
    form: &Params,
    jkt: Option<&str>,
) -> Result<Value, OAuthError> {
    require_grant(client, GrantType::AuthorizationCode)?;
    let code = form
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
    let mut store = provider.store();
    let record = store
        .codes
        .get(code)
        .cloned()
        .ok_or_else(|| OAuthError::invalid_grant("unknown or expired code"))?;
    let grant_client = store.grants.get(&record.grant_id).map(|g| g.client_id.clone());
    if grant_client.as_deref() != Some(client.app_id.as_str()) {
        return Err(OAuthError::invalid_grant("code was issued to another client"));
    }
    if record.used {
        // RFC 6749 §4.1.2: a reused code SHOULD revoke the tokens issued from it.
        store.revoke_grant(&record.grant_id);
        tracing::warn!(client_id = %client.app_id, "authorization code reused; grant revoked");
        return Err(OAuthError::invalid_grant("code was already used"));
    }
    // Burnt on first presentation, even if a check below fails, so a code cannot be
    // retried with guessed verifiers.
    if let Some(r) = store.codes.get_mut(code) {
        r.used = true;
    }
    if record.expires_at <= now() {
        return Err(OAuthError::invalid_grant("code has expired"));
    }
    if form.get("redirect_uri") != Some(record.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&record.code_challenge, form.get("code_verifier")) {
        (None, None) => {}
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier sent but the authorization request had no code_challenge",
            ));
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is missing")),
        (Some((challenge, method)), Some(verifier)) => {
            if !pkce::verify(verifier, challenge, *method) {
                return Err(OAuthError::invalid_grant("PKCE verification failed"));
            }
        }
    }
    // RFC 9449 §10: a code bound by dpop_jkt is exchanged only with a proof of that key.
    if record.dpop_jkt.is_some() && record.dpop_jkt.as_deref() != jkt {
        return Err(OAuthError::invalid_grant(
            "the code is bound to a DPoP key (dpop_jkt) this request did not prove",
        ));
    }
    let scope = store
        .grants
        .get(&record.grant_id)
        .map(|g| g.scope.clone())
        .unwrap_or_default();
    issue_for_grant(provider, &mut store, &record.grant_id, &scope, false, jkt)
        .map_err(|e| OAuthError::server_error(&e))
}

fn refresh_token(
    provider: &Provider,
    client: &ClientRegistration,
    form: &Params,
    jkt: Option<&str>,
) -> Result<Value, OAuthError> {
    require_grant(client, GrantType::RefreshToken)?;
    let token = form
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
    if provider.faults.token_response() == Some(TokenResponseFault::RefreshInvalidGrant) {
        return Err(OAuthError::invalid_grant("injected fault: refresh refused"));
    }
    let mut store = provider.store();
    let record = store
        .refresh_tokens
        .get(token)
        .cloned()
        .ok_or_else(|| OAuthError::invalid_grant("unknown refresh token"))?;
    if record.client_id != client.app_id {
        return Err(OAuthError::invalid_grant(
            "refresh token was issued to another client",
        ));
    }
    if record.rotated {
        // Reuse of a rotated refresh token means it leaked: end the whole grant.
        store.revoke_grant(&record.grant_id);
        tracing::warn!(client_id = %client.app_id, "rotated refresh token reused; grant revoked");
        return Err(OAuthError::invalid_grant("refresh token was already used"));
    }
    if store.active_refresh_token(token).is_none() {
        return Err(OAuthError::invalid_grant("refresh token is expired or revoked"));
    }
    if record.jkt.is_some() && record.jkt.as_deref() != jkt {
        return Err(OAuthError::invalid_grant(
            "the refresh token is bound to a DPoP key this request did not prove",
        ));
    }
    if let Some(r) = store.refresh_tokens.get_mut(token) {
        r.rotated = true;
    }
    let granted = store
        .grants
        .get(&record.grant_id)
        .map(|g| g.scope.clone())
        .unwrap_or_default();
    // RFC 6749 §6: a refresh may narrow the scope, never widen it.
    let scope = match form.get("scope") {
        None => granted,
        Some(requested) => {
            if requested
                .split(' ')
                .filter(|s| !s.is_empty())
                .any(|s| !has_scope(&granted, s))
            {
                return Err(OAuthError::bad_request(
                    "invalid_scope",
                    "scope exceeds the original grant",
                ));
            }
            requested.to_owned()
        }
    };
    issue_for_grant(provider, &mut store, &record.grant_id, &scope, true, jkt)
        .map_err(|e| OAuthError::server_error(&e))
}

/// Authing's client_credentials: `client_id`/`client_secret` in the body are a programmatic
/// access key and secret. A registered client with the grant may also use it, authenticated by
/// its registered method.
fn client_credentials(provider: &Provider, headers: &HeaderMap, form: &Params) -> Result<Value, OAuthError> {
    let scope = form
        .get("scope")
        .ok_or_else(|| OAuthError::invalid_request("scope is required"))?;
    let key = form.get("client_id");
    let m2m = provider
        .config
        .m2m_credentials
        .iter()
        .find(|m| Some(m.access_key.as_str()) == key);
    let client_id = match m2m {
        Some(m2m) => {
            let fail = |description| {
                OAuthError::invalid_client(AuthFailure {
                    description,
                    used_basic: headers.contains_key(header::AUTHORIZATION),
                })
            };
            if headers.contains_key(header::AUTHORIZATION) {
                return Err(fail("access key and secret go in the body"));
            }
            let secret = form.get("client_secret").unwrap_or_default();
            if !constant_time_eq(secret, &m2m.access_secret) {
                return Err(fail("access key authentication failed"));
            }
            m2m.access_key.clone()
        }
        None => {
            let client =
                authenticate(provider, Endpoint::Token, headers, form).map_err(OAuthError::invalid_client)?;
            require_grant(client, GrantType::ClientCredentials)?;
            client.app_id.clone()
        }
    };
    let mut store = provider.store();
    let access_token = mint_access_token(provider, &mut store, None, &client_id, &client_id, scope, None)
        .map_err(|e| OAuthError::server_error(&e))?;
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access_token));
    Ok(finish_token_response(provider, body, scope))
}

/// A refused proof: the token endpoint's 400 JSON error (RFC 9449 §5, §8), or with
/// `challenge` a resource server's 401 `WWW-Authenticate: DPoP` (§7.1, §9). A nonce error
/// carries the nonce to use.
pub(super) fn dpop_error(
    provider: &Provider,
    status: StatusCode,
    e: &dpop::ProofError,
    challenge: bool,
) -> Response {
    let mut response = json_response(
        status,
        &json!({"error": e.code(), "error_description": e.description()}),
    );
    if challenge {
        let value = format!(
            "DPoP algs=\"ES256 EdDSA PS256\", error=\"{}\", error_description=\"{}\"",
            e.code(),
            e.description()
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    if provider.config.require_dpop_nonce {
        add_nonce(provider, &mut response);
    }
    response
}

/// `DPoP-Nonce`: the nonce the next proof must carry (RFC 9449 §8.1).
pub(super) fn add_nonce(provider: &Provider, response: &mut Response) {
    if let Ok(v) = HeaderValue::from_str(&provider.dpop_nonce) {
        response.headers_mut().insert("dpop-nonce", v);
    }
}
