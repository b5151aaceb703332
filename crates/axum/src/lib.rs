//! Log users into an axum 0.8 service and protect its API with [`authing_oidc`]: a login router
//! (`/login`, `/callback` for `query` and `form_post`, `/logout`), the [`User`] / [`MaybeUser`]
//! extractors with every piece of state in the service's own tower-sessions layer (so its Redis
//! or SQL store just works), and [`BearerLayer`] / [`Bearer`] / [`RequireScope`] for routes
//! that take `Authorization: Bearer` access tokens (and `Authorization: DPoP` ones with their
//! proof, RFC 9449, when the verifier accepts DPoP).
//!
//! ```no_run
//! use authing_oidc::AuthenticationClient;
//! use authing_oidc_axum::{Bearer, BearerLayer, OidcLogin, User, session_layer};
//! use axum::{Router, routing::get};
//! use tower_sessions::MemoryStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = AuthenticationClient::builder()
//!     .app_id("APP_ID").secret("APP_SECRET").app_host("https://example.authing.cn")
//!     .redirect_uri("https://app.example/callback").build()?;
//! let api = Router::new()
//!     .route("/api/me", get(|token: Bearer| async move { token.sub().unwrap_or("-").to_owned() }))
//!     .layer(BearerLayer::new(client.bearer_verifier(["APP_ID"]).build()?));
//! let pages = Router::new().route("/", get(|user: User| async move { format!("Hello {}", user.subject()) }));
//! let app = OidcLogin::new(client).install(pages).merge(api)
//!     .layer(session_layer(MemoryStore::default(), true));
//! axum::serve(tokio::net::TcpListener::bind("0.0.0.0:3000").await?, app).await?;
//! # Ok(()) }
//! ```
//!
//! A browser that opens `/` without a session is sent to `/login?return_to=%2F`, from there to
//! the provider, back to `/callback`, and finally to `/` again, signed in. An API client (no
//! `text/html` in `Accept`) gets `401` instead. `/api/me` ignores the session: it answers a
//! valid access token for `APP_ID` and refuses anything else as RFC 6750 §3 says (401 with
//! `WWW-Authenticate: Bearer`, `error="invalid_token"` for a refused token). `docs/bearer.md`
//! and `docs/web-services.md` in the repository tell the whole story.
//!
//! # What the login side guarantees
//!
//! - `return_to` is a same-origin relative path or is ignored ([`checked_return_to`]): no open
//!   redirect through `https://evil`, `//evil`, `/\evil` or `javascript:`.
//! - The session id is rotated when a login starts and when it completes (`cycle_id`).
//! - A callback whose `state` is not the pending login's is refused and leaves the pending login
//!   in place, so a forged callback cannot abort a login in progress.
//! - With `form_post`, the provider's cross-site POST carries no `SameSite=Lax` cookie: the
//!   callback answers it with a page that re-posts the same fields same-site, where every check
//!   runs ([`LoginStats::form_post_relays`] counts them).
//! - The callback body is capped at [`CALLBACK_BODY_LIMIT`] bytes (413 beyond).
//! - [`User::access_token`] and [`User::userinfo`] refresh by themselves, one refresh per login
//!   in the process, or between all replicas with a shared [`OidcLogin::token_store`]; a
//!   rotated refresh token is written to the store at once, and a refused refresh ends the
//!   local session.
//! - `/logout` (POST) ends the local session even when the provider's revocation fails.
//! - `/backchannel-logout` (POST, OpenID Back-Channel Logout 1.0) verifies the provider's logout
//!   token (every check of §2.6, replays included) and ends every session of its `sid` (or
//!   `sub`): the [`User`] extractor treats them as signed out from their next request on. It
//!   answers `200`, or `400` with `{"error", "error_description"}`, always
//!   `Cache-Control: no-store` (§2.8). See [`backchannel`] for the session index behind it.
//! - Errors become pages through one mapping, [`LoginError`], that never shows a token or secret.
//!
//! Cookies: build the session layer with [`session_layer`] (`HttpOnly`, `SameSite=Lax`,
//! `Secure` when the site is served over https), or configure your own the same way.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backchannel;
mod bearer;
mod challenge;
mod dpop;
mod error;
mod extract;
mod pages;
mod return_to;
mod routes;
mod scope;
mod session;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use authing_oidc::store::{LeaseOptions, SessionStore as TokenSessionStore};
use authing_oidc::{AuthenticationClient, ResponseMode};
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Extension, Router};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore};

pub use backchannel::{MemorySessionIndex, SessionIndex};
pub use bearer::{Bearer, BearerLayer, BearerService};
pub use challenge::BearerError;
pub use error::LoginError;
pub use extract::{MaybeUser, User, UserRejection};
pub use return_to::checked_return_to;
pub use scope::{RequireScope, RequireScopeService};

