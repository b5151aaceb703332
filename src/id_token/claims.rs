//! The claims of a verified id_token and how they travel through serde.

use std::sync::OnceLock;

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::jose::{self, Name};
use crate::userinfo::StandardClaims;

/// The claims of an id_token that passed every check of
/// [OIDC Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation)
/// (see [`IdTokenVerifier`](super::IdTokenVerifier)).
///
/// `Debug` shows only `iss`, `sub`, `aud` and `exp`: the profile claims are
/// personal data that does not belong in logs. Serialization keeps every
/// claim, so saved claims restore to the same value (`aud` is written as a
/// string when it has one entry, as an array otherwise, and read from either).
#[derive(Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct IdTokenClaims {
    /// Issuer: equal to the client's issuer.
    pub iss: String,
    /// Subject: the user's id at the provider; never empty.
    pub sub: String,
    /// Audiences: the client id, plus only audiences the client trusts.
    #[serde(serialize_with = "serialize_aud")]
    pub aud: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Not before, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// When the user authenticated, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The nonce of the login that asked for this token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Authorized party: the client id when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Access token hash (OIDC Core §3.1.3.8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// The standard profile claims (OIDC Core §5.1).
    #[serde(flatten)]
    pub standard: StandardClaims,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for IdTokenClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdTokenClaims")
            .field("iss", &self.iss)
            .field("sub", &self.sub)
            .field("aud", &self.aud)
            .field("exp", &self.exp)
            .finish_non_exhaustive()
    }
}

impl IdTokenClaims {
    /// Every claim as one JSON object, as the provider sent them.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Reads every claim into a type of the caller's (for example a struct
    /// with the provider's custom claims).
    ///
    /// ```
    /// # fn f(claims: &authing_oidc::id_token::IdTokenClaims) -> authing_oidc::Result<()> {
    /// #[derive(serde::Deserialize)]
    /// struct Mine { sub: String, tenant: Option<String> }
    /// let mine: Mine = claims.claims_as()?;
    /// # Ok(()) }
    /// ```
    ///
    /// The error does not quote claim values (they are personal data).
    pub fn claims_as<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.to_json()).map_err(|e| {
            let msg = e.to_string();
            // "missing field `x`" names a field, never a value; other messages can quote one.
            let detail = if msg.starts_with("missing field") {
                format!(": {msg}")
            } else {
                String::new()
            };
            Error::InvalidInput(format!(
                "the id_token claims do not fit {}{detail}",
                std::any::type_name::<T>()
            ))
        })
    }

    /// The provider's session id (`sid`, OpenID Back-Channel Logout 1.0
    /// §2.1), when the id_token has one: the key a logout token names the
    /// session by ([`crate::logout_token`]).
    pub fn sid(&self) -> Option<&str> {
        self.extra.get("sid").and_then(Value::as_str)
    }

    /// Reads only the claims this crate does not name ([`IdTokenClaims::extra`]).
    pub fn extra_as<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(Value::Object(self.extra.clone())).map_err(|_| {
            Error::InvalidInput(format!(
                "the id_token's extra claims do not fit {}",
                std::any::type_name::<T>()
            ))
        })
    }
}

/// `aud` is written as a string when it has one entry (as Authing sends it).
fn serialize_aud<S: Serializer>(aud: &[String], s: S) -> std::result::Result<S::Ok, S::Error> {
    match aud {
        [one] => s.serialize_str(one),
        many => many.serialize(s),
    }
}

// Deserialization is written out rather than derived: `#[serde(flatten)]` buffers the whole
// payload before reading it, which doubled the cost of parsing an id_token (the hot path of
// every verification). This reads each member once, borrowing names from the input.
impl<'de> Deserialize<'de> for IdTokenClaims {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_map(ClaimsVisitor)
    }
}

struct ClaimsVisitor;

/// Stores a registered claim, refusing a second one of the same name.
fn once<T, E: de::Error>(slot: &mut Option<T>, value: T, name: &'static str) -> std::result::Result<(), E> {
    jose::once(slot, value).map_err(|()| E::custom(format_args!("duplicate claim {name}")))
}

