//! The authorization endpoint and the login form behind it
//! ([OIDC Core §3.1.2](https://openid.net/specs/openid-connect-core-1_0.html#AuthorizationEndpoint)).
//!
//! There is no single sign-on session: every authorization request shows the login form, so
//! `prompt=none` always answers `login_required`. The request comes in the query, pushed
//! before (RFC 9126, `request_uri`), or as a signed request object (RFC 9101, `request`).

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use url::{Host, Url};

use super::authorization_response::{Destination, Outcome, deliver};
use crate::claims::has_scope;
use crate::client_auth::constant_time_eq;
use crate::config::{ClientRegistration, GrantType};
use crate::html;
use crate::params::Params;
use crate::pkce;
use crate::provider::Provider;
use crate::request_object;
use crate::store::{CodeRecord, Grant, PendingAuthorization, PkceMethod, ResponseMode, now, random_string};

/// Which of Authing's two protocol prefixes the request came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Protocol {
    /// `/oidc/auth`: `scope` with `openid` is required.
    Oidc,
    /// `/oauth/auth`: `scope` defaults to `user`.
    Oauth,
}

/// `http` on 127.0.0.0/8, `[::1]` or `localhost` (RFC 8252 §7.3).
pub(crate) fn is_loopback_http(url: &Url) -> bool {
    url.scheme() == "http"
        && match url.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        }
}

/// A registered redirect URI exactly, or a loopback one on any port with the same path and
/// query (RFC 8252 §7.3: native apps pick their port at run time).
pub(crate) fn redirect_uri_allowed(client: &ClientRegistration, requested: &str) -> bool {
    if client.redirect_uris.iter().any(|r| r == requested) {
        return true;
    }
    let Ok(requested) = Url::parse(requested) else {
        return false;
    };
    if !is_loopback_http(&requested) || requested.fragment().is_some() {
        return false;
    }
    client
        .redirect_uris
        .iter()
        .filter_map(|r| Url::parse(r).ok())
        .any(|registered| {
            is_loopback_http(&registered)
                && registered.path() == requested.path()
                && registered.query() == requested.query()
        })
}

/// `GET /oidc/auth` and `GET /oauth/auth`.
pub(super) async fn authorize(
    State(provider): State<Arc<Provider>>,
    uri: Uri,
    protocol: Protocol,
) -> Response {
    let mut params = Params::from_query(uri.query());
    if params.contains("request") && params.contains("request_uri") {
        return bad_request("request and request_uri exclude each other (RFC 9101 §5)");
    }
    let mut pushed = false;
    // RFC 9126 §4: a pushed request stands in for the query, once, for the client that pushed it.
    if let Some(request_uri) = params.get("request_uri").map(str::to_owned) {
        let stored = provider.store().pushed.remove(&request_uri);
        match stored {
            Some((client_id, body, expires_at))
                if expires_at > now() && params.get("client_id") == Some(client_id.as_str()) =>
            {
                params = Params::parse(&body);
                pushed = true;
            }
            _ => return bad_request("invalid_request_uri: unknown, expired or already used"),
        }
    } else if let Some(jwt) = params.get("request").map(str::to_owned) {
        // RFC 9101 §5: a request object by value; the outer client_id names the client whose
        // key must verify it. Until it verifies, its redirect_uri is not trusted: errors are
        // shown here.
        let Some(client) = params.get("client_id").and_then(|id| provider.client(id)) else {
            return bad_request("unknown or missing client_id");
        };
        let inner = match request_object::verify(&provider, client, &jwt) {
            Ok(inner) => inner,
            Err(why) => return html::error_page(StatusCode::BAD_REQUEST, "invalid_request_object", why),
        };
        params = match outer_parameters(&params, inner, protocol) {
            Ok(inner) => inner,
            Err(why) => return bad_request(why),
        };
    }
    // Until client_id and redirect_uri are verified, errors are shown here, never
    // redirected: redirecting to an unverified URI would make this an open redirector.
    if params.is_duplicated("client_id") || params.is_duplicated("redirect_uri") {
        return bad_request("client_id or redirect_uri is repeated");
    }
    let Some(client) = params.get("client_id").and_then(|id| provider.client(id)) else {
        return bad_request("unknown or missing client_id");
    };
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return bad_request("redirect_uri is missing");
    };
    if !redirect_uri_allowed(client, redirect_uri) {
        return bad_request("redirect_uri is not registered for this client");
    }

    let requested_mode = params.get("response_mode").map(ResponseMode::parse);
    let destination = Destination {
        redirect_uri,
        mode: requested_mode.flatten().unwrap_or(ResponseMode::Query),
        state: params.get("state"),
    };
    match check_request(client, &params, protocol, requested_mode, pushed) {
        Ok(pending) => {
            let uid = random_string(16);
            let action = format!("/oidc/interaction/{uid}");
            let mut store = provider.store();
            store.purge_expired();
            store.pending.insert(uid, pending);
            html::login_page(StatusCode::OK, &action, &client.app_id, None)
        }
        Err((error, description)) => deliver(
            &provider,
            &destination,
            Outcome::Error {
                error,
                description: &description,
            },
            false,
        ),
    }
}

