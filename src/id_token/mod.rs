//! Local id_token verification
//! ([OIDC Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation),
//! [§12.2](https://openid.net/specs/openid-connect-core-1_0.html#RefreshTokenResponse);
//! docs/protocol.md §4.2).
//!
//! An id_token verifier is the [JWT core](crate::jose) plus the id_token's
//! own rules. [`IdTokenVerifier::verify`] checks, in this order, and refuses
//! with the [`IdTokenError`] named:
//!
//! 1. the token is a compact JWS with a JSON header without repeated members,
//!    and no `crit` (`Malformed`);
//! 2. `alg` is on the allow-list (RS256/384/512, PS256/384/512, ES256/384,
//!    EdDSA, HS256/384/512; never `none`) and is accepted for this client: the
//!    configured `id_token_signed_response_alg` only, or else the provider's
//!    advertised algorithms (discovery) or RS256 and HS256 (Authing preset)
//!    (`AlgorithmNotAllowed`);
//! 3. `typ`, when present, is not that of another kind of JWT (`at+jwt`,
//!    `logout+jwt`, `token-introspection+jwt`, `dpop+jwt`,
//!    `oauth-authz-req+jwt`, with or without `application/`, any case;
//!    RFC 8725 §3.11) (`TypeNotAllowed`);
//! 4. the key: HS* only ever with the client secret, whatever the `kid` says;
//!    any other alg with a JWKS key of the matching type (`UnknownKid`,
//!    `AmbiguousKey`, `NoUsableKey`, `AlgorithmKeyMismatch`; see [`crate::jose::jwks`]
//!    for caching and key rotation);
//! 5. the signature (`BadSignature`);
//! 6. the payload: a JSON object with no member repeated (`Malformed`), the
//!    required claims present with the right types (`MissingClaim`,
//!    `InvalidClaim`);
//! 7. the registered claims, by the core: `iss`, `aud`, `azp`, `exp`, `nbf`,
//!    `iat` (not further in the future than
//!    [`max_iat_skew`](crate::AuthenticationClientBuilder::max_iat_skew),
//!    `IssuedInFuture`);
//! 8. the id_token's own: a non-empty `sub`, `at_hash`, `auth_time` with
//!    `max_age`, then `nonce` (see [`IdTokenVerifier::verify`]).
//!
//! Only then are the claims returned, as [`IdTokenClaims`].
//!
//! Clock checks use the client's clock and leeway
//! ([`AuthenticationClientBuilder::leeway`](crate::AuthenticationClientBuilder::leeway), default 60 s).

mod claims;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::Digest as _;

pub(crate) use claims::Audiences;
pub use claims::IdTokenClaims;

use crate::client::{AuthenticationClient, Provider};
use crate::config::SigningAlgorithm;
#[cfg(doc)]
use crate::error::Error;
use crate::error::{IdTokenError, Result};
use crate::jose::claims::{AudienceRule, AzpRule, ClaimRules, Registered};
use crate::jose::jws::{HeaderRules, OTHER_KINDS, TypRule};
use crate::jose::{self, Keys, Policy};
use crate::secret::{AccessToken, ExposeSecret as _, IdToken, Nonce, ct_eq_str};

/// What a verification checks besides the token itself.
///
/// ```
/// use authing_oidc::{AccessToken, Nonce, id_token::VerifyOptions};
/// let nonce = Nonce::new("n-0S6_WzA2Mj");
/// let access_token = AccessToken::new("SlAV32hkKG");
/// let opts = VerifyOptions::new()
///     .nonce(&nonce)
///     .access_token(&access_token)
///     .max_age(std::time::Duration::from_secs(300));
/// ```
#[derive(Debug, Default, Clone)]
#[non_exhaustive]
pub struct VerifyOptions<'a> {
    /// The nonce the login sent. When set, the token's `nonce` must be present
    /// and equal (step 11); when `None`, `nonce` is not checked (standalone use).
    pub nonce: Option<&'a Nonce>,
    /// The access token issued with the id_token: when set and the token has
    /// `at_hash`, the hash must match (§3.1.3.8, §3.2.2.9).
    pub access_token: Option<&'a AccessToken>,
    /// The `max_age` the login asked for: `auth_time` is then required and must
    /// be recent enough (step 13).
    pub max_age: Option<Duration>,
}

