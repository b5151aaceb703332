//! The claims of a verified id_token and how they travel through serde.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::jose::{self, Name};
use crate::userinfo::{Address, LenientBool, StandardClaims};

/// The claims of an id_token that passed every check of
/// [OIDC Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation)
/// (see [`IdTokenVerifier`](super::IdTokenVerifier)).
///
/// `Debug` shows only `iss`, `sub`, `aud` and `exp`: the profile claims are
/// personal data that does not belong in logs. Serialization keeps every
/// claim, so saved claims restore to the same value (`aud` is written as a
/// string when it has one entry, as an array otherwise, and read from either).
///
/// The registered claims are plain fields. The profile claims
/// ([`standard`](Self::standard)) and every other claim ([`extra`](Self::extra))
/// are [`LazyClaims`]: a verification checks that they are well-formed but
/// builds them only when first read (`claims.standard.email`, `claims.extra.get("tenant")`
/// read through `Deref` as before), so verifying a token does not pay for
/// profile strings the application may never look at.
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
    /// The standard profile claims (OIDC Core §5.1), read on first use.
    #[serde(flatten)]
    pub standard: LazyClaims<StandardClaims>,
    /// Every other claim, read on first use.
    #[serde(flatten)]
    pub extra: LazyClaims<Map<String, Value>>,
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
        serde_json::from_value(Value::Object(Map::clone(&self.extra))).map_err(|_| {
            Error::InvalidInput(format!(
                "the id_token's extra claims do not fit {}",
                std::any::type_name::<T>()
            ))
        })
    }
}

/// Claims of a verified id_token that are built on first use: the profile
/// claims ([`IdTokenClaims::standard`]) and the other claims
/// ([`IdTokenClaims::extra`]).
///
/// Reads like the value itself through `Deref` (`claims.standard.email`,
/// `claims.extra.get("tenant")`, `&*claims.standard`). A verification has
/// already checked these claims (types, no repeated member), keeps the
/// payload's JSON text and builds the value from it the first time it is
/// read; later reads reuse it. Claims read from JSON or a saved session hold
/// the value at once. Writing through `DerefMut` builds it first.
///
/// ```
/// # use authing_oidc::id_token::LazyClaims;
/// # fn f(claims: &authing_oidc::id_token::IdTokenClaims) {
/// let email: Option<&str> = claims.standard.email.as_deref();
/// let tenant = claims.extra.get("tenant");
/// let owned: authing_oidc::StandardClaims = LazyClaims::into_inner(claims.standard.clone());
/// # }
/// ```
pub struct LazyClaims<T> {
    /// The payload's JSON text, while the value is not built yet.
    source: Option<Arc<str>>,
    value: OnceLock<Box<T>>,
}

/// What a [`LazyClaims`] can hold: a part of the claims, taken from a full read.
pub trait ClaimsPart: Default + sealed::Sealed {
    /// This part of `claims`.
    #[doc(hidden)]
    fn take(claims: IdTokenClaims) -> Self;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::userinfo::StandardClaims {}
    impl Sealed for serde_json::Map<String, serde_json::Value> {}
}

impl ClaimsPart for StandardClaims {
    fn take(claims: IdTokenClaims) -> Self {
        LazyClaims::into_inner(claims.standard)
    }
}

impl ClaimsPart for Map<String, Value> {
    fn take(claims: IdTokenClaims) -> Self {
        LazyClaims::into_inner(claims.extra)
    }
}

impl<T: ClaimsPart> LazyClaims<T> {
    fn deferred(source: Arc<str>) -> Self {
        LazyClaims {
            source: Some(source),
            value: OnceLock::new(),
        }
    }

    fn build(source: Option<&str>) -> T {
        let Some(json) = source else {
            return T::default();
        };
        match serde_json::from_str::<IdTokenClaims>(json) {
            Ok(claims) => T::take(claims),
            // Not reached: the verification read the same text with the same rules.
            Err(_) => {
                tracing::error!("verified id_token claims no longer read");
                T::default()
            }
        }
    }

    /// The value, built now if it was not yet (what `Deref` does). An
    /// associated function, not a method, so that it never hides a method of
    /// the value (`claims.extra.get("sid")` is the map's `get`).
    pub fn force(this: &Self) -> &T {
        this.value
            .get_or_init(|| Box::new(Self::build(this.source.as_deref())))
    }

