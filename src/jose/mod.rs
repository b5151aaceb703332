//! The JWT core: what every JWT this crate verifies or signs has in common.
//!
//! Each kind of JWT (the id_token today; access tokens, logout tokens, signed
//! userinfo and introspection answers as they arrive) is "this core + its own
//! rules": the kind says which algorithms, `typ` values, issuer and audiences
//! it accepts and which registered claims it requires, parses its payload
//! into its own claims type, and adds only the checks that are its own. A
//! check lives in exactly one place (docs/protocol.md §4.1).
//!
//! What the core checks, in this order:
//!
//! 1. **Form**: a compact JWS of three base64url parts
//!    (RFC 7515 §7.1; a JWE is refused by name), whose header is a JSON
//!    object with no repeated member (RFC 7515 §4, RFC 8725 §3.2 on parser
//!    differentials).
//! 2. **Algorithm**: `alg` is on the allow-list (RS256/384/512,
//!    PS256/384/512, ES256/384, EdDSA, HS256/384/512; `none` never, RFC 8725
//!    §3.1) and is one the verifier accepts (OIDC Core §3.1.3.7 step 7 for
//!    id_tokens).
//! 3. **Header rules**: `crit` only with extensions the verifier implements
//!    (RFC 7515 §4.1.11; none today), `typ` as the verifier requires or
//!    forbids it, compared as a media type (RFC 7515 §4.1.9, RFC 8725 §3.11
//!    explicit typing).
//! 4. **Key** (cached by [`crate::jose::jwks`]): HS* only ever with the client
//!    secret (OIDC Core §10.1), whatever `kid` says, which defeats RS256→HS256
//!    key confusion (RFC 8725 §3.1); every other `alg` with the JWKS key named
//!    by `kid` (or the only fitting key when there is no `kid`, OIDC Core
//!    §10.1), whose type and pinned `alg` must fit the header's `alg`.
//! 5. **Signature** (RFC 7515 §5.2 step 8) with keys parsed once per JWKS
//!    fetch. Only after it holds is the payload decoded and parsed.
//! 6. **Registered claims** (RFC 7519 §4.1): `iss` exactly,
//!    `aud` (with `azp` for OIDC clients, OIDC Core §3.1.3.7 steps 2–5),
//!    `exp` and `nbf` with leeway, `iat` required and not too far in the
//!    future, `jti` where the kind requires it.
//!
//! Signing has one home too: [`JwsSigner`] (RFC 7515 §5.1).

pub(crate) mod claims;
pub(crate) mod hmac;
pub mod jwks;
pub(crate) mod jws;
pub(crate) mod keys;
pub(crate) mod plain;
pub(crate) mod replay;
mod sign;

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::{self, Deserializer};

pub use sign::JwsSigner;

use crate::config::SigningAlgorithm;
use crate::error::{IdTokenError, Result};
use crate::jose::jwks::{JwksCache, shorten};
use hmac::ClientSecretKeys;
use jws::HeaderRules;

/// The default of
/// [`max_iat_skew`](crate::AuthenticationClientBuilder::max_iat_skew) is the
/// leeway plus this.
pub const IAT_SKEW_BEYOND_LEEWAY: std::time::Duration = std::time::Duration::from_secs(300);

/// The longest signature accepted: RSA-8192 (1024 bytes).
const MAX_SIGNATURE: usize = 1024;

/// Where a verifier's keys come from.
#[derive(Clone, Copy)]
pub(crate) struct Keys<'a> {
    /// The client secret, keyed for HS*; `None` for a client without one.
    pub(crate) client_secret: Option<&'a ClientSecretKeys>,
    pub(crate) jwks: &'a Arc<JwksCache>,
}

/// What a verifier accepts before looking at the payload.
#[derive(Clone, Copy)]
pub(crate) struct Policy<'a> {
    /// Whether this algorithm is accepted (it is already on the allow-list).
    pub(crate) accepts: &'a (dyn Fn(SigningAlgorithm) -> bool + Sync),
    pub(crate) header: HeaderRules,
}

/// A token whose header passed the rules and whose signature holds.
pub(crate) struct Verified<'t> {
    pub(crate) alg: SigningAlgorithm,
    /// The payload, still base64url: decode it with [`decode_payload`].
    pub(crate) payload: &'t str,
}

