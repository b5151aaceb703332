//! The library's errors as HTTP answers, in one place: what a user can get wrong (cancelled,
//! stale or foreign callback, expired session) is a 4xx page that offers a new login; what the
//! provider got wrong is a 502, and a provider that cannot be reached is a 503. The page says
//! what happened in plain words; the error itself only goes to the log (the library's errors
//! never hold a token or a secret), and nothing from the request or the provider is echoed
//! beyond the provider's short `error` code.

use authing_oidc::Error;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::pages;

/// A library error on its way to becoming a response; build it with `From` (`?` in a handler
/// returning `Result<_, LoginError>`).
#[derive(Debug)]
pub struct LoginError {
    error: Option<Error>,
    status: StatusCode,
    title: &'static str,
    message: String,
    login_path: String,
}

impl LoginError {
    fn page(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        LoginError {
            error: None,
            status,
            title,
            message: message.into(),
            login_path: crate::DEFAULT_LOGIN_PATH.to_owned(),
        }
    }

    /// The page's "log in again" link points at `path` (the default is `/login`).
    pub fn with_login_path(mut self, path: &str) -> Self {
        path.clone_into(&mut self.login_path);
        self
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The library error behind this answer, when there is one.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// A callback with no pending login in the session: replayed, stale, or started elsewhere.
    pub(crate) fn no_pending_login() -> Self {
        Self::page(
            StatusCode::BAD_REQUEST,
            "This sign-in link is no longer valid",
            "This sign-in response was already used, has expired, or was not started in this \
             browser. Please log in again.",
        )
    }

    /// A relayed form_post that still came without the session cookie.
    pub(crate) fn cookies_blocked() -> Self {
        Self::page(
            StatusCode::BAD_REQUEST,
            "Cookies are needed to sign in",
            "Your browser did not send this site's session cookie, so the sign-in cannot be \
             matched to the one you started. Allow cookies for this site and log in again.",
        )
    }

    /// The session store failed.
    pub(crate) fn store(error: &tower_sessions::session::Error) -> Self {
        tracing::error!(%error, "session store error");
        internal()
    }
}

impl LoginError {
    /// The back-channel session index failed ([`crate::SessionIndex`]).
    pub(crate) fn index(error: crate::backchannel::IndexError) -> Self {
        tracing::error!(%error, "session index error");
        internal()
    }
}

fn internal() -> LoginError {
    LoginError::page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "An unexpected error occurred on our side. Please try again later.",
    )
}

impl From<Error> for LoginError {
    fn from(error: Error) -> Self {
        let bad_request = StatusCode::BAD_REQUEST;
        let mut page = match &error {
            e if e.is_access_denied() => LoginError::page(
                bad_request,
                "Sign-in cancelled",
                "You cancelled the sign-in at the identity provider, so you are not signed in.",
            ),
            Error::Authorization(a) => LoginError::page(
                bad_request,
                "The identity provider did not sign you in",
                format!(
                    "The identity provider answered with the error code “{}”. Please try again.",
                    a.error.chars().take(64).collect::<String>()
                ),
            ),
            Error::StateMismatch => LoginError::page(
                bad_request,
                "This sign-in response does not match",
                "The response belongs to another sign-in attempt (perhaps one started in another \
                 tab). Please log in again.",
            ),
            Error::MalformedCallback(_) | Error::CallbackTooLarge(_) => LoginError::page(
                bad_request,
                "Nothing to sign in with",
                "This address is where the identity provider sends you back after you sign in; \
                 it cannot be opened directly.",
            ),
            Error::PendingExpired { .. } => LoginError::page(
                bad_request,
                "The sign-in took too long",
                "Too much time passed between starting the sign-in and coming back. Please log in again.",
            ),
            Error::IssMismatch(_) => LoginError::page(
                bad_request,
                "Unexpected identity provider",
                "The sign-in response did not come from the identity provider this site uses.",
            ),
            Error::ReauthenticationRequired(_) | Error::Restore(_) => LoginError::page(
                StatusCode::UNAUTHORIZED,
                "Please sign in again",
                "Your session has ended (it expired or was revoked). Please log in again.",
            ),
            e if e.oauth_error() == Some("invalid_grant") => LoginError::page(
                bad_request,
                "This sign-in link is no longer valid",
                "The identity provider no longer accepts this sign-in response (it was already \
                 used or has expired). Please log in again.",
            ),
            e if e.is_transient() => LoginError::page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The identity provider is unavailable",
                "The identity provider could not be reached. Please try again in a moment.",
            ),
            Error::IdToken(_)
            | Error::SubMismatch
            | Error::InvalidResponse { .. }
            | Error::ResponseTooLarge { .. }
            | Error::Op(_) => LoginError::page(
                StatusCode::BAD_GATEWAY,
                "The sign-in could not be verified",
                "The identity provider's answer did not pass this site's checks, so you were not \
                 signed in.",
            ),
            _ => internal(),
        };
        if page.status.is_server_error() {
            tracing::error!(%error, status = page.status.as_u16(), "request failed");
        } else {
            tracing::warn!(%error, status = page.status.as_u16(), "request refused");
        }
        page.error = Some(error);
        page
    }
}

impl From<tower_sessions::session::Error> for LoginError {
    fn from(error: tower_sessions::session::Error) -> Self {
        LoginError::store(&error)
    }
}

impl IntoResponse for LoginError {
    fn into_response(self) -> Response {
        pages::problem(self.status, self.title, &self.message, &self.login_path)
    }
}
