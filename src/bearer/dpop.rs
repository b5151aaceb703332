//! DPoP-bound access tokens at a resource server: the proof checks of
//! RFC 9449 §4.3 and the key binding of §7.1, for requests that say
//! `Authorization: DPoP <token>` and carry a `DPoP` proof header.
//!
//! [`BearerVerifier::verify_dpop`] checks, in this order (each a
//! [`DpopProofError`] when it fails, the token's own failures an
//! [`Error::AccessToken`] as with `Bearer`):
//!
//! 1. exactly one proof (§4.3 point 1): `Missing`, `Multiple`;
//! 2. a compact JWS (point 2) whose `alg` is on the verifier's allow-list of
//!    asymmetric algorithms, never `none` or HS* (point 5), and whose `typ`
//!    is `dpop+jwt` (point 4): `Jwt`;
//! 3. the header's `jwk` is a public key, without private members (point 7):
//!    `PrivateKey`, `BadKey`;
//! 4. the signature verifies with that key (point 6): `Jwt(BadSignature)`;
//! 5. the claims `jti`, `htm`, `htu`, `iat` and `ath` are present (point 3,
//!    §4.2, §7.1): `Jwt(MissingClaim)`;
//! 6. `htm` is the request's method (point 8): `MethodMismatch`;
//! 7. `htu` is the request's URI without query and fragment, both compared
//!    after RFC 3986 §6.2.2–6.2.3 normalization (point 9): `UriMismatch`;
//! 8. `iat` lies within the window, by default 60 s past to 5 s ahead
//!    (point 11): `TooOld`, `IssuedInFuture`;
//! 9. `ath` is base64url(SHA-256(the access token)) (point 12): `AthMismatch`;
//! 10. the access token passes every check a bearer token passes (cached,
//!     [module docs](super)), and its `cnf.jkt` — a JWT's claim or the
//!     introspection answer's member — is the RFC 7638 thumbprint of the
//!     proof's key (point 12, §6): `TokenNotBound`, `KeyMismatch`;
//! 11. the proof's `jti` has not been accepted before with that key
//!     (§11.1), remembered until the proof would be too old anyway:
//!     `Replayed`, `ReplayMemoryFull`. Recorded last, so only proofs that
//!     passed everything else take room.
//!
//! Server nonces (§9) are not issued: the `iat` window and the `jti` memory
//! bound a proof's life instead. A proof is never cached or logged.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use super::{BearerClaims, BearerVerifier};
use crate::config::SigningAlgorithm;
use crate::dpop::{PROOF_TYP, ath_of, htu_of, jwk_thumbprint};
use crate::error::{DpopProofError, Error, IdTokenError, Result};
use crate::jose::jws::{HeaderRules, TypRule};
use crate::jose::keys::parse_jwk;
use crate::jose::replay::NotRecorded;
use crate::jose::{self, Policy};

/// The algorithms a proof may be signed with by default
/// ([`BearerVerifierBuilder::dpop_algorithms`](super::BearerVerifierBuilder::dpop_algorithms)):
/// those the common DPoP clients use.
pub const DEFAULT_DPOP_ALGORITHMS: [SigningAlgorithm; 4] = [
    SigningAlgorithm::ES256,
    SigningAlgorithm::PS256,
    SigningAlgorithm::RS256,
    SigningAlgorithm::EdDSA,
];

/// How old a proof's `iat` may be by default.
pub const DEFAULT_DPOP_MAX_AGE: Duration = Duration::from_secs(60);

/// How far ahead of this clock a proof's `iat` may be by default.
pub const DEFAULT_DPOP_MAX_SKEW: Duration = Duration::from_secs(5);

/// How many proofs (`jti` with key) are remembered at most by default.
pub const DEFAULT_DPOP_REPLAY_CAPACITY: usize = 100_000;

/// The longest `jti` remembered: 256 bits of randomness need 43 characters.
const MAX_JTI: usize = 256;

/// Which authorization schemes a resource accepts (RFC 9449 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DpopMode {
    /// `Bearer` only: [`verify_dpop`](BearerVerifier::verify_dpop) refuses
    /// every request (`DpopProofError::NotAccepted`). The default.
    #[default]
    Refused,
    /// `Bearer` for unbound tokens and `DPoP` for bound ones; a bound token
    /// presented as `Bearer` is still refused (§7.1, §7.2).
    Accepted,
    /// `DPoP` only: [`verify`](BearerVerifier::verify) refuses every token
    /// (`DpopProofError::Required`).
    Required,
}

/// The resource server's DPoP settings.
#[derive(Debug, Clone)]
pub(crate) struct DpopConfig {
    pub(crate) mode: DpopMode,
    pub(crate) algorithms: Vec<SigningAlgorithm>,
    pub(crate) max_age: Duration,
    pub(crate) max_skew: Duration,
    pub(crate) replay_capacity: usize,
}

