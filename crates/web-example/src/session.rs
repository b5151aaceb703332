//! Where each piece of login state lives.
//!
//! - Between `/login` and `/callback`: the pending login
//!   ([`SavedPendingCallback`](authing_oidc::flow::SavedPendingCallback): state, nonce, PKCE
//!   verifier) in the server-side session under [`PENDING`].
//! - After the callback: [`SignedIn`] under [`SIGNED_IN`], holding the exported token set
//!   ([`SavedSession`]). It is the durable copy: it survives restarts with a persistent store
//!   and is what another replica restores from.
//! - In this process: one live [`Authenticated`] per login in [`LiveSessions`], so that
//!   concurrent requests of one user share one refresh. Two restores of the same saved session
//!   would each refresh with the same refresh token, and a provider that rotates refresh tokens
//!   revokes the whole grant when it sees one used twice.
//!
//! The browser's cookie carries nothing but the session id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authing_oidc::flow::{Authenticated, PersistFuture, SavedSession, TokenPersistence};
use authing_oidc::{AuthenticationClient, IdTokenClaims, UserInfo};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};

/// Session key of the pending login.
pub(crate) const PENDING: &str = "oidc.pending";
/// Session key of the signed-in user.
pub(crate) const SIGNED_IN: &str = "oidc.signed_in";

/// What the session holds once the user is signed in.
#[derive(Serialize, Deserialize)]
pub(crate) struct SignedIn {
    /// Names this login in [`LiveSessions`]; random, never shown to the browser.
    pub(crate) login_id: String,
    /// What the home page shows, read once at login.
    pub(crate) profile: Profile,
    /// The tokens, exported with their secrets: this is server-side storage.
    pub(crate) tokens: SavedSession,
    /// How many times the access token was refreshed.
    pub(crate) refreshes: u64,
}

/// The user as the home page shows them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Profile {
    pub(crate) sub: String,
    pub(crate) name: Option<String>,
    pub(crate) email: Option<String>,
}

impl Profile {
    /// From userinfo when the provider answers, else from the id_token (many providers put
    /// profile claims only in userinfo).
    pub(crate) fn from_login(claims: &IdTokenClaims, info: Option<&UserInfo>) -> Profile {
        let standard = info.map(|i| &i.standard).unwrap_or(&claims.standard);
        Profile {
            sub: claims.sub.clone(),
            name: standard
                .name
                .clone()
                .or_else(|| standard.preferred_username.clone()),
            email: standard.email.clone(),
        }
    }

    /// The name, or the subject when the provider gave none.
    pub(crate) fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.sub)
    }
}

/// A random URL-safe token of 128 bits (login ids, CSP nonces).
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A login's live session and its refresh count.
#[derive(Clone)]
pub(crate) struct Live {
    pub(crate) auth: Authenticated,
    refreshes: Arc<AtomicU64>,
}

impl Live {
    fn new(auth: Authenticated, refreshes: u64) -> Live {
        let counter = Arc::new(AtomicU64::new(refreshes));
        auth.set_persistence(Arc::new(CountRefreshes(counter.clone())));
        Live {
            auth,
            refreshes: counter,
        }
    }

    /// Refreshes so far, including those of earlier processes (restored from the store).
    pub(crate) fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }
}

/// The SDK calls this after every refresh, before the new access token is used. The tokens
/// reach the session store at the end of the request that asked for them (see
/// [`crate::routes`]); the hook counts, for the profile page.
struct CountRefreshes(Arc<AtomicU64>);

impl TokenPersistence for CountRefreshes {
    fn persist<'a>(&'a self, _session: &'a SavedSession) -> PersistFuture<'a> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Box::pin(async { Ok(()) })
    }
}

/// Logins used in this process recently, by login id. Entries idle for longer than
/// [`IDLE`] are dropped once there are more than [`SOFT_CAP`]; a dropped one is restored
/// from the session store at its next use.
#[derive(Default)]
pub(crate) struct LiveSessions {
    map: Mutex<HashMap<String, (Live, Instant)>>,
}

const SOFT_CAP: usize = 10_000;
const IDLE: Duration = Duration::from_secs(30 * 60);

impl LiveSessions {
    /// The live session of `signed_in`, restored from its saved tokens when this process has
    /// none, or only an older one (another replica refreshed since).
    pub(crate) fn get(
        &self,
        client: &AuthenticationClient,
        signed_in: &SignedIn,
    ) -> Result<Live, authing_oidc::Error> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((live, used)) = map.get_mut(&signed_in.login_id)
            && live.auth.expires_at() >= signed_in.tokens.expires_at()
        {
            *used = Instant::now();
            return Ok(live.clone());
        }
        let auth = Authenticated::restore_from_trusted_store(client.clone(), signed_in.tokens.clone())?;
        let live = Live::new(auth, signed_in.refreshes);
        Self::insert(&mut map, signed_in.login_id.clone(), live.clone());
        Ok(live)
    }

    /// Keeps a session that just logged in.
    pub(crate) fn adopt(&self, login_id: String, auth: Authenticated) -> Live {
        let live = Live::new(auth, 0);
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        Self::insert(&mut map, login_id, live.clone());
        live
    }

    /// Forgets a login (logout, or the session ended).
    pub(crate) fn remove(&self, login_id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(login_id);
    }

    fn insert(map: &mut HashMap<String, (Live, Instant)>, login_id: String, live: Live) {
        if map.len() >= SOFT_CAP {
            map.retain(|_, (_, used)| used.elapsed() < IDLE);
        }
        map.insert(login_id, (live, Instant::now()));
    }
}
