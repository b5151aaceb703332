//! Logout tokens of
//! [OpenID Connect Back-Channel Logout 1.0](https://openid.net/specs/openid-connect-backchannel-1_0.html)
//! (docs/protocol.md §4.4).
//!
//! When the user's session at the provider ends, the provider posts a logout
//! token to each client's `backchannel_logout_uri`; the client verifies it and
//! ends its own sessions of that `sid` (or `sub`). A logout-token verifier is
//! the [JWT core](crate::jose) plus §2.6's rules, refusing with the
//! [`LogoutTokenError`] named:
//!
//! 1. `alg` as for id_tokens (§2.6: the configured
//!    `id_token_signed_response_alg`, else the provider's advertised ones, else
//!    RS256/HS256 for the Authing preset; never `none`); HS* only ever with the
//!    client secret, so an HS256 token "signed" with the provider's public key
//!    fails (`Jwt(AlgorithmNotAllowed | BadSignature | NoUsableKey)`);
//! 2. `typ` `logout+jwt` (§2.4, with or without `application/`), or `JWT`, or
//!    none; the `typ` of every other kind is refused (`Jwt(TypeNotAllowed)`);
//! 3. the key from the client's JWKS cache and the signature (`Jwt(…)`);
//! 4. the registered claims as in id_tokens, by the core: `iss` the issuer,
//!    `aud` containing the client id (other audiences only if trusted), `exp`
//!    when present, `iat` required and not too far in the future, `jti`
//!    present (`Jwt(…)`); and `iat` not older than the
//!    [age window](LogoutTokenVerifier::max_age) (`TooOld`);
//! 5. `sid`, `sub` or both, each a non-empty string (`MissingSidAndSub`);
//! 6. `events` an object holding
//!    `http://schemas.openid.net/event/backchannel-logout` as an object
//!    (`MissingEvent`);
//! 7. no `nonce` (`NoncePresent`): an id_token cannot pass as a logout token;
//! 8. the `jti` not accepted before (`Replayed`): the client remembers every
//!    accepted `(iss, jti)` until the token could no longer pass step 4, at
//!    most [`MAX_REMEMBERED_JTI`] of them (`ReplayCacheFull` beyond).
//!
//! The memory of `jti` values is per client (shared by its clones), in this
//! process: several instances behind a load balancer each keep their own,
//! which still refuses a replay to the same instance; ending a session twice is
//! harmless.
//!
//! ```
//! # async fn f(client: authing_oidc::AuthenticationClient, form_field: String)
//! # -> authing_oidc::Result<()> {
//! use authing_oidc::LogoutToken;
//! let logout = client.verify_logout_token(&LogoutToken::new(form_field)).await?;
//! // End every local session of logout.sid (or, without one, of logout.sub).
//! # let _ = logout; Ok(()) }
//! ```

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::client::AuthenticationClient;
use crate::error::{Error, IdTokenError, LogoutTokenError, Result};
use crate::jose::claims::{AudienceRule, AzpRule, ClaimRules, Registered};
use crate::jose::jws::{HeaderRules, TypRule};
use crate::jose::replay::NotRecorded;
use crate::jose::{self, Keys, Policy};
use crate::secret::{ExposeSecret as _, LogoutToken};

pub use crate::jose::replay::MAX_REMEMBERED_JTI;

/// The event a logout token carries (§2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The default [age window](LogoutTokenVerifier::max_age).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);

/// The longest `jti` accepted: it is remembered, so it is bounded.
const MAX_JTI_LEN: usize = 256;

/// §2.4 explicit typing; `JWT` or no `typ` from providers that predate it.
const LOGOUT_TOKEN_HEADER: HeaderRules = HeaderRules {
    typ: TypRule::Require {
        values: &["logout+jwt", "jwt"],
        optional: true,
    },
    understood_crit: &[],
};

/// A verified logout token: who and which session to log out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogoutTokenClaims {
    /// The issuer (equal to the client's).
    pub iss: String,
    /// The user whose sessions end; at least one of `sub` and `sid` is set.
    pub sub: Option<String>,
    /// The provider's session id, as in the id_token's `sid`
    /// ([`Authenticated::sid`](crate::flow::Authenticated::sid)).
    pub sid: Option<String>,
    /// The token's unique id.
    pub jti: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expiry, seconds since the epoch, when the token has one.
    pub exp: Option<i64>,
    /// The audiences (the client id among them).
    pub aud: Vec<String>,
}

/// The payload as sent; every rule is applied after parsing.
#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default, deserialize_with = "audiences")]
    aud: Vec<String>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    sub: Option<Value>,
    #[serde(default)]
    sid: Option<Value>,
    #[serde(default)]
    events: Option<Value>,
    #[serde(default)]
    nonce: Option<Value>,
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

/// Verifies logout tokens for one client. Cheap to clone; get one with
/// [`AuthenticationClient::logout_token_verifier`], or call
/// [`AuthenticationClient::verify_logout_token`]. Every verifier of a client
/// shares the client's memory of seen `jti` values.
#[derive(Debug, Clone)]
pub struct LogoutTokenVerifier {
    client: AuthenticationClient,
    max_age: Duration,
}

impl AuthenticationClient {
    /// A verifier of this client's logout tokens, with the
    /// [default age window](DEFAULT_MAX_AGE).
    pub fn logout_token_verifier(&self) -> LogoutTokenVerifier {
        LogoutTokenVerifier {
            client: self.clone(),
            max_age: DEFAULT_MAX_AGE,
        }
    }

    /// Verifies a logout token (see the [module docs](crate::logout_token)):
    /// a shortcut for [`LogoutTokenVerifier::verify`].
    pub async fn verify_logout_token(&self, token: &LogoutToken) -> Result<LogoutTokenClaims> {
        self.logout_token_verifier().verify(token).await
    }