impl Default for DpopConfig {
    fn default() -> Self {
        DpopConfig {
            mode: DpopMode::default(),
            algorithms: DEFAULT_DPOP_ALGORITHMS.to_vec(),
            max_age: DEFAULT_DPOP_MAX_AGE,
            max_skew: DEFAULT_DPOP_MAX_SKEW,
            replay_capacity: DEFAULT_DPOP_REPLAY_CAPACITY,
        }
    }
}

/// A request presented with `Authorization: DPoP`, as the resource server
/// received it: what [`BearerVerifier::verify_dpop`] checks the proof
/// against. It borrows from the request; `Debug` shows the method and URI
/// only.
///
/// ```
/// use authing_oidc::bearer::{BearerVerifier, DpopRequest};
/// # async fn f(verifier: BearerVerifier) -> authing_oidc::Result<()> {
/// let uri = url::Url::parse("https://api.example.com/orders?page=2").unwrap();
/// // Every `DPoP` header value of the request, however many there are.
/// let proofs = ["eyJ0eXAiOiJkcG9wK2p3dCIs..."];
/// let request = DpopRequest::new("GET", &uri, "the-access-token", &proofs);
/// let claims = verifier.verify_dpop(&request).await?;
/// # let _ = claims; Ok(()) }
/// ```
pub struct DpopRequest<'a> {
    method: &'a str,
    uri: &'a Url,
    access_token: &'a str,
    proofs: &'a [&'a str],
}

impl std::fmt::Debug for DpopRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopRequest")
            .field("method", &self.method)
            .field("uri", &htu_of(self.uri))
            .finish_non_exhaustive()
    }
}

impl<'a> DpopRequest<'a> {
    /// The request's method (`GET`, …, compared exactly), its absolute URI as
    /// the client addressed it (for a service behind a proxy, the external
    /// origin; query and fragment are ignored), the access token from
    /// `Authorization: DPoP <token>`, and every `DPoP` header value (exactly
    /// one is accepted).
    pub fn new(method: &'a str, uri: &'a Url, access_token: &'a str, proofs: &'a [&'a str]) -> Self {
        DpopRequest {
            method,
            uri,
            access_token,
            proofs,
        }
    }
}

/// The claims of a proof this module reads (RFC 9449 §4.2).
#[derive(Deserialize)]
struct ProofClaims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    iat: Option<i64>,
    ath: Option<String>,
}

/// The one header member the JWT core leaves to this module.
#[derive(Deserialize)]
struct JwkHeader {
    jwk: Option<Map<String, Value>>,
}

/// What a proof that passed steps 1–9 binds: its key and `jti`, and until
/// when that `jti` must be remembered.
struct CheckedProof {
    jkt: String,
    jti: String,
    keep_until: i64,
}

/// The private members of the JWK key types (RFC 7518 §6.2.2, §6.3.2, §6.4;
/// RFC 8037 §2): a proof's key must have none of them.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

const PROOF_RULES: HeaderRules = HeaderRules {
    typ: TypRule::Require {
        values: &[PROOF_TYP],
        optional: false,
    },
    understood_crit: &[],
};

fn refuse<T>(e: DpopProofError) -> Result<T> {
    Err(Error::DpopProof(e))
}

/// The JWT core's refusals of a proof, as proof errors.
fn as_proof_error(e: Error) -> Error {
    match e {
        Error::IdToken(reason) => Error::DpopProof(DpopProofError::Jwt(reason)),
        other => other,
    }
}

impl BearerVerifier {
    /// Which schemes this verifier accepts.
    pub fn dpop_mode(&self) -> DpopMode {
        self.inner.config.dpop.mode
    }

    /// The algorithms a DPoP proof may be signed with, for the `algs`
    /// parameter of a `DPoP` challenge (RFC 9449 §7.1).
    pub fn dpop_algorithms(&self) -> &[SigningAlgorithm] {
        &self.inner.config.dpop.algorithms
    }

    /// Verifies a request made with `Authorization: DPoP`: the proof (RFC
    /// 9449 §4.3), the access token as [`verify`](Self::verify) does, and the
    /// binding between them (§7.1); the claims of an accepted token. See the
    /// [module docs](self) for the checks in order. A proof refused is
    /// [`Error::DpopProof`]; a token refused is [`Error::AccessToken`]; a
    /// provider that cannot be reached is transient as for `verify`.
    pub async fn verify_dpop(&self, request: &DpopRequest<'_>) -> Result<Arc<BearerClaims>> {
        if self.inner.config.dpop.mode == DpopMode::Refused {
            return refuse(DpopProofError::NotAccepted);
        }
        let proof = match request.proofs {
            [one] => *one,
            [] => return refuse(DpopProofError::Missing),
            _ => return refuse(DpopProofError::Multiple),
        };
        let checked = self.check_proof(proof, request)?;
        let claims = self.accepted(request.access_token).await?;
        match claims.jkt() {
            None => return refuse(DpopProofError::TokenNotBound),
            Some(jkt) if jkt != checked.jkt => return refuse(DpopProofError::KeyMismatch),
            Some(_) => {}
        }
        let now = self.now_secs();
        match self
            .inner
            .replay
            .record(&checked.jkt, &checked.jti, checked.keep_until, now)
        {
            Ok(()) => Ok(claims),
            Err(NotRecorded::Replayed) => refuse(DpopProofError::Replayed),
            Err(NotRecorded::Full) => refuse(DpopProofError::ReplayMemoryFull),
        }
    }

