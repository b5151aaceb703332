//! Local id_token verification
//! ([OIDC Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation),
//! [§12.2](https://openid.net/specs/openid-connect-core-1_0.html#RefreshTokenResponse); docs/protocol.md §4.2).
//!
//! [`IdTokenVerifier::verify`] checks, in this order, and refuses with the
//! [`IdTokenError`] named:
//!
//! 1. the token is a compact JWS with a JSON header and payload, no `crit`
//!    (`Malformed`);
//! 2. `alg` is on the allow-list (RS256/384/512, PS256/384/512, ES256/384,
//!    EdDSA, HS256/384/512; never `none`) and is accepted for this client: the
//!    configured `id_token_signed_response_alg` only, or else the provider's
//!    advertised algorithms (discovery) or RS256 and HS256 (Authing preset)
//!    (`AlgorithmNotAllowed`);
//! 3. the key: HS* only ever with the client secret, whatever the `kid` says;
//!    any other alg with a JWKS key of the matching type (`UnknownKid`,
//!    `AmbiguousKey`, `NoUsableKey`, `AlgorithmKeyMismatch`; see [`crate::jwks`]
//!    for caching and key rotation);
//! 4. the signature (`BadSignature`);
//! 5. the claims: `iss`, `aud`, `azp`, `exp`, `nbf`, `iat`, `sub`, `nonce`,
//!    `at_hash`, `auth_time` (see [`IdTokenVerifier::verify`]).
//!
//! Only then are the claims returned, as [`IdTokenClaims`].
//!
//! Clock checks use the client's clock and leeway
//! ([`AuthenticationClientBuilder::leeway`](crate::AuthenticationClientBuilder::leeway), default 60 s).

mod claims;
pub(crate) mod hmac;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use sha2::Digest as _;

pub use claims::IdTokenClaims;

use crate::client::{AuthenticationClient, Provider};
use crate::config::SigningAlgorithm;
use crate::error::{Error, IdTokenError, Result};
use crate::jwks::shorten;
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

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