    /// The value, owned (an associated function, like [`force`](Self::force)).
    pub fn into_inner(this: Self) -> T {
        match this.value.into_inner() {
            Some(value) => *value,
            None => Self::build(this.source.as_deref()),
        }
    }
}

impl<T: ClaimsPart> From<T> for LazyClaims<T> {
    fn from(value: T) -> Self {
        LazyClaims {
            source: None,
            value: OnceLock::from(Box::new(value)),
        }
    }
}

impl<T: ClaimsPart> Default for LazyClaims<T> {
    fn default() -> Self {
        LazyClaims::from(T::default())
    }
}

impl<T: ClaimsPart> Deref for LazyClaims<T> {
    type Target = T;

    fn deref(&self) -> &T {
        LazyClaims::force(self)
    }
}

impl<T: ClaimsPart> std::ops::DerefMut for LazyClaims<T> {
    fn deref_mut(&mut self) -> &mut T {
        let value = match self.value.take() {
            Some(value) => value,
            None => Box::new(Self::build(self.source.as_deref())),
        };
        // Changed values are the caller's: no longer the payload's.
        self.source = None;
        self.value = OnceLock::from(value);
        match self.value.get_mut() {
            Some(value) => value,
            // Not reached (set just above); a default rather than a panic.
            None => Box::leak(Box::default()),
        }
    }
}

impl<T: ClaimsPart + Clone> Clone for LazyClaims<T> {
    fn clone(&self) -> Self {
        LazyClaims {
            source: self.source.clone(),
            value: self.value.clone(),
        }
    }
}

impl<T: ClaimsPart + PartialEq> PartialEq for LazyClaims<T> {
    fn eq(&self, other: &Self) -> bool {
        LazyClaims::force(self) == LazyClaims::force(other)
    }
}

impl<T: ClaimsPart + std::fmt::Debug> std::fmt::Debug for LazyClaims<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        LazyClaims::force(self).fmt(f)
    }
}

impl<T: ClaimsPart + Serialize> Serialize for LazyClaims<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        LazyClaims::force(self).serialize(s)
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
        d.deserialize_map(ClaimsVisitor { defer: false })
            .map(|read| read.claims)
    }
}

/// Reads the claims of a verified id_token's payload `json` (the decoded JSON
/// text): the registered claims at once, the profile and other claims only
/// checked, kept as `json` and built on first use (see [`LazyClaims`]).
/// Fails exactly where reading every claim at once would fail: the same
/// types are required and no member may repeat.
pub(super) fn read_deferred(json: &str) -> serde_json::Result<IdTokenClaims> {
    let mut de = serde_json::Deserializer::from_str(json);
    let read = de.deserialize_map(ClaimsVisitor { defer: true })?;
    de.end()?;
    let mut claims = read.claims;
    if read.standard_deferred || read.extra_deferred {
        let source: Arc<str> = Arc::from(json);
        if read.standard_deferred {
            claims.standard = LazyClaims::deferred(Arc::clone(&source));
        }
        if read.extra_deferred {
            claims.extra = LazyClaims::deferred(source);
        }
    }
    Ok(claims)
}

/// With `defer`, profile and other claims are only checked, not built.
struct ClaimsVisitor {
    defer: bool,
}

/// The claims read, and which parts were left to read later.
struct Read {
    claims: IdTokenClaims,
    standard_deferred: bool,
    extra_deferred: bool,
}

/// Stores a registered claim, refusing a second one of the same name.
fn once<T, E: de::Error>(slot: &mut Option<T>, value: T, name: &'static str) -> std::result::Result<(), E> {
    jose::once(slot, value).map_err(|()| E::custom(format_args!("duplicate claim {name}")))
}

