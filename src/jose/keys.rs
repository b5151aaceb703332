//! Public keys from a JWK Set (RFC 7517), parsed once into aws-lc verifier
//! keys, and the choice of the key for a token (`kid`, key type, `alg`).

use std::collections::HashMap;
use std::sync::OnceLock;

use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;

use crate::config::SigningAlgorithm;
use crate::error::IdTokenError;

/// The key types this crate verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyType {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyType {
    /// Whether a JWS `alg` may be used with a key of this type (RFC 7518
    /// §3.1, RFC 8037 §3.1); this is what makes algorithm confusion fail.
    pub(crate) fn fits(self, alg: SigningAlgorithm) -> bool {
        use SigningAlgorithm as A;
        match self {
            KeyType::Rsa => rsa_params(alg).is_some(),
            KeyType::P256 => alg == A::ES256,
            KeyType::P384 => alg == A::ES384,
            KeyType::Ed25519 => alg == A::EdDSA,
        }
    }
}

/// The aws-lc parameters of an RSA algorithm, and its slot in [`Material::Rsa`].
fn rsa_params(alg: SigningAlgorithm) -> Option<(usize, &'static RsaParameters)> {
    use SigningAlgorithm as A;
    Some(match alg {
        A::RS256 => (0, &sig::RSA_PKCS1_2048_8192_SHA256),
        A::RS384 => (1, &sig::RSA_PKCS1_2048_8192_SHA384),
        A::RS512 => (2, &sig::RSA_PKCS1_2048_8192_SHA512),
        A::PS256 => (3, &sig::RSA_PSS_2048_8192_SHA256),
        A::PS384 => (4, &sig::RSA_PSS_2048_8192_SHA384),
        A::PS512 => (5, &sig::RSA_PSS_2048_8192_SHA512),
        _ => return None,
    })
}

/// One usable public key.
pub(crate) struct PublicKey {
    pub(crate) kid: Option<String>,
    pub(crate) kty: KeyType,
    /// The JWK's `alg`, when it has one: the only algorithm this key verifies.
    pub(crate) alg: Option<SigningAlgorithm>,
    material: Material,
}

enum Material {
    /// An aws-lc RSA key is bound to one padding and hash, and a JWK without
    /// `alg` may serve any of six: each is parsed on first use and kept.
    Rsa(Box<RsaMaterial>),
    /// EC and Ed25519 keys serve exactly one algorithm, parsed at once.
    Single(ParsedPublicKey),
}

struct RsaMaterial {
    n: Vec<u8>,
    e: Vec<u8>,
    parsed: [OnceLock<Option<ParsedPublicKey>>; 6],
}

impl PublicKey {
    fn fits(&self, alg: SigningAlgorithm) -> bool {
        self.kty.fits(alg) && self.alg.is_none_or(|a| a == alg)
    }

    /// Verifies `signature` over `message` (RFC 7515 §5.2 step 8). The key
    /// must fit `alg` (the lookup made sure of it).
    pub(crate) fn verify(
        &self,
        alg: SigningAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), IdTokenError> {
        let mismatch = || IdTokenError::AlgorithmKeyMismatch {
            alg: alg.as_str().to_owned(),
            kid: self.kid.clone(),
        };
        if !self.fits(alg) {
            return Err(mismatch());
        }
        let key = match &self.material {
            Material::Single(key) => key,
            Material::Rsa(rsa) => {
                let (slot, params) = rsa_params(alg).ok_or_else(mismatch)?;
                rsa.parsed[slot]
                    .get_or_init(|| parse_rsa(&rsa.n, &rsa.e, params))
                    .as_ref()
                    .ok_or_else(mismatch)?
            }
        };
        key.verify_sig(message, signature)
            .map_err(|_| IdTokenError::BadSignature)
    }
}

fn parse_rsa(n: &[u8], e: &[u8], params: &'static RsaParameters) -> Option<ParsedPublicKey> {
    RsaPublicKeyComponents { n, e }.to_parsed_public_key(params).ok()
}

/// The usable keys of one JWK Set, indexed by `kid` so that lookup does not
/// grow with the set.
#[derive(Default)]
pub(crate) struct KeyList {
    keys: Vec<PublicKey>,
    by_kid: HashMap<String, Vec<usize>>,
}

/// What a key list says about a (kid, alg) pair.
pub(crate) enum Lookup<'k> {
    Found(&'k PublicKey),
    /// No key with that kid (or, without kid, no key for the alg): a re-fetch may help.
    Missing,
    Refused(IdTokenError),
}

