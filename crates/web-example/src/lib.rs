//! # authing-oidc web example
//!
//! An axum web service that logs its users in with [`authing_oidc_axum`]: the crate serves
//! `/login`, `/callback` (`query` and `form_post`, with the same-site relay) and `POST /logout`,
//! keeps the login state in a [`tower_sessions`] session and gives the handlers a
//! [`User`](authing_oidc_axum::User). What is left here is what is specific to the example:
//! the configuration from the environment, its pages, and the wiring.
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
//! | route | by | does |
//! |---|---|---|
//! | `GET /` | example | "Log in", or the signed-in user's name and email |
//! | `GET /me` | example | userinfo with an access token refreshed when needed; without a session, to login and back |
//! | `GET /logout` | example | the log-out button |
//! | `GET /api/session` | example | `{"sub", "expires_in", "refreshes"}` of the signed-in session, its access token refreshed first when due; 401 without a session |
//! | `GET /api/me` | example | `{"sub", "scope", "client_id"}` of a valid `Authorization: Bearer` access token for `RESOURCE` (default the app id), or of a DPoP-bound one with `Authorization: DPoP` and its proof (RFC 9449 §7.1, `htu` on `PUBLIC_URL`'s origin); otherwise an RFC 6750 §3 / RFC 9449 §7.1 error |
//! | `GET /login?return_to=/path` | crate | the pending login into the session, `303` to the provider |
//! | `GET`/`POST /callback` | crate | completes the login, rotates the session id, back to `return_to` |
//! | `POST /logout` | crate | clears the local session, revokes, `303` to the provider's logout |
//!
//! `docs/web-services.md` tells the whole story: where each piece of state lives, the
//! form_post relay, shared stores for several replicas.
//!
//! # Replicas
//!
//! Started with `REDIS_URL` (`redis://HOST:PORT[/DB]`) and `AUTHING_SESSION_KEY` (32 bytes in
//! base64, `openssl rand -base64 32`), the same on every replica, the app keeps its web sessions
//! and every login's tokens in that Redis, encrypted with the key, through one client
//! ([`authing_oidc_redis::RedisSessionStore`] and its
//! [`web_sessions`](authing_oidc_redis::RedisSessionStore::web_sessions)), and its logins refresh
//! under the Redis lease ([`authing_oidc_axum::OidcLogin::token_store`]): a login may start on
//! one replica and finish on another, and each login is refreshed **once per expiry between all
//! replicas**. Back-channel logout is indexed in the same Redis
//! ([`session_index`](authing_oidc_redis::RedisSessionStore::session_index)): a logout token
//! delivered to one replica ends the user's logins on all of them. Point `AUTHING_APP_REDIRECT_URI` at the public address (the load balancer).
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 AUTHING_SESSION_KEY=$(cat session-key.b64) \
//!   AUTHING_ISSUER=… AUTHING_APP_ID=… AUTHING_APP_SECRET=… \
//!   AUTHING_APP_REDIRECT_URI=https://app.example.com/callback \
//!   cargo run -p authing-oidc-web-example -- --listen 0.0.0.0:3000
//! ```
//!
//! `tests/replicas.rs` runs two replicas (two processes) on one Redis against panva's
//! oidc-provider: the login starts on A in headless Chromium and its callback is served by B;
//! after the access token expired, 2 × 500 concurrent `/me` requests over both replicas all
//! succeed with exactly one refresh at the provider (docs/shared-sessions.md).
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
mod routes;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use authing_oidc::AuthenticationClient;
use authing_oidc::bearer::DpopMode;
use authing_oidc::store::{LeaseOptions, SessionStore as TokenStore};
use authing_oidc_axum::{LoginStats, OidcLogin, SessionIndex, session_layer};
use authing_oidc_dev_provider::{DevProvider, RunningDevProvider};
use authing_oidc_redis::{Keyring, RedisSessionStore, SessionKey};
use axum::Router;
use tokio::net::TcpListener;
use tower_sessions::{MemoryStore, SessionStore};

pub use config::{
    CALLBACK_PATH, Config, ConfigError, DEFAULT_SCOPE, Provider, REDIS_URL_VARIABLE, SESSION_KEY_VARIABLE,
    SharedSessions,
};

/// The id of the app's session key (stored beside every value it encrypts in Redis).
pub const SESSION_KEY_ID: &str = "authing-oidc-web-example";

/// How long Redis keeps a login's tokens after their last save (the login or a refresh). The
/// web session ends after 8 hours of inactivity; a copy that expired while its web session
/// lives on is stored again at the next refresh.
pub const TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

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
    /// The Redis server for shared sessions did not answer.
    SharedSessions(authing_oidc::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "configuration: {e}"),
            StartError::DevProvider(e) => write!(f, "development provider: {e}"),
            StartError::Client(e) => write!(f, "OIDC client: {e}"),
            StartError::SharedSessions(e) => write!(f, "shared sessions: {e}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Config(e) => Some(e),
            StartError::DevProvider(e) => Some(e),
            StartError::Client(e) | StartError::SharedSessions(e) => Some(e),
        }
    }
}