impl<'de> de::Visitor<'de> for ClaimsVisitor {
    type Value = Read;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object of id_token claims")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<Read, A::Error> {
        let (mut iss, mut sub, mut aud, mut exp, mut iat) = (None, None, None, None, None);
        let (mut nbf, mut auth_time, mut nonce, mut azp, mut at_hash) = (None, None, None, None, None);
        let mut standard = StandardClaims::default();
        // One bit per profile member read by `standard_member`, to refuse a repeat.
        let mut seen_standard = 0u32;
        let mut late = Map::new();
        let mut extra = Map::new();
        // Deferred: the names of the other members, checked for repeats without building them.
        let mut other_names = OtherNames::default();
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
                other => match standard_member(&mut standard, other, &mut map, self.defer)? {
                    Some(bit) => {
                        if seen_standard & bit != 0 {
                            return Err(repeated());
                        }
                        seen_standard |= bit;
                    }
                    None if self.defer => {
                        // Read as `Value` would read it (the same numbers in range, the same
                        // nesting limit), without building it.
                        map.next_value::<AnyValue>()?;
                        if !other_names.insert(name) {
                            return Err(repeated());
                        }
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
        let claims = IdTokenClaims {
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
            standard: LazyClaims::from(standard),
            extra: LazyClaims::from(extra),
        };
        // A profile claim read as another member (see `late`) is left with the others: reading
        // `standard` then reads it from the payload too.
        let others = !other_names.is_empty();
        Ok(Read {
            claims,
            standard_deferred: self.defer && (seen_standard != 0 || others),
            extra_deferred: self.defer && others,
        })
    }
}

/// The names of the claims that are neither registered nor profile claims,
/// for refusing a repeat: a short list, a set once there are many, so a
/// hostile payload stays linear.
#[derive(Default)]
struct OtherNames<'de> {
    few: Vec<Cow<'de, str>>,
    many: Option<HashSet<Cow<'de, str>>>,
}

impl<'de> OtherNames<'de> {
    /// False when `name` was already there.
    fn insert(&mut self, name: Cow<'de, str>) -> bool {
        if let Some(set) = &mut self.many {
            return set.insert(name);
        }
        if self.few.contains(&name) {
            return false;
        }
        if self.few.len() < 8 {
            self.few.push(name);
        } else {
            let mut set: HashSet<Cow<'de, str>> = self.few.drain(..).collect();
            set.insert(name);
            self.many = Some(set);
        }
        true
    }

    fn is_empty(&self) -> bool {
        self.few.is_empty() && self.many.is_none()
    }
}

/// Any JSON value, read the way `serde_json::Value` reads one (through
/// `deserialize_any`, so numbers are parsed and range-checked the same) but
/// not built.
struct AnyValue;

impl<'de> Deserialize<'de> for AnyValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(AnyValue)
    }
}