    /// Forgets that a verified logout token was seen, so that its sender's
    /// retry is accepted: call it when ending the sessions the token names
    /// failed (Back-Channel Logout §2.8 lets the provider retry after a
    /// non-200 answer, and a remembered `jti` would refuse that retry as a
    /// replay).
    pub fn forget_logout_token(&self, claims: &LogoutTokenClaims) {
        self.inner.logout_jti.forget(&claims.iss, &claims.jti);
    }
}

impl LogoutTokenVerifier {
    /// How old (`iat`) a logout token may be, beyond the leeway; default
    /// [`DEFAULT_MAX_AGE`]. A token's `jti` is remembered until it is this old
    /// (or until its `exp`, if later), so older tokens are refused to keep a
    /// forgotten `jti` from being replayed.
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Verifies `token` and remembers its `jti`. Every refusal is
    /// [`Error::LogoutToken`] (answer the provider 400, §2.8); fetching the
    /// JWKS fails as for id_tokens ([`Error::is_transient`] tells an outage
    /// from a bad token).
    pub async fn verify(&self, token: &LogoutToken) -> Result<LogoutTokenClaims> {
        let result = self.check(token).await;
        if let Err(e) = &result {
            tracing::debug!(error = %e, "logout token rejected");
        }
        result
    }

    async fn check(&self, token: &LogoutToken) -> Result<LogoutTokenClaims> {
        let inner = &self.client.inner;
        let verifier = self.client.id_token_verifier();
        let policy = Policy {
            accepts: &|alg| verifier.accepts(alg),
            header: LOGOUT_TOKEN_HEADER,
        };
        let keys = Keys {
            client_secret: inner.hmac_keys.as_ref(),
            jwks: &inner.jwks,
        };
        let verified = jose::verify_signature(token.expose_secret(), policy, keys)
            .await
            .map_err(logout_error)?;
        let bytes = jose::decode_payload(verified.payload).map_err(refused)?;
        let payload: Payload = jose::parse_object(&bytes, "logout token").map_err(refused)?;
        let now = i64::try_from(self.client.clock().unix_now()).unwrap_or(i64::MAX);
        let leeway = secs(inner.leeway);
        ClaimRules {
            issuer: &inner.issuer,
            audience: AudienceRule::Client {
                client_id: &inner.app_id,
                trusted: &inner.trusted_audiences,
            },
            azp: AzpRule::Ignore,
            require_exp: false,
            require_iat: true,
            require_jti: true,
            now,
            leeway,
            max_iat_skew: secs(inner.max_iat_skew),
        }
        .check(&Registered {
            iss: payload.iss.as_deref(),
            aud: &payload.aud,
            azp: None,
            exp: payload.exp,
            nbf: payload.nbf,
            iat: payload.iat,
            jti: payload.jti.as_deref(),
        })
        .map_err(refused)?;
        // The core has required both; the fallbacks are never taken.
        let (Some(iss), Some(iat), Some(jti)) = (payload.iss, payload.iat, payload.jti) else {
            return Err(refused(IdTokenError::MissingClaim("jti")));
        };
        if jti.len() > MAX_JTI_LEN {
            return Err(refused(IdTokenError::InvalidClaim("jti")));
        }
        let window = secs(self.max_age).saturating_add(leeway);
        if iat < now.saturating_sub(window) {
            return Err(Error::LogoutToken(LogoutTokenError::TooOld));
        }
        let sub = identifier(payload.sub)?;
        let sid = identifier(payload.sid)?;
        if sub.is_none() && sid.is_none() {
            return Err(Error::LogoutToken(LogoutTokenError::MissingSidAndSub));
        }
        if !has_logout_event(payload.events.as_ref()) {
            return Err(Error::LogoutToken(LogoutTokenError::MissingEvent));
        }
        if payload.nonce.is_some() {
            return Err(Error::LogoutToken(LogoutTokenError::NoncePresent));
        }
        // Last, so that only a token that passed everything uses up memory. Kept until the
        // token fails the clock checks on its own: past its exp, or older than the window.
        let keep_until = iat
            .saturating_add(window)
            .max(payload.exp.map_or(i64::MIN, |e| e.saturating_add(leeway)));
        inner
            .logout_jti
            .record(&iss, &jti, keep_until, now)
            .map_err(|e| {
                Error::LogoutToken(match e {
                    NotRecorded::Replayed => LogoutTokenError::Replayed,
                    NotRecorded::Full => LogoutTokenError::ReplayCacheFull,
                })
            })?;
        Ok(LogoutTokenClaims {
            iss,
            sub,
            sid,
            jti,
            iat,
            exp: payload.exp,
            aud: payload.aud,
        })
    }
}

/// The core reports its refusals as id_token errors; here they are a logout
/// token's. Other errors (fetching the JWKS) stay as they are.
fn logout_error(e: Error) -> Error {
    match e {
        Error::IdToken(reason) => refused(reason),
        other => other,
    }
}

fn refused(reason: IdTokenError) -> Error {
    Error::LogoutToken(LogoutTokenError::Jwt(reason))
}

/// `sub` or `sid`: absent, or a non-empty string (§2.4, OIDC Core §2).
fn identifier(value: Option<Value>) -> Result<Option<String>> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s)),
        Some(_) => Err(Error::LogoutToken(LogoutTokenError::MissingSidAndSub)),
    }
}

/// §2.4: `events` is a JSON object with the back-channel logout member, whose
/// value is a JSON object.
fn has_logout_event(events: Option<&Value>) -> bool {
    events
        .and_then(Value::as_object)
        .and_then(|e: &Map<String, Value>| e.get(BACKCHANNEL_LOGOUT_EVENT))
        .is_some_and(Value::is_object)
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