/// The app, ready to serve: its router, and the development provider it started, if any.
pub struct App {
    router: Router,
    client: AuthenticationClient,
    stats: LoginStats,
    dev_provider: Option<RunningDevProvider>,
    config: Config,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("issuer", &self.client.issuer())
            .field("public_url", &self.config.public_url.as_str())
            .field("response_mode", &self.config.response_mode)
            .finish_non_exhaustive()
    }
}

/// Builds the app: with [`Config::shared_sessions`], web sessions and tokens in Redis, shared
/// with every replica started the same way (one refresh per expiry between all of them);
/// otherwise sessions in memory (one process). Starts the development provider first when the
/// configuration asks for it; runs discovery for an issuer.
///
/// # Errors
///
/// [`StartError`] when the provider or Redis cannot be reached or the configuration is refused.
pub async fn app(config: Config) -> Result<App, StartError> {
    let Some(shared) = config.shared_sessions.clone() else {
        return build(config, MemoryStore::default(), None, None).await;
    };
    let key = SessionKey::from_base64(SESSION_KEY_ID, &shared.key)
        .map_err(|e| StartError::Config(ConfigError::new(format!("{SESSION_KEY_VARIABLE}: {e}"))))?;
    // One fred client and one keyring for both stores.
    let tokens = RedisSessionStore::connect(&shared.redis_url, Keyring::new(key))
        .await
        .map_err(StartError::SharedSessions)?
        .with_session_ttl(TOKEN_TTL);
    let web = tokens.web_sessions();
    // A logout token delivered to this replica ends the logins of every replica.
    let index: Arc<dyn SessionIndex> = Arc::new(tokens.session_index());
    build(config, web, Some(Arc::new(tokens)), Some(index)).await
}

/// As [`app`] without shared sessions, with web sessions in `store`: any [`tower_sessions`]
/// store. Tokens are refreshed once per login in this process, so several replicas need
/// [`app`] with [`Config::shared_sessions`] instead (or their own token store).
///
/// # Errors
///
/// As [`app`].
pub async fn app_with_store<S: SessionStore + Clone>(config: Config, store: S) -> Result<App, StartError> {
    build(config, store, None, None).await
}

async fn build<S: SessionStore + Clone>(
    config: Config,
    store: S,
    tokens: Option<Arc<dyn TokenStore>>,
    index: Option<Arc<dyn SessionIndex>>,
) -> Result<App, StartError> {
    let (client, dev_provider) = client(&config).await?;
    let post_logout_redirect_uri = config
        .post_logout_redirect_uri
        .clone()
        .unwrap_or_else(|| config.public_url.to_string());
    let login = OidcLogin::new(client.clone())
        .scope(config.scope.clone())
        .response_mode(config.response_mode)
        .callback_path(CALLBACK_PATH)
        .post_logout_redirect_uri(post_logout_redirect_uri)
        .userinfo_at_login();
    let login = match tokens {
        Some(tokens) => login
            .token_store(tokens, LeaseOptions::default())
            .map_err(StartError::SharedSessions)?,
        None => login,
    };
    let login = match index {
        Some(index) => login.session_index(index),
        None => login,
    };
    let stats = login.stats();
    // An Authing access token's `aud` is the app that asked for it: by default the API trusts
    // the tokens of this app's own logins.
    let resource = config
        .resource
        .clone()
        .unwrap_or_else(|| client.app_id().to_owned());
    // Bearer and DPoP-bound tokens alike (RFC 9449 §7); a DPoP proof names the URL its client
    // called, which is the public URL's origin, whatever is in front of this process.
    let verifier = client
        .bearer_verifier([resource])
        .dpop(DpopMode::Accepted)
        .build()
        .map_err(StartError::Client)?;
    let origin = config.public_url.origin().ascii_serialization();
    let api = routes::api(verifier, &origin).map_err(StartError::Client)?;
    let router = login
        .install(routes::pages().merge(api))
        .layer(session_layer(store, config.secure_cookies()))
        .layer(axum::middleware::map_response(routes::security_headers));
    Ok(App {
        router,
        client,
        stats,
        dev_provider,
        config,
    })
}

/// The OIDC client for the configured provider, starting the development provider first when
/// that is the one.
async fn client(config: &Config) -> Result<(AuthenticationClient, Option<RunningDevProvider>), StartError> {
    let redirect_uri = config.redirect_uri();
    match &config.provider {
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
            Ok((client, Some(provider)))
        }
        Provider::Authing {
            app_id,
            app_host,
            secret,
        } => AuthenticationClient::builder()
            .app_id(app_id)
            .secret(secret.as_str())
            .app_host(app_host)
            .redirect_uri(redirect_uri)
            .build()
            .map(|client| (client, None))
            .map_err(StartError::Client),
        Provider::Issuer {
            issuer,
            app_id,
            secret,
        } => AuthenticationClient::builder()
            .app_id(app_id)
            .secret(secret.as_str())
            .redirect_uri(redirect_uri)
            .discover(issuer)
            .await
            .map(|client| (client, None))
            .map_err(StartError::Client),
    }
}

impl App {
    /// The axum router, to serve or to nest in a larger app.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// The OIDC client the app logs users in with.
    pub fn client(&self) -> &AuthenticationClient {
        &self.client
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
        self.stats.form_post_relays()
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