/// A compact JWS split into its parts; nothing verified yet.
struct Jws<'t> {
    header: Header,
    /// `header.payload`, the signed bytes.
    signing_input: &'t str,
    payload: &'t str,
    signature: &'t str,
}

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
        let jws = split(id_token.expose_secret())?;
        let alg = self.accepted_alg(&jws.header.alg)?;
        self.check_signature(&jws, alg).await?;
        let claims = parse_claims(jws.payload)?;
        self.check_claims(&claims, alg, access_token, max_age)?;
        Ok(claims)
    }

    /// §3.1.3.7 step 7: the algorithm is the registered one (or, unregistered,
    /// one the provider uses); `none` never.
    fn accepted_alg(&self, alg: &str) -> Result<SigningAlgorithm> {
        let refused = || Error::from(IdTokenError::AlgorithmNotAllowed(shorten(alg)));
        let alg: SigningAlgorithm = alg.parse().map_err(|_| refused())?;
        let inner = &self.client.inner;
        let accepted = match (inner.id_token_alg, &inner.provider) {
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
        };
        if accepted { Ok(alg) } else { Err(refused()) }
    }

    /// §3.1.3.7 steps 6 and 8: the signature, with the client secret for HS*
    /// and with a JWKS key of the matching type otherwise.
    async fn check_signature(&self, jws: &Jws<'_>, alg: SigningAlgorithm) -> Result<()> {
        let signature = URL_SAFE_NO_PAD
            .decode(jws.signature)
            .map_err(|_| IdTokenError::Malformed("the signature is not base64url".into()))?;
        let jwt_alg = jwt_algorithm(alg);
        let provider = &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
        if alg.is_symmetric() {
            // Step 8: HMAC is keyed with the client secret's UTF-8 bytes, never with a JWKS
            // key — whatever `kid` names (this is what defeats RS256→HS256 key confusion).
            let keys = self
                .client
                .inner
                .hmac_keys
                .as_ref()
                .ok_or(IdTokenError::NoUsableKey)?;
            return if keys.verify(alg, jws.signing_input.as_bytes(), &signature) {
                Ok(())
            } else {
                Err(IdTokenError::BadSignature.into())
            };
        }
        let found = self
            .client
            .inner
            .jwks
            .find(&self.client, jws.header.kid.as_deref(), alg)
            .await?;
        let key = found.key();
        let verifier = (provider.verifier_factory)(&jwt_alg, &key.decoding).map_err(|_| {
            IdTokenError::AlgorithmKeyMismatch {
                alg: alg.as_str().to_owned(),
                kid: key.kid.clone(),
            }
        })?;
        verifier
            .verify(jws.signing_input.as_bytes(), &signature)
            .map_err(|_| IdTokenError::BadSignature.into())
    }

    fn check_claims(
        &self,
        claims: &IdTokenClaims,
        alg: SigningAlgorithm,
        access_token: Option<&AccessToken>,
        max_age: Option<Duration>,
    ) -> Result<()> {
        let inner = &self.client.inner;
        let client_id = inner.app_id.as_str();
        // Step 2: the issuer must exactly match.
        if claims.iss != inner.issuer {
            return Err(IdTokenError::IssuerMismatch {
                expected: inner.issuer.clone(),
                actual: shorten(&claims.iss),
            }
            .into());
        }
        // Step 3: aud contains the client id; any other audience must be one the client trusts.
        if !claims.aud.iter().any(|a| a == client_id) {
            return Err(IdTokenError::AudienceMismatch.into());
        }
        if let Some(untrusted) = claims
            .aud
            .iter()
            .find(|a| a.as_str() != client_id && !inner.trusted_audiences.iter().any(|t| t == *a))
        {
            return Err(IdTokenError::UntrustedAudience(shorten(untrusted)).into());
        }
        // Steps 4 and 5: azp is required with several audiences and, when present, is the client id.
        match claims.azp.as_deref() {
            Some(azp) if azp != client_id => return Err(IdTokenError::AuthorizedPartyMismatch.into()),
            None if claims.aud.len() > 1 => return Err(IdTokenError::AuthorizedPartyMismatch.into()),
            _ => {}
        }
        let now = i64::try_from(self.client.clock().unix_now()).unwrap_or(i64::MAX);
        let leeway = i64::try_from(inner.leeway.as_secs()).unwrap_or(i64::MAX);
        // Step 9: the current time must be before exp (plus leeway for clock skew).
        if now >= claims.exp.saturating_add(leeway) {
            return Err(IdTokenError::Expired.into());
        }
        // RFC 7519 §4.1.5: not before nbf (minus leeway).
        if claims.nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return Err(IdTokenError::NotYetValid.into());
        }
        // Step 10 (iat present) is enforced by parsing; §2: sub is a non-empty identifier.
        if claims.sub.is_empty() {
            return Err(IdTokenError::MissingClaim("sub").into());
        }
        // §3.1.3.8 / §3.2.2.9: at_hash, when present and the access token is at hand.
        if let (Some(at_hash), Some(access_token)) = (claims.at_hash.as_deref(), access_token) {
            let expected = token_hash(alg, access_token.expose_secret());
            if !ct_eq_str(&expected, at_hash) {
                return Err(IdTokenError::AtHashMismatch.into());
            }
        }
        // Step 13: with max_age, auth_time is required and must be recent enough.
        if let Some(max_age) = max_age {
            let auth_time = claims.auth_time.ok_or(IdTokenError::MissingClaim("auth_time"))?;
            let max_age = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
            if now > auth_time.saturating_add(max_age).saturating_add(leeway) {
                return Err(IdTokenError::AuthTimeTooOld.into());
            }
        }
        Ok(())
    }
}

