//! Local verification of JWT access tokens for resource servers
//! ([RFC 9068](https://www.rfc-editor.org/rfc/rfc9068); docs/protocol.md §4.3).
//!
//! An access-token verifier is the [JWT core](crate::jose) plus RFC 9068's
//! rules (§4):
//!
//! 1. `typ`: [`TypPolicy::Strict`] requires `at+jwt` (§2.1, with or without
//!    `application/`); [`TypPolicy::Authing`] also accepts `JWT` or no `typ`,
//!    as Authing's access tokens say. Both refuse the `typ` of every other
//!    kind (`logout+jwt`, `token-introspection+jwt`, `dpop+jwt`,
//!    `oauth-authz-req+jwt`) (`TypeNotAllowed`);
//! 2. `alg`: an asymmetric algorithm on the allow-list, key from the JWKS
//!    (§4 step 5). HS* is refused: a key shared with the client would let
//!    every holder of the client secret mint access tokens
//!    (`AlgorithmNotAllowed`);
//! 3. the signature, then the registered claims by the core: `iss` exactly
//!    the issuer, `aud` holding one of the configured audiences (§4 steps
//!    3–4; the resource server's identifiers), `exp` required and `nbf` with
//!    the leeway, `iat` required and not too far in the future;
//! 4. RFC 9068 §2.2's required claims (`MissingClaim`): `sub` always;
//!    `client_id` and `jti` in the strict policy only, since Authing's tokens
//!    need not carry them;
//! 5. under [`TypPolicy::Authing`], whose `typ` cannot tell an id_token from
//!    an access token, a token carrying `nonce`, `at_hash` or `c_hash` (the
//!    marks of an id_token, OIDC Core §2, §3.3.2.11) or `events` (a logout
//!    token, Back-Channel Logout §2.4) is refused (`TypeNotAllowed`); and
//!    since an id_token from a refresh, device or CIBA grant may carry none
//!    of those marks, `scope` is required (Authing's access tokens always
//!    carry it, its id_tokens never do).
//!
//! Failures are [`Error::AccessToken`] with the reason; fetching the JWKS
//! fails as for id_tokens ([`Error::is_transient`] answers).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::AuthenticationClient;
use crate::config::SigningAlgorithm;
use crate::error::{Error, IdTokenError, Result};
use crate::jose::claims::{AudienceRule, AzpRule, ClaimRules, Registered};
use crate::jose::jws::{HeaderRules, TypRule};
use crate::jose::{self, Keys, Policy};
use crate::secret::{AccessToken, ExposeSecret as _};

/// How the verifier treats `typ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TypPolicy {
    /// RFC 9068 §4 step 1: `typ` must be `at+jwt`.
    Strict,
    /// Authing's access tokens say `typ: JWT` (or nothing): accept those and
    /// `at+jwt`, refuse the other kinds' `typ` and anything that looks like an
    /// id_token. The default, since this SDK's provider is Authing.
    #[default]
    Authing,
}

const STRICT: HeaderRules = HeaderRules {
    typ: TypRule::Require {
        values: &["at+jwt"],
        optional: false,
    },
    understood_crit: &[],
};

const AUTHING: HeaderRules = HeaderRules {
    typ: TypRule::Require {
        values: &["at+jwt", "jwt"],
        optional: true,
    },
    understood_crit: &[],
};

/// The claims of a verified access token (RFC 9068 §2.2).
///
/// `Debug` shows `iss`, `sub`, `aud`, `client_id`, `scope` and `exp`.
/// Serializes back to the claims (absent ones left out; `aud` as a list).
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct AccessTokenClaims {
    /// Issuer: equal to the client's issuer.
    pub iss: String,
    /// Subject: the user, or the client for a client-credentials token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audiences; at least one is among the verifier's.
    #[serde(deserialize_with = "audiences")]
    pub aud: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Not before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// The token's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Space-separated scopes (RFC 8693 §4.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// When the user authenticated, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for AccessTokenClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokenClaims")
            .field("iss", &self.iss)
            .field("sub", &self.sub)
            .field("aud", &self.aud)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("exp", &self.exp)
            .finish_non_exhaustive()
    }
}

impl AccessTokenClaims {
    /// The scopes, split on spaces.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
    }

    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }
}

fn audiences<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Aud::deserialize(d)? {
        Aud::One(a) => vec![a],
        Aud::Many(a) => a,
    })
}

