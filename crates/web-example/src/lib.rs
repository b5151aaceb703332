//! # authing-oidc web example
//!
//! An axum web service that logs its users in with OpenID Connect through
//! [`authing_oidc`]'s typed flow, keeps every piece of login state server-side in
//! [`tower_sessions`] sessions, refreshes access tokens by itself, and logs out at the
//! provider.
//!
//! ```text
//! cargo run -p authing-oidc-web-example            # the embedded dev provider; alice / alice-password
//! RESPONSE_MODE=form_post cargo run -p authing-oidc-web-example -- --listen 127.0.0.1:8080
//! ```
//!
//! With nothing set it starts the embedded development provider in-process; the environment
//! selects an Authing application or any OpenID Provider instead, and the response mode
//! ([`Config::from_lookup`] lists the variables).
//!
//! | route | does |
//! |---|---|
//! | `GET /` | "Log in", or the signed-in user's name and email |
//! | `GET /login` | starts the flow, keeps the pending login in the session, redirects (303) to the provider |
//! | `GET`/`POST /callback` | completes the flow from a `query` or `form_post` response; rotates the session id |
//! | `GET /me` | userinfo with an access token that is refreshed when needed |
//! | `POST /logout` | revokes the tokens, clears the session, redirects to the provider's logout |
//!
//! # Where the login state lives
//!
//! The browser's cookie (`HttpOnly`, `SameSite=Lax`, `Secure` when the public URL is https)
//! holds only a random session id; everything else is server-side in the session store:
//!
//! - between `/login` and `/callback`, the pending login exported with
//!   [`PendingCallback::export_with_secrets`](authing_oidc::flow::PendingCallback::export_with_secrets)
//!   (state, nonce, PKCE verifier). A callback whose `state` (or `iss`) is not this login's
//!   leaves it in place, so a cross-site request cannot abort a login in progress; once the
//!   state matches it is removed, and the removal saved, before the code is exchanged, so a
//!   callback is answered once. `/callback` reads at most 16 KiB of body (413 beyond);
//! - after the callback, the session's tokens exported with
//!   [`Authenticated::export_with_secrets`](authing_oidc::flow::Authenticated::export_with_secrets),
//!   written back whenever a refresh rotates them;
//! - in the process, one live [`Authenticated`](authing_oidc::flow::Authenticated) per login,
//!   so that concurrent requests of one user share one refresh (a provider that rotates refresh
//!   tokens revokes the grant when one is used twice).
//!
//! The session id is rotated when a login starts and again when it completes.
//!
//! # form_post and SameSite=Lax
//!
//! With `RESPONSE_MODE=form_post` the provider's page POSTs the response to `/callback` from
//! the provider's site, and a `SameSite=Lax` cookie is not sent on a cross-site POST. Such a
//! POST, arriving without any session cookie, is answered with a page of the app's own that
//! re-submits the same fields to `/callback?relayed=1` at once (a script, or a button without
//! JavaScript). That POST starts on the app's site, so it carries the cookie, and the flow's
//! checks run as usual. A relayed POST that still has no cookie gets an error page, not
//! another relay. [`App::form_post_relays`] counts the relays. `docs/web-services.md` tells the
//! whole story, with shared stores for several replicas.
//!
//! # Running it in-process
//!
//! ```no_run
//! use authing_oidc_web_example::{Config, Provider, app};
//! use authing_oidc_dev_provider::DevProviderConfig;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let public_url = format!("http://{}", listener.local_addr()?).parse()?;
//! let app = app(Config::new(Provider::Dev(DevProviderConfig::default()), public_url)).await?;
//! app.serve(listener, std::future::pending()).await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod pages;
mod problem;
mod routes;
mod session;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use authing_oidc::AuthenticationClient;
use authing_oidc_dev_provider::{DevProvider, RunningDevProvider};
use axum::Router;
use tokio::net::TcpListener;
use tower_sessions::{MemoryStore, SessionStore};

pub use config::{CALLBACK_PATH, Config, ConfigError, DEFAULT_SCOPE, Provider};

/// The client id the app uses at the embedded development provider.
pub const DEV_CLIENT_ID: &str = "dev-app";