impl<'de> de::Visitor<'de> for ClaimsVisitor {
    type Value = IdTokenClaims;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object of id_token claims")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<IdTokenClaims, A::Error> {
        let (mut iss, mut sub, mut aud, mut exp, mut iat) = (None, None, None, None, None);
        let (mut nbf, mut auth_time, mut nonce, mut azp, mut at_hash) = (None, None, None, None, None);
        let mut standard = StandardClaims::default();
        // One bit per profile member read by `standard_member`, to refuse a repeat.
        let mut seen_standard = 0u32;
        let mut late = Map::new();
        let mut extra = Map::new();
        let repeated = || de::Error::custom("a claim is repeated");
        while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
            match &*name {
                "iss" => once(&mut iss, map.next_value::<String>()?, "iss")?,
                "sub" => once(&mut sub, map.next_value::<String>()?, "sub")?,
                "aud" => once(&mut aud, map.next_value::<Audiences>()?.0, "aud")?,
                "exp" => once(&mut exp, map.next_value::<NumericDate>()?.0, "exp")?,
                "iat" => once(&mut iat, map.next_value::<NumericDate>()?.0, "iat")?,
                "nbf" => once(&mut nbf, map.next_value::<Option<NumericDate>>()?, "nbf")?,
                "auth_time" => once(
                    &mut auth_time,
                    map.next_value::<Option<NumericDate>>()?,
                    "auth_time",
                )?,
                "nonce" => once(&mut nonce, map.next_value::<Option<String>>()?, "nonce")?,
                "azp" => once(&mut azp, map.next_value::<Option<String>>()?, "azp")?,
                "at_hash" => once(&mut at_hash, map.next_value::<Option<String>>()?, "at_hash")?,
                other => match standard_member(&mut standard, other, &mut map)? {
                    Some(bit) => {
                        if seen_standard & bit != 0 {
                            return Err(repeated());
                        }
                        seen_standard |= bit;
                    }
                    None => {
                        let value = map.next_value::<Value>()?;
                        let target = if standard_claim_names().contains(&other) {
                            &mut late
                        } else {
                            &mut extra
                        };
                        if target.insert(name.into_owned(), value).is_some() {
                            return Err(repeated());
                        }
                    }
                },
            }
        }
        if !late.is_empty() {
            // A profile claim added to StandardClaims but not to `standard_member`: slower, still right.
            let mut all = match serde_json::to_value(&standard) {
                Ok(Value::Object(all)) => all,
                _ => Map::new(),
            };
            all.extend(late);
            // The error could quote a value (personal data): say only where it is.
            standard = StandardClaims::deserialize(Value::Object(all))
                .map_err(|_| de::Error::custom("a standard profile claim has the wrong type"))?;
        }
        Ok(IdTokenClaims {
            iss: iss.ok_or_else(|| de::Error::missing_field("iss"))?,
            sub: sub.ok_or_else(|| de::Error::missing_field("sub"))?,
            aud: aud.ok_or_else(|| de::Error::missing_field("aud"))?,
            exp: exp.ok_or_else(|| de::Error::missing_field("exp"))?,
            iat: iat.ok_or_else(|| de::Error::missing_field("iat"))?,
            nbf: nbf.flatten().map(|d| d.0),
            auth_time: auth_time.flatten().map(|d| d.0),
            nonce: nonce.flatten(),
            azp: azp.flatten(),
            at_hash: at_hash.flatten(),
            standard,
            extra,
        })
    }
}

/// Reads a profile claim straight into `standard` and returns its bit (for
/// the caller to refuse a repeat); `None` if `name` is not one listed here.
fn standard_member<'de, A: de::MapAccess<'de>>(
    standard: &mut StandardClaims,
    name: &str,
    map: &mut A,
) -> std::result::Result<Option<u32>, A::Error> {
    macro_rules! members {
        ($($field:ident),* ; $($flag:ident),* $(,)?) => {{
            const LISTED: &[&str] = &[$(stringify!($field),)* $(stringify!($flag),)*];
            match name {
                $(stringify!($field) => {
                    // The error could quote a value (personal data): say only which claim.
                    standard.$field = map.next_value().map_err(|_| {
                        de::Error::custom(concat!("claim ", stringify!($field), " has the wrong type"))
                    })?;
                    const BIT: u32 = 1 << index_of(LISTED, stringify!($field));
                    Ok(Some(BIT))
                })*
                $(stringify!($flag) => {
                    standard.$flag = map.next_value::<crate::userinfo::LenientBool>().map_err(|_| {
                        de::Error::custom(concat!("claim ", stringify!($flag), " has the wrong type"))
                    })?.0;
                    const BIT: u32 = 1 << index_of(LISTED, stringify!($flag));
                    Ok(Some(BIT))
                })*
                _ => Ok(None),
            }
        }};
    }
    members!(
        name,
        given_name,
        family_name,
        middle_name,
        nickname,
        preferred_username,
        profile,
        picture,
        website,
        email,
        gender,
        birthdate,
        zoneinfo,
        locale,
        phone_number,
        address,
        updated_at;
        email_verified,
        phone_number_verified,
    )
}