impl<'a> VerifyOptions<'a> {
    /// No nonce, no access token, no max_age.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires this nonce.
    pub fn nonce(mut self, nonce: &'a Nonce) -> Self {
        self.nonce = Some(nonce);
        self
    }

    /// Checks `at_hash` against this access token.
    pub fn access_token(mut self, access_token: &'a AccessToken) -> Self {
        self.access_token = Some(access_token);
        self
    }

    /// Requires `auth_time` no older than `max_age`.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }
}

/// Verifies id_tokens for one client, with the client's JWKS cache, clock,
/// leeway and trusted audiences. Cheap to clone; get one with
/// [`AuthenticationClient::id_token_verifier`].
///
/// Every failure is [`Error::IdToken`] with the reason, except fetching the
/// JWKS, whose HTTP failures are the usual [`Error::Transport`],
/// [`Error::Timeout`] or [`Error::Op`] (so [`Error::is_transient`] tells a
/// provider outage from a bad token).
#[derive(Debug, Clone)]
pub struct IdTokenVerifier {
    client: AuthenticationClient,
}

impl AuthenticationClient {
    /// A verifier of this client's id_tokens (docs/protocol.md §4.2). It shares the
    /// client's JWKS cache.
    pub fn id_token_verifier(&self) -> IdTokenVerifier {
        IdTokenVerifier { client: self.clone() }
    }

    /// Verifies an id_token locally: a shortcut for
    /// [`IdTokenVerifier::verify`]. For the login flow's own tokens the typed
    /// flow does this for you.
    pub async fn verify_id_token(
        &self,
        id_token: &IdToken,
        opts: &VerifyOptions<'_>,
    ) -> Result<IdTokenClaims> {
        self.id_token_verifier().verify(id_token, opts).await
    }
}

/// RFC 8725 §3.11: an id_token has no registered `typ`; `JWT` or none is
/// what providers send, and the explicit types of other JWT kinds are refused.
const ID_TOKEN_HEADER: HeaderRules = HeaderRules {
    typ: TypRule::Forbid(OTHER_KINDS),
    understood_crit: &[],
};

impl IdTokenVerifier {
    /// Verifies the first id_token of a login (OIDC Core §3.1.3.7) and returns
    /// its claims.
    ///
    /// Beyond the signature (see the [module docs](self)): `iss` equals the
    /// issuer; `aud` contains the client id and nothing the client does not
    /// trust; `azp`, when present, is the client id and is required when there
    /// are several audiences; `exp` is in the future and `nbf` (if present) in
    /// the past, within the leeway; `iat` and a non-empty `sub` are present;
    /// `nonce` equals `opts.nonce` (compared in constant time) when given;
    /// `at_hash` matches `opts.access_token` when both are present; with
    /// `opts.max_age`, `auth_time` is present and recent enough.
    pub async fn verify(&self, id_token: &IdToken, opts: &VerifyOptions<'_>) -> Result<IdTokenClaims> {
        let claims = self.check(id_token, opts.access_token, opts.max_age).await?;
        // §3.1.3.7 step 11: the nonce must be the one sent in the authentication request.
        if let Some(expected) = opts.nonce {
            let actual = claims
                .nonce
                .as_deref()
                .ok_or(IdTokenError::MissingClaim("nonce"))?;
            if !expected.ct_eq(actual) {
                return Err(IdTokenError::NonceMismatch.into());
            }
        }
        Ok(claims)
    }