/// Steps 1–5 of the [module docs](self): form, algorithm, header rules, key,
/// signature.
pub(crate) async fn verify_signature<'t>(
    token: &'t str,
    policy: Policy<'_>,
    keys: Keys<'_>,
) -> Result<Verified<'t>> {
    let (jws, alg) = check_form(jws::split(token)?, policy)?;
    let mut buf = [0u8; MAX_SIGNATURE];
    let signature = decode_signature(jws.signature, &mut buf)?;
    let message = jws.signing_input.as_bytes();
    if alg.is_symmetric() {
        verify_with_secret(keys, alg, message, signature)?;
    } else {
        keys.jwks
            .verify(jws.header.kid.as_deref(), alg, message, signature)
            .await?;
    }
    Ok(Verified {
        alg,
        payload: jws.payload,
    })
}

/// Steps 1–3 and 5 of the [module docs](self) with the key a token carries
/// in its own header (a DPoP proof's `jwk`, RFC 9449 §4.3 point 6), which
/// `key_of` reads from the header part (still base64url) for the accepted
/// algorithm. Step 4's rules do not apply: the key proves possession, not
/// who issued the token.
pub(crate) fn verify_with_own_key<'t>(
    token: &'t str,
    policy: Policy<'_>,
    key_of: impl FnOnce(&str, SigningAlgorithm) -> Result<keys::PublicKey>,
) -> Result<Verified<'t>> {
    let jws = jws::split(token)?;
    let alg = match &jws.header.alg {
        Ok(alg) if (policy.accepts)(*alg) && !alg.is_symmetric() => *alg,
        Ok(alg) => return Err(IdTokenError::AlgorithmNotAllowed(alg.as_str().to_owned()).into()),
        Err(name) => return Err(IdTokenError::AlgorithmNotAllowed(shorten(name)).into()),
    };
    jws.header.check(&policy.header)?;
    let header_part = jws.signing_input.split('.').next().unwrap_or_default();
    let key = key_of(header_part, alg)?;
    let mut buf = [0u8; MAX_SIGNATURE];
    let signature = decode_signature(jws.signature, &mut buf)?;
    key.verify(alg, jws.signing_input.as_bytes(), signature)?;
    Ok(Verified {
        alg,
        payload: jws.payload,
    })
}

/// [`verify_signature`] when it can finish without waiting: `None` when the
/// JWKS has to be fetched first (none held, a stale set, no key for the
/// token's `kid`), and the caller then awaits [`verify_signature`]. For a
/// verifier on a hot path (the bearer layer), which then needs no future. The token comes with
/// its dots found ([`jws::Compact`]): the caller looked for them to tell a JWT from an opaque
/// token.
pub(crate) fn verify_signature_now<'t>(
    token: jws::Compact<'t>,
    policy: Policy<'_>,
    keys: Keys<'_>,
) -> Option<Result<Verified<'t>>> {
    let attempt = || -> Result<Option<Verified<'t>>> {
        let (jws, alg) = check_form(jws::split_compact(token)?, policy)?;
        let mut buf = [0u8; MAX_SIGNATURE];
        let signature = decode_signature(jws.signature, &mut buf)?;
        let message = jws.signing_input.as_bytes();
        if alg.is_symmetric() {
            verify_with_secret(keys, alg, message, signature)?;
        } else {
            let kid = jws.header.kid.as_deref();
            if keys
                .jwks
                .verify_now(kid, alg, message, signature)
                .transpose()?
                .is_none()
            {
                return Ok(None);
            }
        }
        Ok(Some(Verified {
            alg,
            payload: jws.payload,
        }))
    };
    attempt().transpose()
}

/// Steps 1–3: form, algorithm, header rules.
fn check_form<'t>(jws: jws::Jws<'t>, policy: Policy<'_>) -> Result<(jws::Jws<'t>, SigningAlgorithm)> {
    let alg = match &jws.header.alg {
        Ok(alg) if (policy.accepts)(*alg) => *alg,
        Ok(alg) => return Err(IdTokenError::AlgorithmNotAllowed(alg.as_str().to_owned()).into()),
        Err(name) => return Err(IdTokenError::AlgorithmNotAllowed(shorten(name)).into()),
    };
    jws.header.check(&policy.header)?;
    Ok((jws, alg))
}

/// A signature's bytes (RFC 7515 §7.1), decoded into `buf` (on the caller's
/// stack); one longer than any accepted key makes cannot verify.
fn decode_signature<'b>(
    signature: &str,
    buf: &'b mut [u8; MAX_SIGNATURE],
) -> std::result::Result<&'b [u8], IdTokenError> {
    let len = URL_SAFE_NO_PAD
        .decode_slice(signature, buf)
        .map_err(|e| match e {
            base64::DecodeSliceError::OutputSliceTooSmall => IdTokenError::BadSignature,
            base64::DecodeSliceError::DecodeError(_) => {
                IdTokenError::Malformed("the signature is not base64url".into())
            }
        })?;
    Ok(&buf[..len])
}

