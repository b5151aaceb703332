//! The example's own pages: `/` (anonymous or signed in), `/me` (userinfo, refreshing the access
//! token when it must) and the `GET /logout` button; `GET /api/session` (the signed-in session
//! with a valid access token, as JSON); and its API, `GET /api/me`. Logging in and
//! out is the crate's: [`authing_oidc_axum::OidcLogin`] serves `/login`, `/callback` and
//! `POST /logout`.

use authing_oidc::bearer::BearerVerifier;
use authing_oidc_axum::{Bearer, BearerLayer, LoginError, MaybeUser, User};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::pages::{self, Profile};

/// The example's pages, before the login routes and the session layer wrap them.
pub(crate) fn pages() -> Router {
    Router::new()
        .route("/", get(home))
        .route("/me", get(me))
        .route("/logout", get(logout_page))
        .route("/api/session", get(api_session))
}

async fn home(MaybeUser(user): MaybeUser) -> Response {
    match user {
        Some(user) => pages::home_signed_in(&Profile::of(&user)),
        None => pages::home_anonymous(),
    }
}

/// The user's claims from userinfo. Opened without a session, [`User`] sends the browser to
/// log in and back here.
async fn me(user: User) -> Result<Response, LoginError> {
    let info = user.userinfo().await?;
    let live = user.authenticated();
    let expires_in = live.current_access_token().expires_in.map(|d| d.as_secs());
    Ok(pages::me(&info, expires_in, live.refresh_count()))
}

/// The signed-in user's session, after making sure it has an access token valid now (refreshed
/// when due, once per expiry between all replicas with shared sessions): what a handler does
/// before it calls an API with the user's token. `{"sub", "expires_in", "refreshes"}`; no token
/// is shown. Without a session: 401 (or the login redirect for a browser).
async fn api_session(user: User) -> Result<Response, LoginError> {
    let token = user.access_token().await?;
    let live = user.authenticated();
    Ok(Json(SessionInfo {
        sub: user.subject(),
        expires_in: token.expires_in.map(|d| d.as_secs()),
        refreshes: live.refresh_count(),
    })
    .into_response())
}

/// The answer of `GET /api/session`.
#[derive(serde::Serialize)]
struct SessionInfo {
    sub: String,
    expires_in: Option<u64>,
    refreshes: u64,
}

/// A button, because logging out is a POST (another site cannot log a user out with a link).
async fn logout_page(MaybeUser(user): MaybeUser) -> Response {
    match user {
        Some(_) => pages::logout_confirm(),
        None => Redirect::to("/").into_response(),
    }
}

/// The example's API: `GET /api/me` takes `Authorization: Bearer` access tokens for the
/// verifier's audience, and `Authorization: DPoP` ones with their proof for a URL at `origin`
/// (RFC 9449 §7.1), and answers the RFC 6750 §3 way without one (401 with a `Bearer` and a
/// `DPoP` challenge, `invalid_token` for a refused token, `invalid_dpop_proof` for a refused
/// proof); the session plays no part.
pub(crate) fn api(verifier: BearerVerifier, origin: &str) -> authing_oidc::Result<Router> {
    Ok(Router::new()
        .route("/api/me", get(api_me))
        .layer(BearerLayer::new(verifier).public_origin(origin)?))
}

/// Whom the access token speaks for.
#[derive(serde::Serialize)]
struct ApiMe<'a> {
    sub: Option<&'a str>,
    scope: Option<&'a str>,
    client_id: Option<&'a str>,
}

async fn api_me(token: Bearer) -> Response {
    Json(ApiMe {
        sub: token.sub(),
        scope: token.scope(),
        client_id: token.client_id(),
    })
    .into_response()
}

/// Headers every answer gets; a page that set its own policy (the crate's relay page) keeps it.
pub(crate) async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ));
    // Pages are per user and some carry one-time values.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
