//! Compact JWS serialization (RFC 7515 §7.1) and the JOSE header rules.

use std::collections::HashSet;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny};

use super::Name;
use crate::config::SigningAlgorithm;
use crate::error::IdTokenError;
use crate::jose::jwks::shorten;

/// A compact JWS split into its parts, with its header parsed; nothing
/// verified yet.
pub(crate) struct Jws<'t> {
    pub(crate) header: Header,
    /// `header.payload`: the bytes the signature covers.
    pub(crate) signing_input: &'t str,
    /// The payload, still base64url.
    pub(crate) payload: &'t str,
    /// The signature, still base64url.
    pub(crate) signature: &'t str,
}

/// The header members this crate reads (RFC 7515 §4.1). Every other member
/// is skipped, but none may appear twice.
#[derive(Debug)]
pub(crate) struct Header {
    /// `alg`, or its text when it is not on the allow-list (never `none`).
    pub(crate) alg: Result<SigningAlgorithm, String>,
    pub(crate) kid: Option<String>,
    pub(crate) typ: Option<String>,
    pub(crate) crit: Option<Vec<String>>,
    /// The names of the other members, for checking `crit` against.
    others: Vec<String>,
}

/// What a verifier requires of `typ` (RFC 7515 §4.1.9, RFC 8725 §3.11:
/// explicit typing keeps one kind of JWT from passing as another).
#[derive(Debug, Clone, Copy)]
pub(crate) enum TypRule {
    /// Any value, or none, except these (the explicit types of other JWT kinds).
    Forbid(&'static [&'static str]),
    /// One of these values; absent is accepted only when `optional`.
    Require {
        values: &'static [&'static str],
        optional: bool,
    },
}

/// The explicit `typ` values of the JWT kinds this crate knows, for the
/// verifiers of the other kinds to refuse: access tokens (RFC 9068 §2.1),
/// logout tokens (OIDC Back-Channel Logout §2.4), introspection responses
/// (RFC 9701 §5), DPoP proofs (RFC 9449 §4.2), request objects (RFC 9101 §10.8).
pub(crate) const OTHER_KINDS: &[&str] = &[
    "at+jwt",
    "logout+jwt",
    "token-introspection+jwt",
    "dpop+jwt",
    "oauth-authz-req+jwt",
];

impl TypRule {
    fn check(self, typ: Option<&str>) -> Result<(), IdTokenError> {
        let refused = |t: &str| Err(IdTokenError::TypeNotAllowed(shorten(t)));
        match (self, typ) {
            (TypRule::Forbid(list), Some(t)) if list.iter().any(|f| same_media_type(t, f)) => refused(t),
            (TypRule::Forbid(_), _) => Ok(()),
            (TypRule::Require { values, .. }, Some(t)) => {
                if values.iter().any(|v| same_media_type(t, v)) {
                    Ok(())
                } else {
                    refused(t)
                }
            }
            (TypRule::Require { optional: true, .. }, None) => Ok(()),
            (TypRule::Require { optional: false, .. }, None) => Err(IdTokenError::MissingClaim("typ")),
        }
    }
}

/// RFC 7515 §4.1.9: `typ` is a media type whose `application/` prefix may be
/// omitted; media types compare case-insensitively (RFC 2045 §5.1). Compared
/// in place: this runs on every verification.
fn same_media_type(typ: &str, expected: &str) -> bool {
    fn bare(s: &str) -> &str {
        const PREFIX: &str = "application/";
        match s.get(..PREFIX.len()) {
            Some(head) if head.eq_ignore_ascii_case(PREFIX) => &s[PREFIX.len()..],
            _ => s,
        }
    }
    bare(typ).eq_ignore_ascii_case(bare(expected))
}

/// The header rules a verifier applies besides the algorithm policy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderRules {
    pub(crate) typ: TypRule,
    /// `crit` extensions this verifier implements; any other is refused
    /// (RFC 7515 §4.1.11). Empty for every verifier today.
    pub(crate) understood_crit: &'static [&'static str],
}

impl Header {
    /// RFC 7515 §4.1.9 and §4.1.11: `typ` as the verifier wants it, and
    /// `crit` only with extensions understood and present.
    pub(crate) fn check(&self, rules: &HeaderRules) -> Result<(), IdTokenError> {
        if let Some(crit) = &self.crit {
            let understood = !crit.is_empty()
                && crit
                    .iter()
                    .all(|name| rules.understood_crit.contains(&name.as_str()) && self.others.contains(name));
            if !understood {
                return Err(IdTokenError::Malformed("the header has crit extensions".into()));
            }
        }
        rules.typ.check(self.typ.as_deref())
    }
}