/// The default login path.
pub const DEFAULT_LOGIN_PATH: &str = "/login";
/// The largest callback body read. A form_post response (`code`, `state`, `iss`, perhaps
/// `session_state`) is a few hundred bytes; a larger one is answered `413` before any parsing.
pub const CALLBACK_BODY_LIMIT: usize = 8 * 1024;

/// The session cookie's name as set by [`session_layer`].
pub const SESSION_COOKIE: &str = "authing_oidc_session";

/// A tower-sessions layer configured for logins: cookie `HttpOnly`, `SameSite=Lax` (sent on
/// top-level navigations back from the provider, not on other sites' POSTs; the form_post relay
/// covers the provider's), `Secure` when `https` is true (pass true whenever the site is served
/// over https), path `/`, and ending after 8 hours of inactivity.
pub fn session_layer<S: SessionStore + Clone>(store: S, https: bool) -> SessionManagerLayer<S> {
    SessionManagerLayer::new(store)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(https)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::hours(8),
        ))
}

/// What the login routes did so far (see [`OidcLogin::stats`]).
#[derive(Clone, Debug)]
pub struct LoginStats {
    relays: Arc<AtomicU64>,
}

impl LoginStats {
    /// How many `form_post` callbacks arrived without the session cookie and were re-submitted
    /// same-site (see the crate docs).
    pub fn form_post_relays(&self) -> u64 {
        self.relays.load(Ordering::Relaxed)
    }
}

/// The login routes' configuration; [`install`](Self::install) adds them to a router.
pub struct OidcLogin {
    shared: Shared,
}

/// What the routes and extractors share, in the request extensions.
pub(crate) struct Shared {
    pub(crate) client: AuthenticationClient,
    pub(crate) login_path: String,
    pub(crate) callback_path: String,
    pub(crate) logout_path: String,
    pub(crate) scope: String,
    pub(crate) response_mode: ResponseMode,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) post_logout_redirect_uri: Option<String>,
    pub(crate) default_return_to: String,
    pub(crate) after_logout: String,
    pub(crate) userinfo_at_login: bool,
    pub(crate) live: session::LiveSessions,
    pub(crate) relays: Arc<AtomicU64>,
    /// Where the provider posts logout tokens; `None`: not mounted.
    pub(crate) backchannel_path: Option<String>,
    pub(crate) index: Arc<dyn SessionIndex>,
    /// Where tokens are shared between replicas; `None`: this process only.
    pub(crate) token_store: Option<session::TokenStore>,
}

impl OidcLogin {
    /// Logins with `client` (its redirect URI must point at the callback path), scope
    /// `openid profile email offline_access`, `response_mode=query`, paths `/login`, `/callback`
    /// and `/logout`, returning to `/` by default.
    pub fn new(client: AuthenticationClient) -> Self {
        OidcLogin {
            shared: Shared {
                client,
                login_path: DEFAULT_LOGIN_PATH.to_owned(),
                callback_path: "/callback".to_owned(),
                logout_path: "/logout".to_owned(),
                scope: "openid profile email offline_access".to_owned(),
                response_mode: ResponseMode::Query,
                redirect_uri: None,
                post_logout_redirect_uri: None,
                default_return_to: "/".to_owned(),
                after_logout: "/".to_owned(),
                userinfo_at_login: false,
                live: session::LiveSessions::default(),
                relays: Arc::default(),
                backchannel_path: Some("/backchannel-logout".to_owned()),
                index: Arc::new(MemorySessionIndex::default()),
                token_store: None,
            },
        }
    }

