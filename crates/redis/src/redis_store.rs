//! [`RedisSessionStore`]: the commands and scripts behind load, save and the
//! lease (see the crate documentation for the layout and the safety argument).

use std::sync::Arc;
use std::time::Duration;

use authing_oidc::store::{Lease, SaveCondition, Saved, SavedSession, SessionStore, StoreFuture};
use authing_oidc::{Error, StoreError};
use fred::bytes::Bytes;
use fred::clients::Client;
use fred::interfaces::{ClientLike, HashesInterface, KeysInterface, LuaInterface};
use fred::types::config::{Config, ConnectionConfig, Options, PerformanceConfig, ReconnectPolicy};
use fred::types::{Builder, Expiration, SetOptions, Value};
use secrecy::ExposeSecret as _;

use crate::crypto::Keyring;

/// Compare-and-set: writes the hash `{n, v}` only when the stored count is the
/// expected one (`count`), when there is none (`absent`), or always.
/// KEYS[1] the session key; ARGV: mode, expected count, new count, value,
/// time to live in ms (0: none).
const SAVE: &str = r"
local n = redis.call('HGET', KEYS[1], 'n')
if ARGV[1] == 'absent' and n then return 0 end
if ARGV[1] == 'count' and n ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'n', ARGV[3], 'v', ARGV[4])
if ARGV[5] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return 1
";

/// Compare-and-delete: removes the lease only if it still holds this owner.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// The default prefix of every key this store writes.
pub const DEFAULT_PREFIX: &str = "authing-oidc";

/// A [`SessionStore`] on Redis (see the [crate documentation](crate)).
///
/// Generic over the fred client: a [`Client`] or a
/// [`Pool`](fred::clients::Pool), typically the one the service's web-session
/// store already uses.
pub struct RedisSessionStore<C = Client> {
    pub(crate) client: C,
    pub(crate) keys: Arc<Keyring>,
    pub(crate) prefix: String,
    pub(crate) command_timeout: Duration,
    session_ttl: Option<Duration>,
}

impl<C> std::fmt::Debug for RedisSessionStore<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionStore")
            .field("prefix", &self.prefix)
            .field("key_id", &self.keys.current_id())
            .field("command_timeout", &self.command_timeout)
            .field("session_ttl", &self.session_ttl)
            .finish_non_exhaustive()
    }
}