/// A token with the form of a compact JWS (RFC 7515 §7.1): three parts, two dots, found in one
/// pass over it. The bearer verifier finds them once to tell a JWT from an opaque token and hands
/// them on, so the token is not scanned again to split it.
#[derive(Clone, Copy)]
pub(crate) struct Compact<'t> {
    token: &'t str,
    first: usize,
    second: usize,
}

/// What [`Compact::of`] found other than a compact JWS.
enum NotCompact {
    /// Five parts: a compact JWE (RFC 7516 §7.1).
    Encrypted,
    Other,
}

impl<'t> Compact<'t> {
    /// `token` if it has exactly two dots.
    pub(crate) fn of(token: &'t str) -> Option<Self> {
        Self::find(token).ok()
    }

    fn find(token: &'t str) -> Result<Self, NotCompact> {
        let bytes = token.as_bytes();
        let mut dots = [0usize; 2];
        let mut count = 0usize;
        let mut note = |at: usize, byte: u8| {
            if byte == b'.' {
                if let Some(slot) = dots.get_mut(count) {
                    *slot = at;
                }
                count += 1;
            }
        };
        // Sixteen bytes at a time, with no early exit within them, so that the test compiles to
        // one SIMD compare per chunk; only the (two) chunks with a dot are read byte by byte.
        let (chunks, tail) = bytes.as_chunks::<16>();
        for (c, chunk) in chunks.iter().enumerate() {
            if chunk.iter().fold(0u8, |any, &b| any | u8::from(b == b'.')) != 0 {
                for (i, &b) in chunk.iter().enumerate() {
                    note(c * 16 + i, b);
                }
            }
        }
        let base = chunks.len() * 16;
        for (i, &b) in tail.iter().enumerate() {
            note(base + i, b);
        }
        match count {
            2 => Ok(Compact {
                token,
                first: dots[0],
                second: dots[1],
            }),
            4 => Err(NotCompact::Encrypted),
            _ => Err(NotCompact::Other),
        }
    }
}

/// Splits a compact JWS (RFC 7515 §7.1) and parses its header. A JWE (five
/// parts) is refused by name.
pub(crate) fn split(token: &str) -> Result<Jws<'_>, IdTokenError> {
    match Compact::find(token) {
        Ok(compact) => split_compact(compact),
        Err(NotCompact::Encrypted) => Err(IdTokenError::Malformed(
            "an encrypted token (JWE) is not supported".into(),
        )),
        Err(NotCompact::Other) => Err(IdTokenError::Malformed(
            "not a compact JWS (three dot-separated parts)".into(),
        )),
    }
}

/// [`split`] of a token whose dots are found already.
pub(crate) fn split_compact(compact: Compact<'_>) -> Result<Jws<'_>, IdTokenError> {
    let Compact { token, first, second } = compact;
    let malformed = |why: &str| IdTokenError::Malformed(why.to_owned());
    let not_json = || malformed("the header is not a JSON object with one alg and no repeated member");
    // Decoded on the stack: a header is a few dozen bytes, and this runs on every verification.
    let header: Header = super::with_decoded(&token[..first], |json| {
        let json = json.ok_or_else(|| malformed("the header is not base64url"))?;
        match plain_header(json) {
            Some(header) => Ok(header),
            None => serde_json::from_str(json).map_err(|_| not_json()),
        }
    })?;
    Ok(Jws {
        header,
        signing_input: &token[..second],
        payload: &token[first + 1..second],
        signature: &token[second + 1..],
    })
}

/// The header of the plain shape ([`super::plain`]), read as [`HeaderVisitor`] reads it; `None`
/// for any other header (`crit` among them) and for one the visitor refuses, which serde_json
/// then reads (and refuses).
fn plain_header(json: &str) -> Option<Header> {
    let mut r = super::plain::Reader::open(json)?;
    let (mut alg, mut kid, mut typ) = (None, None, None);
    let mut others: Vec<String> = Vec::new();
    while let Some(name) = r.name()? {
        let fresh = match name {
            "alg" => super::once(&mut alg, r.string()?),
            "kid" => super::once(&mut kid, r.string()?),
            "typ" => super::once(&mut typ, r.string()?),
            "crit" => return None,
            other => {
                r.value()?;
                // The visitor's linear check, kept to its bound.
                if others.len() >= 8 || others.iter().any(|o| o == other) {
                    return None;
                }
                others.push(other.to_owned());
                Ok(())
            }
        };
        fresh.ok()?;
    }
    let alg = alg?;
    Some(Header {
        alg: alg.parse::<SigningAlgorithm>().map_err(|_| alg.to_owned()),
        kid: kid.map(str::to_owned),
        typ: typ.map(str::to_owned),
        crit: None,
        others,
    })
}

/// Whether the plain reader, when it reads `json` as a header at all, reads what serde_json's
/// visitor reads there (the fuzz targets' differential check of [`plain_header`]).
#[cfg(feature = "fuzzing")]
pub(crate) fn header_readers_agree(json: &str) -> bool {
    let Some(plain) = plain_header(json) else {
        return true;
    };
    serde_json::from_str::<Header>(json).is_ok_and(|by_serde| {
        (&plain.alg, &plain.kid, &plain.typ, &plain.crit, &plain.others)
            == (
                &by_serde.alg,
                &by_serde.kid,
                &by_serde.typ,
                &by_serde.crit,
                &by_serde.others,
            )
    })
}

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(HeaderVisitor)
    }
}

