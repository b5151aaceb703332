//! Signed request objects ([RFC 9101](https://www.rfc-editor.org/rfc/rfc9101)): the
//! authorization request as the claims of a JWT the client signs with a key of its registered
//! `jwks`, by value at the authorization endpoint (`request=`) or inside a pushed
//! authorization request.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::config::ClientRegistration;
use crate::params::Params;
use crate::provider::Provider;
use crate::store::now;

/// `typ` of a request object (RFC 9101 §10.8); an untyped object is accepted too.
const TYP: &str = "oauth-authz-req+jwt";

/// Claims of the JWT itself, not parameters of the authorization request.
const JWT_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];

/// Verifies `jwt` for `client` and returns the authorization request it carries (RFC 9101
/// §6.3): signed with a private key of the client's `jwks` (never `none`, never a shared
/// secret), `typ` `oauth-authz-req+jwt` when typed, `iss` the client id, `aud` the issuer,
/// `exp` in the future, `nbf` (when present) in the past, `client_id` (when present) the
/// client's, no nested `request` or `request_uri`, and a `jti` not seen before. The error is
/// the `error_description` of an `invalid_request_object` answer.
pub(crate) fn verify(
    provider: &Provider,
    client: &ClientRegistration,
    jwt: &str,
) -> Result<Params, &'static str> {
    let header = jsonwebtoken::decode_header(jwt).map_err(|_| "the request object is not a signed JWT")?;
    if matches!(header.alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
        return Err("the request object must be signed with the client's private key");
    }
    if header
        .typ
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case(TYP))
    {
        return Err("the request object's typ is not oauth-authz-req+jwt");
    }
    let set: JwkSet = client
        .jwks
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or("the client has registered no keys for request objects")?;
    let jwk = match &header.kid {
        Some(kid) => set
            .find(kid)
            .ok_or("no registered key has the request object's kid")?,
        None if set.keys.len() == 1 => &set.keys[0],
        None => return Err("several registered keys and no kid in the request object"),
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|_| "the registered key is unusable")?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[client.app_id.as_str()]);
    validation.set_audience(&[provider.issuer.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.validate_nbf = true;
    validation.leeway = 5;
    let claims = jsonwebtoken::decode::<serde_json::Map<String, Value>>(jwt, &key, &validation)
        .map_err(|_| "the request object does not verify (signature, iss, aud, exp or nbf)")?
        .claims;
    if claims.contains_key("request") || claims.contains_key("request_uri") {
        return Err("a request object cannot hold request or request_uri");
    }
    if claims
        .get("client_id")
        .is_some_and(|id| id.as_str() != Some(client.app_id.as_str()))
    {
        return Err("the request object's client_id is another client's");
    }
    if let Some(jti) = claims.get("jti").and_then(Value::as_str) {
        let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or_else(now);
        let key = format!("{}\u{0}{jti}", client.app_id);
        if !provider.store().remember_request_object_jti(&key, exp) {
            return Err("the request object was used before (jti replay)");
        }
    }
    let pairs = claims
        .into_iter()
        .filter(|(name, _)| !JWT_CLAIMS.contains(&name.as_str()))
        .map(|(name, value)| {
            let text = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (name, text)
        });
    let mut params = Params::from_pairs(pairs);
    params.insert_if_absent("client_id", &client.app_id);
    Ok(params)
}
