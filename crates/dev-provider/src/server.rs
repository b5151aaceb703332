//! Starting, observing and stopping a provider.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{ClientRegistration, DevProviderConfig, IdTokenAlg};
use crate::describe::ProviderDescription;
use crate::faults::Faults;
use crate::keys::{EcSigningKey, KeyRing, RsaSigningKey};
use crate::provider::Provider;
use crate::{Error, routes};

/// Entry point: [`DevProvider::start`] runs a provider on 127.0.0.1.
#[derive(Debug)]
#[non_exhaustive]
pub struct DevProvider;

impl DevProvider {
    /// Generates an RSA-2048 signing key (and the PS256 and ES256 keys when a client's
    /// id_tokens use them, and the key pairs of clients that ask for one,
    /// [`ClientRegistration::generate_key`]), binds `127.0.0.1:{config.port}` (only loopback, never
    /// another interface), spawns the server on the current tokio runtime and returns once it
    /// accepts connections.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an inconsistent configuration, [`Error::Io`] when the port cannot
    /// be bound, [`Error::Key`] when key generation fails.
    pub async fn start(mut config: DevProviderConfig) -> Result<RunningDevProvider, Error> {
        config.validate()?;
        let uses = |alg| {
            config
                .clients
                .iter()
                .any(|c| c.id_token_signed_response_alg == alg)
        };
        let (ps256, es256) = (uses(IdTokenAlg::PS256), uses(IdTokenAlg::ES256));
        let keys = tokio::task::spawn_blocking(move || -> Result<KeyRing, Error> {
            let mut keys = KeyRing::new(RsaSigningKey::generate()?);
            if ps256 {
                keys = keys.with_ps256(RsaSigningKey::generate()?);
            }
            if es256 {
                keys = keys.with_es256(EcSigningKey::generate()?);
            }
            Ok(keys)
        })
        .await
        .map_err(|e| Error::Key(format!("key generation task failed: {e}")))??;
        for client in config.clients.iter_mut().filter(|c| c.generate_key) {
            let key = EcSigningKey::generate()?;
            client.jwks = Some(serde_json::json!({ "keys": [key.public_jwk()] }));
            client.generated_private_jwk = Some(key.private_jwk());
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port)).await?;
        let address = listener.local_addr()?;
        let app_host = format!("http://127.0.0.1:{}", address.port());
        let provider = Arc::new(Provider::new(app_host, config, keys));
        let router = routes::router(provider.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let result = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    // A dropped sender also means stop.
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = result {
                tracing::error!(%error, "dev-provider server stopped with an error");
            }
        });
        tracing::info!(issuer = %provider.issuer, "dev-provider listening");
        Ok(RunningDevProvider {
            provider,
            address,
            stop: Some(stop),
            server: Some(server),
        })
    }
}

/// A provider serving on 127.0.0.1. Dropping it stops the server; [`shutdown`](Self::shutdown)
/// does so gracefully and waits.
pub struct RunningDevProvider {
    provider: Arc<Provider>,
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningDevProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningDevProvider")
            .field("app_host", &self.provider.app_host)
            .finish_non_exhaustive()
    }
}

impl RunningDevProvider {
    /// `http://127.0.0.1:{port}`, what the SDK calls `app_host`.
    pub fn app_host(&self) -> String {
        self.provider.app_host.clone()
    }

    /// `{app_host}/oidc`.
    pub fn issuer(&self) -> String {
        self.provider.issuer.clone()
    }

    /// The socket address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// The registered clients (with their secrets, so tests can configure the SDK).
    pub fn clients(&self) -> &[ClientRegistration] {
        &self.provider.config.clients
    }

    /// The registered client `app_id`, if any.
    pub fn client(&self, app_id: &str) -> Option<&ClientRegistration> {
        self.provider.client(app_id)
    }

    /// The configuration the provider runs with.
    pub fn config(&self) -> &DevProviderConfig {
        &self.provider.config
    }

    /// The fault switches, settable while the provider runs.
    pub fn faults(&self) -> Faults {
        self.provider.faults.clone()
    }

    /// Generates a new RSA key with a new `kid` and signs RS256 tokens with it from now on; the
    /// old keys stay in the JWKS. Returns the new `kid`. The PS256 and ES256 keys do not rotate.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] when key generation fails.
    pub fn rotate_signing_key(&self) -> Result<String, Error> {
        let key = RsaSigningKey::generate()?;
        let kid = key.kid.clone();
        self.provider.keys_mut().push(key);
        tracing::info!(%kid, "dev-provider signing key rotated");
        Ok(kid)
    }

    /// The `kid` of the RS256 key that signs now.
    pub fn current_kid(&self) -> String {
        self.provider
            .keys()
            .current()
            .map(|k| k.kid.clone())
            .unwrap_or_default()
    }

    /// How many requests reached `path` (e.g. `/oidc/token`), whatever their outcome.
    pub fn request_count(&self, path: &str) -> u64 {
        self.provider.request_counts().get(path).copied().unwrap_or(0)
    }

    /// Request counts of every path seen so far.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.provider.request_counts()
    }

    /// The machine-readable description the CLI prints (docs/cli.md, `dev-provider`).
    pub fn description(&self) -> ProviderDescription {
        ProviderDescription::of(&self.provider)
    }

    /// Stops accepting connections, lets in-flight requests finish (up to 5 s), then returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut server)
                .await
                .is_err()
        {
            server.abort();
        }
    }
}

impl Drop for RunningDevProvider {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Aborting (rather than waiting for a graceful end) cannot block in drop, and frees
        // the listener even if a client still holds a keep-alive connection.
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}
