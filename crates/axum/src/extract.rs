//! [`User`] and [`MaybeUser`]: the signed-in user as a handler argument.

use std::sync::Arc;

use authing_oidc::flow::{Authenticated, SessionToken};
use authing_oidc::{IdTokenClaims, UserInfo};
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
/// The access token refreshes itself ([`User::access_token`], [`User::userinfo`]); a refresh is
/// written to the session store at once, and requests of one user in this process share one
/// live session, so they never spend one refresh token twice. When the provider refuses the
/// refresh, those two calls also end the local session: the user's next request is anonymous.
#[derive(Clone)]
pub struct User {
    auth: Authenticated,
    userinfo: Option<UserInfo>,
    login_id: String,
    session: Session,
    app: Arc<Shared>,
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

    /// The provider's userinfo answer at login, kept in the session, when the login routes
    /// were built with [`crate::OidcLogin::userinfo_at_login`] and the call succeeded.
    pub fn userinfo_at_login(&self) -> Option<&UserInfo> {
        self.userinfo.as_ref()
    }

    /// An access token valid now, refreshed first when it is about to expire.
    ///
    /// # Errors
    ///
    /// [`authing_oidc::Error::ReauthenticationRequired`] when the provider refused the refresh
    /// (the local session is then over; turn the error into a response with [`LoginError`]), or
    /// a transport error.
    pub async fn access_token(&self) -> authing_oidc::Result<SessionToken> {
        let result = self.auth.access_token().await;
        self.after_call(result).await
    }

    /// The provider's userinfo now (OIDC Core §5.3), with an access token refreshed first when
    /// it must be.
    ///
    /// # Errors
    ///
    /// As [`User::access_token`], and the provider's refusal of the userinfo request.
    pub async fn userinfo(&self) -> authing_oidc::Result<UserInfo> {
        let result = self.auth.userinfo().await;
        self.after_call(result).await
    }

    /// The whole session: introspection, revocation, the current token set. A refresh made
    /// through it directly is written to the store at the user's next request.
    pub fn authenticated(&self) -> &Authenticated {
        &self.auth
    }

    /// Keeps the store in step with the live session after a call that may have refreshed:
    /// a rotated refresh token goes to the store now (the old one is dead, and another replica
    /// must not restore it); a refused refresh ends the local session.
    async fn after_call<T>(&self, result: authing_oidc::Result<T>) -> authing_oidc::Result<T> {
        match &result {
            Err(authing_oidc::Error::ReauthenticationRequired(_)) => {
                self.app.live.remove(&self.login_id);
                if let Err(error) = self.session.remove_value(SIGNED_IN).await {
                    tracing::error!(%error, "ending a refused session in the store failed");
                }
                self.save().await;
            }
            _ => {
                let tokens = self.auth.export_with_secrets();
                let stored = self.session.get::<SignedIn>(SIGNED_IN).await.ok().flatten();
                if stored.is_some_and(|s| {
                    s.login_id == self.login_id && s.tokens.refresh_count() < tokens.refresh_count()
                }) {
                    let signed_in = SignedIn {
                        login_id: self.login_id.clone(),
                        tokens,
                        userinfo: self.userinfo.clone(),
                    };
                    if let Err(error) = self.session.insert(SIGNED_IN, signed_in).await {
                        tracing::error!(%error, "keeping refreshed tokens in the store failed");
                    }
                    self.save().await;
                }
            }
        }
        result
    }

    /// Saved now rather than by the session middleware, which skips the save when the
    /// handler answers with a 5xx.
    async fn save(&self) {
        if let Err(error) = self.session.save().await {
            tracing::error!(%error, "saving the session failed");
        }
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
    // Ended by a back-channel logout (crate::backchannel): signed out from this request on.
    if app
        .index
        .is_ended(&saved.login_id)
        .await
        .map_err(|e| error(LoginError::index(e)))?
    {
        tracing::info!("the provider ended this session (back-channel logout); signing out");
        app.live.remove(&saved.login_id);
        session
            .remove_value(SIGNED_IN)
            .await
            .map_err(|e| error(e.into()))?;
        if let Err(e) = app.index.forget(&saved.login_id).await {
            tracing::warn!(error = %e, "the session index could not forget an ended login");
        }
        if let Some(tokens) = &app.token_store
            && let Err(e) = tokens.store.remove_session(&saved.login_id).await
        {
            tracing::warn!(error = %e, "the token store kept an ended login's copy until its ttl");
        }
        return Ok(None);
    }
    let live = match app.live.get(&app.client, app.token_store.as_ref(), &saved) {
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
    Ok(Some(User {
        auth: live,
        userinfo: saved.userinfo,
        login_id: saved.login_id,
        session,
        app,
    }))
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
