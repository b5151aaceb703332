//! The one-line JSON description the CLI's `dev-provider` command prints (docs/cli.md, `dev-provider`), and
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
    serve_until(config, &mut std::io::stdout(), wait_for_signal()).await
}

/// [`serve_until_signal`] with the output and the stop condition injected, so it can be
/// tested without sending signals to the test process.
async fn serve_until(
    config: DevProviderConfig,
    out: &mut impl Write,
    stop: impl Future<Output = Result<(), Error>>,
) -> Result<(), Error> {
    let provider = DevProvider::start(config).await?;
    writeln!(out, "{}", provider.description().to_json_line())?;
    out.flush()?;
    stop.await?;
    tracing::info!("dev-provider stopping");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn prints_one_json_line_then_serves_until_stopped() {
        let mut out = Vec::new();
        serve_until(DevProviderConfig::default(), &mut out, async { Ok(()) })
            .await
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1);
        let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        let app_host = line["app_host"].as_str().unwrap();
        assert!(app_host.starts_with("http://127.0.0.1:"));
        assert_eq!(line["issuer"], format!("{app_host}/oidc"));
        assert_eq!(line["clients"].as_array().unwrap().len(), 3);
        assert_eq!(line["clients"][0]["secret"], "dev-app-secret");
    }
}
