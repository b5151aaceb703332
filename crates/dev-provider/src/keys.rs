//! Signing keys: RSA-2048 keys generated at start-up (and on rotation), their public JWKS,
//! and JWT signing with them or with a client secret.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{Value, json};

use crate::Error;

/// One RSA signing key with its public parts.
pub(crate) struct RsaSigningKey {
    pub(crate) kid: String,
    encoding: EncodingKey,
    pub(crate) decoding: DecodingKey,
    n: String,
    e: String,
}

impl RsaSigningKey {
    /// Generates a fresh RSA-2048 key; its `kid` is the RFC 7638 thumbprint, so it is unique
    /// and stable for the key's life.
    pub(crate) fn generate() -> Result<Self, Error> {
        let pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| Error::Key("RSA key generation failed".into()))?;
        let pkcs8 = pair
            .as_der()
            .map_err(|_| Error::Key("RSA key serialisation failed".into()))?;
        // jsonwebtoken's aws-lc backend wants PKCS#1 (RSAPrivateKey) DER; aws-lc-rs exports
        // PKCS#8, which wraps exactly that structure in an OCTET STRING.
        let pkcs1 =
            pkcs1_from_pkcs8(pkcs8.as_ref()).ok_or_else(|| Error::Key("unexpected PKCS#8 layout".into()))?;
        let encoding = EncodingKey::from_rsa_der(pkcs1);
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256)?;
        let (n, e) = match &jwk.algorithm {
            AlgorithmParameters::RSA(rsa) => (rsa.n.clone(), rsa.e.clone()),
            _ => return Err(Error::Key("generated key is not RSA".into())),
        };
        let kid = jwk.thumbprint(ThumbprintHash::SHA256)?;
        let decoding = DecodingKey::from_rsa_components(&n, &e)?;
        Ok(Self {
            kid,
            encoding,
            decoding,
            n,
            e,
        })
    }

    fn public_jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": self.n,
            "e": self.e,
        })
    }
}

/// All published keys; the last one signs.
pub(crate) struct KeyRing {
    keys: Vec<RsaSigningKey>,
}

impl KeyRing {
    pub(crate) fn new(first: RsaSigningKey) -> Self {
        Self { keys: vec![first] }
    }

    /// Adds a key that signs from now on; older keys stay published so tokens they signed
    /// still verify (the rotation the SDK must handle without restarting).
    pub(crate) fn push(&mut self, key: RsaSigningKey) {
        self.keys.push(key);
    }

    pub(crate) fn current(&self) -> Option<&RsaSigningKey> {
        self.keys.last()
    }

    pub(crate) fn find(&self, kid: &str) -> Option<&RsaSigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    pub(crate) fn jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(RsaSigningKey::public_jwk).collect::<Vec<_>>() })
    }

    /// Signs `claims` with the current RSA key, `kid` in the header unless `kid_override`
    /// replaces it (the unknown-kid fault).
    pub(crate) fn sign_rs256(&self, claims: &Value, kid_override: Option<&str>) -> Result<String, Error> {
        let key = self
            .current()
            .ok_or_else(|| Error::Key("no signing key".into()))?;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid_override.unwrap_or(&key.kid).to_owned());
        Ok(jsonwebtoken::encode(&header, claims, &key.encoding)?)
    }
}

/// Signs `claims` with HS256 keyed by a client secret; no `kid`, as Authing does.
pub(crate) fn sign_hs256(claims: &Value, secret: &str) -> Result<String, Error> {
    let header = Header::new(Algorithm::HS256);
    Ok(jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )?)
}

/// An unsigned JWT (`alg: none`), which every relying party must refuse.
pub(crate) fn unsigned_jwt(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// Flips bits in the signature so the JWT no longer verifies but still parses.
pub(crate) fn corrupt_signature(jwt: &str) -> String {
    let Some((signed, signature)) = jwt.rsplit_once('.') else {
        return jwt.to_owned();
    };
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap_or_default();
    match bytes.first_mut() {
        Some(b) => *b ^= 0xff,
        None => bytes.push(0),
    }
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Extracts the RSAPrivateKey from a PKCS#8 PrivateKeyInfo:
/// `SEQUENCE { INTEGER version, SEQUENCE algorithm, OCTET STRING privateKey, ... }`.
fn pkcs1_from_pkcs8(der: &[u8]) -> Option<&[u8]> {
    let (tag, body, _) = der_tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, _, rest) = der_tlv(body)?;
    if tag != 0x02 {
        return None;
    }
    let (tag, _, rest) = der_tlv(rest)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, key, _) = der_tlv(rest)?;
    (tag == 0x04).then_some(key)
}

/// Splits one DER tag-length-value off the front of `input`: (tag, value, rest).
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (len_bytes, after) = rest.split_at(count);
        rest = after;
        len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    if rest.len() < len {
        return None;
    }
    let (value, rest) = rest.split_at(len);
    Some((tag, value, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_signs_and_verifies() {
        let key = RsaSigningKey::generate().unwrap();
        let ring = KeyRing::new(key);
        let jwt = ring.sign_rs256(&json!({"sub": "x"}), None).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let current = ring.current().unwrap();
        let data = jsonwebtoken::decode::<Value>(&jwt, &current.decoding, &validation).unwrap();
        assert_eq!(data.claims["sub"], "x");
        assert_eq!(data.header.kid.as_deref(), Some(current.kid.as_str()));
        let bad = corrupt_signature(&jwt);
        assert!(jsonwebtoken::decode::<Value>(&bad, &current.decoding, &validation).is_err());
    }

    #[test]
    fn der_reader_refuses_truncated_input() {
        assert!(der_tlv(&[0x30, 0x05, 0x01]).is_none());
        assert!(pkcs1_from_pkcs8(&[0x04, 0x00]).is_none());
    }
}
