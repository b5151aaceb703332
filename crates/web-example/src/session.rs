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
use std::sync::Mutex;
use std::time::{Duration, Instant};

use authing_oidc::flow::{Authenticated, SavedSession};
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
    /// The tokens, exported with their secrets: this is server-side storage. Their
    /// `refresh_count` tells which of two copies is newer.
    pub(crate) tokens: SavedSession,
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

/// Logins used in this process recently, by login id. Entries idle for longer than
/// [`IDLE`] are dropped once there are more than [`SOFT_CAP`]; a dropped one is restored
/// from the session store at its next use.
#[derive(Default)]
pub(crate) struct LiveSessions {
    map: Mutex<HashMap<String, (Authenticated, Instant)>>,
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
    ) -> Result<Authenticated, authing_oidc::Error> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((live, used)) = map.get_mut(&signed_in.login_id)
            && live.refresh_count() >= signed_in.tokens.refresh_count()
        {
            *used = Instant::now();
            return Ok(live.clone());
        }
        let auth = Authenticated::restore_from_trusted_store(client.clone(), signed_in.tokens.clone())?;
        Self::insert(&mut map, signed_in.login_id.clone(), auth.clone());
        Ok(auth)
    }

    /// Keeps a session that just logged in.
    pub(crate) fn adopt(&self, login_id: String, auth: Authenticated) -> Authenticated {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        Self::insert(&mut map, login_id, auth.clone());
        auth
    }

    /// Forgets a login (logout, or the session ended).
    pub(crate) fn remove(&self, login_id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(login_id);
    }

    fn insert(map: &mut HashMap<String, (Authenticated, Instant)>, login_id: String, live: Authenticated) {
        if map.len() >= SOFT_CAP {
            map.retain(|_, (_, used)| used.elapsed() < IDLE);
        }
        map.insert(login_id, (live, Instant::now()));
    }
}