/// The rules for parameters outside a request object sent by value: `client_id` and
/// `response_type` are repeated outside, the latter equal to the object's when it has one
/// (OIDC Core §6.1); an OpenID request repeats `scope` with `openid` outside. The object's
/// parameters are the request (RFC 9101 §5); the other outer ones are ignored.
fn outer_parameters(outer: &Params, mut inner: Params, protocol: Protocol) -> Result<Params, &'static str> {
    if outer.duplicated().is_some() {
        return Err("a parameter outside the request object is repeated");
    }
    if inner.get("client_id") != outer.get("client_id") {
        return Err("client_id differs inside and outside the request object");
    }
    let response_type = outer
        .get("response_type")
        .ok_or("response_type must be repeated outside the request object (OIDC Core §6.1)")?;
    if inner
        .get("response_type")
        .is_some_and(|inside| inside != response_type)
    {
        return Err("response_type differs inside and outside the request object");
    }
    inner.insert_if_absent("response_type", response_type);
    match (outer.get("scope"), protocol) {
        (Some(scope), _) if protocol == Protocol::Oauth || has_scope(scope, "openid") => {
            inner.insert_if_absent("scope", scope);
        }
        (None, Protocol::Oauth) => {}
        _ => {
            return Err(
                "an OpenID request repeats scope with openid outside the request object (OIDC Core §6.1)",
            );
        }
    }
    Ok(inner)
}

fn bad_request(description: &str) -> Response {
    html::error_page(StatusCode::BAD_REQUEST, "invalid_request", description)
}

type AuthorizeError = (&'static str, String);

/// Validates everything but client_id and redirect_uri; errors go back to the client.
fn check_request(
    client: &ClientRegistration,
    params: &Params,
    protocol: Protocol,
    requested_mode: Option<Option<ResponseMode>>,
    pushed: bool,
) -> Result<PendingAuthorization, AuthorizeError> {
    let invalid = |d: &str| ("invalid_request", d.to_owned());
    if let Some(name) = params.duplicated() {
        return Err(invalid(&format!("parameter {name} is repeated")));
    }
    if client.require_pushed_authorization_requests && !pushed {
        return Err(invalid(
            "this client must push its authorization requests (RFC 9126 §6)",
        ));
    }
    let response_mode = match requested_mode {
        None => ResponseMode::Query,
        Some(Some(mode)) => mode,
        Some(None) => return Err(invalid("unsupported response_mode")),
    };
    match params.get("response_type") {
        None => return Err(invalid("response_type is missing")),
        Some("code") => {}
        Some(_) => {
            return Err((
                "unsupported_response_type",
                "only response_type=code is supported".into(),
            ));
        }
    }
    if !client.grant_types.contains(&GrantType::AuthorizationCode) {
        return Err((
            "unauthorized_client",
            "client may not use the authorization code grant".into(),
        ));
    }
    let scope = match (params.get("scope"), protocol) {
        (Some(scope), _) => normalize_scope(scope),
        (None, Protocol::Oauth) => "user".to_owned(),
        (None, Protocol::Oidc) => return Err(invalid("scope is missing")),
    };
    if protocol == Protocol::Oidc && !has_scope(&scope, "openid") {
        return Err(("invalid_scope", "scope must contain openid".into()));
    }
    if params
        .get("prompt")
        .is_some_and(|p| p.split(' ').any(|v| v == "none"))
    {
        return Err((
            "login_required",
            "the development provider keeps no session".into(),
        ));
    }
    if params.get("max_age").is_some_and(|m| m.parse::<u64>().is_err()) {
        return Err(invalid("max_age must be a non-negative integer"));
    }
    let code_challenge = match (params.get("code_challenge"), params.get("code_challenge_method")) {
        (None, Some(_)) => return Err(invalid("code_challenge_method without code_challenge")),
        (None, None) if client.is_public() => {
            return Err(invalid("PKCE (code_challenge) is required for public clients"));
        }
        (None, None) => None,
        (Some(challenge), method) => {
            // RFC 7636 §4.3: the method defaults to plain.
            let method = match method.unwrap_or("plain") {
                "S256" => PkceMethod::S256,
                "plain" => PkceMethod::Plain,
                _ => return Err(invalid("unsupported code_challenge_method")),
            };
            if !pkce::is_valid_value(challenge) {
                return Err(invalid("code_challenge must be 43 to 128 unreserved characters"));
            }
            Some((challenge.to_owned(), method))
        }
    };
    if client.require_pkce_s256 && !matches!(code_challenge, Some((_, PkceMethod::S256))) {
        return Err(invalid("this client must send a PKCE challenge with S256"));
    }
    Ok(PendingAuthorization {
        client_id: client.app_id.clone(),
        redirect_uri: params.get("redirect_uri").unwrap_or_default().to_owned(),
        response_mode,
        scope,
        state: params.get("state").map(str::to_owned),
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge,
        created_at: now(),
        dpop_jkt: params.get("dpop_jkt").map(str::to_owned),
    })
}

/// Splits on spaces and drops repeats, keeping the order the client asked for.
fn normalize_scope(scope: &str) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !seen.contains(&s) {
            seen.push(s);
        }
    }
    seen.join(" ")
}

