//! [`RedisSessionIndex`]: `authing-oidc-axum`'s back-channel logout index in Redis, so that a
//! logout token delivered to one replica ends the logins every replica made (feature `axum`).

use std::time::Duration;

use async_trait::async_trait;
use authing_oidc_axum::backchannel::{IndexError, LogoutKey, SessionIndex};
use fred::clients::Client;
use fred::interfaces::{ClientLike, LuaInterface};

use crate::RedisSessionStore;

/// Indexes a login under its keys; `KEYS[1]` the login's record, `KEYS[2..]` its key sets.
/// ARGV: ttl in ms, login id, the digests separated by spaces.
const ADD: &str = r"
local ttl = tonumber(ARGV[1])
redis.call('SET', KEYS[1], ARGV[3], 'PX', ttl)
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[2])
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return 1
";

/// Ends every login of one key set (`KEYS[1]`) and returns their ids. ARGV: ttl in ms, the
/// common prefix of the index's key names.
const END: &str = r"
local ttl = tonumber(ARGV[1])
local ids = redis.call('SMEMBERS', KEYS[1])
for _, id in ipairs(ids) do
  local login = ARGV[2] .. 'login:' .. id
  local digests = redis.call('GET', login)
  if digests then
    for d in string.gmatch(digests, '%S+') do
      redis.call('SREM', ARGV[2] .. 'key:' .. d, id)
    end
    redis.call('DEL', login)
  end
  redis.call('SET', ARGV[2] .. 'ended:' .. id, '1', 'PX', ttl)
end
redis.call('DEL', KEYS[1])
return ids
";

/// Whether a login was ended (`KEYS[2]`), extending its record (`KEYS[1]`) and key sets.
/// ARGV: ttl in ms, the common prefix.
const IS_ENDED: &str = r"
local ttl = tonumber(ARGV[1])
local digests = redis.call('GET', KEYS[1])
if digests then
  redis.call('PEXPIRE', KEYS[1], ttl)
  for d in string.gmatch(digests, '%S+') do
    redis.call('PEXPIRE', ARGV[2] .. 'key:' .. d, ttl)
  end
end
return redis.call('EXISTS', KEYS[2])
";

/// Unindexes a login (`KEYS[1]` its record, `KEYS[2]` its ended marker). ARGV: login id, the
/// common prefix.
const FORGET: &str = r"
local digests = redis.call('GET', KEYS[1])
if digests then
  for d in string.gmatch(digests, '%S+') do
    redis.call('SREM', ARGV[2] .. 'key:' .. d, ARGV[1])
  end
end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
";

/// The default time an entry lives after its last use: `authing-oidc-axum`'s session layer's
/// inactivity expiry (8 hours) plus a margin, as for the memory index.
const DEFAULT_TTL: Duration = Duration::from_secs(8 * 3600 + 300);

/// A [`SessionIndex`] in Redis, shared by every replica. Made from a [`RedisSessionStore`] with
/// [`RedisSessionStore::session_index`], on its client, prefix and command timeout.
///
/// [`MemorySessionIndex`](authing_oidc_axum::MemorySessionIndex) is right for one process: with
/// several replicas behind a load balancer, the provider's `POST /backchannel-logout` reaches one
/// of them, which knows only the logins it completed itself; a user who signed in through another
/// replica would stay signed in. This index keeps the same records in Redis:
///
/// - `{prefix}:{bcl}:key:D`, a set of login ids, per logout key (`sid` or `sub` at an issuer). `D`
///   is the hex SHA-256 of the key, so neither the user's `sub` nor the provider's session id is
///   written in clear;
/// - `{prefix}:{bcl}:login:L`, the digests login `L` is indexed under (to unindex it);
/// - `{prefix}:{bcl}:ended:L`, present once a logout token ended login `L`.
///
/// Each entry lives `ttl` after its last use ([`is_ended`](SessionIndex::is_ended), called on
/// every request of the login, extends its records), like the memory index. Every operation is
/// one Lua script, so a logout and a login indexed at the same moment cannot leave an ended login
/// indexed. All keys share the hash tag `{bcl}`, so the scripts run on one Cluster shard.
pub struct RedisSessionIndex<C = Client> {
    client: C,
    names: String,
    ttl: Duration,
    command_timeout: Duration,
}

impl<C: Clone> Clone for RedisSessionIndex<C> {
    fn clone(&self) -> Self {
        RedisSessionIndex {
            client: self.client.clone(),
            names: self.names.clone(),
            ttl: self.ttl,
            command_timeout: self.command_timeout,
        }
    }
}

