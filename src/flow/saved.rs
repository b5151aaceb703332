//! The saved forms of a pending login and a session: versioned, serde-able,
//! holding secrets in plain text, and produced only by calls whose names say
//! so. Their `Debug` still redacts.

use serde::{Deserialize, Serialize};

use crate::client::AuthenticationClient;
use crate::error::{Error, Result};
use crate::id_token::IdTokenClaims;

/// A [`PendingCallback`](super::PendingCallback) exported with its secrets.
/// Keep it server-side or encrypted.
#[derive(Clone, Serialize, Deserialize)]
pub struct SavedPendingCallback {
    pub(super) version: u32,
    pub(super) issuer: String,
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) response_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) max_age: Option<u64>,
    pub(super) created_at: u64,
    pub(super) pending_max_age_secs: u64,
    pub(super) state: String,
    pub(super) nonce: String,
    pub(super) code_verifier: String,
}

impl SavedPendingCallback {
    pub(super) const VERSION: u32 = 1;

    /// The issuer it was made for.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The client id it was made for.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub(super) fn check(&self, client: &AuthenticationClient) -> Result<()> {
        check_owner(self.version, Self::VERSION, &self.issuer, &self.client_id, client)
    }
}

impl std::fmt::Debug for SavedPendingCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedPendingCallback")
            .field("version", &self.version)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// An [`Authenticated`](super::Authenticated) session exported with its
/// tokens. Keep it server-side or encrypted.
#[derive(Clone, Serialize, Deserialize)]
pub struct SavedSession {
    pub(super) version: u32,
    pub(super) issuer: String,
    pub(super) client_id: String,
    pub(super) access_token: String,
    /// Seconds since the epoch; absent when the provider gave no lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) expires_at: Option<u64>,
    /// The lifetime the provider gave, for the refresh margin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) lifetime_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) refresh_token: Option<String>,
    pub(super) id_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) scope: Option<String>,
    pub(super) claims: IdTokenClaims,
    /// Successful refreshes since the login (absent in older saves: 0).
    #[serde(default)]
    pub(super) refresh_count: u64,
}

impl SavedSession {
    pub(super) const VERSION: u32 = 1;

    /// The issuer it was made for.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The client id it was made for.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The verified claims of the session's id_token.
    pub fn claims(&self) -> &IdTokenClaims {
        &self.claims
    }

    /// When the access token expires, in seconds since the epoch.
    pub fn expires_at(&self) -> Option<u64> {
        self.expires_at
    }

    /// Successful refreshes since the login: of two saved copies of one
    /// session, the one with the higher count is newer.
    pub fn refresh_count(&self) -> u64 {
        self.refresh_count
    }

    pub(super) fn check(&self, client: &AuthenticationClient) -> Result<()> {
        check_owner(self.version, Self::VERSION, &self.issuer, &self.client_id, client)?;
        if self.claims.iss != self.issuer || !self.claims.aud.iter().any(|a| a == &self.client_id) {
            return Err(Error::Restore(
                "the saved claims belong to another issuer or client".to_owned(),
            ));
        }
        Ok(())
    }
}

impl std::fmt::Debug for SavedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedSession")
            .field("version", &self.version)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("sub", &self.claims.sub)
            .field("expires_at", &self.expires_at)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .finish_non_exhaustive()
    }
}

fn check_owner(
    version: u32,
    expected: u32,
    issuer: &str,
    client_id: &str,
    client: &AuthenticationClient,
) -> Result<()> {
    if version != expected {
        return Err(Error::Restore(format!(
            "unknown version {version} (this SDK writes {expected})"
        )));
    }
    if issuer != client.issuer() {
        return Err(Error::Restore(format!(
            "made for issuer {issuer:?}, not {:?}",
            client.issuer()
        )));
    }
    if client_id != client.app_id() {
        return Err(Error::Restore(format!(
            "made for client {client_id:?}, not {:?}",
            client.app_id()
        )));
    }
    Ok(())
}
