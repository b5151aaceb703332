//! Logout URLs. The provider keeps no login session, so logging out only redirects.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use url::Url;

use super::authorization_response::redirect;
use super::{is_loopback_http, redirect_uri_allowed};
use crate::html;
use crate::params::Params;
use crate::provider::Provider;
use crate::verify::verify_id_token;

/// `GET /login/profile/logout?redirect_uri=…`: Authing's "universal" logout.
pub(super) async fn profile_logout(uri: Uri) -> Response {
    redirect_param(uri, "redirect_uri")
}

/// `GET /cas-idp/logout?url=…`
pub(super) async fn cas_logout(uri: Uri) -> Response {
    redirect_param(uri, "url")
}

fn redirect_param(uri: Uri, name: &str) -> Response {
    let params = Params::from_query(uri.query());
    match params.get(name).map(Url::parse) {
        None => html::error_page(StatusCode::OK, "logged_out", "You are logged out."),
        Some(Ok(url)) if matches!(url.scheme(), "http" | "https") => redirect(url.as_str()),
        Some(_) => html::error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the redirect target is not an http(s) URL",
        ),
    }
}

/// `GET /oidc/session/end?id_token_hint=…&post_logout_redirect_uri=…[&state=…]`
/// ([RP-Initiated Logout §2](https://openid.net/specs/openid-connect-rpinitiated-1_0.html)).
/// The hint must be an id_token this provider issued; the target must be one of its
/// client's redirect URIs or a loopback URL.
pub(super) async fn session_end(State(provider): State<Arc<Provider>>, uri: Uri) -> Response {
    let params = Params::from_query(uri.query());
    let bad = |d| html::error_page(StatusCode::BAD_REQUEST, "invalid_request", d);
    if params.duplicated().is_some() {
        return bad("a parameter is repeated");
    }
    let (Some(hint), Some(target)) = (
        params.get("id_token_hint"),
        params.get("post_logout_redirect_uri"),
    ) else {
        return bad("id_token_hint and post_logout_redirect_uri are required");
    };
    let Ok((_, client_id)) = verify_id_token(&provider, hint, false) else {
        return bad("id_token_hint is not a valid id_token of this provider");
    };
    let Some(client) = provider.client(&client_id) else {
        return bad("id_token_hint names an unknown client");
    };
    let Ok(mut url) = Url::parse(target) else {
        return bad("post_logout_redirect_uri is not a URL");
    };
    if !redirect_uri_allowed(client, target) && !is_loopback_http(&url) {
        return bad("post_logout_redirect_uri is not registered for this client");
    }
    if let Some(state) = params.get("state") {
        url.query_pairs_mut().append_pair("state", state);
    }
    redirect(url.as_str())
}