impl<C> std::fmt::Debug for RedisSessionIndex<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionIndex")
            .field("names", &self.names)
            .field("ttl", &self.ttl)
            .field("command_timeout", &self.command_timeout)
            .finish_non_exhaustive()
    }
}

impl<C> RedisSessionStore<C>
where
    C: ClientLike + LuaInterface + Clone + Send + Sync + 'static,
{
    /// A back-channel logout index for `authing-oidc-axum` on this store's client and prefix:
    /// pass it to `OidcLogin::session_index` on every replica.
    pub fn session_index(&self) -> RedisSessionIndex<C> {
        RedisSessionIndex {
            client: self.client.clone(),
            names: format!("{}:{{bcl}}:", self.prefix),
            ttl: DEFAULT_TTL,
            command_timeout: self.command_timeout,
        }
    }
}

impl<C> RedisSessionIndex<C>
where
    C: ClientLike + LuaInterface + Clone + Send + Sync + 'static,
{
    /// How long an entry lives after its last use (default 8 hours and 5 minutes). Keep it at
    /// least as long as the web sessions it indexes can live.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The Redis key of the set of logins indexed under `key`.
    pub fn key_set(&self, key: &LogoutKey) -> String {
        format!("{}key:{}", self.names, digest(key))
    }

    fn login_record(&self, login_id: &str) -> String {
        format!("{}login:{login_id}", self.names)
    }

    fn ended_marker(&self, login_id: &str) -> String {
        format!("{}ended:{login_id}", self.names)
    }

    fn ttl_ms(&self) -> String {
        self.ttl.as_millis().max(1).to_string()
    }

    fn commands(&self) -> fred::clients::WithOptions<C> {
        crate::redis_store::one_attempt(&self.client, self.command_timeout)
    }
}

/// The hex SHA-256 of a logout key: its kind, issuer and value, each length-prefixed so that no
/// two keys share an encoding.
fn digest(key: &LogoutKey) -> String {
    let (kind, iss, value) = match key {
        LogoutKey::Sid { iss, sid } => ("sid", iss, sid),
        LogoutKey::Sub { iss, sub } => ("sub", iss, sub),
        // A kind a later authing-oidc-axum adds (LogoutKey is non_exhaustive): indexed under a
        // digest of its debug form rather than not at all.
        other => {
            let text = format!("{other:?}");
            return hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes()).as_ref());
        }
    };
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in [kind, iss.as_str(), value.as_str()] {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part.as_bytes());
    }
    hex(context.finish().as_ref())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A login id is a member of Redis sets and part of key names: it must be non-empty and free of
/// whitespace (the scripts split a login's digests on it) and of control characters.
fn check_login_id(login_id: &str) -> Result<(), IndexError> {
    if login_id.is_empty()
        || login_id.len() > 256
        || login_id.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(IndexError(
            "a login id must be 1-256 characters without spaces".to_owned(),
        ));
    }
    Ok(())
}

fn unavailable(e: fred::error::Error) -> IndexError {
    IndexError(format!("redis: {:?}: {}", e.kind(), e.details()))
}

#[async_trait]
impl<C> SessionIndex for RedisSessionIndex<C>
where
    C: ClientLike + LuaInterface + Clone + Send + Sync + 'static,
{
    async fn add(&self, login_id: &str, keys: &[LogoutKey]) -> Result<(), IndexError> {
        check_login_id(login_id)?;
        let digests: Vec<String> = keys.iter().map(digest).collect();
        let mut names = vec![self.login_record(login_id)];
        names.extend(digests.iter().map(|d| format!("{}key:{d}", self.names)));
        let _: i64 = self
            .commands()
            .eval(
                ADD,
                names,
                vec![self.ttl_ms(), login_id.to_owned(), digests.join(" ")],
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn end(&self, key: &LogoutKey) -> Result<Vec<String>, IndexError> {
        self.commands()
            .eval(
                END,
                vec![self.key_set(key)],
                vec![self.ttl_ms(), self.names.clone()],
            )
            .await
            .map_err(unavailable)
    }

    async fn is_ended(&self, login_id: &str) -> Result<bool, IndexError> {
        check_login_id(login_id)?;
        let ended: i64 = self
            .commands()
            .eval(
                IS_ENDED,
                vec![self.login_record(login_id), self.ended_marker(login_id)],
                vec![self.ttl_ms(), self.names.clone()],
            )
            .await
            .map_err(unavailable)?;
        Ok(ended == 1)
    }

    async fn forget(&self, login_id: &str) -> Result<(), IndexError> {
        check_login_id(login_id)?;
        let _: i64 = self
            .commands()
            .eval(
                FORGET,
                vec![self.login_record(login_id), self.ended_marker(login_id)],
                vec![login_id.to_owned(), self.names.clone()],
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
