//! The example's own pages: `/` (anonymous or signed in), `/me` (userinfo, refreshing the access
//! token when it must) and the `GET /logout` button. Logging in and out is the crate's:
//! [`authing_oidc_axum::OidcLogin`] serves `/login`, `/callback` and `POST /logout`.

use authing_oidc_axum::{LoginError, MaybeUser, User};
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::pages::{self, Profile};

/// The example's pages, before the login routes and the session layer wrap them.
pub(crate) fn pages() -> Router {
    Router::new()
        .route("/", get(home))
        .route("/me", get(me))
        .route("/logout", get(logout_page))
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

/// A button, because logging out is a POST (another site cannot log a user out with a link).
async fn logout_page(MaybeUser(user): MaybeUser) -> Response {
    match user {
        Some(_) => pages::logout_confirm(),
        None => Redirect::to("/").into_response(),
    }
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