/// Why the app could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration cannot work.
    Config(ConfigError),
    /// The embedded development provider did not start.
    DevProvider(authing_oidc_dev_provider::Error),
    /// The OIDC client could not be built (bad settings, or discovery failed).
    Client(authing_oidc::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "configuration: {e}"),
            StartError::DevProvider(e) => write!(f, "development provider: {e}"),
            StartError::Client(e) => write!(f, "OIDC client: {e}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Config(e) => Some(e),
            StartError::DevProvider(e) => Some(e),
            StartError::Client(e) => Some(e),
        }
    }
}

/// The app, ready to serve: its router, and the development provider it started, if any.
pub struct App {
    router: Router,
    shared: Arc<routes::Shared>,
    dev_provider: Option<RunningDevProvider>,
    config: Config,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("issuer", &self.shared.client.issuer())
            .field("public_url", &self.config.public_url.as_str())
            .field("response_mode", &self.config.response_mode)
            .finish_non_exhaustive()
    }
}

/// Builds the app with sessions in memory (one process). Starts the development provider
/// first when the configuration asks for it; runs discovery for an issuer.
///
/// # Errors
///
/// [`StartError`] when the provider cannot be reached or the configuration is refused.
pub async fn app(config: Config) -> Result<App, StartError> {
    app_with_store(config, MemoryStore::default()).await
}

/// As [`app`], with sessions in `store`: any [`tower_sessions`] store, e.g. Redis or SQL
/// shared by several replicas (the saved login state is plain serde data).
///
/// # Errors
///
/// As [`app`].
pub async fn app_with_store<S: SessionStore + Clone>(config: Config, store: S) -> Result<App, StartError> {
    let redirect_uri = config.redirect_uri();
    let (client, dev_provider) = match &config.provider {
        Provider::Dev(dev) => {
            let provider = DevProvider::start(dev.clone())
                .await
                .map_err(StartError::DevProvider)?;
            let secret = provider
                .client(DEV_CLIENT_ID)
                .and_then(|c| c.secret.clone())
                .ok_or_else(|| {
                    StartError::Config(ConfigError::new(format!(
                        "the development provider has no confidential client {DEV_CLIENT_ID}"
                    )))
                })?;
            let client = AuthenticationClient::builder()
                .app_id(DEV_CLIENT_ID)
                .secret(secret)
                .app_host(provider.app_host())
                .redirect_uri(redirect_uri)
                .build()
                .map_err(StartError::Client)?;
            (client, Some(provider))
        }
        Provider::Authing {
            app_id,
            app_host,
            secret,
        } => {
            let client = AuthenticationClient::builder()
                .app_id(app_id)
                .secret(secret.as_str())
                .app_host(app_host)
                .redirect_uri(redirect_uri)
                .build()
                .map_err(StartError::Client)?;
            (client, None)
        }
        Provider::Issuer {
            issuer,
            app_id,
            secret,
        } => {
            let client = AuthenticationClient::builder()
                .app_id(app_id)
                .secret(secret.as_str())
                .redirect_uri(redirect_uri)
                .discover(issuer)
                .await
                .map_err(StartError::Client)?;
            (client, None)
        }
    };
    let post_logout_redirect_uri = config
        .post_logout_redirect_uri
        .clone()
        .unwrap_or_else(|| config.public_url.to_string());
    let shared = Arc::new(routes::Shared {
        client,
        response_mode: config.response_mode,
        scope: config.scope.clone(),
        post_logout_redirect_uri,
        live: session::LiveSessions::default(),
        relays: AtomicU64::new(0),
    });
    let router = routes::router(shared.clone(), store, config.secure_cookies());
    Ok(App {
        router,
        shared,
        dev_provider,
        config,
    })
}

impl App {
    /// The axum router, to serve or to nest in a larger app.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// The OIDC client the app logs users in with.
    pub fn client(&self) -> &AuthenticationClient {
        &self.shared.client
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The embedded development provider, when the app started one.
    pub fn dev_provider(&self) -> Option<&RunningDevProvider> {
        self.dev_provider.as_ref()
    }

    /// How many `form_post` callbacks arrived without the session cookie and were re-submitted
    /// same-site (see the crate docs).
    pub fn form_post_relays(&self) -> u64 {
        self.shared.relays.load(Ordering::Relaxed)
    }

    /// Serves on `listener` until `shutdown` completes, then stops the development provider.
    ///
    /// # Errors
    ///
    /// When the server fails to accept connections.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let result = axum::serve(listener, self.router.clone())
            .with_graceful_shutdown(shutdown)
            .await;
        if let Some(provider) = self.dev_provider {
            provider.shutdown().await;
        }
        result
    }
}
