//! Client authentication at the token, introspection and revocation endpoints, enforcing the
//! method each client registered ([RFC 6749 §2.3](https://www.rfc-editor.org/rfc/rfc6749#section-2.3)).
//!
//! Real providers often accept any method; this one does not, so that an SDK sending
//! credentials the wrong way fails its tests here rather than in production.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::config::{ClientAuthMethod, ClientRegistration};
use crate::params::{Params, decode_form_component};
use crate::provider::Provider;

/// Which endpoint is authenticating, to pick the registered method.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Endpoint {
    Token,
    Introspection,
    Revocation,
}

/// Why authentication failed; every case answers `invalid_client` (401).
#[derive(Debug)]
pub(crate) struct AuthFailure {
    pub(crate) description: &'static str,
    /// The client tried HTTP Basic, so RFC 6749 §5.2 wants `WWW-Authenticate: Basic`.
    pub(crate) used_basic: bool,
}

/// Credentials taken from an HTTP Basic header, decoded per RFC 6749 §2.3.1.
struct BasicCredentials {
    client_id: String,
    secret: String,
}

/// `Ok(None)` without a Basic header; `Err` for a Basic header that does not decode.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<BasicCredentials>, &'static str> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| "malformed Authorization header")?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err("malformed Authorization header");
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err("unsupported Authorization scheme");
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| "Basic credentials are not base64")?;
    let decoded = String::from_utf8(decoded).map_err(|_| "Basic credentials are not UTF-8")?;
    let (id, secret) = decoded.split_once(':').ok_or("Basic credentials have no ':'")?;
    // Both halves are form-urlencoded before base64 (RFC 6749 §2.3.1); a client that skipped
    // that step fails here or on the secret comparison.
    let client_id =
        decode_form_component(id).ok_or("client_id in Basic credentials is not form-urlencoded")?;
    let secret =
        decode_form_component(secret).ok_or("client_secret in Basic credentials is not form-urlencoded")?;
    Ok(Some(BasicCredentials { client_id, secret }))
}

/// Compares without an early exit, so timing does not reveal how much of a secret matched.
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Authenticates the client of a request to `endpoint` by the method it registered.
pub(crate) fn authenticate<'p>(
    provider: &'p Provider,
    endpoint: Endpoint,
    headers: &HeaderMap,
    form: &Params,
) -> Result<&'p ClientRegistration, AuthFailure> {
    let basic = basic_credentials(headers).map_err(|description| AuthFailure {
        description,
        used_basic: true,
    })?;
    let used_basic = basic.is_some();
    let fail = |description| AuthFailure {
        description,
        used_basic,
    };
    let body_id = form.get("client_id");
    let client_id = match (&basic, body_id) {
        (Some(b), Some(id)) if b.client_id != id => {
            return Err(fail("client_id in the body differs from the Basic credentials"));
        }
        (Some(b), _) => b.client_id.as_str(),
        (None, Some(id)) => id,
        (None, None) => return Err(fail("no client authentication")),
    };
    let client = provider.client(client_id).ok_or_else(|| fail("unknown client"))?;
    let method = match endpoint {
        Endpoint::Token => client.token_endpoint_auth_method,
        Endpoint::Introspection => client.introspection_method(),
        Endpoint::Revocation => client.revocation_method(),
    };
    let registered = client.secret.as_deref().unwrap_or_default();
    let body_secret = form.contains("client_secret");
    match method {
        ClientAuthMethod::ClientSecretPost => {
            if used_basic {
                return Err(fail("client is registered for client_secret_post, not Basic"));
            }
            let secret = form
                .get("client_secret")
                .ok_or_else(|| fail("client_secret missing"))?;
            if !constant_time_eq(secret, registered) {
                return Err(fail("client authentication failed"));
            }
        }
        ClientAuthMethod::ClientSecretBasic => {
            let Some(basic) = &basic else {
                return Err(fail("client is registered for client_secret_basic"));
            };
            if body_secret {
                return Err(fail(
                    "client_secret_basic clients must not send client_secret in the body",
                ));
            }
            if !constant_time_eq(&basic.secret, registered) {
                return Err(fail("client authentication failed"));
            }
        }
        ClientAuthMethod::None => {
            if used_basic || body_secret {
                return Err(fail("public client must not send a secret"));
            }
        }
        ClientAuthMethod::ClientSecretJwt | ClientAuthMethod::PrivateKeyJwt => {
            if used_basic || body_secret {
                return Err(fail("a JWT-authenticated client must not send a secret"));
            }
            check_assertion(provider, client, method, form).map_err(fail)?;
        }
    }
    Ok(client)
}

/// `client_assertion_type` of RFC 7523 §2.2.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// RFC 7523 §3: the assertion's signature (HS256 with the secret, or a key of the client's
/// `jwks`), `iss` = `sub` = the client id, `aud` the issuer or the token endpoint, `exp` in the
/// future, a `jti`.
fn check_assertion(
    provider: &Provider,
    client: &ClientRegistration,
    method: ClientAuthMethod,
    form: &Params,
) -> Result<(), &'static str> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    if form.get("client_assertion_type") != Some(JWT_BEARER) {
        return Err("client_assertion_type must be jwt-bearer");
    }
    let assertion = form.get("client_assertion").ok_or("client_assertion missing")?;
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| "client_assertion is not a JWT")?;
    let key = if method == ClientAuthMethod::ClientSecretJwt {
        if header.alg != Algorithm::HS256 {
            return Err("client_secret_jwt must be HS256");
        }
        DecodingKey::from_secret(client.secret.as_deref().unwrap_or_default().as_bytes())
    } else {
        if matches!(header.alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return Err("private_key_jwt must be signed with a private key");
        }
        let set: jsonwebtoken::jwk::JwkSet = client
            .jwks
            .clone()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or("the client has no usable jwks")?;
        let jwk = match &header.kid {
            Some(kid) => set.find(kid).ok_or("no registered key has this kid")?,
            None if set.keys.len() == 1 => &set.keys[0],
            None => return Err("several registered keys and no kid"),
        };
        DecodingKey::from_jwk(jwk).map_err(|_| "the registered key is unusable")?
    };
    let mut validation = Validation::new(header.alg);
    let token_endpoint = format!("{}/token", provider.issuer);
    validation.set_audience(&[provider.issuer.as_str(), token_endpoint.as_str()]);
    validation.set_issuer(&[client.app_id.as_str()]);
    validation.sub = Some(client.app_id.clone());
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud", "jti"]);
    jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &validation)
        .map_err(|_| "client_assertion is invalid (signature, iss, sub, aud or exp)")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_halves_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("my%3Aapp:a+b%25");
        headers.insert(AUTHORIZATION, format!("Basic {encoded}").parse().unwrap());
        let creds = basic_credentials(&headers).unwrap().unwrap();
        assert_eq!(creds.client_id, "my:app");
        assert_eq!(creds.secret, "a b%");
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