    /// The scope asked for, sent as given.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.shared.scope = scope.into();
        self
    }

    /// `query` (default) or `form_post`.
    pub fn response_mode(mut self, mode: ResponseMode) -> Self {
        self.shared.response_mode = mode;
        self
    }

    /// The redirect URI sent, when not the client's configured one.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.shared.redirect_uri = Some(uri.into());
        self
    }

    /// Where the provider sends the browser after logout (must be registered there). Without
    /// it, `/logout` ends the local session and the provider's is left alone.
    pub fn post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.shared.post_logout_redirect_uri = Some(uri.into());
        self
    }

    /// The login path (default `/login`).
    pub fn login_path(mut self, path: impl Into<String>) -> Self {
        self.shared.login_path = path.into();
        self
    }

    /// The callback path (default `/callback`); the redirect URI's path.
    pub fn callback_path(mut self, path: impl Into<String>) -> Self {
        self.shared.callback_path = path.into();
        self
    }

    /// The logout path (default `/logout`, POST).
    pub fn logout_path(mut self, path: impl Into<String>) -> Self {
        self.shared.logout_path = path.into();
        self
    }

    /// The back-channel logout path (default `/backchannel-logout`, POST; register its absolute
    /// URL as the client's `backchannel_logout_uri`); `None` leaves it unmounted. See
    /// [`backchannel`].
    pub fn backchannel_logout_path(mut self, path: Option<&str>) -> Self {
        self.shared.backchannel_path = path.map(str::to_owned);
        self
    }

    /// Where logins are indexed for back-channel logout (default: a [`MemorySessionIndex`],
    /// right for one instance; with several replicas, one on shared storage).
    pub fn session_index(mut self, index: Arc<dyn SessionIndex>) -> Self {
        self.shared.index = index;
        self
    }

    /// Keeps every login's tokens in `store` as well (an `authing_oidc::store::SessionStore`,
    /// e.g. `authing-oidc-redis`'s), under the login's random id, and attaches the live sessions
    /// to it: each refresh first takes the store's lease for that login and re-reads the stored
    /// copy, so replicas that share the web sessions and this store refresh **once per expiry
    /// between all of them** and never present a rotated refresh token twice
    /// (docs/shared-sessions.md). Without it, one refresh per login per process: right for one
    /// instance.
    ///
    /// # Errors
    ///
    /// [`authing_oidc::Error::Config`] when `lease.ttl` is not longer than the client's HTTP
    /// timeout: such a lease could expire under a replica still waiting for the provider's
    /// answer, and another would refresh with the same refresh token (`LeaseOptions::check`).
    pub fn token_store(
        mut self,
        store: Arc<dyn TokenSessionStore>,
        lease: LeaseOptions,
    ) -> Result<Self, authing_oidc::Error> {
        lease.check(self.shared.client.timeout())?;
        self.shared.token_store = Some(session::TokenStore { store, lease });
        Ok(self)
    }

    /// Where a login without a usable `return_to` ends, and where `/logout` ends without a
    /// provider logout (default `/`). Same-origin relative paths only, like `return_to`.
    pub fn default_return_to(mut self, path: &str) -> Self {
        if let Some(path) = checked_return_to(path) {
            self.shared.default_return_to = path.to_owned();
            self.shared.after_logout = path.to_owned();
        }
        self
    }

    /// Calls the provider's userinfo endpoint once at login and keeps its answer in the
    /// session ([`User::userinfo_at_login`]): many providers put the profile claims (`name`,
    /// `email`) only there, not in the id_token. A failing call is logged and the login goes on.
    pub fn userinfo_at_login(mut self) -> Self {
        self.shared.userinfo_at_login = true;
        self
    }

    /// Counters of these routes, readable after [`install`](Self::install).
    pub fn stats(&self) -> LoginStats {
        LoginStats {
            relays: self.shared.relays.clone(),
        }
    }

    /// Adds the login routes to `app` and makes [`User`] / [`MaybeUser`] work on all of its
    /// routes. Wrap the result in a tower-sessions layer (see [`session_layer`]).
    ///
    /// # Panics
    ///
    /// As [`Router::route`]: when a configured path does not start with `/` or clashes with a
    /// route of `app`. Both are fixed in code, never by a request.
    pub fn install<S: Clone + Send + Sync + 'static>(self, app: Router<S>) -> Router<S> {
        let shared = Arc::new(self.shared);
        let routes = Router::new()
            .route(&shared.login_path, get(routes::login))
            .route(
                &shared.callback_path,
                get(routes::callback_query)
                    .post(routes::callback_form_post)
                    .layer(DefaultBodyLimit::max(CALLBACK_BODY_LIMIT)),
            )
            .route(&shared.logout_path, post(routes::logout));
        let routes = match &shared.backchannel_path {
            Some(path) => routes.route(
                path,
                post(backchannel::backchannel_logout)
                    .layer(DefaultBodyLimit::max(backchannel::BACKCHANNEL_BODY_LIMIT)),
            ),
            None => routes,
        };
        app.merge(routes).layer(Extension(shared))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use authing_oidc::store::MemoryStore;

    use super::*;

    fn client(timeout: Duration) -> AuthenticationClient {
        AuthenticationClient::builder()
            .app_id("app")
            .secret("secret")
            .app_host("https://example.authing.cn")
            .redirect_uri("https://app.example/callback")
            .timeout(timeout)
            .build()
            .unwrap()
    }

    #[test]
    fn a_token_store_lease_must_outlive_one_request() {
        let store = Arc::new(MemoryStore::new());
        let refused = OidcLogin::new(client(Duration::from_secs(30)))
            .token_store(store.clone(), LeaseOptions::default())
            .err();
        assert!(
            matches!(&refused, Some(authing_oidc::Error::Config(m)) if m.contains("HTTP timeout")),
            "{refused:?}"
        );
        let login = OidcLogin::new(client(Duration::from_secs(10)))
            .token_store(store, LeaseOptions::default())
            .unwrap();
        assert!(login.shared.token_store.is_some());
    }
}