/// Verifies JWT access tokens issued by this client's provider, for a
/// resource server identified by one or more audiences. Cheap to clone; get
/// one with [`AuthenticationClient::access_token_verifier`].
///
/// ```
/// # async fn f(client: authing_oidc::AuthenticationClient, token: authing_oidc::AccessToken)
/// # -> authing_oidc::Result<()> {
/// use authing_oidc::access_token::TypPolicy;
/// let verifier = client
///     .access_token_verifier(["https://api.example.com"])
///     .typ_policy(TypPolicy::Strict);
/// let claims = verifier.verify(&token).await?;
/// if !claims.has_scope("orders:read") { /* 403 */ }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AccessTokenVerifier {
    client: AuthenticationClient,
    audiences: Vec<String>,
    typ: TypPolicy,
}

impl AuthenticationClient {
    /// A verifier of access tokens whose `aud` holds one of `audiences` (the
    /// resource server's identifiers; for Authing, the app id the token was
    /// issued for). Shares the client's JWKS cache, clock and leeway.
    pub fn access_token_verifier<A: Into<String>>(
        &self,
        audiences: impl IntoIterator<Item = A>,
    ) -> AccessTokenVerifier {
        AccessTokenVerifier {
            client: self.clone(),
            audiences: audiences.into_iter().map(Into::into).collect(),
            typ: TypPolicy::default(),
        }
    }
}

impl AccessTokenVerifier {
    /// How `typ` is treated; default [`TypPolicy::Authing`].
    #[must_use]
    pub fn typ_policy(mut self, typ: TypPolicy) -> Self {
        self.typ = typ;
        self
    }

    /// Verifies `token` (see the [module docs](self)) and returns its claims.
    pub async fn verify(&self, token: &AccessToken) -> Result<AccessTokenClaims> {
        let result = self.check(token).await.map_err(|e| match e {
            Error::IdToken(reason) => Error::AccessToken(reason),
            other => other,
        });
        if let Err(e) = &result {
            tracing::debug!(error = %e, "access token rejected");
        }
        result
    }

    async fn check(&self, token: &AccessToken) -> Result<AccessTokenClaims> {
        if self.audiences.is_empty() {
            return Err(Error::config(
                "an access-token verifier needs at least one audience",
            ));
        }
        let inner = &self.client.inner;
        let policy = Policy {
            accepts: &|alg: SigningAlgorithm| !alg.is_symmetric(),
            header: match self.typ {
                TypPolicy::Strict => STRICT,
                TypPolicy::Authing => AUTHING,
            },
        };
        let keys = Keys {
            client_secret: None,
            jwks: &inner.jwks,
        };
        let verified = jose::verify_signature(token.expose_secret(), policy, keys).await?;
        let bytes = jose::decode_payload(verified.payload)?;
        let claims: AccessTokenClaims = jose::parse_object(&bytes, "access token")?;
        let now = i64::try_from(self.client.clock().unix_now()).unwrap_or(i64::MAX);
        let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        ClaimRules {
            issuer: &inner.issuer,
            audience: AudienceRule::AnyOf(&self.audiences),
            azp: AzpRule::Ignore,
            require_exp: true,
            require_iat: true,
            require_jti: self.typ == TypPolicy::Strict,
            now,
            leeway: secs(inner.leeway),
            max_iat_skew: secs(inner.max_iat_skew),
        }
        .check(&Registered {
            iss: Some(&claims.iss),
            aud: &claims.aud,
            azp: None,
            exp: Some(claims.exp),
            nbf: claims.nbf,
            iat: Some(claims.iat),
            jti: claims.jti.as_deref(),
        })?;
        if claims.sub.as_deref().is_none_or(str::is_empty) {
            return Err(IdTokenError::MissingClaim("sub").into());
        }
        if self.typ == TypPolicy::Strict && claims.client_id.as_deref().is_none_or(str::is_empty) {
            return Err(IdTokenError::MissingClaim("client_id").into());
        }
        if self.typ == TypPolicy::Authing {
            let other_kind = ["nonce", "at_hash", "c_hash", "events"]
                .into_iter()
                .find(|m| claims.extra.contains_key(*m));
            if let Some(mark) = other_kind {
                return Err(IdTokenError::TypeNotAllowed(format!(
                    "an id_token or logout token (it has {mark})"
                ))
                .into());
            }
            if claims.scope.is_none() {
                return Err(IdTokenError::MissingClaim("scope").into());
            }
        }
        Ok(claims)
    }
}