impl RedisSessionStore<Client> {
    /// Connects a new client to `url` (`redis://HOST:PORT[/DB]`, as
    /// [`Config::from_url`] reads it) with settings for this store: commands
    /// fail fast while the connection is down (a refresh then fails with a
    /// transient error instead of waiting), and the client reconnects in the
    /// background, every 100 ms to 2 s.
    pub async fn connect(url: &str, keys: Keyring) -> Result<Self, Error> {
        let config = Config::from_url(url).map_err(unavailable)?;
        let client = Builder::from_config(config)
            .with_connection_config(|c: &mut ConnectionConfig| {
                c.connection_timeout = Duration::from_secs(2);
                c.internal_command_timeout = Duration::from_secs(2);
                c.max_command_attempts = 1;
            })
            .with_performance_config(|p: &mut PerformanceConfig| {
                p.default_command_timeout = Duration::from_secs(2);
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build()
            .map_err(unavailable)?;
        client.init().await.map_err(unavailable)?;
        Ok(RedisSessionStore::new(client, keys))
    }
}

impl<C> RedisSessionStore<C>
where
    C: ClientLike + KeysInterface + HashesInterface + LuaInterface + Clone + Send + Sync + 'static,
{
    /// A store on a connected fred client.
    pub fn new(client: C, keys: Keyring) -> Self {
        RedisSessionStore {
            client,
            keys: Arc::new(keys),
            prefix: DEFAULT_PREFIX.to_owned(),
            command_timeout: Duration::from_secs(2),
            session_ttl: None,
        }
    }

    /// The prefix of the keys it writes (default `authing-oidc`).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one command may take before it fails as unavailable (default 2 s).
    pub fn with_command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Sessions not saved for this long are removed by Redis (default: kept).
    /// Every save starts the time again.
    pub fn with_session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = Some(ttl);
        self
    }

    /// The fred client.
    pub fn client(&self) -> &C {
        &self.client
    }

    /// The Redis key a session is stored under.
    pub fn session_key(&self, key: &str) -> String {
        format!("{}:session:{{{key}}}", self.prefix)
    }

    /// The Redis key of a session's refresh lease.
    pub fn lease_key(&self, key: &str) -> String {
        format!("{}:lease:{{{key}}}", self.prefix)
    }

    /// Removes a stored session (a logout) and its lease.
    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        let _: i64 = self
            .commands()
            .del(vec![self.session_key(key), self.lease_key(key)])
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    fn commands(&self) -> fred::clients::WithOptions<C> {
        one_attempt(&self.client, self.command_timeout)
    }

    async fn load_session(&self, key: &str) -> Result<Option<SavedSession>, Error> {
        let name = self.session_key(key);
        let values: Vec<Value> = self
            .commands()
            .hmget(&name, vec!["n", "v"])
            .await
            .map_err(unavailable)?;
        let (Some(n), Some(v)) = (values.first(), values.get(1)) else {
            return Err(invalid("HMGET answered another shape"));
        };
        if n.is_null() && v.is_null() {
            return Ok(None);
        }
        let count = n
            .as_u64()
            .ok_or_else(|| invalid("the stored refresh count is not a number"))?;
        let sealed = v
            .as_bytes()
            .ok_or_else(|| invalid("the stored session has no value"))?;
        let plaintext = self.keys.open(&name, count, sealed).map_err(invalid)?;
        // serde_json's messages can quote values, and this one holds tokens.
        let saved: SavedSession = serde_json::from_slice(plaintext.expose_secret())
            .map_err(|_| invalid("the stored session does not parse"))?;
        if saved.refresh_count() != count {
            return Err(invalid("the stored refresh count differs from the session's"));
        }
        Ok(Some(saved))
    }

    async fn save_session(
        &self,
        key: &str,
        session: &SavedSession,
        condition: SaveCondition,
    ) -> Result<Saved, Error> {
        let name = self.session_key(key);
        let count = session.refresh_count();
        let plaintext = secrecy::SecretBox::new(Box::new(
            serde_json::to_vec(session).map_err(|_| invalid("the session does not serialise"))?,
        ));
        let sealed = self
            .keys
            .seal(&name, count, plaintext.expose_secret())
            .map_err(invalid)?;
        let (mode, expected) = match condition {
            SaveCondition::RefreshCount(n) => ("count", n.to_string()),
            SaveCondition::Absent => ("absent", String::new()),
            _ => ("always", String::new()),
        };
        let ttl_ms = self.session_ttl.map_or(0, |t| t.as_millis());
        let args: Vec<Value> = vec![
            mode.into(),
            expected.into(),
            count.to_string().into(),
            Value::Bytes(Bytes::from(sealed)),
            ttl_ms.to_string().into(),
        ];
        let stored: i64 = self
            .commands()
            .eval(SAVE, vec![name], args)
            .await
            .map_err(unavailable)?;
        Ok(if stored == 1 {
            Saved::Stored
        } else {
            Saved::Refused
        })
    }

    async fn take_lease(&self, key: &str, ttl: Duration) -> Result<Option<Lease>, Error> {
        let lease = Lease::random()?;
        let millis = i64::try_from(ttl.as_millis().max(1)).unwrap_or(i64::MAX);
        let answer: Option<String> = self
            .commands()
            .set(
                self.lease_key(key),
                lease.owner(),
                Some(Expiration::PX(millis)),
                Some(SetOptions::NX),
                false,
            )
            .await
            .map_err(unavailable)?;
        Ok(answer.map(|_| lease))
    }

    async fn release_lease(&self, key: &str, lease: Lease) -> Result<(), Error> {
        let _: i64 = self
            .commands()
            .eval(RELEASE, vec![self.lease_key(key)], vec![lease.owner().to_owned()])
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

impl<C> SessionStore for RedisSessionStore<C>
where
    C: ClientLike + KeysInterface + HashesInterface + LuaInterface + Clone + Send + Sync + 'static,
{
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<SavedSession>> {
        Box::pin(self.load_session(key))
    }

    fn save<'a>(
        &'a self,
        key: &'a str,
        session: &'a SavedSession,
        condition: SaveCondition,
    ) -> StoreFuture<'a, Saved> {
        Box::pin(self.save_session(key, session, condition))
    }

    fn try_lease<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, Option<Lease>> {
        Box::pin(self.take_lease(key, ttl))
    }

    fn release<'a>(&'a self, key: &'a str, lease: Lease) -> StoreFuture<'a, ()> {
        Box::pin(self.release_lease(key, lease))
    }

    /// Deletes the session's hash; a lease another replica holds is left to expire, so a
    /// refresh in flight elsewhere is not joined by a second one.
    fn remove_session<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _: i64 = self
                .commands()
                .del(self.session_key(key))
                .await
                .map_err(unavailable)?;
            Ok(())
        })
    }
}

fn unavailable(e: fred::error::Error) -> Error {
    Error::Store(StoreError::unavailable(format!(
        "redis: {:?}: {}",
        e.kind(),
        e.details()
    )))
}

fn invalid(message: impl Into<String>) -> Error {
    Error::Store(StoreError::invalid(message))
}

/// The client with the options every command of this crate runs under: one attempt, failing fast
/// after `timeout`, so that an unreachable Redis is a transient error instead of a wait.
pub(crate) fn one_attempt<C: ClientLike>(client: &C, timeout: Duration) -> fred::clients::WithOptions<C> {
    client.with_options(&Options {
        timeout: Some(timeout),
        fail_fast: true,
        max_attempts: Some(1),
        ..Options::default()
    })
}
