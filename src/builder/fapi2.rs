//! The FAPI 2.0 Security Profile preset
//! ([`AuthenticationClientBuilder::fapi2`]): each rule of the profile is
//! one step of [`apply`], which fills in what the caller left unset and
//! refuses what the caller set against the profile
//! ([`Error::ProfileConflict`](crate::Error::ProfileConflict)). The rules
//! that act per request live in the client (`client/profile.rs`).

use super::AuthenticationClientBuilder;
use crate::client::profile::{FAPI2_ALGORITHMS, conflict};
use crate::config::AuthMethod;
use crate::error::Result;

impl AuthenticationClientBuilder {
    /// Turns on the FAPI 2.0 Security Profile in one call:
    ///
    /// - `private_key_jwt` at the token, introspection, revocation and PAR
    ///   endpoints, signed PS256, ES256 or EdDSA (an RSA key signs PS256);
    /// - pushed authorization requests (RFC 9126) for every login;
    /// - sender-constrained tokens by DPoP (RFC 9449): a key pair per
    ///   session, ES256 unless [`dpop`](Self::dpop) chose EdDSA or PS256;
    /// - PKCE with S256, response type `code`, response mode `query` only;
    /// - `iss` (RFC 9207) required in every callback;
    /// - id_tokens signed PS256, ES256 or EdDSA only;
    /// - no plain http, not even by opting in.
    ///
    /// A setting that contradicts one of these — another auth method, PAR
    /// turned off, an RS256 or HS256 algorithm, `insecure_allow_http` — is
    /// refused by [`build`](Self::build)/[`discover`](Self::discover) with
    /// [`Error::ProfileConflict`](crate::Error::ProfileConflict), and so is
    /// a request that asks for another response mode or no PKCE.
    /// docs/security.md lists each rule with its test.
    pub fn fapi2(mut self) -> Self {
        self.fapi2 = true;
        self
    }
}

/// Applies the preset to `b` (see [`AuthenticationClientBuilder::fapi2`]).
pub(super) fn apply(b: &mut AuthenticationClientBuilder) -> Result<()> {
    if !b.fapi2 {
        return Ok(());
    }
    // Client authentication: private_key_jwt everywhere (FAPI 2.0 §5.3.2.1).
    for (name, slot) in [
        ("token", &mut b.token_auth),
        ("introspection", &mut b.introspection_auth),
        ("revocation", &mut b.revocation_auth),
    ] {
        match slot {
            None => *slot = Some(AuthMethod::PrivateKeyJwt),
            Some(AuthMethod::PrivateKeyJwt) => {}
            Some(other) => {
                return Err(conflict(format!(
                    "the {name} endpoint must use private_key_jwt, not {}",
                    other.as_str()
                )));
            }
        }
    }
    let key = b
        .client_key
        .as_ref()
        .ok_or_else(|| conflict("private_key_jwt needs the client's private key (client_key)"))?;
    // Algorithms (§5.4): the configured one, else the key's pinned one, else PS256/ES256/EdDSA.
    let alg = b
        .client_assertion_alg
        .or(key.pinned_alg())
        .unwrap_or_else(|| match key.key_type() {
            crate::client_auth::ClientKeyType::Rsa => crate::SigningAlgorithm::PS256,
            other => other.default_alg(),
        });
    if !FAPI2_ALGORITHMS.contains(&alg) {
        return Err(conflict(format!(
            "client assertions must be signed PS256, ES256 or EdDSA, not {alg}"
        )));
    }
    b.client_assertion_alg = Some(alg);
    if let Some(alg) = b.id_token_alg
        && !FAPI2_ALGORITHMS.contains(&alg)
    {
        return Err(conflict(format!(
            "id_tokens must be signed PS256, ES256 or EdDSA, not {alg}"
        )));
    }
    // Pushed authorization requests (§5.3.2.2).
    match b.par {
        Some(false) => return Err(conflict("pushed authorization requests cannot be turned off")),
        _ => b.par = Some(true),
    }
    // Sender-constrained access tokens (§5.3.2.2): DPoP, the one of the two this SDK speaks
    // (mTLS needs the TLS layer); every DPoP algorithm this SDK makes is one FAPI allows.
    if b.dpop.is_none() {
        b.dpop = Some(crate::SigningAlgorithm::ES256);
    }
    // TLS everywhere (§5.2.1): the loopback exception stays for tests and the dev provider.
    if b.insecure_http {
        return Err(conflict("plain http cannot be allowed"));
    }
    Ok(())
}
