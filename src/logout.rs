//! Logout URLs (`build_logout_url`).

use crate::secret::IdToken;

/// What kind of logout URL to build.
///
/// The Python SDK's `expert=True` without an `id_token` produced a URL with a
/// literal `None` in it; here the expert form cannot be written without both
/// values.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum LogoutParams {
    /// Authing's front-end logout (`/login/profile/logout?redirect_uri=…`), or
    /// CAS's (`/cas-idp/logout?url=…`). `redirect_uri` defaults to the
    /// configured one.
    Simple {
        /// Where the browser goes afterwards.
        redirect_uri: Option<String>,
    },
    /// OpenID Connect RP-Initiated Logout (`end_session_endpoint` with
    /// `id_token_hint` and `post_logout_redirect_uri`). The Python SDK's
    /// `expert=True`.
    Expert {
        /// The user's id_token.
        id_token: IdToken,
        /// Where the browser goes afterwards; must be registered at the provider.
        post_logout_redirect_uri: String,
        /// Echoed back to `post_logout_redirect_uri`.
        state: Option<String>,
    },
}

impl LogoutParams {
    /// The simple form with the configured redirect URI.
    pub fn simple() -> Self {
        LogoutParams::Simple { redirect_uri: None }
    }

    /// The simple form with a redirect URI.
    pub fn simple_to(redirect_uri: impl Into<String>) -> Self {
        LogoutParams::Simple {
            redirect_uri: Some(redirect_uri.into()),
        }
    }

    /// The expert (RP-Initiated Logout) form.
    pub fn expert(id_token: IdToken, post_logout_redirect_uri: impl Into<String>) -> Self {
        LogoutParams::Expert {
            id_token,
            post_logout_redirect_uri: post_logout_redirect_uri.into(),
            state: None,
        }
    }

    /// Adds `state` to the expert form (ignored by the simple form).
    pub fn with_state(mut self, value: impl Into<String>) -> Self {
        if let LogoutParams::Expert { state, .. } = &mut self {
            *state = Some(value.into());
        }
        self
    }
}
