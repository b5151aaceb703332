//! Where `--session` keeps a session: a file (crate::store, locked from read
//! through refresh to rename; the lock is the refresh lease of a
//! [`SessionFileStore`]) or, for `redis://HOST:PORT/KEY`, a Redis key
//! through [`authing_oidc_redis::RedisSessionStore`], whose refresh lease and
//! compare-and-set saves give the same guarantee across processes and
//! machines: one refresh per expiry (docs/shared-sessions.md).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use authing_oidc::AuthenticationClient;
use authing_oidc::flow::Authenticated;
use authing_oidc::store::{LeaseOptions, SessionStore};
use authing_oidc_redis::{Keyring, RedisSessionStore, SessionKey};

use crate::error::CliError;
use crate::store::{LockedFile, SessionFileStore};

/// The environment variable holding the AES-256-GCM key of Redis sessions:
/// 32 bytes in base64 (`openssl rand -base64 32`). Never an option, so that it
/// stays out of process listings.
pub const KEY_VARIABLE: &str = "AUTHING_SESSION_KEY";

/// The id the CLI gives its one key (stored beside each sealed session).
const KEY_ID: &str = "authing-oidc-cli";

/// A parsed `--session` value.
pub enum SessionTarget {
    /// A session file.
    File(PathBuf),
    /// A Redis key: `url` is the server (`redis://[user:pass@]HOST:PORT`), `key` the session's key.
    Redis { url: String, key: String },
}

/// Held while a restored session is in use: the file's lock, or nothing for
/// Redis (its lease is taken only around a refresh).
pub struct SessionGuard {
    _lock: Option<Arc<LockedFile>>,
}

impl SessionTarget {
    /// `redis://…` names a Redis session; anything else a file, as before.
    pub fn parse(path: &Path) -> Result<Self, CliError> {
        let Some(text) = path.to_str().filter(|t| t.starts_with("redis://")) else {
            return Ok(SessionTarget::File(path.to_owned()));
        };
        let bad = |why: &str| CliError::usage(format!("--session redis://HOST:PORT/KEY: {why}"));
        let mut url = url::Url::parse(text).map_err(|_| bad("not a URL"))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("no query or fragment is allowed"));
        }
        let key = url
            .path()
            .strip_prefix('/')
            .filter(|k| !k.is_empty())
            .ok_or_else(|| bad("no KEY"))?
            .to_owned();
        url.set_path("");
        Ok(SessionTarget::Redis {
            url: url.as_str().trim_end_matches('/').to_owned(),
            key,
        })
    }

    /// The file, when this is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            SessionTarget::File(p) => Some(p),
            SessionTarget::Redis { .. } => None,
        }
    }

    /// Restores the session; a refresh then saves it back (the file under its
    /// lock, Redis under the store's lease). A missing session is a `file` error.
    pub async fn open(
        &self,
        client: AuthenticationClient,
    ) -> Result<(SessionGuard, Authenticated), CliError> {
        match self {
            SessionTarget::File(path) => {
                let lock = Arc::new(LockedFile::lock_existing(path)?);
                let saved = lock.read_session(&client)?;
                let authenticated = Authenticated::restore_from_trusted_store(client.clone(), saved)?;
                // The file as a session store: its lock is the refresh lease, held from here.
                let store = Arc::new(SessionFileStore::new(lock.clone(), client));
                authenticated.set_session_store(store, path.display().to_string())?;
                Ok((SessionGuard { _lock: Some(lock) }, authenticated))
            }
            SessionTarget::Redis { url, key } => {
                let store = connect(url).await?;
                let saved = store
                    .load(key)
                    .await?
                    .ok_or_else(|| CliError::file(format!("no session is stored at {url}/{key}")))?;
                // As for a file: a session of another client or issuer is refused.
                if saved.issuer() != client.issuer() || saved.client_id() != client.app_id() {
                    return Err(CliError::file(format!(
                        "{url}/{key} was made for client {:?} of issuer {:?}, not client {:?} of issuer {:?}",
                        saved.client_id(),
                        saved.issuer(),
                        client.app_id(),
                        client.issuer()
                    )));
                }
                let authenticated = Authenticated::restore_from_trusted_store(client, saved)?;
                authenticated.set_session_store_with(store, key.clone(), LeaseOptions::default())?;
                Ok((SessionGuard { _lock: None }, authenticated))
            }
        }
    }

    /// Saves a new session (a login), replacing what was there.
    pub async fn save(&self, session: &Authenticated) -> Result<(), CliError> {
        match self {
            SessionTarget::File(path) => {
                let lock = LockedFile::lock(path)?;
                lock.write_session(&session.export_with_secrets())
            }
            SessionTarget::Redis { url, key } => {
                let store = connect(url).await?;
                session
                    .save_to_session_store(store, key.clone(), LeaseOptions::default())
                    .await?;
                Ok(())
            }
        }
    }
}

/// The key from [`KEY_VARIABLE`] (a `config` error when missing or malformed;
/// the message never quotes it), then a connection to the server.
async fn connect(url: &str) -> Result<Arc<dyn SessionStore>, CliError> {
    let encoded = std::env::var(KEY_VARIABLE).map_err(|_| {
        CliError::config(format!(
            "a redis:// session needs {KEY_VARIABLE}: 32 bytes in base64 (openssl rand -base64 32)"
        ))
    })?;
    let encoded = secrecy::SecretString::from(encoded);
    let key = SessionKey::from_base64(KEY_ID, &encoded)
        .map_err(|e| CliError::config(format!("{KEY_VARIABLE}: {e}")))?;
    let store = RedisSessionStore::connect(url, Keyring::new(key)).await?;
    Ok(Arc::new(store))
}
