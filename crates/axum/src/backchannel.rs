//! `POST /backchannel-logout`: OpenID Connect Back-Channel Logout 1.0 for the sessions this crate
//! keeps (docs/protocol.md §4.4).
//!
//! # Why an index
//!
//! The provider's request carries a logout token naming a provider session (`sid`) or a user
//! (`sub`), not our session cookie, and tower-sessions stores cannot be listed or searched (a
//! Redis or SQL store only answers "load this id"; and the id itself changes on every
//! `cycle_id`). So the crate keeps its own small index beside the session store:
//!
//! - at login, the login's stable `login_id` (kept inside the session's data) is added under the
//!   id_token's `sid` and under its `sub`, for its issuer;
//! - the back-channel request marks every login under the token's `sid` (or, when the token has
//!   no `sid`, under its `sub`) as **ended**;
//! - the [`User`](crate::User) extractor asks the index whether its login has ended; if so it
//!   removes the login from the session and answers as for a signed-out user. The session's data
//!   is thus dropped at that user's next request, wherever the store is.
//!
//! [`SessionIndex`] is that index as a trait, so a deployment with several replicas implements it
//! on shared storage (a Redis set per key and a key per ended login, each with a TTL, is enough);
//! [`MemorySessionIndex`] is the in-process one, right for a single instance.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authing_oidc::LogoutToken;
use axum::Extension;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::Shared;

/// The largest back-channel request body read: a logout token is well under 4 KiB.
pub const BACKCHANNEL_BODY_LIMIT: usize = 16 * 1024;

/// What a logout names: a provider session or a user, at one issuer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LogoutKey {
    /// The provider's session id (`sid`).
    Sid {
        /// The issuer.
        iss: String,
        /// The session id.
        sid: String,
    },
    /// The user (`sub`): every session of theirs.
    Sub {
        /// The issuer.
        iss: String,
        /// The subject.
        sub: String,
    },
}

/// An index from provider sessions and users to this crate's logins, with an "ended" marker per
/// login. See the [module docs](self) for why it exists.
///
/// Implementations must be cheap to call on every request ([`is_ended`](Self::is_ended) is
/// called by each [`User`](crate::User) extraction) and must keep entries at least as long as
/// the sessions they index can live (the session layer's inactivity expiry).
#[async_trait::async_trait]
pub trait SessionIndex: Send + Sync + 'static {
    /// A login was completed: index `login_id` under each of `keys`.
    async fn add(&self, login_id: &str, keys: &[LogoutKey]) -> Result<(), IndexError>;

    /// Marks every login indexed under `key` as ended and drops them from the index; returns
    /// their ids.
    async fn end(&self, key: &LogoutKey) -> Result<Vec<String>, IndexError>;

    /// Whether `login_id` was ended by [`end`](Self::end).
    async fn is_ended(&self, login_id: &str) -> Result<bool, IndexError>;

    /// The user logged out here, or the ended login was cleaned up: forget `login_id`.
    async fn forget(&self, login_id: &str) -> Result<(), IndexError>;
}

/// A [`SessionIndex`] failure (its storage is unreachable, …).
#[derive(Debug, Clone)]
pub struct IndexError(pub String);

impl std::fmt::Display for IndexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "session index: {}", self.0)
    }
}

impl std::error::Error for IndexError {}

/// The in-process [`SessionIndex`]: right for one instance (with several, use shared storage).
///
/// Entries not used for [`ttl`](Self::with_ttl) (default 8 hours and 5 minutes: the
/// [`session_layer`](crate::session_layer)'s inactivity expiry, plus a margin) are dropped;
/// [`is_ended`](SessionIndex::is_ended) counts as a use, so an active login stays indexed.
#[derive(Debug)]
pub struct MemorySessionIndex {
    state: Mutex<Memory>,
    ttl: Duration,
}