/// Splits a compact JWS (RFC 7515 §7.1) and parses its header.
fn split(token: &str) -> Result<Jws<'_>> {
    let malformed = |why: &str| Error::from(IdTokenError::Malformed(why.to_owned()));
    let mut dots = token.match_indices('.').map(|(i, _)| i);
    let (Some(first), Some(second)) = (dots.next(), dots.next()) else {
        return Err(malformed("not a compact JWS (three dot-separated parts)"));
    };
    match dots.count() {
        0 => {}
        3 => return Err(malformed("an encrypted id_token (JWE) is not supported")),
        _ => return Err(malformed("not a compact JWS (three dot-separated parts)")),
    }
    let header_bytes = URL_SAFE_NO_PAD
        .decode(&token[..first])
        .map_err(|_| malformed("the header is not base64url"))?;
    let header: Header = serde_json::from_slice(&header_bytes)
        .map_err(|_| malformed("the header is not a JSON object with alg"))?;
    // RFC 7515 §4.1.11: extensions marked critical must be understood; this client knows none.
    if header.crit.is_some() {
        return Err(malformed("the header has crit extensions"));
    }
    Ok(Jws {
        header,
        signing_input: &token[..second],
        payload: &token[first + 1..second],
        signature: &token[second + 1..],
    })
}

/// Parses the payload. On failure, finds which claim is missing or of the
/// wrong type, without quoting any value.
fn parse_claims(payload: &str) -> Result<IdTokenClaims> {
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| IdTokenError::Malformed("the payload is not base64url".into()))?;
    match serde_json::from_slice::<IdTokenClaims>(&bytes) {
        Ok(claims) => Ok(claims),
        Err(_) => Err(diagnose(&bytes).into()),
    }
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

fn jwt_algorithm(alg: SigningAlgorithm) -> Algorithm {
    use SigningAlgorithm as S;
    match alg {
        S::RS256 => Algorithm::RS256,
        S::RS384 => Algorithm::RS384,
        S::RS512 => Algorithm::RS512,
        S::PS256 => Algorithm::PS256,
        S::PS384 => Algorithm::PS384,
        S::PS512 => Algorithm::PS512,
        S::ES256 => Algorithm::ES256,
        S::ES384 => Algorithm::ES384,
        S::EdDSA => Algorithm::EdDSA,
        S::HS256 => Algorithm::HS256,
        S::HS384 => Algorithm::HS384,
        S::HS512 => Algorithm::HS512,
    }
}

/// `at_hash` (OIDC Core §3.1.3.8): base64url of the left-most half of the hash
/// of the ASCII token, with the hash of the alg's size (SHA-512 for Ed25519).
fn token_hash(alg: SigningAlgorithm, token: &str) -> String {
    use SigningAlgorithm as S;
    let digest: Vec<u8> = match alg {
        S::RS256 | S::PS256 | S::ES256 | S::HS256 => sha2::Sha256::digest(token).to_vec(),
        S::RS384 | S::PS384 | S::ES384 | S::HS384 => sha2::Sha384::digest(token).to_vec(),
        S::RS512 | S::PS512 | S::HS512 | S::EdDSA => sha2::Sha512::digest(token).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_vector() {
        // OIDC Core appendix A.3: access token and at_hash of the example (RS256).
        assert_eq!(
            token_hash(
                SigningAlgorithm::RS256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }

    #[test]
    fn split_rejects_what_is_not_a_jws() {
        let h = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#);
        assert!(split(&format!("{h}.e30.c2ln")).is_ok());
        for bad in [
            "".to_owned(),
            "a.b".to_owned(),
            format!("{h}.e30.c2ln.x"),
            format!("{h}.a.b.c.d"),
            "!!.e30.c2ln".to_owned(),
            format!(
                "{}.e30.c2ln",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","crit":["x"]}"#)
            ),
            format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(r#"{"kid":"k"}"#)),
        ] {
            assert!(
                matches!(split(&bad), Err(Error::IdToken(IdTokenError::Malformed(_)))),
                "{bad}"
            );
        }
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