/// The position of `name` in `list`, at compile time: each profile member's
/// repeat bit is a constant, not a search on every claim read.
const fn index_of(list: &[&str], name: &str) -> usize {
    let mut i = 0;
    while i < list.len() {
        let (a, b) = (list[i].as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("not a listed member")
}

#[cfg(test)]
const STANDARD_MEMBERS: &[&str] = &[
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
];

/// `aud`: a string or an array of strings (RFC 7519 §4.1.3).
pub(crate) struct Audiences(pub(crate) Vec<String>);

impl<'de> Deserialize<'de> for Audiences {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Audiences;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Audiences, E> {
                Ok(Audiences(vec![v.to_owned()]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Audiences, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(16));
                while let Some(a) = seq.next_element::<String>()? {
                    out.push(a);
                }
                Ok(Audiences(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A NumericDate (RFC 7519 §2): a JSON number of seconds, possibly
/// fractional; the fraction is dropped.
struct NumericDate(i64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = NumericDate;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a NumericDate")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<NumericDate, E> {
                Ok(NumericDate(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<NumericDate, E> {
                i64::try_from(v)
                    .map(NumericDate)
                    .map_err(|_| E::custom("NumericDate out of range"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<NumericDate, E> {
                if v.is_finite() && v.abs() < 1e15 {
                    Ok(NumericDate(v.trunc() as i64))
                } else {
                    Err(E::custom("NumericDate out of range"))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// The member names of [`StandardClaims`], read from its `Deserialize`
/// implementation so that a claim added there is routed there here too.
fn standard_claim_names() -> &'static [&'static str] {
    static NAMES: OnceLock<&'static [&'static str]> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut capture = FieldCapture(&[]);
        let _ = StandardClaims::deserialize(&mut capture);
        capture.0
    })
}

/// A deserializer that only records the field list a derived `Deserialize`
/// hands to `deserialize_struct`, then fails.
struct FieldCapture(&'static [&'static str]);

impl<'de> Deserializer<'de> for &mut FieldCapture {
    type Error = de::value::Error;

    fn deserialize_any<V: de::Visitor<'de>>(self, _: V) -> std::result::Result<V::Value, Self::Error> {
        Err(de::Error::custom("field capture"))
    }

    fn deserialize_struct<V: de::Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        self.0 = fields;
        Err(de::Error::custom("field capture"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        serde_json::json!({
            "iss": "https://a.example/oidc", "sub": "u1", "aud": "app", "exp": 2_000_000_000,
            "iat": 1_700_000_000.5, "email": "canary@example.com", "name": "Canary Name", "tenant": "t1"
        })
    }

    #[test]
    fn boolean_claims_sent_as_strings_are_read() {
        let c: IdTokenClaims = serde_json::from_str(
            r#"{"iss":"i","sub":"s","aud":"a","exp":2,"iat":1,"email_verified":"true","phone_number_verified":false}"#,
        )
        .unwrap();
        assert_eq!(c.standard.email_verified, Some(true));
        assert_eq!(c.standard.phone_number_verified, Some(false));
    }

    #[test]
    fn aud_round_trips_and_debug_hides_personal_data() {
        let c: IdTokenClaims = serde_json::from_value(sample()).unwrap();
        assert_eq!(c.aud, vec!["app".to_owned()]);
        assert_eq!(c.iat, 1_700_000_000);
        assert_eq!(c.standard.email.as_deref(), Some("canary@example.com"));
        assert_eq!(c.extra.get("tenant"), Some(&Value::from("t1")));
        assert!(!c.extra.contains_key("email"));
        let json = c.to_json();
        assert_eq!(json["aud"], "app");
        assert_eq!(serde_json::from_value::<IdTokenClaims>(json).unwrap(), c);
        let debug = format!("{c:?}");
        assert!(!debug.contains("canary") && !debug.contains("Canary"), "{debug}");

        let mut many = sample();
        many["aud"] = serde_json::json!(["app", "other"]);
        let c: IdTokenClaims = serde_json::from_value(many).unwrap();
        assert_eq!(c.to_json()["aud"], serde_json::json!(["app", "other"]));
    }

    #[test]
    fn standard_claim_names_come_from_standard_claims() {
        let names = standard_claim_names();
        for n in [
            "name",
            "email",
            "email_verified",
            "phone_number",
            "address",
            "updated_at",
        ] {
            assert!(names.contains(&n), "{n}");
        }
        assert!(!names.contains(&"sub"));
        // Every profile claim is read directly (the fast path); this fails when one is added to
        // StandardClaims without being added to `standard_member` and STANDARD_MEMBERS.
        let mut listed = STANDARD_MEMBERS.to_vec();
        let mut captured = names.to_vec();
        listed.sort_unstable();
        captured.sort_unstable();
        assert_eq!(listed, captured);
        let json = serde_json::json!({"iss": "i", "sub": "s", "aud": "a", "exp": 1, "iat": 1,
            "email": "e@example.com", "email_verified": true, "address": {"country": "CN"},
            "updated_at": "2021-03-03T06:17:14.485Z", "phone_number": null});
        let c: IdTokenClaims = serde_json::from_value(json).unwrap();
        assert_eq!(c.standard.email_verified, Some(true));
        assert_eq!(c.standard.address.and_then(|a| a.country).as_deref(), Some("CN"));
        assert!(c.standard.updated_at.is_some() && c.standard.phone_number.is_none());
        assert!(c.extra.is_empty());
    }

    #[test]
    fn duplicates_nulls_and_escapes() {
        // Issue 17 #4: a repeat of any member is refused, registered, profile or extra, however
        // the name is escaped (parsers that keep the first and the last would disagree).
        for dup in [
            r#"{"iss":"i","sub":"s","sub":"t","aud":"a","exp":1,"iat":1}"#,
            r#"{"iss":"i","sub":"s","aud":"a","exp":1,"iat":1,"email":"a@x","email":"b@x"}"#,
            r#"{"iss":"i","sub":"s","aud":"a","exp":1,"iat":1,"email":"a@x","em\u0061il":"b@x"}"#,
            r#"{"iss":"i","sub":"s","aud":"a","exp":1,"iat":1,"email_verified":false,"email_verified":true}"#,
            r#"{"iss":"i","sub":"s","aud":"a","exp":1,"iat":1,"role":"user","role":"admin"}"#,
            r#"{"iss":"i","sub":"s","aud":"a","exp":1,"iat":1,"r\u006fle":"user","role":"admin"}"#,
        ] {
            assert!(serde_json::from_str::<IdTokenClaims>(dup).is_err(), "{dup}");
        }
        let ok =
            r#"{"iss":"i","s\u0075b":"s","aud":["a","b"],"exp":1,"iat":1,"nonce":null,"nbf":null,"x":1}"#;
        let c: IdTokenClaims = serde_json::from_str(ok).unwrap();
        assert_eq!((c.sub.as_str(), c.nonce, c.nbf), ("s", None, None));
        assert_eq!(c.aud.len(), 2);
        assert_eq!(c.extra.get("x"), Some(&Value::from(1)));
        let bad_email = r#"{"iss":"i","sub":"s","aud":"a","exp":1,"iat":1,"email":{"secret":"canary"}}"#;
        let e = serde_json::from_str::<IdTokenClaims>(bad_email)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("canary"), "{e}");
    }

    #[test]
    fn typed_access() {
        #[derive(Deserialize)]
        struct Mine {
            sub: String,
            tenant: String,
        }
        let c: IdTokenClaims = serde_json::from_value(sample()).unwrap();
        let m: Mine = c.claims_as().unwrap();
        assert_eq!((m.sub.as_str(), m.tenant.as_str()), ("u1", "t1"));
        #[derive(Deserialize)]
        struct Extra {
            tenant: String,
        }
        assert_eq!(c.extra_as::<Extra>().unwrap().tenant, "t1");
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Wrong {
            email: u32,
        }
        let e = c.claims_as::<Wrong>().unwrap_err().to_string();
        assert!(!e.contains("canary"), "{e}");
    }
}
