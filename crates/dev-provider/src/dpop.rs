//! DPoP proofs (RFC 9449 §4.3) as this provider checks them: signature by the embedded `jwk`,
//! `typ`, `htm`, `htu`, a recent `iat`, a `jti` not seen before, `ath` for resource requests,
//! and — when [`DevProviderConfig::require_dpop_nonce`](crate::DevProviderConfig) is on — the
//! provider's current nonce (§8). The proof's key thumbprint (RFC 7638) is what tokens are
//! bound to (`cnf.jkt`, §6).

use aws_lc_rs::signature::{self as sig, UnparsedPublicKey};
use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::provider::Provider;
use crate::store::now;

/// How far a proof's `iat` may be from now.
const IAT_WINDOW_SECS: u64 = 60;

/// A proof that passed every check.
pub(crate) struct Proof {
    /// The RFC 7638 thumbprint of its key.
    pub(crate) jkt: String,
}

/// Why a proof was refused: `use_dpop_nonce` (send the nonce) or `invalid_dpop_proof`.
pub(crate) enum ProofError {
    UseNonce,
    Invalid(&'static str),
}

impl ProofError {
    pub(crate) fn code(&self) -> &'static str {
        match self {
            ProofError::UseNonce => "use_dpop_nonce",
            ProofError::Invalid(_) => "invalid_dpop_proof",
        }
    }

    pub(crate) fn description(&self) -> &'static str {
        match self {
            ProofError::UseNonce => "a DPoP nonce is required: use the DPoP-Nonce header's",
            ProofError::Invalid(why) => why,
        }
    }
}

/// The proof in `headers` for `htm htu` (none: `Ok(None)`), checked.
pub(crate) fn check(
    provider: &Provider,
    headers: &HeaderMap,
    htm: &str,
    htu: &str,
    access_token: Option<&str>,
) -> Result<Option<Proof>, ProofError> {
    let mut values = headers.get_all("dpop").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ProofError::Invalid("more than one DPoP header"));
    }
    let proof = value
        .to_str()
        .map_err(|_| ProofError::Invalid("the proof is not ASCII"))?;
    let mut parts = proof.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(ProofError::Invalid("the proof is not a compact JWS"));
    };
    let json =
        |part: &str| -> Option<Value> { serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok() };
    let (Some(header), Some(claims)) = (json(h), json(p)) else {
        return Err(ProofError::Invalid("the proof's header or claims are not JSON"));
    };
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| ProofError::Invalid("the signature is not base64url"))?;
    if header["typ"] != "dpop+jwt" {
        return Err(ProofError::Invalid("typ is not dpop+jwt"));
    }
    let jwk = header["jwk"]
        .as_object()
        .ok_or(ProofError::Invalid("no jwk in the header"))?;
    if ["d", "p", "q", "dp", "dq", "qi", "k"]
        .iter()
        .any(|m| jwk.contains_key(*m))
    {
        return Err(ProofError::Invalid("the jwk holds a private key"));
    }
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let bytes = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
    };
    let message = format!("{h}.{p}");
    let (verified, canonical) = match (header["alg"].as_str(), jwk.get("kty").and_then(Value::as_str)) {
        (Some("ES256"), Some("EC")) if jwk.get("crv").and_then(Value::as_str) == Some("P-256") => {
            let (Some(x), Some(y)) = (bytes("x"), bytes("y")) else {
                return Err(ProofError::Invalid("the EC jwk lacks x or y"));
            };
            let point = [&[4u8][..], &x, &y].concat();
            let ok = UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, &point)
                .verify(message.as_bytes(), &signature)
                .is_ok();
            let c = format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                text(&jwk["x"]).unwrap_or_default(),
                text(&jwk["y"]).unwrap_or_default()
            );
            (ok, c)
        }
        (Some("EdDSA"), Some("OKP")) if jwk.get("crv").and_then(Value::as_str) == Some("Ed25519") => {
            let x = bytes("x").ok_or(ProofError::Invalid("the OKP jwk lacks x"))?;
            let ok = UnparsedPublicKey::new(&sig::ED25519, &x)
                .verify(message.as_bytes(), &signature)
                .is_ok();
            let c = format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                text(&jwk["x"]).unwrap_or_default()
            );
            (ok, c)
        }
        (Some("PS256"), Some("RSA")) => {
            let (Some(n), Some(e)) = (bytes("n"), bytes("e")) else {
                return Err(ProofError::Invalid("the RSA jwk lacks n or e"));
            };
            let ok = sig::RsaPublicKeyComponents { n: &n, e: &e }
                .verify(&sig::RSA_PSS_2048_8192_SHA256, message.as_bytes(), &signature)
                .is_ok();
            let c = format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                text(&jwk["e"]).unwrap_or_default(),
                text(&jwk["n"]).unwrap_or_default()
            );
            (ok, c)
        }
        _ => {
            return Err(ProofError::Invalid(
                "alg is not ES256, EdDSA or PS256 with a fitting jwk",
            ));
        }
    };
    if !verified {
        return Err(ProofError::Invalid("the proof's signature does not verify"));
    }
    if claims["htm"] != htm {
        return Err(ProofError::Invalid("htm does not match the request"));
    }
    if claims["htu"].as_str() != Some(htu) {
        return Err(ProofError::Invalid("htu does not match the request"));
    }
    let iat = claims["iat"]
        .as_u64()
        .ok_or(ProofError::Invalid("iat is missing"))?;
    if iat.abs_diff(now()) > IAT_WINDOW_SECS {
        return Err(ProofError::Invalid("iat is not recent"));
    }
    if let Some(token) = access_token {
        let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
        if claims["ath"].as_str() != Some(ath.as_str()) {
            return Err(ProofError::Invalid("ath does not match the access token"));
        }
    }
    if provider.config.require_dpop_nonce && claims["nonce"].as_str() != Some(provider.dpop_nonce.as_str()) {
        return Err(ProofError::UseNonce);
    }
    let jti = claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty())
        .ok_or(ProofError::Invalid("jti is missing"))?;
    // RFC 9449 §11.1: a proof is used once.
    if !provider
        .store()
        .remember_dpop_jti(jti, now() + 2 * IAT_WINDOW_SECS)
    {
        return Err(ProofError::Invalid("the proof was used before (jti replay)"));
    }
    Ok(Some(Proof {
        jkt: URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())),
    }))
}
