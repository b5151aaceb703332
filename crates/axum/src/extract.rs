//! [`User`] and [`MaybeUser`]: the signed-in user as a handler argument.

use std::sync::Arc;

use authing_oidc::IdTokenClaims;
use authing_oidc::flow::{Authenticated, SessionToken};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use crate::Shared;
use crate::error::LoginError;
use crate::return_to::checked_return_to;
use crate::session::{SIGNED_IN, SignedIn};

/// The signed-in user of this request: the verified session, restored from the session store.
///
/// Without one, an HTML request (`text/html` in `Accept`) is redirected to the login path with
/// `return_to` set to this request's path, and any other request is answered `401`.
///
/// The access token refreshes itself ([`User::access_token`]); a refresh is written back to the
/// session store when the next request of this user is extracted, and requests of one user in
/// this process share one live session, so they never spend one refresh token twice.
#[derive(Clone)]
pub struct User {
    auth: Authenticated,
}

impl User {
    /// The verified id_token's claims.
    pub fn claims(&self) -> IdTokenClaims {
        self.auth.claims()
    }

    /// The user's subject identifier (`sub`).
    pub fn subject(&self) -> String {
        self.auth.subject()
    }

    /// An access token valid now, refreshed first when it is about to expire.
    ///
    /// # Errors
    ///
    /// [`authing_oidc::Error::ReauthenticationRequired`] when the provider refused the refresh
    /// (turn it into a response with [`LoginError`]), or a transport error.
    pub async fn access_token(&self) -> authing_oidc::Result<SessionToken> {
        self.auth.access_token().await
    }

    /// The whole session: userinfo, introspection, revocation.
    pub fn authenticated(&self) -> &Authenticated {
        &self.auth
    }
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("sub", &self.auth.subject())
            .finish_non_exhaustive()
    }
}

/// The signed-in user if there is one; never rejects for lack of a login.
#[derive(Clone, Debug)]
pub struct MaybeUser(pub Option<User>);

/// Why [`User`] (or [`MaybeUser`]) could not be extracted.
#[derive(Debug)]
#[non_exhaustive]
pub enum UserRejection {
    /// No signed-in session, and the request asks for HTML: a redirect to this login URL.
    LoginRedirect(String),
    /// No signed-in session, and the request is an API call: `401`.
    Unauthorized,
    /// The crate's routes were not installed on this router ([`crate::OidcLogin::install`]), or
    /// no tower-sessions layer wraps it: a programming error, answered `500`.
    NotConfigured(&'static str),
    /// The session store failed, or the session could not be restored.
    Error(LoginError),
}

impl IntoResponse for UserRejection {
    fn into_response(self) -> Response {
        match self {
            UserRejection::LoginRedirect(url) => Redirect::to(&url).into_response(),
            UserRejection::Unauthorized => {
                let mut response = StatusCode::UNAUTHORIZED.into_response();
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
            UserRejection::NotConfigured(what) => {
                tracing::error!(what, "authing-oidc-axum is not set up on this route");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
            UserRejection::Error(error) => error.into_response(),
        }
    }
}

/// The signed-in user of the request, `None` without one.
async fn signed_in<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<Option<User>, UserRejection> {
    let Some(app) = parts.extensions.get::<Arc<Shared>>().cloned() else {
        return Err(UserRejection::NotConfigured("OidcLogin::install was not applied"));
    };
    let session = Session::from_request_parts(parts, state)
        .await
        .map_err(|_| UserRejection::NotConfigured("no tower-sessions layer"))?;
    let error = |e: LoginError| UserRejection::Error(e.with_login_path(&app.login_path));
    let Some(mut saved) = session
        .get::<SignedIn>(SIGNED_IN)
        .await
        .map_err(|e| error(e.into()))?
    else {
        return Ok(None);
    };
    let live = match app.live.get(&app.client, &saved) {
        Ok(live) => live,
        Err(restore) => {
            // A saved session this client cannot take back is over: the user logs in again.
            tracing::warn!(error = %restore, "the saved session could not be restored; signing out");
            session
                .remove_value(SIGNED_IN)
                .await
                .map_err(|e| error(e.into()))?;
            return Ok(None);
        }
    };
    // A refresh since the last save (by an earlier request's handler) goes to the store now:
    // the old refresh token is dead, and another replica must not restore it.
    if live.refresh_count() > saved.tokens.refresh_count() {
        saved.tokens = live.export_with_secrets();
        session
            .insert(SIGNED_IN, &saved)
            .await
            .map_err(|e| error(e.into()))?;
    }
    Ok(Some(User { auth: live }))
}

fn wants_html(parts: &Parts) -> bool {
    parts
        .headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"))
}

impl<S: Send + Sync> FromRequestParts<S> for User {
    type Rejection = UserRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(user) = signed_in(parts, state).await? {
            return Ok(user);
        }
        if !wants_html(parts) {
            return Err(UserRejection::Unauthorized);
        }
        let login_path = parts
            .extensions
            .get::<Arc<Shared>>()
            .map(|app| app.login_path.clone())
            .unwrap_or_else(|| crate::DEFAULT_LOGIN_PATH.to_owned());
        let here = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let url = match checked_return_to(here) {
            Some(path) => {
                let encoded: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
                format!("{login_path}?return_to={encoded}")
            }
            None => login_path,
        };
        Err(UserRejection::LoginRedirect(url))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeUser {
    type Rejection = UserRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeUser(signed_in(parts, state).await?))
    }
}