impl KeyList {
    pub(crate) fn new(keys: Vec<PublicKey>) -> Self {
        let mut by_kid: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, key) in keys.iter().enumerate() {
            if let Some(kid) = &key.kid {
                by_kid.entry(kid.clone()).or_default().push(i);
            }
        }
        KeyList { keys, by_kid }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn kids(&self) -> impl Iterator<Item = &str> {
        self.by_kid.keys().map(String::as_str)
    }

    /// The key for a token's `kid` and `alg` (OIDC Core §10.1: with one key
    /// the `kid` may be absent; with several it must say which).
    pub(crate) fn lookup(&self, kid: Option<&str>, alg: SigningAlgorithm) -> Lookup<'_> {
        match kid {
            Some(kid) => {
                let Some(named) = self.by_kid.get(kid) else {
                    return Lookup::Missing;
                };
                match named.iter().map(|&i| &self.keys[i]).find(|k| k.fits(alg)) {
                    Some(key) => Lookup::Found(key),
                    // The kid exists but is of another type (or pinned to another alg).
                    None => Lookup::Refused(IdTokenError::AlgorithmKeyMismatch {
                        alg: alg.as_str().to_owned(),
                        kid: Some(kid.to_owned()),
                    }),
                }
            }
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.fits(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Lookup::Found(key),
                    (Some(_), Some(_)) => Lookup::Refused(IdTokenError::AmbiguousKey),
                    (None, _) => Lookup::Missing,
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct JwkSetDocument {
    keys: Vec<Value>,
}

/// The members of a JWK this crate reads (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2).
#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    key_ops: Option<Vec<String>>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

/// Parses a JWK Set document into usable keys, skipping the rest.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<KeyList, IdTokenError> {
    let doc: JwkSetDocument = serde_json::from_slice(body)
        .map_err(|e| IdTokenError::Jwks(format!("the JWKS is not a JSON object with a keys array: {e}")))?;
    let total = doc.keys.len();
    let keys: Vec<PublicKey> = doc
        .keys
        .into_iter()
        .filter_map(|value| match parse_jwk(value) {
            Ok(key) => Some(key),
            Err(why) => {
                tracing::debug!(reason = why, "JWKS key skipped");
                None
            }
        })
        .collect();
    if keys.len() < total {
        tracing::debug!(usable = keys.len(), total, "some JWKS keys were skipped");
    }
    Ok(KeyList::new(keys))
}

/// One JWK as a usable public key, or why it is not one (a JWKS member, or a
/// DPoP proof's `jwk` header).
pub(crate) fn parse_jwk(value: Value) -> Result<PublicKey, &'static str> {
    let jwk: RawJwk = serde_json::from_value(value).map_err(|_| "not a JWK")?;
    // RFC 7517 §4.2, §4.3: a key for encryption must not verify signatures.
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return Err("use is not sig");
    }
    if jwk
        .key_ops
        .as_ref()
        .is_some_and(|ops| !ops.iter().any(|o| o == "verify"))
    {
        return Err("key_ops lacks verify");
    }
    let alg = match jwk.alg.as_deref() {
        None => None,
        Some(a) => {
            let alg: SigningAlgorithm = a.parse().map_err(|_| "alg not on the allow-list")?;
            // RFC 8725 §3.1: an HMAC key from a public document would let anyone sign.
            if alg.is_symmetric() {
                return Err("HS* keys are never taken from a JWKS");
            }
            Some(alg)
        }
    };
    let field = |v: &Option<String>| -> Result<Vec<u8>, &'static str> {
        let v = v.as_deref().ok_or("missing key member")?;
        URL_SAFE_NO_PAD
            .decode(v)
            .map_err(|_| "key member is not base64url")
    };
    let (kty, material) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RSA", _) => {
            let n = field(&jwk.n)?;
            let e = field(&jwk.e)?;
            let significant = n.iter().skip_while(|b| **b == 0).count();
            // aws-lc verifies 2048..=8192-bit moduli only; smaller ones are unsafe anyway.
            if !(256..=1024).contains(&significant) || e.is_empty() || e.len() > 8 {
                return Err("RSA key size outside 2048..=8192 bits");
            }
            let parsed: [OnceLock<Option<ParsedPublicKey>>; 6] = Default::default();
            // Parse the key's own (or the commonest) algorithm now, so a broken key is skipped
            // here rather than failing a verification later.
            let (slot, params) =
                rsa_params(alg.unwrap_or(SigningAlgorithm::RS256)).ok_or("alg does not fit kty")?;
            let first = parse_rsa(&n, &e, params).ok_or("RSA key does not parse")?;
            let _ = parsed[slot].set(Some(first));
            (
                KeyType::Rsa,
                Material::Rsa(Box::new(RsaMaterial { n, e, parsed })),
            )
        }
        ("EC", Some(crv @ ("P-256" | "P-384"))) => {
            let (kty, len, algorithm): (_, _, &'static dyn sig::VerificationAlgorithm) = if crv == "P-256" {
                (KeyType::P256, 32, &sig::ECDSA_P256_SHA256_FIXED)
            } else {
                (KeyType::P384, 48, &sig::ECDSA_P384_SHA384_FIXED)
            };
            let x = field(&jwk.x)?;
            let y = field(&jwk.y)?;
            if x.len() != len || y.len() != len {
                return Err("EC coordinates of the wrong length");
            }
            // SEC 1 §2.3.3 uncompressed point; aws-lc checks that it is on the curve.
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            let key = ParsedPublicKey::new(algorithm, &point).map_err(|_| "EC point not on the curve")?;
            (kty, Material::Single(key))
        }
        ("OKP", Some("Ed25519")) => {
            let x = field(&jwk.x)?;
            if x.len() != 32 {
                return Err("Ed25519 key of the wrong length");
            }
            let key = ParsedPublicKey::new(&sig::ED25519, &x).map_err(|_| "Ed25519 key does not parse")?;
            (KeyType::Ed25519, Material::Single(key))
        }
        ("EC", _) | ("OKP", _) => return Err("unsupported curve"),
        ("oct", _) => return Err("symmetric keys are never taken from a JWKS"),
        _ => return Err("unknown kty"),
    };
    if alg.is_some_and(|alg| !kty.fits(alg)) {
        return Err("alg does not fit kty");
    }
    Ok(PublicKey {
        kid: jwk.kid,
        kty,
        alg,
        material,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsa_n() -> String {
        use aws_lc_rs::signature::KeyPair as _;
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let c = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        URL_SAFE_NO_PAD.encode(c.n)
    }

    #[test]
    fn junk_keys_are_skipped() {
        let n = rsa_n();
        let doc = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "ok", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "small", "n": "AQAB", "e": "AQAB"},
            {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
            {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"},
            {"kty": "EC", "crv": "P-256", "x": "!!", "y": "AA"},
            {"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode([1u8; 32]), "y": URL_SAFE_NO_PAD.encode([1u8; 32])},
            {"kty": "PQC", "kid": "future"},
            {"kty": "RSA", "kid": "hs", "alg": "HS256", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "es", "alg": "ES256", "n": n, "e": "AQAB"},
            42,
            {"no": "kty"}
        ]});
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys.kids().collect::<Vec<_>>(), ["ok"]);
        assert!(parse_jwks(b"{\"nokeys\": []}").is_err());
        assert!(parse_jwks(b"not json").is_err());
    }

    #[test]
    fn lookup_rules() {
        let n = rsa_n();
        let doc = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "a", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "b", "alg": "PS256", "n": n, "e": "AQAB"},
        ]});
        let set = parse_jwks(doc.to_string().as_bytes()).unwrap();
        use SigningAlgorithm as A;
        let found = |l: Lookup<'_>| match l {
            Lookup::Found(k) => k.kid.clone(),
            _ => None,
        };
        assert_eq!(found(set.lookup(Some("a"), A::RS256)).as_deref(), Some("a"));
        assert!(matches!(
            set.lookup(Some("a"), A::ES256),
            Lookup::Refused(IdTokenError::AlgorithmKeyMismatch { .. })
        ));
        assert!(matches!(
            set.lookup(Some("b"), A::RS256),
            Lookup::Refused(IdTokenError::AlgorithmKeyMismatch { .. })
        ));
        assert!(matches!(set.lookup(Some("c"), A::RS256), Lookup::Missing));
        assert_eq!(found(set.lookup(None, A::RS256)).as_deref(), Some("a"));
        assert!(matches!(
            set.lookup(None, A::PS256),
            Lookup::Refused(IdTokenError::AmbiguousKey)
        ));
        assert!(matches!(set.lookup(None, A::ES256), Lookup::Missing));
    }
}