#[derive(Debug, Default)]
struct Memory {
    by_key: HashMap<LogoutKey, HashSet<String>>,
    /// Each indexed login's keys and last use.
    logins: HashMap<String, (Vec<LogoutKey>, Instant)>,
    /// Ended logins and when they were ended.
    ended: HashMap<String, Instant>,
}

impl Default for MemorySessionIndex {
    fn default() -> Self {
        MemorySessionIndex::with_ttl(Duration::from_secs(8 * 3600 + 300))
    }
}

impl MemorySessionIndex {
    /// An index whose entries live `ttl` after their last use.
    pub fn with_ttl(ttl: Duration) -> Self {
        MemorySessionIndex {
            state: Mutex::new(Memory::default()),
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        // A poisoned lock only means a panic elsewhere; the maps are still whole.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Memory {
    fn purge(&mut self, ttl: Duration) {
        let stale: Vec<String> = self
            .logins
            .iter()
            .filter(|(_, (_, used))| used.elapsed() > ttl)
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            self.unindex(&id);
        }
        self.ended.retain(|_, at| at.elapsed() <= ttl);
    }

    fn unindex(&mut self, login_id: &str) {
        if let Some((keys, _)) = self.logins.remove(login_id) {
            for key in keys {
                if let Some(set) = self.by_key.get_mut(&key) {
                    set.remove(login_id);
                    if set.is_empty() {
                        self.by_key.remove(&key);
                    }
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl SessionIndex for MemorySessionIndex {
    async fn add(&self, login_id: &str, keys: &[LogoutKey]) -> Result<(), IndexError> {
        let mut m = self.lock();
        m.purge(self.ttl);
        for key in keys {
            m.by_key
                .entry(key.clone())
                .or_default()
                .insert(login_id.to_owned());
        }
        m.logins
            .insert(login_id.to_owned(), (keys.to_vec(), Instant::now()));
        Ok(())
    }

    async fn end(&self, key: &LogoutKey) -> Result<Vec<String>, IndexError> {
        let mut m = self.lock();
        let ids: Vec<String> = m
            .by_key
            .get(key)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default();
        for id in &ids {
            m.unindex(id);
            m.ended.insert(id.clone(), Instant::now());
        }
        Ok(ids)
    }

    async fn is_ended(&self, login_id: &str) -> Result<bool, IndexError> {
        let mut m = self.lock();
        if let Some((_, used)) = m.logins.get_mut(login_id) {
            *used = Instant::now();
        }
        Ok(m.ended.contains_key(login_id))
    }

    async fn forget(&self, login_id: &str) -> Result<(), IndexError> {
        let mut m = self.lock();
        m.unindex(login_id);
        m.ended.remove(login_id);
        Ok(())
    }
}

/// The keys a login is indexed under: its id_token's `sid` (when the provider sent one) and its
/// `sub`, at its issuer.
pub(crate) fn keys_of(claims: &authing_oidc::IdTokenClaims) -> Vec<LogoutKey> {
    let mut keys = vec![LogoutKey::Sub {
        iss: claims.iss.clone(),
        sub: claims.sub.clone(),
    }];
    if let Some(sid) = claims.sid() {
        keys.push(LogoutKey::Sid {
            iss: claims.iss.clone(),
            sid: sid.to_owned(),
        });
    }
    keys
}

/// Back-Channel Logout §2.8: `200` on success, `400` with an OAuth error body on failure, both
/// `Cache-Control: no-store`.
fn answer(status: StatusCode, error: Option<(&str, String)>) -> Response {
    let mut response = match error {
        None => status.into_response(),
        Some((code, description)) => {
            let body = serde_json::json!({"error": code, "error_description": description});
            let mut r = (status, body.to_string()).into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r
        }
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /backchannel-logout` with form field `logout_token`.
pub(crate) async fn backchannel_logout(Extension(app): Extension<Arc<Shared>>, body: String) -> Response {
    let mut tokens = url::form_urlencoded::parse(body.as_bytes()).filter(|(k, _)| k == "logout_token");
    let (Some((_, raw)), None) = (tokens.next(), tokens.next()) else {
        return answer(
            StatusCode::BAD_REQUEST,
            Some((
                "invalid_request",
                "the body must carry exactly one logout_token form field".to_owned(),
            )),
        );
    };
    let token = LogoutToken::new(raw.into_owned());
    let claims = match app.client.verify_logout_token(&token).await {
        Ok(claims) => claims,
        Err(error) => {
            tracing::info!(%error, "back-channel logout refused");
            // The error names the failed check and never quotes the token.
            return answer(
                StatusCode::BAD_REQUEST,
                Some(("invalid_request", error.to_string())),
            );
        }
    };
    // §2.7: a sid names one provider session; a token with only sub names every session of
    // that user.
    let key = match (claims.sid.clone(), claims.sub.clone()) {
        (Some(sid), _) => LogoutKey::Sid {
            iss: claims.iss.clone(),
            sid,
        },
        (None, Some(sub)) => LogoutKey::Sub {
            iss: claims.iss.clone(),
            sub,
        },
        // The verifier refuses a token with neither.
        (None, None) => {
            return answer(
                StatusCode::BAD_REQUEST,
                Some(("invalid_request", "neither sid nor sub".into())),
            );
        }
    };
    match app.index.end(&key).await {
        Ok(ended) => {
            for login_id in &ended {
                app.live.remove(login_id);
            }
            tracing::info!(sessions = ended.len(), "back-channel logout");
            answer(StatusCode::OK, None)
        }
        Err(error) => {
            tracing::warn!(%error, "back-channel logout: the session index failed");
            // Nothing was ended: let the provider's retry of this token through.
            app.client.forget_logout_token(&claims);
            answer(
                StatusCode::BAD_REQUEST,
                Some(("server_error", "the sessions could not be ended".to_owned())),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(s: &str) -> LogoutKey {
        LogoutKey::Sid {
            iss: "https://op".into(),
            sid: s.into(),
        }
    }

    fn sub(s: &str) -> LogoutKey {
        LogoutKey::Sub {
            iss: "https://op".into(),
            sub: s.into(),
        }
    }

    #[tokio::test]
    async fn ending_a_sid_ends_its_logins_only_and_a_sub_ends_all_of_the_user() {
        let index = MemorySessionIndex::default();
        index.add("l1", &[sid("s1"), sub("alice")]).await.unwrap();
        index.add("l2", &[sid("s2"), sub("alice")]).await.unwrap();
        index.add("l3", &[sid("s3"), sub("bob")]).await.unwrap();
        assert_eq!(index.end(&sid("s1")).await.unwrap(), vec!["l1".to_owned()]);
        assert!(index.is_ended("l1").await.unwrap());
        assert!(!index.is_ended("l2").await.unwrap());
        let mut ended = index.end(&sub("alice")).await.unwrap();
        ended.sort();
        assert_eq!(ended, vec!["l2".to_owned()]);
        assert!(index.is_ended("l2").await.unwrap());
        assert!(!index.is_ended("l3").await.unwrap());
        // Another issuer's sid of the same value is another session.
        let other = LogoutKey::Sid {
            iss: "https://other".into(),
            sid: "s3".into(),
        };
        assert!(index.end(&other).await.unwrap().is_empty());
        index.forget("l1").await.unwrap();
        assert!(!index.is_ended("l1").await.unwrap());
    }

    #[tokio::test]
    async fn entries_expire_after_the_ttl_without_use() {
        let index = MemorySessionIndex::with_ttl(Duration::from_millis(20));
        index.add("old", &[sid("s1")]).await.unwrap();
        index.end(&sid("s1")).await.unwrap();
        std::thread::sleep(Duration::from_millis(30));
        index.add("new", &[sid("s2")]).await.unwrap();
        let m = index.lock();
        assert!(!m.ended.contains_key("old"));
        assert!(m.logins.contains_key("new") && m.logins.len() == 1);
    }
}
