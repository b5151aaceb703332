//! Userinfo (OIDC Core §5.1, §5.3) and the standard claims it carries.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A user's claims from the userinfo endpoint (`get_user_info_by_access_token`).
///
/// Every field of the Python SDK's table, as the standard names them; anything
/// else is in [`UserInfo::extra`]. `Debug` shows only `sub`: the rest is
/// personal data that does not belong in logs.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[non_exhaustive]
pub struct UserInfo {
    /// Subject: the user's id at the provider.
    pub sub: String,
    #[serde(flatten)]
    /// The standard claims.
    pub standard: StandardClaims,
    /// Claims this crate does not name.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for UserInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserInfo")
            .field("sub", &self.sub)
            .finish_non_exhaustive()
    }
}

/// The standard profile claims (OIDC Core §5.1). Authing sends `null` for
/// unset ones; those read as `None`.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[non_exhaustive]
#[allow(missing_docs)] // each field is the OIDC Core §5.1 claim of that name
pub struct StandardClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_bool"
    )]
    pub email_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zoneinfo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_bool"
    )]
    pub phone_number_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Seconds since the epoch in the standard; Authing sends an ISO 8601
    /// string. Kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Value>,
}

impl std::fmt::Debug for StandardClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StandardClaims { .. }")
    }
}

/// A boolean claim as providers really send it: `true`/`false`, the strings
/// `"true"`/`"false"`, or `null` (absent).
pub(crate) fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(serde::de::Error::custom("not a boolean")),
    }
}

/// [`lenient_bool`] as a type, for parsers that read one value at a time.
#[derive(Deserialize)]
#[serde(transparent)]
pub(crate) struct LenientBool(#[serde(deserialize_with = "lenient_bool")] pub(crate) Option<bool>);

/// The `address` claim (OIDC Core §5.1.1).
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[non_exhaustive]
#[allow(missing_docs)] // each field is the OIDC Core §5.1.1 member of that name
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl std::fmt::Debug for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Address { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_sample_and_hides_personal_data() {
        let json = r#"{"address":{"country":null,"postal_code":null,"region":null,"formatted":null},
            "birthdate":null,"family_name":null,"gender":"U","given_name":null,"locale":null,
            "middle_name":null,"name":null,"nickname":null,
            "picture":"https://files.authing.co/authing-console/default-user-avatar.png",
            "preferred_username":null,"profile":null,"updated_at":"2021-03-03T06:17:14.485Z",
            "website":null,"zoneinfo":null,"email":"test1@authing.cn","email_verified":false,
            "sub":"603f184cec4505e2868431fc","phone_number":null,"phone_number_verified":false,
            "custom":"x"}"#;
        let u: UserInfo = serde_json::from_str(json).unwrap();
        assert_eq!(u.sub, "603f184cec4505e2868431fc");
        assert_eq!(u.standard.email.as_deref(), Some("test1@authing.cn"));
        assert_eq!(u.standard.email_verified, Some(false));
        let lenient: UserInfo =
            serde_json::from_str(r#"{"sub":"s","email_verified":"true","phone_number_verified":null}"#)
                .unwrap();
        assert_eq!(lenient.standard.email_verified, Some(true));
        assert_eq!(lenient.standard.phone_number_verified, None);
        assert!(serde_json::from_str::<UserInfo>(r#"{"sub":"s","email_verified":"yes"}"#).is_err());
        assert_eq!(u.standard.gender.as_deref(), Some("U"));
        assert_eq!(u.extra.get("custom"), Some(&Value::from("x")));
        let d = format!("{u:?}");
        assert!(d.contains("603f184cec4505e2868431fc"));
        assert!(!d.contains("test1@authing.cn"));
    }
}