impl<'de> de::Visitor<'de> for AnyValue {
    type Value = AnyValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<AnyValue, E> {
        Ok(AnyValue)
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<AnyValue, E> {
        Ok(AnyValue)
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<AnyValue, E> {
        Ok(AnyValue)
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<AnyValue, E> {
        Ok(AnyValue)
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<AnyValue, E> {
        Ok(AnyValue)
    }
    fn visit_unit<E>(self) -> std::result::Result<AnyValue, E> {
        Ok(AnyValue)
    }
    fn visit_none<E>(self) -> std::result::Result<AnyValue, E> {
        Ok(AnyValue)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<AnyValue, D::Error> {
        AnyValue::deserialize(d)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<AnyValue, A::Error> {
        while seq.next_element::<AnyValue>()?.is_some() {}
        Ok(AnyValue)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<AnyValue, A::Error> {
        // `Value` keys are strings; serde_json only ever hands out string keys.
        while map.next_key::<AnyValue>()?.is_some() {
            map.next_value::<AnyValue>()?;
        }
        Ok(AnyValue)
    }
}

/// How a profile claim's type is checked without building it: the same
/// requirement as its field's `Deserialize`, borrowing instead of allocating.
trait Checked {
    type As<'de>: Deserialize<'de>;
}

impl Checked for Option<String> {
    // A string borrowed from the input (owned only when it has escapes), or null.
    type As<'de> = Option<Name<'de>>;
}

impl Checked for Option<Address> {
    // Rare, and a structure of its own: read in full.
    type As<'de> = Option<Address>;
}

impl Checked for Option<Value> {
    type As<'de> = Option<AnyValue>;
}

/// Reads a profile claim's value as `F` would be read, without keeping it.
fn check_as<'de, F: Checked, A: de::MapAccess<'de>>(
    _field: fn(&StandardClaims) -> &F,
    map: &mut A,
) -> std::result::Result<(), A::Error> {
    map.next_value::<F::As<'de>>().map(drop)
}

/// Reads a profile claim straight into `standard` (or, with `defer`, only
/// checks it) and returns its bit (for the caller to refuse a repeat); `None`
/// if `name` is not one listed here.
fn standard_member<'de, A: de::MapAccess<'de>>(
    standard: &mut StandardClaims,
    name: &str,
    map: &mut A,
    defer: bool,
) -> std::result::Result<Option<u32>, A::Error> {
    macro_rules! members {
        ($($field:ident),* ; $($flag:ident),* $(,)?) => {{
            const LISTED: &[&str] = &[$(stringify!($field),)* $(stringify!($flag),)*];
            match name {
                $(stringify!($field) => {
                    // The error could quote a value (personal data): say only which claim.
                    let wrong = |_| de::Error::custom(concat!("claim ", stringify!($field), " has the wrong type"));
                    if defer {
                        check_as(|s| &s.$field, map).map_err(wrong)?;
                    } else {
                        standard.$field = map.next_value().map_err(wrong)?;
                    }
                    const BIT: u32 = 1 << index_of(LISTED, stringify!($field));
                    Ok(Some(BIT))
                })*
                $(stringify!($flag) => {
                    let flag = map.next_value::<LenientBool>().map_err(|_| {
                        de::Error::custom(concat!("claim ", stringify!($flag), " has the wrong type"))
                    })?.0;
                    if !defer {
                        standard.$flag = flag;
                    }
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
struct Audiences(Vec<String>);

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
        assert_eq!(
            c.standard.address.clone().and_then(|a| a.country).as_deref(),
            Some("CN")
        );
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

    /// The deferred read (verification) accepts and refuses exactly what the full read does,
    /// and builds the same claims when they are read.
    #[test]
    fn deferred_read_agrees_with_the_full_read() {
        let base = r#""iss":"i","sub":"s","aud":"a","exp":2,"iat":1"#;
        for rest in [
            "",
            r#","name":"Jane","email":"j@example.com","email_verified":"TRUE","tenant":"t1""#,
            r#","address":{"country":"CN","x":[1,{"y":null}]},"updated_at":"2024-01-01T00:00:00Z""#,
            r#","updated_at":1700000000.5,"picture":null,"roles":["a","b"],"n\u0061me":"Esc""#,
            r#","x":1,"y":2,"z":3,"u":4,"v":5,"w":6,"p":7,"q":8,"r":9,"s1":{"a":[true,false,null]}"#,
            // Refused by both: repeats, wrong profile types, numbers out of range, bad flags.
            r#","name":"a","n\u0061me":"b""#,
            r#","x":1,"y":2,"z":3,"u":4,"v":5,"w":6,"p":7,"q":8,"r":9,"x":10"#,
            r#","role":"user","r\u006fle":"admin""#,
            r#","email":5"#,
            r#","email":{"secret":"canary"}"#,
            r#","address":"not an object""#,
            r#","email_verified":"yes""#,
            r#","updated_at":1e400"#,
            r#","tenant":1e400"#,
            r#","tenant":[1,2"#,
            r#","tenant":"\ud800""#,
        ] {
            let json = format!("{{{base}{rest}}}");
            let full = serde_json::from_str::<IdTokenClaims>(&json);
            let deferred = read_deferred(&json);
            assert_eq!(full.is_ok(), deferred.is_ok(), "{json}");
            if let (Ok(full), Ok(deferred)) = (full, deferred) {
                assert_eq!(
                    LazyClaims::into_inner(deferred.standard.clone()),
                    *full.standard,
                    "{json}"
                );
                assert_eq!(*deferred.extra, *full.extra, "{json}");
                assert_eq!(deferred, full, "{json}");
                assert_eq!(deferred.to_json(), full.to_json(), "{json}");
            }
        }
        // Nothing deferred when there is nothing to defer; a deferred part reads once.
        let plain = read_deferred(&format!("{{{base}}}")).unwrap();
        assert!(plain.standard.source.is_none() && plain.extra.source.is_none());
        let rich = read_deferred(&format!(r#"{{{base},"name":"Jane","tenant":"t1"}}"#)).unwrap();
        assert!(rich.standard.value.get().is_none() && rich.extra.value.get().is_none());
        assert_eq!(rich.standard.name.as_deref(), Some("Jane"));
        assert!(std::ptr::eq(
            LazyClaims::force(&rich.standard),
            LazyClaims::force(&rich.standard)
        ));
        let mut changed = rich.clone();
        changed.extra.insert("tenant".to_owned(), Value::from("t2"));
        assert_eq!(changed.extra.get("tenant"), Some(&Value::from("t2")));
        assert_eq!(rich.extra.get("tenant"), Some(&Value::from("t1")));
        assert_ne!(changed, rich);
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