    /// Verifies an id_token from a refresh (OIDC Core §12.2): every check of
    /// [`verify`](Self::verify) except the nonce rule, then `iss`, `sub`,
    /// `aud`, `azp` (absent stays absent) and `auth_time` must equal the
    /// original token's ([`IdTokenError::RefreshClaimChanged`]), and a `nonce`,
    /// if present, must equal the original's.
    ///
    /// A refresh that returns no id_token needs no call: the claims stay.
    pub async fn verify_refreshed(
        &self,
        id_token: &IdToken,
        original: &IdTokenClaims,
        access_token: Option<&AccessToken>,
    ) -> Result<IdTokenClaims> {
        let claims = self.check(id_token, access_token, None).await?;
        // §12.2: "its iss Claim Value MUST be the same as in the ID Token issued when the
        // original authentication occurred", and likewise sub, aud, azp and auth_time.
        if claims.iss != original.iss {
            return Err(IdTokenError::RefreshClaimChanged("iss").into());
        }
        if claims.sub != original.sub {
            return Err(IdTokenError::RefreshClaimChanged("sub").into());
        }
        let (mut new_aud, mut old_aud) = (claims.aud.clone(), original.aud.clone());
        new_aud.sort_unstable();
        new_aud.dedup();
        old_aud.sort_unstable();
        old_aud.dedup();
        if new_aud != old_aud {
            return Err(IdTokenError::RefreshClaimChanged("aud").into());
        }
        if claims.azp != original.azp {
            return Err(IdTokenError::RefreshClaimChanged("azp").into());
        }
        if claims.auth_time != original.auth_time {
            return Err(IdTokenError::RefreshClaimChanged("auth_time").into());
        }
        // §12.2: "if the ID Token contains a nonce Claim, its value MUST be the same as in
        // the ID Token issued at the time of the original authentication".
        if let Some(nonce) = &claims.nonce {
            let same = original.nonce.as_deref().is_some_and(|o| ct_eq_str(o, nonce));
            if !same {
                return Err(IdTokenError::RefreshClaimChanged("nonce").into());
            }
        }
        Ok(claims)
    }

    /// Everything but the nonce rule.
    async fn check(
        &self,
        id_token: &IdToken,
        access_token: Option<&AccessToken>,
        max_age: Option<Duration>,
    ) -> Result<IdTokenClaims> {
        let result = self.check_inner(id_token, access_token, max_age).await;
        if let Err(e) = &result {
            tracing::debug!(error = %e, "id_token rejected");
        }
        result
    }

    async fn check_inner(
        &self,
        id_token: &IdToken,
        access_token: Option<&AccessToken>,
        max_age: Option<Duration>,
    ) -> Result<IdTokenClaims> {
        let inner = &self.client.inner;
        let policy = Policy {
            accepts: &|alg| self.accepts(alg),
            header: ID_TOKEN_HEADER,
        };
        let keys = Keys {
            client_secret: inner.hmac_keys.as_ref(),
            jwks: &inner.jwks,
        };
        let verified = jose::verify_signature(id_token.expose_secret(), policy, keys).await?;
        let claims = parse_claims(verified.payload)?;
        self.check_claims(&claims, verified.alg, access_token, max_age)?;
        Ok(claims)
    }

    /// §3.1.3.7 step 7: the algorithm is the registered one (or, unregistered,
    /// one the provider uses). Logout tokens follow the same rule
    /// (Back-Channel Logout §2.6).
    pub(crate) fn accepts(&self, alg: SigningAlgorithm) -> bool {
        let inner = &self.client.inner;
        if !inner.profile_allows_id_token_alg(alg) {
            return false;
        }
        match (inner.id_token_alg, &inner.provider) {
            (Some(configured), _) => alg == configured,
            (None, Provider::Authing { .. }) => {
                matches!(alg, SigningAlgorithm::RS256 | SigningAlgorithm::HS256)
            }
            (None, Provider::Discovered(m)) => {
                let advertised = &m.id_token_signing_alg_values_supported;
                // Discovery §3 makes the list required and RS256 mandatory; a provider that
                // omits it gets the default RS256.
                if advertised.is_empty() {
                    alg == SigningAlgorithm::RS256
                } else {
                    advertised.iter().any(|a| a == alg.as_str())
                }
            }
        }
    }

