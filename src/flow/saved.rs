//! The saved forms of a pending login and a session: versioned, serde-able,
//! holding secrets in plain text, and produced only by calls whose names say
//! so. Their `Debug` still redacts.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::authorization_details::{AuthorizationDetail, TokenRequestExtras};
use crate::client::AuthenticationClient;
use crate::dpop::{DpopKey, SavedDpopKey};
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
    /// The DPoP key (RFC 9449) of a login that uses one; in versions 2 and 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) dpop_key: Option<SavedDpopKey>,
    /// The `resource` values the code exchange and refreshes send; only in version 3.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) token_resource: Vec<String>,
    /// The `authorization_details` they send; only in version 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) token_authorization_details: Option<Vec<AuthorizationDetail>>,
    /// The exact text they go out as, when it is not the array above as
    /// serde_json writes it (docs/protocol.md §6); only in version 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) token_authorization_details_json: Option<String>,
}

/// The version a save is written as: the oldest that holds everything it
/// carries, so that saves without the newer members read as before and an
/// SDK that would drop a member refuses the save instead (docs/protocol.md §6).
/// 1: nothing below; 2: a DPoP key; 3: what token requests repeat of the login
/// or the granted `authorization_details` (with or without a DPoP key).
pub(super) fn version_for(dpop: bool, token_request_state: bool) -> u32 {
    match (dpop, token_request_state) {
        (_, true) => 3,
        (true, false) => 2,
        (false, false) => 1,
    }
}

impl SavedPendingCallback {
    pub(super) fn restore_dpop_key(&self) -> Result<Option<Arc<DpopKey>>> {
        restore_key(self.version, self.dpop_key.as_ref())
    }

    pub(super) fn restore_token_extras(&self) -> Result<TokenRequestExtras> {
        restore_extras(
            self.version,
            &self.token_resource,
            self.token_authorization_details.as_ref(),
            self.token_authorization_details_json.as_deref(),
            false,
        )
    }

    /// The issuer it was made for.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The client id it was made for.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub(super) fn check(&self, client: &AuthenticationClient) -> Result<()> {
        check_owner(self.version, &self.issuer, &self.client_id, client)
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
    /// The DPoP key (RFC 9449) the tokens are bound to; in versions 2 and 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) dpop_key: Option<SavedDpopKey>,
    /// The `resource` values every refresh sends; only in version 3.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) token_resource: Vec<String>,
    /// The `authorization_details` every refresh sends; only in version 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) token_authorization_details: Option<Vec<AuthorizationDetail>>,
    /// The exact text they go out as, when it is not the array above as
    /// serde_json writes it (docs/protocol.md §6); only in version 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) token_authorization_details_json: Option<String>,
    /// The `authorization_details` granted with the current access token
    /// (RFC 9396 §7); only in version 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) authorization_details: Option<Vec<AuthorizationDetail>>,
}

impl SavedSession {
    pub(super) fn restore_dpop_key(&self) -> Result<Option<Arc<DpopKey>>> {
        restore_key(self.version, self.dpop_key.as_ref())
    }

    pub(super) fn restore_token_extras(&self) -> Result<TokenRequestExtras> {
        restore_extras(
            self.version,
            &self.token_resource,
            self.token_authorization_details.as_ref(),
            self.token_authorization_details_json.as_deref(),
            self.authorization_details.is_some(),
        )
    }

    /// The granted `authorization_details` of the saved access token.
    pub fn authorization_details(&self) -> Option<&[AuthorizationDetail]> {
        self.authorization_details.as_deref()
    }

    /// Whether the session's tokens are bound to a DPoP key it holds.
    pub fn uses_dpop(&self) -> bool {
        self.dpop_key.is_some()
    }

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
        check_owner(self.version, &self.issuer, &self.client_id, client)?;
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
            .field("uses_dpop", &self.dpop_key.is_some())
            .finish_non_exhaustive()
    }
}

/// The newest version this SDK reads and writes.
const LATEST: u32 = 3;

fn check_owner(version: u32, issuer: &str, client_id: &str, client: &AuthenticationClient) -> Result<()> {
    if !(1..=LATEST).contains(&version) {
        return Err(Error::Restore(format!(
            "unknown version {version} (this SDK reads 1 to {LATEST})"
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

/// The DPoP key of a save: required in version 2, absent in version 1,
/// optional in version 3.
fn restore_key(version: u32, saved: Option<&SavedDpopKey>) -> Result<Option<Arc<DpopKey>>> {
    match (version, saved) {
        (1 | 3, None) => Ok(None),
        (2 | 3, Some(saved)) => Ok(Some(Arc::new(DpopKey::restore(saved)?))),
        (2, None) => Err(Error::Restore("a version 2 save without its DPoP key".to_owned())),
        _ => Err(Error::Restore(
            "a DPoP key in a version 1 save (version 2 carries one)".to_owned(),
        )),
    }
}

/// The exact text `details` go out as, for a save, when serde_json would write
/// them differently: saves stay what older versions write for details built in
/// code, and keep the text of parsed ones.
pub(super) fn details_json(details: Option<&Vec<AuthorizationDetail>>) -> Option<String> {
    let details = details?;
    let exact = crate::authorization_details::to_parameter(details).ok()?;
    (serde_json::to_string(details).ok().as_deref() != Some(exact.as_str())).then_some(exact)
}

/// What a save's token requests repeat: only in version 3, and then checked as
/// a request would check it. `granted` says whether the save also holds
/// granted `authorization_details` (version 3 only as well).
fn restore_extras(
    version: u32,
    resource: &[String],
    details: Option<&Vec<AuthorizationDetail>>,
    details_json: Option<&str>,
    granted: bool,
) -> Result<TokenRequestExtras> {
    let mut extras = TokenRequestExtras::new();
    extras.resource = resource.to_vec();
    extras.authorization_details = match (details, details_json) {
        (details, None) => details.cloned(),
        (Some(details), Some(json)) => {
            let exact = AuthorizationDetail::parse_list(json).map_err(|e| {
                Error::Restore(format!("the saved authorization_details text is not usable: {e}"))
            })?;
            if exact != *details {
                return Err(Error::Restore(
                    "the saved authorization_details text and array disagree".to_owned(),
                ));
            }
            Some(exact)
        }
        (None, Some(_)) => {
            return Err(Error::Restore(
                "a saved authorization_details text without the array".to_owned(),
            ));
        }
    };
    if version < 3 && (!extras.is_empty() || granted) {
        return Err(Error::Restore(format!(
            "token request parameters or granted authorization_details in a version {version} save \
             (version 3 carries them)"
        )));
    }
    extras
        .pairs()
        .map_err(|e| Error::Restore(format!("the saved token request parameters are not usable: {e}")))?;
    Ok(extras)
}