/// `POST /oidc/interaction/{uid}`: the login form's submission.
pub(super) async fn interaction(
    State(provider): State<Arc<Provider>>,
    Path(uid): Path<String>,
    body: Bytes,
) -> Response {
    let form = Params::parse(&body);
    let pending = provider.store().pending.get(&uid).cloned();
    let Some(pending) = pending else {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "unknown or expired login request",
        );
    };
    let destination = Destination {
        redirect_uri: &pending.redirect_uri,
        mode: pending.response_mode,
        state: pending.state.as_deref(),
    };
    if form.contains("cancel") {
        provider.store().pending.remove(&uid);
        let outcome = Outcome::Error {
            error: "access_denied",
            description: "the user cancelled the login",
        };
        return deliver(&provider, &destination, outcome, true);
    }
    let user = form
        .get("username")
        .and_then(|name| provider.user_by_username(name))
        .filter(|user| {
            form.get("password")
                .is_some_and(|pw| constant_time_eq(pw, &user.password))
        });
    let Some(user) = user else {
        tracing::info!("dev-provider login refused");
        let action = format!("/oidc/interaction/{uid}");
        return html::login_page(
            StatusCode::UNAUTHORIZED,
            &action,
            &pending.client_id,
            Some("Wrong username or password."),
        );
    };

    let code = random_string(32);
    {
        let mut store = provider.store();
        if store.pending.remove(&uid).is_none() {
            // The same form was submitted twice concurrently; only one may win.
            return html::error_page(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "login request already completed",
            );
        }
        let grant_id = random_string(16);
        let now = now();
        store.grants.insert(
            grant_id.clone(),
            Grant {
                client_id: pending.client_id.clone(),
                sub: user.sub.clone(),
                scope: pending.scope.clone(),
                nonce: pending.nonce.clone(),
                auth_time: now,
                revoked: false,
            },
        );
        store.codes.insert(
            code.clone(),
            CodeRecord {
                grant_id,
                redirect_uri: pending.redirect_uri.clone(),
                code_challenge: pending.code_challenge.clone(),
                expires_at: now + provider.config.code_lifetime.as_secs(),
                used: false,
                dpop_jkt: pending.dpop_jkt.clone(),
            },
        );
    }
    tracing::info!(client_id = %pending.client_id, "dev-provider login succeeded");
    deliver(&provider, &destination, Outcome::Code(&code), true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientAuthMethod;

    #[test]
    fn loopback_redirects_match_on_any_port() {
        let client = ClientRegistration::confidential("a", "s", ClientAuthMethod::ClientSecretPost);
        assert!(redirect_uri_allowed(&client, "http://127.0.0.1:3000/callback"));
        assert!(redirect_uri_allowed(&client, "http://127.0.0.1:49152/callback"));
        assert!(redirect_uri_allowed(&client, "http://localhost:8080/callback"));
        assert!(redirect_uri_allowed(&client, "http://[::1]:8080/callback"));
        assert!(!redirect_uri_allowed(&client, "http://127.0.0.1:3000/other"));
        assert!(!redirect_uri_allowed(&client, "https://127.0.0.1:3000/callback"));
        assert!(!redirect_uri_allowed(&client, "http://example.com:3000/callback"));
        assert!(!redirect_uri_allowed(&client, "http://127.0.0.1:3000/callback#x"));
    }

    #[test]
    fn scope_is_deduplicated_in_order() {
        assert_eq!(normalize_scope("openid  profile openid"), "openid profile");
    }
}
