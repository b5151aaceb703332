//! Checking id_tokens this provider issued, for `validate_token` and for `id_token_hint`.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::provider::Provider;

/// Why an id_token was refused; the two messages Authing answers with.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum IdTokenProblem {
    /// Not a JWT at all ("id_token 格式有误").
    Malformed,
    /// A JWT that does not verify ("id_token 不合法").
    Invalid,
}

/// Verifies signature, `iss`, and `aud` (a registered client); `exp` only when `check_exp`
/// (an expired `id_token_hint` is still a valid hint, OIDC RP-Initiated Logout §2).
/// Returns the claims and the audience client id.
pub(crate) fn verify_id_token(
    provider: &Provider,
    token: &str,
    check_exp: bool,
) -> Result<(Value, String), IdTokenProblem> {
    if token.split('.').count() != 3 {
        return Err(IdTokenProblem::Malformed);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| IdTokenProblem::Malformed)?;
    // Read aud unverified only to pick the client whose key (or secret) must verify it.
    let unverified: Value =
        jsonwebtoken::dangerous::insecure_decode_claims(token).map_err(|_| IdTokenProblem::Malformed)?;
    let client_id = match &unverified["aud"] {
        Value::String(aud) => aud.clone(),
        Value::Array(auds) => auds
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => return Err(IdTokenProblem::Invalid),
    };
    let client = provider.client(&client_id).ok_or(IdTokenProblem::Invalid)?;
    let key = match header.alg {
        Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256 => {
            let keys = provider.keys();
            let kid = header.kid.as_deref().ok_or(IdTokenProblem::Invalid)?;
            keys.decoding_key(header.alg, kid)
                .ok_or(IdTokenProblem::Invalid)?
                .clone()
        }
        Algorithm::HS256 => {
            let secret = client.secret.as_deref().ok_or(IdTokenProblem::Invalid)?;
            DecodingKey::from_secret(secret.as_bytes())
        }
        _ => return Err(IdTokenProblem::Invalid),
    };
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[&provider.issuer]);
    validation.set_audience(&[&client_id]);
    validation.validate_exp = check_exp;
    validation.set_required_spec_claims(&["iss", "aud", "sub"]);
    let data =
        jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|_| IdTokenProblem::Invalid)?;
    Ok((data.claims, client_id))
}
