//! [`RedisWebSessionStore`]: a tower-sessions store on the same fred client and
//! keyring as [`RedisSessionStore`], so a web service keeps its cookie sessions
//! and its token sessions in one Redis through one client (feature
//! `tower-sessions`).
//!
//! A web session of `authing-oidc-axum` holds secrets: between `/login` and
//! `/callback` the pending login (state, nonce, PKCE `code_verifier`), after it
//! the exported token set. Each record is therefore sealed with AES-256-GCM like
//! the token sessions, the Redis key name as associated data (a record copied
//! under another session id does not decrypt), and expires in Redis when the
//! session does (`EXAT`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fred::clients::Client;
use fred::interfaces::{ClientLike, KeysInterface};
use fred::types::{Expiration, SetOptions};
use secrecy::ExposeSecret as _;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store::{self, SessionStore};

use crate::RedisSessionStore;
use crate::crypto::Keyring;

/// A [`tower_sessions_core::SessionStore`] on Redis, its records encrypted at
/// rest. Made from a
/// [`RedisSessionStore`] with [`RedisSessionStore::web_sessions`], sharing its
/// client, keys, prefix and command timeout. Record `R` is stored under
/// `{prefix}:web:R`.
pub struct RedisWebSessionStore<C = Client> {
    client: C,
    keys: Arc<Keyring>,
    prefix: String,
    command_timeout: Duration,
}

impl<C: Clone> Clone for RedisWebSessionStore<C> {
    fn clone(&self) -> Self {
        RedisWebSessionStore {
            client: self.client.clone(),
            keys: self.keys.clone(),
            prefix: self.prefix.clone(),
            command_timeout: self.command_timeout,
        }
    }
}

impl<C> std::fmt::Debug for RedisWebSessionStore<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisWebSessionStore")
            .field("prefix", &self.prefix)
            .field("key_id", &self.keys.current_id())
            .field("command_timeout", &self.command_timeout)
            .finish_non_exhaustive()
    }
}

impl<C> RedisSessionStore<C>
where
    C: ClientLike + KeysInterface + Clone + Send + Sync + 'static,
{
    /// A tower-sessions store for the service's web sessions on this store's
    /// client and keys: one Redis client and one keyring for both.
    pub fn web_sessions(&self) -> RedisWebSessionStore<C> {
        RedisWebSessionStore {
            client: self.client.clone(),
            keys: self.keys.clone(),
            prefix: self.prefix.clone(),
            command_timeout: self.command_timeout,
        }
    }
}

impl<C> RedisWebSessionStore<C>
where
    C: ClientLike + KeysInterface + Clone + Send + Sync + 'static,
{
    /// The Redis key a web session is stored under.
    pub fn record_key(&self, id: &Id) -> String {
        format!("{}:web:{id}", self.prefix)
    }

    fn commands(&self) -> fred::clients::WithOptions<C> {
        crate::redis_store::one_attempt(&self.client, self.command_timeout)
    }

    /// `SET` with `NX` (create) or `XX` (save); `false` when the condition did not hold.
    async fn write(&self, record: &Record, condition: SetOptions) -> session_store::Result<bool> {
        let name = self.record_key(&record.id);
        let plaintext = secrecy::SecretBox::new(Box::new(
            serde_json::to_vec(record).map_err(|_| encode("the session record does not serialise"))?,
        ));
        // Web sessions are not compare-and-set: the count in the associated data is always 0.
        let sealed = self
            .keys
            .seal(&name, 0, plaintext.expose_secret())
            .map_err(encode)?;
        let answer: Option<String> = self
            .commands()
            .set(
                name,
                sealed,
                Some(Expiration::EXAT(record.expiry_date.unix_timestamp())),
                Some(condition),
                false,
            )
            .await
            .map_err(backend)?;
        Ok(answer.is_some())
    }
}

#[async_trait]
impl<C> SessionStore for RedisWebSessionStore<C>
where
    C: ClientLike + KeysInterface + Clone + Send + Sync + 'static,
{
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A fresh random id that is already taken gets another one.
        while !self.write(record, SetOptions::NX).await? {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        // XX: a session deleted meanwhile (a logout in another request) is not brought back.
        self.write(record, SetOptions::XX).await?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let name = self.record_key(id);
        let sealed: Option<Vec<u8>> = self.commands().get(&name).await.map_err(backend)?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let plaintext = self.keys.open(&name, 0, &sealed).map_err(decode)?;
        // serde_json's messages can quote values, and records hold secrets.
        let record: Record = serde_json::from_slice(plaintext.expose_secret())
            .map_err(|_| decode("the stored session record does not parse"))?;
        if record.id != *id {
            return Err(decode("the stored session record names another session"));
        }
        Ok(Some(record))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let _: i64 = self.commands().del(self.record_key(id)).await.map_err(backend)?;
        Ok(())
    }
}

fn backend(e: fred::error::Error) -> session_store::Error {
    session_store::Error::Backend(format!("redis: {:?}: {}", e.kind(), e.details()))
}

fn encode(message: impl Into<String>) -> session_store::Error {
    session_store::Error::Encode(message.into())
}

fn decode(message: impl Into<String>) -> session_store::Error {
    session_store::Error::Decode(message.into())
}
