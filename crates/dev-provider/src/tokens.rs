//! Minting access tokens, id_tokens and refresh tokens, and the token response that carries
//! them, with the configured faults applied.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::Error;
use crate::claims::{has_scope, user_claims};
use crate::config::{ClientRegistration, GrantType, IdTokenAlg};
use crate::faults::{IdTokenFault, TokenResponseFault};
use crate::keys::{corrupt_signature, sign_hs256, unsigned_jwt};
use crate::provider::Provider;
use crate::store::{AccessTokenRecord, Grant, RefreshTokenRecord, Store, now, random_string};

/// Issuer used by the wrong-issuer faults.
pub(crate) const ATTACKER_ISSUER: &str = "https://attacker.example/oidc";

/// `at_hash`: the left half of the hash of the access token, the hash chosen by the JWS
/// algorithm's size ([OIDC Core §3.1.3.6](https://openid.net/specs/openid-connect-core-1_0.html#CodeIDToken)).
pub(crate) fn at_hash(alg: &str, access_token: &str) -> String {
    let digest: Vec<u8> = if alg.ends_with("384") {
        Sha384::digest(access_token.as_bytes()).to_vec()
    } else if alg.ends_with("512") {
        Sha512::digest(access_token.as_bytes()).to_vec()
    } else {
        Sha256::digest(access_token.as_bytes()).to_vec()
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// Mints a JWT access token (the shape of Authing's: jti, sub, iat, exp, scope, iss, aud) and
/// records it so it can be introspected and revoked.
pub(crate) fn mint_access_token(
    provider: &Provider,
    store: &mut Store,
    grant_id: Option<&str>,
    client_id: &str,
    sub: &str,
    scope: &str,
    jkt: Option<&str>,
) -> Result<String, Error> {
    let iat = now();
    let exp = iat + provider.config.access_token_lifetime.as_secs();
    let jti = random_string(16);
    let mut claims = json!({
        "jti": jti, "sub": sub, "iat": iat, "exp": exp, "scope": scope,
        "iss": provider.issuer, "aud": client_id,
    });
    if let Some(jkt) = jkt {
        // RFC 9449 §6.1: the token names the key it is bound to.
        claims["cnf"] = json!({"jkt": jkt});
    }
    let token = provider.keys().sign_rs256(&claims, None)?;
    store.access_tokens.insert(
        token.clone(),
        AccessTokenRecord {
            grant_id: grant_id.map(str::to_owned),
            client_id: client_id.to_owned(),
            sub: sub.to_owned(),
            scope: scope.to_owned(),
            jti,
            iat,
            exp,
            revoked: false,
            jkt: jkt.map(str::to_owned),
        },
    );
    Ok(token)
}

/// Mints the id_token for `grant`, bound to `access_token` by `at_hash`.
fn mint_id_token(
    provider: &Provider,
    client: &ClientRegistration,
    grant: &Grant,
    scope: &str,
    access_token: &str,
    from_refresh: bool,
) -> Result<String, Error> {
    let iat = now();
    let alg = client.id_token_signed_response_alg;
    let mut claims = Map::new();
    if let Some(user) = provider.user_by_sub(&grant.sub) {
        claims.extend(user_claims(user, scope));
    }
    claims.insert("iss".into(), json!(provider.issuer));
    claims.insert("sub".into(), json!(grant.sub));
    claims.insert("aud".into(), json!(client.app_id));
    claims.insert(
        "exp".into(),
        json!(iat + provider.config.id_token_lifetime.as_secs()),
    );
    claims.insert("iat".into(), json!(iat));
    // A refreshed id_token keeps the original auth_time and nonce (OIDC Core §12.2).
    claims.insert("auth_time".into(), json!(grant.auth_time));
    if let Some(nonce) = &grant.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    claims.insert("at_hash".into(), json!(at_hash(alg.as_str(), access_token)));

    let fault = provider.faults.id_token();
    if let Some(fault) = fault {
        apply_claim_fault(&mut claims, fault, &client.app_id, alg, from_refresh);
    }
    let claims = Value::Object(claims);
    let kid_override = (fault == Some(IdTokenFault::UnknownKid)).then_some("unknown-kid");
    let jwt = match (fault, alg) {
        (Some(IdTokenFault::AlgNone), _) => return Ok(unsigned_jwt(&claims)),
        (_, IdTokenAlg::RS256) => provider.keys().sign_rs256(&claims, kid_override)?,
        (_, IdTokenAlg::PS256) => {
            provider
                .keys()
                .sign_fapi(jsonwebtoken::Algorithm::PS256, &claims, kid_override)?
        }
        (_, IdTokenAlg::ES256) => {
            provider
                .keys()
                .sign_fapi(jsonwebtoken::Algorithm::ES256, &claims, kid_override)?
        }
        (_, IdTokenAlg::HS256) => {
            let secret = client.secret.as_deref().unwrap_or_default();
            sign_hs256(&claims, secret)?
        }
    };
    Ok(if fault == Some(IdTokenFault::BadSignature) {
        corrupt_signature(&jwt)
    } else {
        jwt
    })
}

fn apply_claim_fault(
    claims: &mut Map<String, Value>,
    fault: IdTokenFault,
    client_id: &str,
    alg: IdTokenAlg,
    from_refresh: bool,
) {
    let now = now();
    match fault {
        IdTokenFault::WrongIssuer => {
            claims.insert("iss".into(), json!(ATTACKER_ISSUER));
        }
        IdTokenFault::WrongAudience => {
            claims.insert("aud".into(), json!("another-client"));
        }
        IdTokenFault::ExtraUntrustedAudience => {
            claims.insert("aud".into(), json!([client_id, "untrusted-audience"]));
        }
        IdTokenFault::AzpMismatch => {
            claims.insert("azp".into(), json!("another-client"));
        }
        IdTokenFault::Expired => {
            claims.insert("iat".into(), json!(now.saturating_sub(7200)));
            claims.insert("exp".into(), json!(now.saturating_sub(3600)));
        }
        IdTokenFault::MissingIat => {
            claims.remove("iat");
        }
        IdTokenFault::MissingSub => {
            claims.remove("sub");
        }
        IdTokenFault::WrongNonce => {
            claims.insert("nonce".into(), json!("wrong-nonce"));
        }
        IdTokenFault::MissingNonce => {
            claims.remove("nonce");
        }
        IdTokenFault::WrongAtHash => {
            claims.insert(
                "at_hash".into(),
                json!(at_hash(alg.as_str(), "some other access token")),
            );
        }
        IdTokenFault::DifferentSubOnRefresh if from_refresh => {
            let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
            claims.insert("sub".into(), json!(format!("different-{sub}")));
        }
        // Header and signature faults are applied while signing.
        IdTokenFault::DifferentSubOnRefresh
        | IdTokenFault::BadSignature
        | IdTokenFault::AlgNone
        | IdTokenFault::UnknownKid => {}
    }
}

/// Issues the tokens of `grant_id` for `scope` and returns the token response body:
/// access_token, token_type, expires_in, scope, plus id_token when `openid` is granted and a
/// rotated refresh_token when `offline_access` is (Authing issues one whenever it is granted).
pub(crate) fn issue_for_grant(
    provider: &Provider,
    store: &mut Store,
    grant_id: &str,
    scope: &str,
    from_refresh: bool,
    jkt: Option<&str>,
) -> Result<Value, Error> {
    let grant = store
        .grants
        .get(grant_id)
        .cloned()
        .ok_or_else(|| Error::Internal("grant vanished".into()))?;
    let client = provider
        .client(&grant.client_id)
        .ok_or_else(|| Error::Internal(format!("client {} is gone", grant.client_id)))?;
    let access_token = mint_access_token(
        provider,
        store,
        Some(grant_id),
        &client.app_id,
        &grant.sub,
        scope,
        jkt,
    )?;
    let mut body = Map::new();
    if has_scope(scope, "openid") {
        let id_token = mint_id_token(provider, client, &grant, scope, &access_token, from_refresh)?;
        body.insert("id_token".into(), json!(id_token));
    }
    if has_scope(scope, "offline_access") && client.grant_types.contains(&GrantType::RefreshToken) {
        let refresh_token = random_string(32);
        let iat = now();
        store.refresh_tokens.insert(
            refresh_token.clone(),
            RefreshTokenRecord {
                grant_id: grant_id.to_owned(),
                client_id: client.app_id.clone(),
                jti: random_string(16),
                iat,
                exp: iat + provider.config.refresh_token_lifetime.as_secs(),
                rotated: false,
                revoked: false,
                // RFC 9449 §5: a public client's refresh token is bound to its key as well.
                jkt: jkt.filter(|_| client.is_public()).map(str::to_owned),
            },
        );
        body.insert("refresh_token".into(), json!(refresh_token));
    }
    body.insert("access_token".into(), json!(access_token));
    let mut body = finish_token_response(provider, body, scope);
    if jkt.is_some() && body["token_type"] == "Bearer" {
        body["token_type"] = json!("DPoP");
    }
    Ok(body)
}

/// Adds the common members and applies the token response faults.
pub(crate) fn finish_token_response(provider: &Provider, mut body: Map<String, Value>, scope: &str) -> Value {
    body.insert("token_type".into(), json!("Bearer"));
    body.insert(
        "expires_in".into(),
        json!(provider.config.access_token_lifetime.as_secs()),
    );
    body.insert("scope".into(), json!(scope));
    match provider.faults.token_response() {
        Some(TokenResponseFault::MissingAccessToken) => {
            body.remove("access_token");
        }
        Some(TokenResponseFault::TokenTypeMac) => {
            body.insert("token_type".into(), json!("mac"));
        }
        Some(TokenResponseFault::RefreshInvalidGrant) | None => {}
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_oidc_example() {
        // OIDC Core A.3: access token "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y" -> "77QmUPtjPfzWtF2AnpK9RQ"
        assert_eq!(
            at_hash("RS256", "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_ne!(at_hash("RS512", "x"), at_hash("RS256", "x"));
    }
}
