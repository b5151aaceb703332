//! Signing keys: RSA-2048 keys generated at start-up (and on rotation), the PS256 and ES256
//! keys of the FAPI clients' id_tokens, their public JWKS, and JWT signing with them or with
//! a client secret.

use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

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

    fn public_jwk(&self, alg: &str) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": alg,
            "kid": self.kid,
            "n": self.n,
            "e": self.e,
        })
    }
}

/// One ECDSA P-256 key (ES256) with its public parts: an id_token signing key of the
/// provider, or the key pair the provider generates for a FAPI client.
pub(crate) struct EcSigningKey {
    pub(crate) kid: String,
    encoding: EncodingKey,
    pub(crate) decoding: DecodingKey,
    x: String,
    y: String,
    /// The private scalar, base64url; only ever shown for a generated client key.
    d: String,
}

impl EcSigningKey {
    /// Generates a fresh P-256 key; its `kid` is the RFC 7638 thumbprint.
    pub(crate) fn generate() -> Result<Self, Error> {
        let failed = |what: &str| Error::Key(format!("P-256 key {what} failed"));
        let pair =
            EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|_| failed("generation"))?;
        let pkcs8 = pair.to_pkcs8v1().map_err(|_| failed("serialisation"))?;
        let d = pair
            .private_key()
            .as_be_bytes()
            .map_err(|_| failed("serialisation"))?;
        // The uncompressed point: 0x04 || x || y, 32 bytes each.
        let point = pair.public_key().as_ref();
        let (Some(x), Some(y)) = (point.get(1..33), point.get(33..65)) else {
            return Err(failed("export"));
        };
        let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        Ok(Self {
            kid: URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())),
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            decoding: DecodingKey::from_ec_components(&x, &y)?,
            x,
            y,
            d: URL_SAFE_NO_PAD.encode(d.as_ref()),
        })
    }

    pub(crate) fn public_jwk(&self) -> Value {
        json!({
            "kty": "EC",
            "crv": "P-256",
            "use": "sig",
            "alg": "ES256",
            "kid": self.kid,
            "x": self.x,
            "y": self.y,
        })
    }

    /// The public JWK with the private scalar `d`: a generated client key, handed out on
    /// purpose (a development key).
    pub(crate) fn private_jwk(&self) -> Value {
        let mut jwk = self.public_jwk();
        jwk["d"] = json!(self.d);
        jwk
    }

    fn sign(&self, claims: &Value, kid: &str) -> Result<String, Error> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.to_owned());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }
}

/// All published keys: the RS256 keys (the last one signs), and the PS256 and ES256 keys when
/// a client's id_tokens use them.
pub(crate) struct KeyRing {
    keys: Vec<RsaSigningKey>,
    ps256: Option<RsaSigningKey>,
    es256: Option<EcSigningKey>,
}

impl KeyRing {
    pub(crate) fn new(first: RsaSigningKey) -> Self {
        Self {
            keys: vec![first],
            ps256: None,
            es256: None,
        }
    }

    /// Adds the key that signs PS256 id_tokens.
    pub(crate) fn with_ps256(mut self, key: RsaSigningKey) -> Self {
        self.ps256 = Some(key);
        self
    }

    /// Adds the key that signs ES256 id_tokens.
    pub(crate) fn with_es256(mut self, key: EcSigningKey) -> Self {
        self.es256 = Some(key);
        self
    }

    /// Adds a key that signs from now on; older keys stay published so tokens they signed
    /// still verify (the rotation the SDK must handle without restarting).
    pub(crate) fn push(&mut self, key: RsaSigningKey) {
        self.keys.push(key);
    }

    pub(crate) fn current(&self) -> Option<&RsaSigningKey> {
        self.keys.last()
    }

