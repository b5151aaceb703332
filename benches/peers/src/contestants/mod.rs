//! Everything that verifies an id_token in the benchmarks, each prepared once
//! (keys parsed, verifiers configured) so that only the per-token work is timed.
//!
//! Every peer row does the same checks as authing-oidc: signature, `iss`,
//! `aud`, `exp`/`iat`, `nonce` and `at_hash`. Where a crate has no check of
//! its own for one of them, the row does it the way that crate's users do (its
//! documentation's example or two lines of application code) and
//! docs/benchmarks.md says so.

mod floor;
mod jsonwebtoken_peer;
mod jwt_simple_peer;
mod openidconnect_peer;

pub use floor::Floor;
pub use jsonwebtoken_peer::JsonWebToken;
pub use jwt_simple_peer::JwtSimple;
pub use openidconnect_peer::OpenIdConnect;

use serde::Deserialize;

use crate::keys::{Alg, at_hash};

/// Why a peer refused a token (the benchmarks assert there is none).
pub type Refusal = String;

/// The application-side `at_hash` check (OIDC Core §3.1.3.8) for the peers
/// that leave it to the application.
fn at_hash_matches(alg: Alg, claim: Option<&str>, access_token: &str) -> bool {
    claim.is_some_and(|h| h == at_hash(alg, access_token))
}

/// The Authing profile claims beside the registered ones, deserialized by the
/// peers that hand the application a typed struct.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // read by nobody: deserializing them is the work being timed
pub struct AuthingProfile {
    pub auth_time: Option<i64>,
    pub at_hash: Option<String>,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub middle_name: Option<String>,
    pub family_name: Option<String>,
    pub nickname: Option<String>,
    pub preferred_username: Option<String>,
    pub profile: Option<String>,
    pub picture: Option<String>,
    pub website: Option<String>,
    pub gender: Option<String>,
    pub birthdate: Option<String>,
    pub zoneinfo: Option<String>,
    pub locale: Option<String>,
    pub updated_at: Option<String>,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub phone_number: Option<String>,
    pub phone_number_verified: Option<bool>,
}
