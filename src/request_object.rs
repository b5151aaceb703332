//! Signed request objects (JAR, RFC 9101; docs/protocol.md §2.3.3): the
//! authorization request's parameters as the claims of a JWT signed with
//! the client's private key, sent by value (`request=`) or inside a pushed
//! authorization request.

use std::time::Duration;

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::jose::JwsSigner;

/// `typ` of a request object (RFC 9101 §10.8 registers it; explicit typing
/// keeps it from being taken for another kind of JWT, RFC 8725 §3.11).
pub const REQUEST_OBJECT_TYP: &str = "oauth-authz-req+jwt";

/// How long a request object is valid (`exp` - `nbf`); FAPI 2.0 Message
/// Signing §5.3.1 allows at most 60 minutes, a login needs far less.
pub const REQUEST_OBJECT_LIFETIME: Duration = Duration::from_secs(300);

/// Signs the authorization request `params` (as the URL would carry them)
/// into a request object: every parameter as a claim (`max_age` as a number,
/// `authorization_details` and `claims` as JSON, embedded in the payload as
/// the very text given (validated, never re-serialized), a repeated
/// `resource` as an array), plus `iss` = the client id, `aud` = the issuer, `iat`, `nbf`,
/// `exp` and a fresh `jti` (RFC 9101 §4, FAPI 2.0 Message Signing §5.3.1).
pub(crate) fn sign(
    params: &[(String, String)],
    client_id: &str,
    issuer: &str,
    signer: &JwsSigner,
    now: u64,
) -> Result<SecretString> {
    let mut claims = Map::new();
    let mut json_claims: Vec<(&str, Box<RawValue>)> = Vec::new();
    for (name, value) in params {
        let claim = match name.as_str() {
            "max_age" => value
                .parse::<u64>()
                .map(Value::from)
                .map_err(|_| Error::input("max_age is not a number"))?,
            "authorization_details" | "claims" => {
                let raw: Box<RawValue> =
                    serde_json::from_str(value).map_err(|_| Error::input(format!("{name} is not JSON")))?;
                if json_claims.iter().any(|(n, _)| n == name) {
                    return Err(Error::input(format!("{name} is given twice")));
                }
                json_claims.push((name.as_str(), raw));
                continue;
            }
            _ => Value::String(value.clone()),
        };
        match claims.get_mut(name.as_str()) {
            // RFC 8707 §2.1: several resources; as a claim, an array of them.
            Some(Value::Array(values)) if name == "resource" => values.push(claim),
            Some(first) if name == "resource" => *first = Value::Array(vec![first.take(), claim]),
            Some(_) => return Err(Error::input(format!("{name} is given twice"))),
            None => {
                claims.insert(name.clone(), claim);
            }
        }
    }
    let mut claims: BTreeMap<String, Claim> = claims.into_iter().map(|(k, v)| (k, Claim::Value(v))).collect();
    for (name, raw) in json_claims {
        claims.insert(name.to_owned(), Claim::Raw(raw));
    }
    for reserved in ["iss", "aud", "iat", "nbf", "exp", "jti", "request", "request_uri"] {
        if claims.contains_key(reserved) {
            return Err(Error::input(format!(
                "{reserved} cannot be an authorization parameter of a request object"
            )));
        }
    }
    let jti = crate::random::url_safe_token()?;
    for (name, value) in [
        ("client_id", Value::from(client_id)),
        ("iss", client_id.into()),
        ("aud", issuer.into()),
        ("iat", now.into()),
        ("nbf", now.into()),
        ("exp", (now + REQUEST_OBJECT_LIFETIME.as_secs()).into()),
        ("jti", jti.into()),
    ] {
        claims.insert(name.to_owned(), Claim::Value(value));
    }
    signer.sign(Some(REQUEST_OBJECT_TYP), &claims)
}

/// A claim of the payload: a value, or JSON text embedded as it is.
#[derive(Serialize)]
#[serde(untagged)]
enum Claim {
    Value(Value),
    Raw(Box<RawValue>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SigningAlgorithm;
    use crate::secret::{ClientSecret, ExposeSecret as _};
    use base64::Engine as _;

    #[test]
    fn parameters_become_claims() {
        let signer = JwsSigner::client_secret(SigningAlgorithm::HS256, &ClientSecret::new("s")).unwrap();
        let p = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let params = [
            p("client_id", "app"),
            p("scope", "openid"),
            p("max_age", "60"),
            p("resource", "https://a"),
            p("resource", "https://b"),
            p("authorization_details", r#"[{"type":"t"}]"#),
        ];
        let jwt = sign(&params, "app", "https://issuer", &signer, 1000).unwrap();
        let payload = jwt.expose_secret().split('.').nth(1).unwrap().to_owned();
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["max_age"], 60);
        assert_eq!(claims["resource"], serde_json::json!(["https://a", "https://b"]));
        assert_eq!(claims["authorization_details"][0]["type"], "t");
        assert_eq!(claims["iss"], "app");
        assert_eq!(claims["aud"], "https://issuer");
        assert_eq!(claims["exp"], 1300);
        let twice = [p("scope", "a"), p("scope", "b")];
        assert!(sign(&twice, "app", "i", &signer, 0).is_err());
        assert!(sign(&[p("iss", "x")], "app", "i", &signer, 0).is_err());
    }

    #[test]
    fn json_parameters_are_embedded_as_given() {
        let signer = JwsSigner::client_secret(SigningAlgorithm::HS256, &ClientSecret::new("s")).unwrap();
        let details = r#"[{"type": "payment", "zeta": {"b": 1, "a": [2, 1.50]}, "currency": "EUR"}]"#;
        let claims = r#"{"userinfo": {"name": null, "email": {"essential": true}}}"#;
        let params = [
            ("authorization_details".to_owned(), details.to_owned()),
            ("claims".to_owned(), claims.to_owned()),
        ];
        let jwt = sign(&params, "app", "https://issuer", &signer, 1000).unwrap();
        let payload = jwt.expose_secret().split('.').nth(1).unwrap().to_owned();
        let payload = String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        assert!(
            payload.contains(&format!(r#""authorization_details":{details}"#)),
            "{payload}"
        );
        assert!(payload.contains(&format!(r#""claims":{claims}"#)), "{payload}");
        let twice = [
            ("claims".to_owned(), "{}".to_owned()),
            ("claims".to_owned(), "{}".to_owned()),
        ];
        assert!(sign(&twice, "app", "i", &signer, 0).is_err());
        let bad = [("claims".to_owned(), "{".to_owned())];
        assert!(sign(&bad, "app", "i", &signer, 0).is_err());
    }
}
