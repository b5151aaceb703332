//! Sessions of [`authing_oidc`] shared by many replicas through Redis: a
//! [`SessionStore`] on [`fred`], the client tower-sessions' Redis store uses.
//!
//! ```no_run
//! use std::sync::Arc;
//! use authing_oidc::flow::Authenticated;
//! use authing_oidc::store::LeaseOptions;
//! use authing_oidc_redis::{Keyring, RedisSessionStore, SessionKey};
//! # async fn run(client: authing_oidc::AuthenticationClient, session: Authenticated,
//! #              key: secrecy::SecretString) -> Result<(), Box<dyn std::error::Error>> {
//! let keys = Keyring::new(SessionKey::from_base64("2026-12", &key)?);
//! let store = Arc::new(RedisSessionStore::connect("redis://127.0.0.1:6379", keys).await?);
//! // After the login (on any replica):
//! session.save_to_session_store(store.clone(), "user-42", LeaseOptions::default()).await?;
//! // On any replica, later:
//! let session = Authenticated::restore_from_session_store(client, store, "user-42", LeaseOptions::default())
//!     .await?
//!     .expect("a stored session");
//! let token = session.access_token().await?; // refreshed once per expiry across all replicas
//! # Ok(()) }
//! ```
//!
//! # What it stores
//!
//! Per session key `K`, two Redis keys (the prefix is configurable):
//!
//! - `authing-oidc:session:{K}`, a hash: `n` the session's
//!   [`refresh_count`](authing_oidc::store::SavedSession::refresh_count), `v` the
//!   saved session encrypted with AES-256-GCM (see [`Keyring`]), with the Redis
//!   key name and `n` as associated data;
//! - `authing-oidc:lease:{K}`, the refresh lease: a random owner token, set with
//!   `SET … NX PX ttl` and removed by a Lua compare-and-delete, so a holder
//!   whose lease expired cannot remove its successor's.
//!
//! A save is one Lua script that compares `n` with the count read before the
//! refresh and writes only when it is unchanged (compare-and-set).
//!
//! # Why no refresh token is used twice
//!
//! - **The lease prevents a double refresh.** A session refreshes only while it
//!   holds its key's lease, and re-reads the stored copy under the lease: if
//!   another replica refreshed meanwhile, the stored copy is newer and is used
//!   as it is, without a request. The lease lives longer than a refresh request
//!   can take ([`LeaseOptions::ttl`](authing_oidc::store::LeaseOptions) above
//!   the client's HTTP timeout, checked when a store is attached), so it does
//!   not expire under a holder that is still waiting for the provider.
//! - **Compare-and-set prevents a lost rotation.** If a holder is slower than
//!   its lease anyway (a paused process), a second holder may refresh and save
//!   first; the slow holder's save then finds another count and is refused, so
//!   the newest rotated refresh token is never overwritten by an older one. The
//!   slow holder takes the stored copy over.
//! - **Rotated tokens that could not be saved keep the lease**: a holder whose
//!   save failed (Redis unreachable) does not release its lease, so no other
//!   replica refreshes with the refresh token that was just retired until the
//!   lease expires; the holder saves its tokens again first on its next call.
//! - **No lease, no refresh.** When Redis is unreachable, refreshes fail with a
//!   transient [`authing_oidc::Error::Store`], a still-valid access token keeps
//!   being handed out from memory, and the session recovers when Redis answers.
//!
//! A warm [`access_token`](authing_oidc::flow::Authenticated::access_token) is
//! served from the replica's memory: Redis is read only when a refresh is due.
//!
//! # Web sessions too (feature `tower-sessions`)
//!
//! `RedisSessionStore::web_sessions` gives a `RedisWebSessionStore`, a
//! `tower-sessions` 0.14 store on the same client, keyring, prefix and command
//! timeout: a web service's cookie sessions and token sessions share one Redis
//! client. Each record (`authing-oidc:web:{id}`) is sealed with AES-256-GCM and
//! bound to its key name, because `authing-oidc-axum` keeps the pending login
//! (with its PKCE verifier) and the exported tokens there; it expires in Redis
//! with the session (`EXAT`). Pair it with `authing_oidc_axum::OidcLogin::token_store`
//! so that replicas refresh each login once per expiry between them.
//!
//! # Back-channel logout across replicas (feature `axum`)
//!
//! `RedisSessionStore::session_index` gives a `RedisSessionIndex`, the index
//! `authing-oidc-axum` keeps of which logins a provider session or user has
//! (`OidcLogin::session_index`). In Redis, a logout token delivered to any
//! replica ends the logins every replica completed; the in-memory index knows
//! only its own process's. Logout keys are stored as SHA-256 digests, never the
//! `sub` or `sid` in clear.
//!
//! # Single Redis, Sentinel, Cluster
//!
//! The guarantees above hold for one Redis server (or a primary with replicas
//! that this store does not read from). With **Sentinel**, a failover can lose
//! writes the old primary acknowledged but had not replicated: a lease can be
//! granted twice, and a saved rotation can be lost. This store sends no `WAIT`:
//! a failover during a refresh may end that session (the provider then sees
//! reuse and revokes the grant; the user logs in again). With
//! **Cluster**, each script touches one key, and the session and lease keys of
//! one session share a hash slot (`{K}`), so the store works unchanged; the
//! failover caveat of Sentinel applies per shard. A Redlock-style lease over
//! several independent servers is not implemented.
//!
//! # Redis without persistence
//!
//! A Redis that restarts empty loses the stored copies, not the sessions: every
//! replica still holds its session in memory, the first one to refresh stores
//! it again (a save that expects no stored copy), and the others take that
//! copy over. A replica that never held the session cannot restore it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod crypto;
mod redis_store;
#[cfg(feature = "axum")]
mod session_index;
#[cfg(feature = "tower-sessions")]
mod web_sessions;

pub use crypto::{KeyError, Keyring, SessionKey};
pub use redis_store::RedisSessionStore;
#[cfg(feature = "axum")]
pub use session_index::RedisSessionIndex;
#[cfg(feature = "tower-sessions")]
pub use web_sessions::RedisWebSessionStore;

pub use authing_oidc::store::SessionStore;
pub use fred;