/// Step 4–5 for HS*: only ever the client secret (OIDC Core §10.1).
fn verify_with_secret(
    keys: Keys<'_>,
    alg: SigningAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> std::result::Result<(), IdTokenError> {
    let secret = keys.client_secret.ok_or(IdTokenError::NoUsableKey)?;
    if secret.verify(alg, message, signature) {
        Ok(())
    } else {
        Err(IdTokenError::BadSignature)
    }
}

/// The payload's JSON bytes; call only after the signature holds.
pub(crate) fn decode_payload(payload: &str) -> std::result::Result<Vec<u8>, IdTokenError> {
    URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| IdTokenError::Malformed("the payload is not base64url".into()))
}

/// The largest token part decoded on the stack; longer ones go to the heap.
/// Id_token payloads are well under this (Authing's: ~700 bytes).
const STACK_DECODE: usize = 2048;

/// Runs `f` on the base64url-decoded text of a token part (RFC 7515 §7.1),
/// or on `None` when the part is not base64url of UTF-8 text. The part is
/// decoded into a stack buffer when it fits, so the verification hot path
/// allocates nothing for it, and validated as UTF-8 once, so the JSON parser
/// (`serde_json::from_str`) need not check each string again.
pub(crate) fn with_decoded<R>(part: &str, f: impl FnOnce(Option<&str>) -> R) -> R {
    let mut stack = [0u8; STACK_DECODE];
    let heap;
    let bytes = match URL_SAFE_NO_PAD.decode_slice(part, &mut stack) {
        Ok(len) => Some(&stack[..len]),
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
            heap = URL_SAFE_NO_PAD.decode(part).ok();
            heap.as_deref()
        }
        Err(base64::DecodeSliceError::DecodeError(_)) => None,
    };
    f(bytes.and_then(|b| std::str::from_utf8(b).ok()))
}

/// Parses a payload that is a JSON object with no member repeated (RFC 7519
/// §4; see [`once`]) into `T`. The error names a missing claim but never
/// quotes a value.
pub(crate) fn parse_object<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
) -> std::result::Result<T, IdTokenError> {
    serde_json::from_slice::<UniqueMembers>(bytes).map_err(|_| {
        IdTokenError::Malformed(format!(
            "the {what} is not a JSON object without repeated members"
        ))
    })?;
    serde_json::from_slice(bytes).map_err(|e| claims_error(&e, what))
}

/// The refusal for a payload that did not parse into a kind's claims: names a missing claim or
/// a repeated one, but never quotes a value (serde's other messages can).
pub(crate) fn claims_error(e: &serde_json::Error, what: &str) -> IdTokenError {
    let msg = e.to_string();
    let msg = msg.split(" at line").next().unwrap_or_default();
    if msg.starts_with("missing field") {
        IdTokenError::Malformed(format!("the {what}'s claims: {msg}"))
    } else if msg == REPEATED_CLAIM {
        IdTokenError::Malformed(format!(
            "the {what} is not a JSON object without repeated members"
        ))
    } else {
        IdTokenError::Malformed(format!("the {what}'s claims have the wrong types"))
    }
}

/// The message of a claims visitor that met a member twice (see [`claims_error`]).
pub(crate) const REPEATED_CLAIM: &str = "a claim is repeated";

/// A JSON object whose member names are all distinct (values unread).
struct UniqueMembers;

impl<'de> Deserialize<'de> for UniqueMembers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = UniqueMembers;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<UniqueMembers, A::Error> {
                let mut seen = std::collections::HashSet::new();
                while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
                    map.next_value::<de::IgnoredAny>()?;
                    if !seen.insert(name) {
                        return Err(de::Error::custom("repeated member"));
                    }
                }
                Ok(UniqueMembers)
            }
        }
        d.deserialize_map(V)
    }
}

/// Stores a member's value, refusing a second one of the same name (RFC 7519
/// §4 lets a parser reject duplicates; RFC 8725 §3.2: taking "the last one"
/// invites confusion between parsers).
pub(crate) fn once<T>(slot: &mut Option<T>, value: T) -> std::result::Result<(), ()> {
    match slot.replace(value) {
        Some(_) => Err(()),
        None => Ok(()),
    }
}

/// A JSON member name, borrowed from the input when it has no escapes.
pub(crate) struct Name<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> std::result::Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}
