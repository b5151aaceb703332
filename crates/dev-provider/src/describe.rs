//! The one-line JSON description the CLI's `dev-provider` command prints (SPEC.md §6), and
//! [`serve_until_signal`], which that command runs.

use std::io::Write;

use serde::Serialize;

use crate::config::{ClientAuthMethod, DevProviderConfig, IdTokenAlg};
use crate::provider::Provider;
use crate::{DevProvider, Error};

/// `{"issuer", "app_host", "clients": [...]}`: everything a client needs to log in.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ProviderDescription {
    /// `{app_host}/oidc`
    pub issuer: String,
    /// `http://127.0.0.1:{port}`
    pub app_host: String,
    /// One entry per registered client.
    pub clients: Vec<ClientDescription>,
}

/// One client in a [`ProviderDescription`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ClientDescription {
    /// The client id.
    pub app_id: String,
    /// The client secret; `null` for public clients. A development secret, printed on purpose.
    pub secret: Option<String>,
    /// The first registered redirect URI.
    pub redirect_uri: Option<String>,
    /// `client_secret_post`, `client_secret_basic` or `none`.
    pub token_endpoint_auth_method: ClientAuthMethod,
    /// `RS256` or `HS256`.
    pub id_token_signed_response_alg: IdTokenAlg,
}

impl ProviderDescription {
    pub(crate) fn of(provider: &Provider) -> Self {
        Self {
            issuer: provider.issuer.clone(),
            app_host: provider.app_host.clone(),
            clients: provider
                .config
                .clients
                .iter()
                .map(|c| ClientDescription {
                    app_id: c.app_id.clone(),
                    secret: c.secret.clone(),
                    redirect_uri: c.redirect_uris.first().cloned(),
                    token_endpoint_auth_method: c.token_endpoint_auth_method,
                    id_token_signed_response_alg: c.id_token_signed_response_alg,
                })
                .collect(),
        }
    }

    /// The description as one line of JSON.
    pub fn to_json_line(&self) -> String {
        // Serialising plain strings and enums cannot fail; fall back to an empty object
        // rather than panic if that ever changes.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// Starts a provider, prints its [`ProviderDescription`] as one line on stdout once it
/// listens, and serves until SIGINT or SIGTERM; then shuts down gracefully and returns `Ok`.
///
/// # Errors
///
/// What [`DevProvider::start`] returns, or [`Error::Io`] when stdout or the signal handlers
/// fail.
pub async fn serve_until_signal(config: DevProviderConfig) -> Result<(), Error> {
    let provider = DevProvider::start(config).await?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", provider.description().to_json_line())?;
        stdout.flush()?;
    }
    wait_for_signal().await?;
    tracing::info!("dev-provider stopping on signal");
    provider.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> Result<(), Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> Result<(), Error> {
    tokio::signal::ctrl_c().await?;
    Ok(())
}
