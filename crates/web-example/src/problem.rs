//! What a user sees when something goes wrong: a page in plain words with a link home, never a
//! panic or an internal message. The details go to the log (the SDK's errors never hold a
//! token or a secret, so logging them is safe).

use authing_oidc::Error;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::pages;

/// An error page, built from whatever went wrong.
#[derive(Debug)]
pub(crate) struct Problem {
    status: StatusCode,
    title: &'static str,
    message: String,
}

impl Problem {
    fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            status,
            title,
            message: message.into(),
        }
    }

    /// `/callback` without any parameter: someone opened it by hand.
    pub(crate) fn not_a_callback() -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "Nothing to sign in with",
            "This address is where the identity provider sends you back after you sign in; it \
             cannot be opened directly.",
        )
    }

    /// A callback with no pending login in the session: replayed, stale, or from elsewhere.
    pub(crate) fn no_pending_login() -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "This sign-in link is no longer valid",
            "This sign-in response was already used, has expired, or was not started in this \
             browser. Please log in again.",
        )
    }

    /// A form_post callback that came back from our own re-submission still without the
    /// session cookie: the browser does not keep our cookie.
    pub(crate) fn cookies_blocked() -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "Cookies are needed to sign in",
            "Your browser did not send this site's session cookie, so the sign-in cannot be \
             matched to the one you started. Allow cookies for this site and log in again.",
        )
    }

    /// The session store failed.
    pub(crate) fn store(error: &tower_sessions::session::Error) -> Problem {
        tracing::error!(%error, "session store error");
        internal()
    }
}

fn internal() -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "An unexpected error occurred on our side. Please try again later.",
    )
}

impl From<Error> for Problem {
    fn from(error: Error) -> Problem {
        let bad_request = StatusCode::BAD_REQUEST;
        let problem = match &error {
            e if e.is_access_denied() => Problem::new(
                bad_request,
                "Sign-in cancelled",
                "You cancelled the sign-in at the identity provider, so you are not signed in.",
            ),
            Error::Authorization(a) => Problem::new(
                bad_request,
                "The identity provider did not sign you in",
                format!(
                    "The identity provider answered with the error code “{}”. Please try again.",
                    a.error.chars().take(64).collect::<String>()
                ),
            ),
            Error::StateMismatch => Problem::new(
                bad_request,
                "This sign-in response does not match",
                "The response belongs to another sign-in attempt (perhaps one started in another \
                 tab). Please log in again.",
            ),
            Error::MalformedCallback(_) | Error::CallbackTooLarge(_) => Problem::not_a_callback(),
            Error::PendingExpired { .. } => Problem::new(
                bad_request,
                "The sign-in took too long",
                "Too much time passed between starting the sign-in and coming back. Please log in again.",
            ),
            Error::IssMismatch(_) => Problem::new(
                bad_request,
                "Unexpected identity provider",
                "The sign-in response did not come from the identity provider this site uses.",
            ),
            Error::ReauthenticationRequired(_) | Error::Restore(_) => Problem::new(
                StatusCode::UNAUTHORIZED,
                "Please sign in again",
                "Your session has ended (it expired or was revoked). Please log in again.",
            ),
            e if e.oauth_error() == Some("invalid_grant") => Problem::new(
                bad_request,
                "This sign-in link is no longer valid",
                "The identity provider no longer accepts this sign-in response (it was already used \
                 or has expired). Please log in again.",
            ),
            e if e.is_transient() => Problem::new(
                StatusCode::BAD_GATEWAY,
                "The identity provider is unavailable",
                "The identity provider could not be reached. Please try again in a moment.",
            ),
            Error::IdToken(_)
            | Error::SubMismatch
            | Error::InvalidResponse { .. }
            | Error::ResponseTooLarge { .. }
            | Error::Op(_) => Problem::new(
                StatusCode::BAD_GATEWAY,
                "The sign-in could not be verified",
                "The identity provider's answer did not pass this site's checks, so you were not \
                 signed in.",
            ),
            _ => internal(),
        };
        if problem.status.is_server_error() {
            tracing::error!(%error, status = problem.status.as_u16(), "request failed");
        } else {
            tracing::warn!(%error, status = problem.status.as_u16(), "request refused");
        }
        problem
    }
}

impl From<tower_sessions::session::Error> for Problem {
    fn from(error: tower_sessions::session::Error) -> Problem {
        Problem::store(&error)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        pages::problem(self.status, self.title, &self.message)
    }
}
