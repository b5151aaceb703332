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

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::AuthenticationClient;
use crate::config::SigningAlgorithm;
use crate::error::{Error, IdTokenError, Result};
use crate::id_token::Audiences;
use crate::jose::claims::{AudienceRule, AzpRule, ClaimRules, Registered};
use crate::jose::jws::{HeaderRules, TypRule};
use crate::jose::{self, Keys, Name, Policy};
use crate::secret::{AccessToken, ExposeSecret as _};

/// RFC 9068 §4 step 5 and RFC 8725 §3.1: asymmetric algorithms only.
fn asymmetric(alg: SigningAlgorithm) -> bool {
    !alg.is_symmetric()
}

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
#[derive(Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AccessTokenClaims {
    /// Issuer: equal to the client's issuer.
    pub iss: String,
    /// Subject: the user, or the client for a client-credentials token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audiences; at least one is among the verifier's.
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

// Deserialization is written out rather than derived, as for id_tokens: `#[serde(flatten)]`
// buffers every member before reading it, and the derived form cannot refuse a repeated member,
// which took a second parse of the payload. This reads each member once, borrowing names from
// the input, and refuses any repeat (RFC 7519 §4, RFC 8725 §3.2) on the way.
impl<'de> Deserialize<'de> for AccessTokenClaims {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_map(ClaimsVisitor)
    }
}

struct ClaimsVisitor;

impl<'de> de::Visitor<'de> for ClaimsVisitor {
    type Value = AccessTokenClaims;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object of access token claims")
    }

    fn visit_map<A: de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<AccessTokenClaims, A::Error> {
        let (mut iss, mut sub, mut aud, mut exp, mut iat) = (None, None, None, None, None);
        let (mut nbf, mut jti, mut client_id, mut scope, mut auth_time) = (None, None, None, None, None);
        let mut extra = Map::new();
        let repeated = || de::Error::custom(jose::REPEATED_CLAIM);
        // `Option<…>` members accept `null` as absent, as the derived form did.
        while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
            let fresh = match &*name {
                "iss" => jose::once(&mut iss, map.next_value::<String>()?),
                "sub" => jose::once(&mut sub, map.next_value::<Option<String>>()?),
                "aud" => jose::once(&mut aud, map.next_value::<Audiences>()?.0),
                "exp" => jose::once(&mut exp, map.next_value::<i64>()?),
                "iat" => jose::once(&mut iat, map.next_value::<i64>()?),
                "nbf" => jose::once(&mut nbf, map.next_value::<Option<i64>>()?),
                "jti" => jose::once(&mut jti, map.next_value::<Option<String>>()?),
                "client_id" => jose::once(&mut client_id, map.next_value::<Option<String>>()?),
                "scope" => jose::once(&mut scope, map.next_value::<Option<String>>()?),
                "auth_time" => jose::once(&mut auth_time, map.next_value::<Option<i64>>()?),
                _ => {
                    let value = map.next_value::<Value>()?;
                    match extra.insert(name.into_owned(), value) {
                        Some(_) => Err(()),
                        None => Ok(()),
                    }
                }
            };
            fresh.map_err(|()| repeated())?;
        }
        Ok(AccessTokenClaims {
            iss: iss.ok_or_else(|| de::Error::missing_field("iss"))?,
            sub: sub.flatten(),
            aud: aud.ok_or_else(|| de::Error::missing_field("aud"))?,
            exp: exp.ok_or_else(|| de::Error::missing_field("exp"))?,
            iat: iat.ok_or_else(|| de::Error::missing_field("iat"))?,
            nbf: nbf.flatten(),
            jti: jti.flatten(),
            client_id: client_id.flatten(),
            scope: scope.flatten(),
            auth_time: auth_time.flatten(),
            extra,
        })
    }
}

