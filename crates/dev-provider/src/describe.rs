//! The one-line JSON description the CLI's `dev-provider` command prints (docs/cli.md, `dev-provider`), and
//! [`serve_until_signal`], which that command runs.

use std::io::Write;

use serde::Serialize;

use crate::config::{ClientAuthMethod, DevProviderConfig, IdTokenAlg};
use crate::provider::Provider;
use crate::{DevProvider, Error};

/// `{"issuer", "app_host", "clients": [...], "users": [...], "m2m": [...]}`: everything a
/// client needs to log in, the FAPI 2.0 client's generated private key included.
///
/// The secrets, passwords and access secrets in it are the provider's well-known development
/// values (see [`DevProviderConfig`]), printed on purpose so a fresh machine can log in; they
/// are no secrets of the SDK and must never be reused for a real provider. Members may be
/// added; the existing ones keep their names and shapes.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ProviderDescription {
    /// `{app_host}/oidc`
    pub issuer: String,
    /// `http://127.0.0.1:{port}`
    pub app_host: String,
    /// One entry per registered client.
    pub clients: Vec<ClientDescription>,
    /// One entry per user the login page accepts.
    pub users: Vec<UserDescription>,
    /// One entry per machine-to-machine access key pair the `client_credentials` grant
    /// accepts.
    pub m2m: Vec<M2mDescription>,
}

/// A user in a [`ProviderDescription`]: what to type in the login form.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct UserDescription {
    /// The login name (the form's `username`).
    pub login: String,
    /// The password. A development password, printed on purpose.
    pub password: String,
}

/// A machine-to-machine access key pair in a [`ProviderDescription`]: sent as `client_id`
/// and `client_secret` of a `client_credentials` token request.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct M2mDescription {
    /// The access key.
    pub access_key: String,
    /// The access secret. A development secret, printed on purpose.
    pub access_secret: String,
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
    /// `client_secret_post`, `client_secret_basic`, `none`, `client_secret_jwt` or
    /// `private_key_jwt`.
    pub token_endpoint_auth_method: ClientAuthMethod,
    /// `RS256`, `HS256`, `PS256` or `ES256`.
    pub id_token_signed_response_alg: IdTokenAlg,
    /// The private key the provider generated for a `private_key_jwt` client, as a JWK with
    /// `kid` and `alg` (what `authing-oidc --client-key` takes). A development key, printed on
    /// purpose. Absent for other clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key: Option<serde_json::Value>,
    /// `true` when the client must push its authorization requests (RFC 9126 §6); absent
    /// otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub require_pushed_authorization_requests: bool,
    /// `true` when the client's token requests must carry a DPoP proof (RFC 9449 §5.2);
    /// absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens: bool,
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
                    client_key: c.client_key().cloned(),
                    require_pushed_authorization_requests: c.require_pushed_authorization_requests,
                    dpop_bound_access_tokens: c.dpop_bound_access_tokens,
                })
                .collect(),
            users: provider
                .config
                .users
                .iter()
                .map(|u| UserDescription {
                    login: u.username.clone(),
                    password: u.password.clone(),
                })
                .collect(),
            m2m: provider
                .config
                .m2m_credentials
                .iter()
                .map(|m| M2mDescription {
                    access_key: m.access_key.clone(),
                    access_secret: m.access_secret.clone(),
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
/// This is the body of `authing-oidc dev-provider`. Embedded in your own binary, it gives
/// the same contract: a parent process (a test harness, a script) reads the first stdout
/// line, which is only written once the port accepts connections, takes `issuer`,
/// `app_host`, `clients`, `users` and `m2m` from it, and stops the provider with SIGTERM.
/// Nothing else is written to stdout; logs go through `tracing`. It returns after the signal,
/// once in-flight requests have finished (up to 5 s). To control the provider from the same
/// process instead, use [`DevProvider::start`] and [`RunningDevProvider::shutdown`](crate::RunningDevProvider::shutdown).
///
/// ```no_run
/// use authing_oidc_dev_provider::{DevProviderConfig, serve_until_signal};
///
/// #[tokio::main]
/// async fn main() -> Result<(), authing_oidc_dev_provider::Error> {
///     let mut config = DevProviderConfig::default();
///     config.port = 8080; // 0 picks a free port; the JSON line says which
///     // Prints e.g. {"issuer":"http://127.0.0.1:8080/oidc","app_host":"http://127.0.0.1:8080",
///     // "clients":[…],"users":[{"login":"alice","password":"alice-password"}],
///     // "m2m":[{"access_key":"dev-m2m-access-key","access_secret":"dev-m2m-access-secret"}]}
///     serve_until_signal(config).await
/// }
/// ```
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
        assert_eq!(line["clients"].as_array().unwrap().len(), 4);
        assert_eq!(line["clients"][0]["secret"], "dev-app-secret");
        // The first three keep the shape tests outside this repository parse: exactly these
        // members, no new ones.
        for client in &line["clients"].as_array().unwrap()[..3] {
            let mut members: Vec<&String> = client.as_object().unwrap().keys().collect();
            members.sort();
            assert_eq!(
                members,
                [
                    "app_id",
                    "id_token_signed_response_alg",
                    "redirect_uri",
                    "secret",
                    "token_endpoint_auth_method"
                ]
            );
        }
        let fapi = &line["clients"][3];
        assert_eq!(fapi["app_id"], "dev-app-fapi");
        assert_eq!(fapi["secret"], serde_json::Value::Null);
        assert_eq!(fapi["token_endpoint_auth_method"], "private_key_jwt");
        assert_eq!(fapi["id_token_signed_response_alg"], "ES256");
        assert_eq!(fapi["require_pushed_authorization_requests"], true);
        assert_eq!(fapi["dpop_bound_access_tokens"], true);
        assert_eq!(fapi["client_key"]["kty"], "EC");
        assert_eq!(fapi["client_key"]["alg"], "ES256");
        assert!(fapi["client_key"]["d"].is_string() && fapi["client_key"]["kid"].is_string());
        assert_eq!(
            line["users"],
            serde_json::json!([{"login": "alice", "password": "alice-password"}])
        );
        assert_eq!(
            line["m2m"],
            serde_json::json!([{
                "access_key": "dev-m2m-access-key",
                "access_secret": "dev-m2m-access-secret"
            }])
        );
    }

    #[tokio::test]
    async fn the_line_carries_the_configured_users_and_m2m_pairs() {
        let config = DevProviderConfig {
            users: vec![
                crate::DevUser::new("bob", "bob pw&1", "Bob", "bob@example.com"),
                crate::DevUser::new("carol", "c", "Carol", "carol@example.com"),
            ],
            m2m_credentials: vec![crate::M2mCredential::new("AK-1", "SK/=+ 1")],
            ..DevProviderConfig::default()
        };
        let mut out = Vec::new();
        serve_until(config, &mut out, async { Ok(()) }).await.unwrap();
        let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            line["users"],
            serde_json::json!([
                {"login": "bob", "password": "bob pw&1"},
                {"login": "carol", "password": "c"}
            ])
        );
        assert_eq!(
            line["m2m"],
            serde_json::json!([{"access_key": "AK-1", "access_secret": "SK/=+ 1"}])
        );
    }
}
