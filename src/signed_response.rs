//! Signed userinfo ([OIDC Core §5.3.2](https://openid.net/specs/openid-connect-core-1_0.html#UserInfoResponse))
//! and JWT introspection responses ([RFC 9701](https://www.rfc-editor.org/rfc/rfc9701))
//! (docs/protocol.md §4.5).
//!
//! The answer's content type decides how it is read: `application/jwt`
//! (userinfo) or `application/token-introspection+jwt` (introspection) is a
//! JWT verified with the [JWT core](crate::jose): the client's JWKS cache (or
//! the client secret for HS*), `iss` the issuer, `aud` containing the client
//! id, `exp`/`nbf`/`iat` when present (RFC 9701 §5 requires `iat`); the
//! registered algorithm when the client is registered for signed answers.
//! Anything else is read as JSON, unless the client is registered for signed
//! answers, which refuses it ([`Error::UnsignedResponse`]): an attacker who can
//! strip the signature must not be able to downgrade the answer.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::SigningAlgorithm;
use crate::error::{Error, IdTokenError, Result};
use crate::http::{Body, Reply};
use crate::introspection::Introspection;
use crate::jose::claims::{AudienceRule, AzpRule, ClaimRules, Registered};
use crate::jose::jws::{HeaderRules, OTHER_KINDS, TypRule};
use crate::jose::{self, Keys, Policy};
use crate::userinfo::UserInfo;

/// The media type of a signed userinfo answer (OIDC Core §5.3.2).
pub(crate) const USERINFO_JWT: &str = "application/jwt";
/// The media type of a JWT introspection answer (RFC 9701 §5).
pub(crate) const INTROSPECTION_JWT: &str = "application/token-introspection+jwt";

/// What verifying an answer needs from the client (handed over by the client,
/// so this module never reaches back into it).
pub(crate) struct Verifier<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) trusted: &'a [String],
    pub(crate) keys: Keys<'a>,
    pub(crate) now: i64,
    pub(crate) leeway: i64,
    pub(crate) max_iat_skew: i64,
}

/// The registered claims of the JWT envelope.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default, deserialize_with = "audiences")]
    aud: Vec<String>,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    token_introspection: Option<Map<String, Value>>,
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

/// The answer's media type, lowercase, without parameters.
fn media_type(reply: &Reply) -> String {
    reply
        .headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

impl Verifier<'_> {
    /// A userinfo answer: a signed JWT by its content type, else JSON (refused
    /// when `registered` names the algorithm the client registered).
    pub(crate) async fn userinfo(
        &self,
        reply: Reply,
        registered: Option<SigningAlgorithm>,
    ) -> Result<UserInfo> {
        let reply = reply.error_for_status(Body::Sensitive)?;
        let media = media_type(&reply);
        if media != USERINFO_JWT {
            return self.json(reply, media, registered);
        }
        // OIDC Core §5.3.2: a signed answer has no registered typ; refuse other kinds'.
        let header = HeaderRules {
            typ: TypRule::Forbid(OTHER_KINDS),
            understood_crit: &[],
        };
        let (bytes, _) = self.verify(&reply, header, registered, false).await?;
        jose::parse_object(&bytes, "signed userinfo").map_err(|reason| refused(&reply, reason))
    }

    /// An introspection answer: a JWT by its content type (RFC 9701 §5),
    /// else JSON (refused when `registered`).
    pub(crate) async fn introspection(
        &self,
        reply: Reply,
        registered: Option<SigningAlgorithm>,
    ) -> Result<Introspection> {
        let reply = reply.error_for_status(Body::Sensitive)?;
        let media = media_type(&reply);
        if media != INTROSPECTION_JWT {
            return self.json(reply, media, registered);
        }
        // RFC 9701 §5: typ is token-introspection+jwt, and iat is required.
        let header = HeaderRules {
            typ: TypRule::Require {
                values: &["token-introspection+jwt"],
                optional: false,
            },
            understood_crit: &[],
        };
        let (_, envelope) = self.verify(&reply, header, registered, true).await?;
        let inner = envelope
            .token_introspection
            .ok_or_else(|| refused(&reply, IdTokenError::MissingClaim("token_introspection")))?;
        serde_json::from_value(Value::Object(inner))
            .map_err(|_| refused(&reply, IdTokenError::InvalidClaim("token_introspection")))
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        reply: Reply,
        media: String,
        registered: Option<SigningAlgorithm>,
    ) -> Result<T> {
        if registered.is_some() {
            return Err(Error::UnsignedResponse {
                endpoint: reply.endpoint,
                content_type: crate::error::truncate(&media, 60),
            });
        }
        reply.json(Body::Sensitive)
    }

    /// The core's checks (form, alg, typ, key, signature, registered claims).
    async fn verify(
        &self,
        reply: &Reply,
        header: HeaderRules,
        registered: Option<SigningAlgorithm>,
        require_iat: bool,
    ) -> Result<(Vec<u8>, Envelope)> {
        let text = std::str::from_utf8(&reply.body)
            .map_err(|_| refused(reply, IdTokenError::Malformed("the answer is not text".into())))?
            .trim();
        let accepts = move |alg: SigningAlgorithm| registered.is_none_or(|r| r == alg);
        let policy = Policy {
            accepts: &accepts,
            header,
        };
        let verified = jose::verify_signature(text, policy, self.keys)
            .await
            .map_err(|e| match e {
                Error::IdToken(reason) => refused(reply, reason),
                other => other,
            })?;
        let bytes = jose::decode_payload(verified.payload).map_err(|r| refused(reply, r))?;
        let envelope: Envelope =
            jose::parse_object(&bytes, "signed answer").map_err(|r| refused(reply, r))?;
        ClaimRules {
            issuer: self.issuer,
            audience: AudienceRule::Client {
                client_id: self.client_id,
                trusted: self.trusted,
            },
            azp: AzpRule::Ignore,
            require_exp: false,
            require_iat,
            require_jti: false,
            now: self.now,
            leeway: self.leeway,
            max_iat_skew: self.max_iat_skew,
        }
        .check(&Registered {
            iss: envelope.iss.as_deref(),
            aud: &envelope.aud,
            azp: None,
            exp: envelope.exp,
            nbf: envelope.nbf,
            iat: envelope.iat,
            jti: None,
        })
        .map_err(|r| refused(reply, r))?;
        Ok((bytes, envelope))
    }
}

fn refused(reply: &Reply, reason: IdTokenError) -> Error {
    Error::SignedResponse {
        endpoint: reply.endpoint.clone(),
        reason,
    }
}