/// The claims of a payload in the plain shape ([`jose::plain`]), read as [`ClaimsVisitor`] reads
/// them; `None` for any other payload, and for one the visitor refuses (a repeated member, a
/// required claim missing or of another type), which serde_json then reads and refuses with its
/// own message. Spares the miss path of the bearer layer most of a serde_json parse.
fn plain_claims(json: &str) -> Option<AccessTokenClaims> {
    let mut r = jose::plain::Reader::open(json)?;
    let (mut iss, mut sub, mut aud, mut exp, mut iat) = (None, None, None, None, None);
    let (mut nbf, mut jti, mut client_id, mut scope, mut auth_time) = (None, None, None, None, None);
    let mut extra = Map::new();
    while let Some(name) = r.name()? {
        let fresh = match name {
            "iss" => jose::once(&mut iss, r.string()?),
            "sub" => jose::once(&mut sub, r.string_or_null()?),
            "aud" => jose::once(&mut aud, r.strings()?),
            "exp" => jose::once(&mut exp, r.int()?),
            "iat" => jose::once(&mut iat, r.int()?),
            "nbf" => jose::once(&mut nbf, r.int_or_null()?),
            "jti" => jose::once(&mut jti, r.string_or_null()?),
            "client_id" => jose::once(&mut client_id, r.string_or_null()?),
            "scope" => jose::once(&mut scope, r.string_or_null()?),
            "auth_time" => jose::once(&mut auth_time, r.int_or_null()?),
            _ => {
                let value = r.value()?;
                match extra.insert(name.to_owned(), value) {
                    Some(_) => Err(()),
                    None => Ok(()),
                }
            }
        };
        fresh.ok()?;
    }
    let text = |s: Option<Option<&str>>| s.flatten().map(str::to_owned);
    Some(AccessTokenClaims {
        iss: iss?.to_owned(),
        sub: text(sub),
        aud: aud?,
        exp: exp?,
        iat: iat?,
        nbf: nbf.flatten(),
        jti: text(jti),
        client_id: text(client_id),
        scope: text(scope),
        auth_time: auth_time.flatten(),
        extra,
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
        self.verify_str(token.expose_secret()).await
    }

    /// [`verify`](Self::verify) for a token the caller holds borrowed (the bearer verifier's,
    /// from a request header), without copying it into an [`AccessToken`].
    pub(crate) async fn verify_str(&self, token: &str) -> Result<AccessTokenClaims> {
        let verified = match self.policy() {
            Ok(policy) => jose::verify_signature(token, policy, self.keys()).await,
            Err(e) => Err(e),
        };
        let now = self.client.clock().unix_now();
        self.finish(verified.and_then(|v| self.claims(v, now)))
    }

    /// [`verify_str`](Self::verify_str) when it needs no fetch (the JWKS is held, fresh, and
    /// has the token's key): then the whole check runs here, synchronously, with `now` (seconds
    /// since the epoch, read by the caller) for the time claims; `None` otherwise. The token comes
    /// with its dots found, as the caller told a JWT from an opaque token with them.
    pub(crate) fn verify_now_at(
        &self,
        token: jose::jws::Compact<'_>,
        now: u64,
    ) -> Option<Result<AccessTokenClaims>> {
        let verified = match self.policy() {
            Ok(policy) => jose::verify_signature_now(token, policy, self.keys())?,
            Err(e) => Err(e),
        };
        Some(self.finish(verified.and_then(|v| self.claims(v, now))))
    }

    /// The claim checks alone, on the payload part (base64url) of a token whose signature held,
    /// at the client's clock: the entry of the fuzz target for the claims parser
    /// (`crate::fuzzing::access_token_claims`).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn check_payload(&self, payload: &str) -> Result<AccessTokenClaims> {
        let verified = jose::Verified {
            alg: SigningAlgorithm::RS256,
            payload,
        };
        self.finish(self.claims(verified, self.client.clock().unix_now()))
    }

    fn finish(&self, result: Result<AccessTokenClaims>) -> Result<AccessTokenClaims> {
        let result = result.map_err(|e| match e {
            Error::IdToken(reason) => Error::AccessToken(reason),
            other => other,
        });
        if let Err(e) = &result {
            tracing::debug!(error = %e, "access token rejected");
        }
        result
    }

    fn policy(&self) -> Result<Policy<'static>> {
        if self.audiences.is_empty() {
            return Err(Error::config(
                "an access-token verifier needs at least one audience",
            ));
        }
        Ok(Policy {
            accepts: &asymmetric,
            header: match self.typ {
                TypPolicy::Strict => STRICT,
                TypPolicy::Authing => AUTHING,
            },
        })
    }

    fn keys(&self) -> Keys<'_> {
        Keys {
            client_secret: None,
            jwks: &self.client.inner.jwks,
        }
    }

    /// The claims of a token whose signature holds, after every claim check.
    fn claims(&self, verified: jose::Verified<'_>, now: u64) -> Result<AccessTokenClaims> {
        let inner = &self.client.inner;
        // One parse, from a stack buffer: the plain reader first, serde_json for anything else
        // (and every refusal); both refuse repeated members themselves.
        let claims: AccessTokenClaims = jose::with_decoded(verified.payload, |json| {
            let json = json.ok_or_else(|| {
                IdTokenError::Malformed("the payload is not base64url of UTF-8 text".into())
            })?;
            match plain_claims(json) {
                Some(claims) => Ok(claims),
                None => serde_json::from_str(json).map_err(|e| jose::claims_error(&e, "access token")),
            }
        })?;
        let now = i64::try_from(now).unwrap_or(i64::MAX);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What the serde_json path reads (the reference the plain reader must match).
    fn by_serde(json: &str) -> Option<AccessTokenClaims> {
        serde_json::from_str(json).ok()
    }

    #[test]
    fn the_plain_reader_reads_claims_as_serde_json_does() {
        for json in [
            r#"{"iss":"https://i.example","sub":"u","aud":"api","exp":2000000000,"iat":1700000000,"jti":"j","client_id":"c","scope":"a b"}"#,
            r#"{"iss":"i","aud":["a","b"],"exp":-5,"iat":0,"nbf":null,"sub":null,"auth_time":12,"x":[1,"y",true,null],"z":false}"#,
            r#"{ "iss" : "日本" , "aud" : [ ] , "exp" : 1 , "iat" : 2 , "nonce" : "n" , "scope" : null }"#,
        ] {
            let plain = plain_claims(json);
            assert!(plain.is_some(), "{json}");
            assert_eq!(plain, by_serde(json), "{json}");
        }
    }

    #[test]
    fn the_plain_reader_leaves_the_rest_and_every_refusal_to_serde_json() {
        let base = r#""iss":"i","aud":"a","exp":1,"iat":2"#;
        for json in [
            // Repeated members, registered or not.
            format!(r#"{{{base},"iss":"j"}}"#),
            format!(r#"{{{base},"sub":null,"sub":"u"}}"#),
            format!(r#"{{{base},"x":1,"x":1}}"#),
            // A repeat hidden behind an escape: serde_json decodes the name and refuses it.
            format!(r#"{{{base},"i\u0073s":"j"}}"#),
            // Escapes in values, nested values, floats.
            format!(r#"{{{base},"sub":"a\nb"}}"#),
            format!(r#"{{{base},"cnf":{{"jkt":"t"}}}}"#),
            format!(r#"{{{base},"nbf":1.5}}"#),
            // Wrong types and missing claims.
            r#"{"iss":1,"aud":"a","exp":1,"iat":2}"#.to_owned(),
            r#"{"iss":"i","aud":1,"exp":1,"iat":2}"#.to_owned(),
            r#"{"iss":"i","aud":[1],"exp":1,"iat":2}"#.to_owned(),
            r#"{"iss":"i","aud":"a","exp":"1","iat":2}"#.to_owned(),
            r#"{"iss":"i","aud":"a","exp":null,"iat":2}"#.to_owned(),
            r#"{"iss":null,"aud":"a","exp":1,"iat":2}"#.to_owned(),
            format!(r#"{{{base},"sub":1}}"#),
            format!(r#"{{{base},"auth_time":"1"}}"#),
            r#"{"aud":"a","exp":1,"iat":2}"#.to_owned(),
            r#"{"iss":"i","exp":1,"iat":2}"#.to_owned(),
            // Bounds: beyond 18 digits, -0.
            format!(r#"{{{base},"nbf":9223372036854775807}}"#),
            format!(r#"{{{base},"nbf":-0}}"#),
            format!(r#"{{{base}}} trailing"#),
        ] {
            assert_eq!(plain_claims(&json), None, "{json}");
        }
        // The ones serde_json accepts still read the same through the verifier's path.
        for json in [
            format!(r#"{{{base},"sub":"a\nb"}}"#),
            format!(r#"{{{base},"nbf":9223372036854775807}}"#),
        ] {
            assert!(by_serde(&json).is_some(), "{json}");
        }
    }
}