    fn now_secs(&self) -> i64 {
        i64::try_from(self.inner.config.client.clock().unix_now()).unwrap_or(i64::MAX)
    }

    /// Steps 2–9 of the [module docs](self).
    fn check_proof(&self, proof: &str, request: &DpopRequest<'_>) -> Result<CheckedProof> {
        let config = &self.inner.config.dpop;
        let policy = Policy {
            accepts: &|alg| config.algorithms.contains(&alg),
            header: PROOF_RULES,
        };
        let mut jkt = None;
        let verified = jose::verify_with_own_key(proof, policy, |header, _alg| {
            let jwk = jose::with_decoded(header, |json| {
                json.and_then(|j| serde_json::from_str::<JwkHeader>(j).ok())
                    .and_then(|h| h.jwk)
            })
            .ok_or(Error::DpopProof(DpopProofError::BadKey(
                "no jwk object in the header",
            )))?;
            if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
                return refuse(DpopProofError::PrivateKey);
            }
            jkt = jwk_thumbprint(&jwk);
            parse_jwk(Value::Object(jwk)).map_err(|why| Error::DpopProof(DpopProofError::BadKey(why)))
        })
        .map_err(as_proof_error)?;
        let jkt = jkt.ok_or(Error::DpopProof(DpopProofError::BadKey(
            "no RFC 7638 thumbprint for this key",
        )))?;
        let bytes =
            jose::decode_payload(verified.payload).map_err(|e| Error::DpopProof(DpopProofError::Jwt(e)))?;
        let claims: ProofClaims =
            jose::parse_object(&bytes, "DPoP proof").map_err(|e| Error::DpopProof(DpopProofError::Jwt(e)))?;
        let missing = |claim| Error::DpopProof(DpopProofError::Jwt(IdTokenError::MissingClaim(claim)));
        let jti = claims
            .jti
            .filter(|j| !j.is_empty())
            .ok_or_else(|| missing("jti"))?;
        if jti.len() > MAX_JTI {
            return refuse(DpopProofError::Jwt(IdTokenError::InvalidClaim("jti")));
        }
        let htm = claims.htm.ok_or_else(|| missing("htm"))?;
        let htu = claims.htu.ok_or_else(|| missing("htu"))?;
        let iat = claims.iat.ok_or_else(|| missing("iat"))?;
        let ath = claims.ath.ok_or_else(|| missing("ath"))?;
        if htm != request.method {
            return refuse(DpopProofError::MethodMismatch);
        }
        if !same_target(&htu, request.uri) {
            return refuse(DpopProofError::UriMismatch);
        }
        let now = self.now_secs();
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        if iat < now.saturating_sub(secs(config.max_age)) {
            return refuse(DpopProofError::TooOld);
        }
        if iat > now.saturating_add(secs(config.max_skew)) {
            return refuse(DpopProofError::IssuedInFuture);
        }
        if !constant_time_eq(ath.as_bytes(), ath_of(request.access_token).as_bytes()) {
            return refuse(DpopProofError::AthMismatch);
        }
        Ok(CheckedProof {
            jkt,
            jti,
            keep_until: iat.saturating_add(secs(config.max_age)),
        })
    }
}

/// RFC 9449 §4.3 point 9: `htu` names the request's URI, query and fragment
/// aside. Both are parsed as URLs, which applies RFC 3986 §6.2.2 (case of
/// scheme and host, percent-encoding, dot segments) and §6.2.3 (default
/// port, empty path) normalization; only `http` and `https` count.
fn same_target(htu: &str, uri: &Url) -> bool {
    match Url::parse(htu) {
        Ok(claimed) if matches!(claimed.scheme(), "http" | "https") => htu_of(&claimed) == htu_of(uri),
        _ => false,
    }
}

/// Compares two hashes without an early exit, so timing does not tell how
/// much of a guessed `ath` was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_compares_normalized_without_query_and_fragment() {
        let uri = Url::parse("https://api.example.com/orders/1?page=2").unwrap();
        for same in [
            "https://api.example.com/orders/1",
            "HTTPS://API.Example.COM:443/orders/1",
            "https://api.example.com/orders/./1?x=y#frag",
            "https://api.example.com/orders/x/../1",
        ] {
            assert!(same_target(same, &uri), "{same}");
        }
        for other in [
            "http://api.example.com/orders/1",
            "https://api.example.com:8443/orders/1",
            "https://api.example.org/orders/1",
            "https://api.example.com/orders/2",
            "https://api.example.com/orders/1/",
            "/orders/1",
            "ftp://api.example.com/orders/1",
            "",
        ] {
            assert!(!same_target(other, &uri), "{other}");
        }
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