struct HeaderVisitor;

impl<'de> de::Visitor<'de> for HeaderVisitor {
    type Value = Header;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JOSE header")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
        let (mut alg, mut kid, mut typ, mut crit) = (None::<Name<'de>>, None, None, None);
        let mut others: Vec<String> = Vec::new();
        // Only built for headers with many unknown members, so a hostile header stays linear.
        let mut seen: Option<HashSet<String>> = None;
        let dup = || de::Error::custom("repeated header member");
        while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
            match &*name {
                "alg" => super::once(&mut alg, map.next_value()?).map_err(|()| dup())?,
                "kid" => super::once(&mut kid, map.next_value::<String>()?).map_err(|()| dup())?,
                "typ" => super::once(&mut typ, map.next_value::<String>()?).map_err(|()| dup())?,
                "crit" => super::once(&mut crit, map.next_value::<Vec<String>>()?).map_err(|()| dup())?,
                other => {
                    map.next_value::<IgnoredAny>()?;
                    let repeated = match &mut seen {
                        Some(set) => !set.insert(other.to_owned()),
                        None if others.len() < 8 => others.iter().any(|o| o == other),
                        None => {
                            let mut set: HashSet<String> = others.iter().cloned().collect();
                            let repeated = !set.insert(other.to_owned());
                            seen = Some(set);
                            repeated
                        }
                    };
                    if repeated {
                        return Err(dup());
                    }
                    others.push(other.to_owned());
                }
            }
        }
        let alg = alg.ok_or_else(|| de::Error::missing_field("alg"))?;
        Ok(Header {
            alg: alg.0.parse::<SigningAlgorithm>().map_err(|_| alg.0.into_owned()),
            kid,
            typ,
            crit,
            others,
        })
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn token(header: &str) -> String {
        format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(header))
    }

    #[test]
    fn split_rejects_what_is_not_a_jws() {
        assert!(split(&token(r#"{"alg":"RS256"}"#)).is_ok());
        let h = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#);
        for bad in [
            "".to_owned(),
            "a.b".to_owned(),
            format!("{h}.e30.c2ln.x"),
            format!("{h}.a.b.c.d"),
            "!!.e30.c2ln".to_owned(),
            token(r#"{"kid":"k"}"#),
            token(r#"{"alg":"RS256","alg":"HS256"}"#),
            token(r#"{"alg":"RS256","kid":"a","kid":"b"}"#),
            token(r#"{"alg":"RS256","typ":"JWT","typ":"at+jwt"}"#),
            token(r#"{"alg":"RS256","x":1,"x":2}"#),
            token(r#"{"alg":"RS256","a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1,"a":2}"#),
        ] {
            assert!(matches!(split(&bad), Err(IdTokenError::Malformed(_))), "{bad}");
        }
    }

    /// The header as the plain reader and as serde_json read it.
    fn both(json: &str) -> (Option<Header>, Option<Header>) {
        (plain_header(json), serde_json::from_str(json).ok())
    }

    fn same(a: &Header, b: &Header) -> bool {
        (&a.alg, &a.kid, &a.typ, &a.crit, &a.others) == (&b.alg, &b.kid, &b.typ, &b.crit, &b.others)
    }

    #[test]
    fn the_plain_header_reader_agrees_with_the_visitor() {
        for json in [
            r#"{"alg":"RS256"}"#,
            r#"{"alg":"RS256","kid":"k-1","typ":"at+jwt"}"#,
            r#" { "typ" : "JWT" , "alg" : "none" , "x5t" : "abc" , "n" : [1, "b"] , "z" : null } "#,
            r#"{"alg":"ES256","kid":"日本語😀"}"#,
            r#"{"alg":"RS256","a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1}"#,
        ] {
            let (plain, serde) = both(json);
            let (plain, serde) = (plain.expect(json), serde.expect(json));
            assert!(same(&plain, &serde), "{json}: {plain:?} vs {serde:?}");
        }
        // Left to serde_json: escapes, crit, nested values, repeats, more than eight others,
        // wrong types, no alg; serde_json then refuses or reads them as before.
        for json in [
            r#"{"alg":"RS\u0032\u0035\u0036"}"#,
            r#"{"alg":"RS256","crit":["b64"],"b64":false}"#,
            r#"{"alg":"RS256","jwk":{"kty":"EC"}}"#,
            r#"{"alg":"RS256","alg":"RS256"}"#,
            r#"{"alg":"RS256","kid":"a","kid":"a"}"#,
            r#"{"alg":"RS256","x":1,"x":1}"#,
            r#"{"alg":"RS256","a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1}"#,
            r#"{"alg":"RS256","kid":1}"#,
            r#"{"alg":null}"#,
            r#"{"kid":"k"}"#,
        ] {
            assert!(plain_header(json).is_none(), "{json}");
        }
        let (_, escaped) = both(r#"{"alg":"RS\u0032\u0035\u0036"}"#);
        assert_eq!(
            escaped.expect("serde_json reads escapes").alg,
            Ok(SigningAlgorithm::RS256)
        );
        let (_, many) = both(r#"{"alg":"RS256","a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1}"#);
        assert_eq!(many.expect("nine others are fine").others.len(), 9);
    }

    #[test]
    fn compact_finds_the_two_dots_anywhere() {
        for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 100] {
            let part = "a".repeat(len);
            let token = format!("{part}.{part}.{part}");
            let c = Compact::of(&token).expect("three parts");
            assert_eq!((c.first, c.second), (len, 2 * len + 1), "{len}");
            assert!(Compact::of(&format!("{token}.")).is_none());
            assert!(Compact::of(&format!("{part}.{part}")).is_none());
            assert!(matches!(
                Compact::find(&format!("{token}.{part}.{part}")),
                Err(NotCompact::Encrypted)
            ));
        }
    }

    #[test]
    fn unknown_alg_is_kept_for_the_error() {
        let none = token(r#"{"alg":"none"}"#);
        assert_eq!(split(&none).unwrap().header.alg, Err("none".to_owned()));
    }

    #[test]
    fn crit_only_when_understood_and_present() {
        let rules = |understood| HeaderRules {
            typ: TypRule::Forbid(&[]),
            understood_crit: understood,
        };
        let h = |s: &str| split(&token(s)).unwrap().header;
        assert!(
            h(r#"{"alg":"RS256","crit":["b64"],"b64":false}"#)
                .check(&rules(&[]))
                .is_err()
        );
        assert!(
            h(r#"{"alg":"RS256","crit":["b64"],"b64":false}"#)
                .check(&rules(&["b64"]))
                .is_ok()
        );
        assert!(
            h(r#"{"alg":"RS256","crit":["b64"]}"#)
                .check(&rules(&["b64"]))
                .is_err()
        );
        assert!(h(r#"{"alg":"RS256","crit":[]}"#).check(&rules(&["b64"])).is_err());
    }

    #[test]
    fn typ_rules() {
        let forbid = TypRule::Forbid(OTHER_KINDS);
        for ok in [None, Some("JWT"), Some("jwt"), Some("application/jwt")] {
            assert!(forbid.check(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "at+jwt",
            "application/at+jwt",
            "AT+JWT",
            "Application/Logout+JWT",
            "logout+jwt",
            "token-introspection+jwt",
            "application/token-introspection+jwt",
            "dpop+jwt",
            "oauth-authz-req+jwt",
        ] {
            assert!(
                matches!(forbid.check(Some(bad)), Err(IdTokenError::TypeNotAllowed(_))),
                "{bad}"
            );
        }
        let strict = TypRule::Require {
            values: &["at+jwt"],
            optional: false,
        };
        assert!(strict.check(Some("application/AT+JWT")).is_ok());
        assert!(strict.check(Some("JWT")).is_err());
        assert!(strict.check(None).is_err());
        let lax = TypRule::Require {
            values: &["at+jwt", "jwt"],
            optional: true,
        };
        assert!(lax.check(None).is_ok());
        assert!(lax.check(Some("JWT")).is_ok());
        assert!(lax.check(Some("logout+jwt")).is_err());
    }
}
