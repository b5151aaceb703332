//! In-memory records: pending authorization requests, grants, codes and tokens.
//!
//! A *grant* is one successful login of one user for one client; codes, access tokens and
//! refresh tokens hang off it, so revoking the grant (code reuse, refresh token reuse,
//! revocation of a refresh token) ends every token issued from it at once.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A random URL-safe string of `bytes` bytes of entropy from the OS-seeded CSPRNG.
pub(crate) fn random_string(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// How the authorization response is delivered (OAuth 2.0 Multiple Response Types §2.1,
/// Form Post Response Mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

impl ResponseMode {
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value {
            "query" => Some(Self::Query),
            "fragment" => Some(Self::Fragment),
            "form_post" => Some(Self::FormPost),
            _ => None,
        }
    }
}

/// PKCE method (RFC 7636 §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PkceMethod {
    S256,
    Plain,
}

/// An authorization request waiting for the login form.
#[derive(Clone, Debug)]
pub(crate) struct PendingAuthorization {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) response_mode: ResponseMode,
    pub(crate) scope: String,
    pub(crate) state: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) code_challenge: Option<(String, PkceMethod)>,
    pub(crate) created_at: u64,
    /// RFC 9449 §10: the thumbprint of the key the code must be exchanged with.
    pub(crate) dpop_jkt: Option<String>,
}

/// One login of one user for one client.
#[derive(Clone, Debug)]
pub(crate) struct Grant {
    pub(crate) client_id: String,
    pub(crate) sub: String,
    pub(crate) scope: String,
    pub(crate) nonce: Option<String>,
    pub(crate) auth_time: u64,
    pub(crate) revoked: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct CodeRecord {
    pub(crate) grant_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: Option<(String, PkceMethod)>,
    pub(crate) expires_at: u64,
    pub(crate) used: bool,
    /// RFC 9449 §10: the `dpop_jkt` of the authorization request.
    pub(crate) dpop_jkt: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct AccessTokenRecord {
    /// `None` for client_credentials tokens, which belong to no user login.
    pub(crate) grant_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) sub: String,
    pub(crate) scope: String,
    pub(crate) jti: String,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    pub(crate) revoked: bool,
    /// The DPoP key the token is bound to (`cnf.jkt`, RFC 9449 §6).
    pub(crate) jkt: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct RefreshTokenRecord {
    pub(crate) grant_id: String,
    pub(crate) client_id: String,
    pub(crate) jti: String,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    /// Set once the token has been exchanged; presenting it again is reuse.
    pub(crate) rotated: bool,
    pub(crate) revoked: bool,
    /// A public client's refresh token is bound to the DPoP key too (RFC 9449 §5).
    pub(crate) jkt: Option<String>,
}

/// Every record, behind one lock in [`Provider`](crate::server::Provider).
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) pending: HashMap<String, PendingAuthorization>,
    pub(crate) grants: HashMap<String, Grant>,
    pub(crate) codes: HashMap<String, CodeRecord>,
    pub(crate) access_tokens: HashMap<String, AccessTokenRecord>,
    pub(crate) refresh_tokens: HashMap<String, RefreshTokenRecord>,
    /// Pushed authorization requests (RFC 9126) by `request_uri`: the client, the
    /// request's form body (a request object's claims already unpacked), and when it expires.
    /// Each is taken out at its first use.
    pub(crate) pushed: HashMap<String, (String, Vec<u8>, u64)>,
    /// `jti`s of DPoP proofs seen, with when they may be forgotten.
    pub(crate) dpop_jtis: HashMap<String, u64>,
    /// `client_id` NUL `jti` of request objects seen (RFC 9101), until they expire.
    pub(crate) request_object_jtis: HashMap<String, u64>,
}

/// Pending logins older than this are dropped.
const PENDING_LIFETIME_SECS: u64 = 30 * 60;

impl Store {
    pub(crate) fn grant_active(&self, grant_id: &str) -> bool {
        self.grants.get(grant_id).is_some_and(|g| !g.revoked)
    }

    /// Ends a grant and so every token issued from it.
    pub(crate) fn revoke_grant(&mut self, grant_id: &str) {
        if let Some(grant) = self.grants.get_mut(grant_id) {
            grant.revoked = true;
        }
    }

    /// The access token's record when it is usable now.
    pub(crate) fn active_access_token(&self, token: &str) -> Option<&AccessTokenRecord> {
        let record = self.access_tokens.get(token)?;
        let grant_ok = record.grant_id.as_deref().is_none_or(|g| self.grant_active(g));
        (!record.revoked && record.exp > now() && grant_ok).then_some(record)
    }

    /// The refresh token's record when it is usable now.
    pub(crate) fn active_refresh_token(&self, token: &str) -> Option<&RefreshTokenRecord> {
        let record = self.refresh_tokens.get(token)?;
        (!record.revoked && !record.rotated && record.exp > now() && self.grant_active(&record.grant_id))
            .then_some(record)
    }

    /// Records a DPoP proof's `jti`; false when it was seen before (a replay).
    pub(crate) fn remember_dpop_jti(&mut self, jti: &str, forget_at: u64) -> bool {
        let now = now();
        self.dpop_jtis.retain(|_, until| *until > now);
        self.dpop_jtis.insert(jti.to_owned(), forget_at).is_none()
    }

    /// Records a request object's `jti`; false when it was seen before (a replay).
    pub(crate) fn remember_request_object_jti(&mut self, key: &str, forget_at: u64) -> bool {
        let now = now();
        self.request_object_jtis.retain(|_, until| *until > now);
        self.request_object_jtis
            .insert(key.to_owned(), forget_at)
            .is_none()
    }

    /// Drops expired pending logins and codes, so a long-running demo does not grow forever.
    pub(crate) fn purge_expired(&mut self) {
        let now = now();
        self.pending
            .retain(|_, p| p.created_at + PENDING_LIFETIME_SECS > now);
        self.codes.retain(|_, c| c.expires_at > now);
        self.pushed.retain(|_, p| p.2 > now);
    }
}