    /// The public key `kid` names for `alg` (RS256, PS256 or ES256), current or rotated out.
    pub(crate) fn decoding_key(&self, alg: Algorithm, kid: &str) -> Option<&DecodingKey> {
        match alg {
            Algorithm::RS256 => self.keys.iter().find(|k| k.kid == kid).map(|k| &k.decoding),
            Algorithm::PS256 => self.ps256.as_ref().filter(|k| k.kid == kid).map(|k| &k.decoding),
            Algorithm::ES256 => self.es256.as_ref().filter(|k| k.kid == kid).map(|k| &k.decoding),
            _ => None,
        }
    }

    pub(crate) fn jwks(&self) -> Value {
        let mut keys: Vec<Value> = self.keys.iter().map(|k| k.public_jwk("RS256")).collect();
        keys.extend(self.ps256.iter().map(|k| k.public_jwk("PS256")));
        keys.extend(self.es256.iter().map(EcSigningKey::public_jwk));
        json!({ "keys": keys })
    }

    /// Signs `claims` PS256 or ES256 with that algorithm's key, `kid` in the header unless
    /// `kid_override` replaces it.
    pub(crate) fn sign_fapi(
        &self,
        alg: Algorithm,
        claims: &Value,
        kid_override: Option<&str>,
    ) -> Result<String, Error> {
        let missing = || Error::Key(format!("no {alg:?} signing key"));
        match alg {
            Algorithm::PS256 => {
                let key = self.ps256.as_ref().ok_or_else(missing)?;
                let mut header = Header::new(Algorithm::PS256);
                header.kid = Some(kid_override.unwrap_or(&key.kid).to_owned());
                Ok(jsonwebtoken::encode(&header, claims, &key.encoding)?)
            }
            Algorithm::ES256 => {
                let key = self.es256.as_ref().ok_or_else(missing)?;
                key.sign(claims, kid_override.unwrap_or(&key.kid))
            }
            _ => Err(missing()),
        }
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
    fn fapi_keys_sign_verify_and_publish_no_private_parts() {
        let ring = KeyRing::new(RsaSigningKey::generate().unwrap())
            .with_ps256(RsaSigningKey::generate().unwrap())
            .with_es256(EcSigningKey::generate().unwrap());
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        for alg in [Algorithm::PS256, Algorithm::ES256] {
            let jwt = ring.sign_fapi(alg, &json!({"sub": "x"}), None).unwrap();
            let header = jsonwebtoken::decode_header(&jwt).unwrap();
            assert_eq!(header.alg, alg);
            let kid = header.kid.unwrap();
            let key = ring.decoding_key(alg, &kid).unwrap();
            validation.algorithms = vec![alg];
            assert!(jsonwebtoken::decode::<Value>(&jwt, key, &validation).is_ok());
            assert!(jsonwebtoken::decode::<Value>(&corrupt_signature(&jwt), key, &validation).is_err());
            // A kid of another algorithm's key finds nothing.
            assert!(ring.decoding_key(Algorithm::RS256, &kid).is_none());
        }
        let jwks = ring.jwks();
        let algs: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["alg"].as_str().unwrap())
            .collect();
        assert_eq!(algs, ["RS256", "PS256", "ES256"]);
        assert!(
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .all(|k| k.get("d").is_none())
        );
    }

    #[test]
    fn a_generated_client_key_verifies_through_its_public_jwk() {
        let key = EcSigningKey::generate().unwrap();
        let private = key.private_jwk();
        assert_eq!(private["kid"], key.kid);
        assert!(private["d"].as_str().unwrap().len() == 43, "32 bytes, base64url");
        let jwt = key.sign(&json!({"sub": "x"}), &key.kid).unwrap();
        let public: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let decoding = DecodingKey::from_jwk(&public).unwrap();
        assert!(jsonwebtoken::decode::<Value>(&jwt, &decoding, &validation).is_ok());
        // The kid is the RFC 7638 thumbprint of the public key.
        assert_eq!(public.thumbprint(ThumbprintHash::SHA256).unwrap(), key.kid);
    }

    #[test]
    fn der_reader_refuses_truncated_input() {
        assert!(der_tlv(&[0x30, 0x05, 0x01]).is_none());
        assert!(pkcs1_from_pkcs8(&[0x04, 0x00]).is_none());
    }
}
