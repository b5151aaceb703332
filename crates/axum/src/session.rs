//! What the crate keeps in the user's tower-sessions session, and the live sessions of this
//! process.
//!
//! - Between `/login` and `/callback`: the pending login (state, nonce, PKCE verifier, exported
//!   with its secrets: the session store is server-side) and the `return_to` path.
//! - After the callback: [`SignedIn`], the exported token set; the durable copy another replica
//!   or a restart restores from.
//! - In this process: one live `Authenticated` per login, so concurrent requests of one user
//!   share one refresh (two restores of one saved session would each spend the same rotating
//!   refresh token, and the provider would revoke the grant).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authing_oidc::flow::{Authenticated, SavedSession};
use authing_oidc::store::{LeaseOptions, SessionStore};
use authing_oidc::{AuthenticationClient, UserInfo};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};

/// Session key of the pending login.
pub(crate) const PENDING: &str = "authing_oidc.pending";
/// Session key of the path to return to after login.
pub(crate) const RETURN_TO: &str = "authing_oidc.return_to";
/// Session key of the signed-in user.
pub(crate) const SIGNED_IN: &str = "authing_oidc.signed_in";

/// What the session holds once the user is signed in.
#[derive(Serialize, Deserialize)]
pub(crate) struct SignedIn {
    /// Names this login among the live sessions; random, never shown to the browser.
    pub(crate) login_id: String,
    /// The tokens; `refresh_count` tells which of two copies is newer.
    pub(crate) tokens: SavedSession,
    /// The provider's userinfo answer at login, when [`crate::OidcLogin::userinfo_at_login`]
    /// asked for it (many providers put profile claims only there, not in the id_token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) userinfo: Option<UserInfo>,
}

/// Where the tokens of every login are kept besides the web session, when several replicas
/// share the logins ([`crate::OidcLogin::token_store`]): the key is the login id, and each
/// refresh takes the store's lease first.
pub(crate) struct TokenStore {
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) lease: LeaseOptions,
}

/// A random hex token of 128 bits (login ids, CSP nonces).
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Logins used in this process recently. Entries idle longer than [`IDLE`] are dropped once
/// there are [`SOFT_CAP`]; a dropped one is restored from the session store at its next use.
#[derive(Default)]
pub(crate) struct LiveSessions {
    map: Mutex<HashMap<String, (Authenticated, Instant)>>,
}

const SOFT_CAP: usize = 10_000;
const IDLE: Duration = Duration::from_secs(30 * 60);

impl LiveSessions {
    /// The live session of `signed_in`, restored from its saved tokens when this process has
    /// none, or an older one (another replica refreshed since). With a token store, a restored
    /// session is attached to it: its refreshes go through the store's lease, and a copy older
    /// than the store's is replaced by the store's before anything is sent.
    pub(crate) fn get(
        &self,
        client: &AuthenticationClient,
        tokens: Option<&TokenStore>,
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
        if let Some(tokens) = tokens {
            auth.set_session_store_with(tokens.store.clone(), signed_in.login_id.clone(), tokens.lease)?;
        }
        Self::insert(&mut map, signed_in.login_id.clone(), auth.clone());
        Ok(auth)
    }

    /// Keeps a session that just logged in.
    pub(crate) fn adopt(&self, login_id: String, auth: Authenticated) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        Self::insert(&mut map, login_id, auth);
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