    fn check_claims(
        &self,
        claims: &IdTokenClaims,
        alg: SigningAlgorithm,
        access_token: Option<&AccessToken>,
        max_age: Option<Duration>,
    ) -> Result<()> {
        let inner = &self.client.inner;
        let now = i64::try_from(self.client.clock().unix_now()).unwrap_or(i64::MAX);
        let leeway = secs(inner.leeway);
        // Steps 2–5, 9 and 10 and RFC 7519 §4.1.5, by the core.
        ClaimRules {
            issuer: &inner.issuer,
            audience: AudienceRule::Client {
                client_id: &inner.app_id,
                trusted: &inner.trusted_audiences,
            },
            azp: AzpRule::Client(&inner.app_id),
            require_exp: true,
            require_iat: true,
            require_jti: false,
            now,
            leeway,
            max_iat_skew: secs(inner.max_iat_skew),
        }
        .check(&Registered {
            iss: Some(&claims.iss),
            aud: &claims.aud,
            azp: claims.azp.as_deref(),
            exp: Some(claims.exp),
            nbf: claims.nbf,
            iat: Some(claims.iat),
            jti: None,
        })?;
        // §2: sub is a non-empty identifier.
        if claims.sub.is_empty() {
            return Err(IdTokenError::MissingClaim("sub").into());
        }
        // §3.1.3.8 / §3.2.2.9: at_hash, when present and the access token is at hand.
        if let (Some(at_hash), Some(access_token)) = (claims.at_hash.as_deref(), access_token)
            && !at_hash_matches(alg, access_token.expose_secret(), at_hash)
        {
            return Err(IdTokenError::AtHashMismatch.into());
        }
        // Step 13: with max_age, auth_time is required and must be recent enough.
        if let Some(max_age) = max_age {
            let auth_time = claims.auth_time.ok_or(IdTokenError::MissingClaim("auth_time"))?;
            if now > auth_time.saturating_add(secs(max_age)).saturating_add(leeway) {
                return Err(IdTokenError::AuthTimeTooOld.into());
            }
        }
        Ok(())
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Parses the payload. On failure, finds which claim is missing or of the
/// wrong type, without quoting any value.
fn parse_claims(payload: &str) -> Result<IdTokenClaims> {
    jose::with_decoded(payload, |json| {
        let json = json.ok_or_else(|| IdTokenError::Malformed("the payload is not base64url".into()))?;
        serde_json::from_str::<IdTokenClaims>(json).map_err(|_| diagnose(json.as_bytes()).into())
    })
}

fn diagnose(bytes: &[u8]) -> IdTokenError {
    use serde_json::Value;
    let unreadable =
        || IdTokenError::Malformed("a claim is repeated or a profile claim has the wrong type".into());
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(bytes) else {
        return IdTokenError::Malformed("the payload is not a JSON object".into());
    };
    let is_date = |v: &Value| v.as_i64().is_some() || v.as_f64().is_some();
    let is_str = |v: &Value| v.is_string();
    for (name, required, ok) in [
        ("iss", true, &is_str as &dyn Fn(&Value) -> bool),
        ("sub", true, &is_str),
        ("exp", true, &is_date),
        ("iat", true, &is_date),
        ("nbf", false, &is_date),
        ("auth_time", false, &is_date),
        ("nonce", false, &is_str),
        ("azp", false, &is_str),
        ("at_hash", false, &is_str),
    ] {
        match map.get(name) {
            None if required => return IdTokenError::MissingClaim(name),
            Some(v) if !ok(v) => return IdTokenError::InvalidClaim(name),
            _ => {}
        }
    }
    match map.get("aud") {
        // §3.1.3.7 step 3: no aud cannot contain the client id.
        None => IdTokenError::AudienceMismatch,
        Some(Value::String(_)) => unreadable(),
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => unreadable(),
        Some(_) => IdTokenError::InvalidClaim("aud"),
    }
}

/// Whether `at_hash` (OIDC Core §3.1.3.8) is the base64url of the left-most
/// half of the hash of the ASCII token, with the hash of the alg's size
/// (SHA-512 for Ed25519). Hashed and encoded on the stack, compared in
/// constant time: this runs on every verification with an access token.
fn at_hash_matches(alg: SigningAlgorithm, token: &str, at_hash: &str) -> bool {
    let mut digest = [0u8; 64];
    let len = hash_token(alg, token, &mut digest);
    // Half of a SHA-512 digest, 32 bytes, is 43 base64url characters.
    let mut encoded = [0u8; 43];
    match URL_SAFE_NO_PAD.encode_slice(&digest[..len / 2], &mut encoded) {
        Ok(n) => std::str::from_utf8(&encoded[..n]).is_ok_and(|expected| ct_eq_str(expected, at_hash)),
        Err(_) => false,
    }
}

/// Hashes `token` with the hash of `alg`'s size into `out`; returns the digest length.
fn hash_token(alg: SigningAlgorithm, token: &str, out: &mut [u8; 64]) -> usize {
    use SigningAlgorithm as S;
    fn put(out: &mut [u8; 64], digest: &[u8]) -> usize {
        out[..digest.len()].copy_from_slice(digest);
        digest.len()
    }
    match alg {
        S::RS256 | S::PS256 | S::ES256 | S::HS256 => put(out, &sha2::Sha256::digest(token)),
        S::RS384 | S::PS384 | S::ES384 | S::HS384 => put(out, &sha2::Sha384::digest(token)),
        S::RS512 | S::PS512 | S::HS512 | S::EdDSA => put(out, &sha2::Sha512::digest(token)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_vector() {
        // OIDC Core appendix A.3: access token and at_hash of the example (RS256).
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert!(at_hash_matches(
            SigningAlgorithm::RS256,
            token,
            "77QmUPtjPfzWtF2AnpK9RQ"
        ));
        assert!(!at_hash_matches(
            SigningAlgorithm::RS256,
            token,
            "77QmUPtjPfzWtF2AnpK9RR"
        ));
        assert!(!at_hash_matches(
            SigningAlgorithm::RS256,
            token,
            "77QmUPtjPfzWtF2AnpK9R"
        ));
        // The same token under a 512-bit alg hashes with SHA-512: 43 characters, not 22.
        assert!(!at_hash_matches(
            SigningAlgorithm::EdDSA,
            token,
            "77QmUPtjPfzWtF2AnpK9RQ"
        ));
        let mut digest = [0u8; 64];
        assert_eq!(hash_token(SigningAlgorithm::EdDSA, token, &mut digest), 64);
        let half = URL_SAFE_NO_PAD.encode(&digest[..32]);
        assert_eq!(half.len(), 43);
        assert!(at_hash_matches(SigningAlgorithm::EdDSA, token, &half));
    }

    #[test]
    fn diagnosis_names_the_claim() {
        let d = |v: serde_json::Value| diagnose(v.to_string().as_bytes());
        assert_eq!(
            d(serde_json::json!({"iss": "i", "aud": "a", "exp": 1, "iat": 1})),
            IdTokenError::MissingClaim("sub")
        );
        assert_eq!(
            d(serde_json::json!({"iss": "i", "sub": "s", "aud": "a", "exp": 1})),
            IdTokenError::MissingClaim("iat")
        );
        assert_eq!(
            d(serde_json::json!({"iss": "i", "sub": "s", "exp": 1, "iat": 1})),
            IdTokenError::AudienceMismatch
        );
        assert_eq!(
            d(serde_json::json!({"iss": "i", "sub": "s", "aud": "a", "exp": "soon", "iat": 1})),
            IdTokenError::InvalidClaim("exp")
        );
        assert_eq!(
            d(serde_json::json!({"iss": "i", "sub": "s", "aud": 5, "exp": 1, "iat": 1})),
            IdTokenError::InvalidClaim("aud")
        );
    }
}
