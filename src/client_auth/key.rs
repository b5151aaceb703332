//! [`ClientKey`]: the client's private key for `private_key_jwt` (RFC 7523
//! §2.2) and signed request objects (RFC 9101), read from PKCS#8 PEM or a
//! private JWK (RFC 7517).

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret as _, SecretSlice};
use serde_json::{Map, Value, json};
use zeroize::{Zeroize as _, Zeroizing};

use crate::config::SigningAlgorithm;
use crate::error::{Error, Result};
use crate::jose::JwsSigner;

/// The kind of a private key, which decides the algorithms it can sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientKeyType {
    /// RSA (2048 bits or more): RS256/384/512, PS256/384/512.
    Rsa,
    /// ECDSA on P-256: ES256.
    P256,
    /// ECDSA on P-384: ES384.
    P384,
    /// Ed25519: EdDSA.
    Ed25519,
}

impl ClientKeyType {
    /// Whether this key can sign with `alg`.
    pub fn fits(self, alg: SigningAlgorithm) -> bool {
        use SigningAlgorithm as A;
        match self {
            ClientKeyType::Rsa => matches!(
                alg,
                A::RS256 | A::RS384 | A::RS512 | A::PS256 | A::PS384 | A::PS512
            ),
            ClientKeyType::P256 => alg == A::ES256,
            ClientKeyType::P384 => alg == A::ES384,
            ClientKeyType::Ed25519 => alg == A::EdDSA,
        }
    }

    /// The algorithm used when none is configured: RS256 for RSA (the one
    /// every provider supports; the FAPI 2.0 preset asks for PS256), ES256,
    /// ES384, EdDSA.
    pub fn default_alg(self) -> SigningAlgorithm {
        match self {
            ClientKeyType::Rsa => SigningAlgorithm::RS256,
            ClientKeyType::P256 => SigningAlgorithm::ES256,
            ClientKeyType::P384 => SigningAlgorithm::ES384,
            ClientKeyType::Ed25519 => SigningAlgorithm::EdDSA,
        }
    }
}

/// A client's private key, kept as PKCS#8 DER in memory that is zeroed on
/// drop. `Debug` shows the key type and `kid` only; the key never reaches an
/// error, a log line or `Display` (there is none).
///
/// ```
/// use authing_oidc::client_auth::ClientKey;
/// let jwk = r#"{"kty":"OKP","crv":"Ed25519","kid":"k1",
///   "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
///   "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
/// let key = ClientKey::parse(jwk)?;
/// assert_eq!(key.kid(), Some("k1"));
/// assert!(!format!("{key:?}").contains("nWGx"));
/// # Ok::<(), authing_oidc::Error>(())
/// ```
#[derive(Clone)]
pub struct ClientKey {
    pkcs8: SecretSlice<u8>,
    kty: ClientKeyType,
    kid: Option<String>,
    /// The JWK's `alg`, when it pins one (RFC 7517 §4.4).
    alg: Option<SigningAlgorithm>,
    public_jwk: Map<String, Value>,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKey")
            .field("kty", &self.kty)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn rejected(what: &str) -> Error {
    // Never quotes the input: it is a private key.
    Error::config(format!("the client key is not {what}"))
}

impl ClientKey {
    /// Reads a key from text: a JSON object is a private JWK, anything else
    /// must be PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn parse(text: &str) -> Result<Self> {
        if text.trim_start().starts_with('{') {
            Self::from_jwk(text)
        } else {
            Self::from_pkcs8_pem(text)
        }
    }

    /// A PKCS#8 PEM private key (RFC 5958, RFC 7468 §10). It has no `kid`:
    /// give one with [`with_kid`](Self::with_kid) when the provider needs it.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self> {
        let body = pem
            .trim()
            .strip_prefix("-----BEGIN PRIVATE KEY-----")
            .and_then(|r| r.strip_suffix("-----END PRIVATE KEY-----"))
            .ok_or_else(|| rejected("PKCS#8 PEM (-----BEGIN PRIVATE KEY-----) or a JWK"))?;
        // Every copy of the key made here is wiped when dropped, on success and on error.
        // (Sized once: a growing buffer would leave its earlier copies behind unwiped.)
        let mut b64 = Zeroizing::new(String::with_capacity(body.len()));
        b64.extend(body.chars().filter(|c| !c.is_whitespace()));
        let der = Zeroizing::new(
            STANDARD
                .decode(b64.as_bytes())
                .map_err(|_| rejected("valid PEM (bad base64)"))?,
        );
        Self::from_pkcs8_der(&der)
    }

    /// A PKCS#8 DER private key: RSA, P-256, P-384 or Ed25519.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        if let Ok(pair) = RsaKeyPair::from_pkcs8(der) {
            return Self::rsa(pair);
        }
        for (alg, kty) in [
            (&sig::ECDSA_P256_SHA256_FIXED_SIGNING, ClientKeyType::P256),
            (&sig::ECDSA_P384_SHA384_FIXED_SIGNING, ClientKeyType::P384),
        ] {
            if let Ok(pair) = EcdsaKeyPair::from_pkcs8(alg, der) {
                return Self::ecdsa(&pair, kty);
            }
        }
        if let Ok(pair) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            return Self::ed25519(&pair);
        }
        Err(rejected("an RSA, P-256, P-384 or Ed25519 PKCS#8 private key"))
    }

    /// A private JWK (RFC 7517, RFC 7518 §6, RFC 8037): `RSA` with the CRT
    /// members, `EC` on P-256 or P-384 with `d`, `OKP` Ed25519 with `d`. Its
    /// `kid` and `alg`, when present, are kept.
    pub fn from_jwk(jwk: &str) -> Result<Self> {
        let map = WipedOnDrop(serde_json::from_str(jwk).map_err(|_| rejected("a JSON object (JWK)"))?);
        let map = &map.0;
        let text = |name: &str| -> Result<&str> {
            map.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| Error::config(format!("the client JWK has no {name:?} member")))
        };
        let bytes = |name: &str| -> Result<Zeroizing<Vec<u8>>> {
            URL_SAFE_NO_PAD
                .decode(text(name)?)
                .map(Zeroizing::new)
                .map_err(|_| Error::config(format!("the client JWK's {name:?} is not base64url")))
        };
        let mut key = match (text("kty")?, map.get("crv").and_then(Value::as_str)) {
            ("RSA", _) => {
                let parts = ["n", "e", "d", "p", "q", "dp", "dq", "qi"]
                    .iter()
                    .map(|n| bytes(n))
                    .collect::<Result<Vec<_>>>()?;
                let pkcs1 = rsa_private_key_der(&parts);
                let pair = RsaKeyPair::from_der(&pkcs1).map_err(|_| rejected("a usable RSA JWK"))?;
                Self::rsa(pair)?
            }
            ("EC", Some(crv @ ("P-256" | "P-384"))) => {
                let (alg, kty) = if crv == "P-256" {
                    (&sig::ECDSA_P256_SHA256_FIXED_SIGNING, ClientKeyType::P256)
                } else {
                    (&sig::ECDSA_P384_SHA384_FIXED_SIGNING, ClientKeyType::P384)
                };
                let mut point = vec![4u8];
                point.extend_from_slice(&bytes("x")?);
                point.extend_from_slice(&bytes("y")?);
                let pair = EcdsaKeyPair::from_private_key_and_public_key(alg, &bytes("d")?, &point)
                    .map_err(|_| rejected("a usable EC JWK"))?;
                Self::ecdsa(&pair, kty)?
            }
            ("OKP", Some("Ed25519")) => {
                let pair = Ed25519KeyPair::from_seed_and_public_key(&bytes("d")?, &bytes("x")?)
                    .map_err(|_| rejected("a usable Ed25519 JWK"))?;
                Self::ed25519(&pair)?
            }
            _ => return Err(rejected("an RSA, EC P-256/P-384 or OKP Ed25519 JWK")),
        };
        if let Some(kid) = map.get("kid").and_then(Value::as_str) {
            key = key.with_kid(kid);
        }
        if let Some(alg) = map.get("alg").and_then(Value::as_str) {
            let alg: SigningAlgorithm = alg.parse()?;
            if !key.kty.fits(alg) {
                return Err(Error::config(format!(
                    "the client JWK's alg {alg} does not fit its key type"
                )));
            }
            key.alg = Some(alg);
        }
        Ok(key)
    }

    fn rsa(pair: RsaKeyPair) -> Result<Self> {
        let c = sig::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let public =
            json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(&c.n), "e": URL_SAFE_NO_PAD.encode(&c.e)});
        let der = pair.as_der().map_err(|_| rejected("an exportable RSA key"))?;
        Self::new(der.as_ref(), ClientKeyType::Rsa, public)
    }

    fn ecdsa(pair: &EcdsaKeyPair, kty: ClientKeyType) -> Result<Self> {
        let point = pair.public_key().as_ref();
        let half = (point.len() - 1) / 2;
        let crv = if kty == ClientKeyType::P256 {
            "P-256"
        } else {
            "P-384"
        };
        let public = json!({"kty": "EC", "crv": crv,
            "x": URL_SAFE_NO_PAD.encode(&point[1..=half]), "y": URL_SAFE_NO_PAD.encode(&point[half + 1..])});
        let der = pair.to_pkcs8v1().map_err(|_| rejected("an exportable EC key"))?;
        Self::new(der.as_ref(), kty, public)
    }

    fn ed25519(pair: &Ed25519KeyPair) -> Result<Self> {
        let public =
            json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())});
        let der = pair
            .to_pkcs8v1()
            .map_err(|_| rejected("an exportable Ed25519 key"))?;
        Self::new(der.as_ref(), ClientKeyType::Ed25519, public)
    }

    fn new(der: &[u8], kty: ClientKeyType, public: Value) -> Result<Self> {
        let Value::Object(public_jwk) = public else {
            return Err(rejected("a key with a public half"));
        };
        Ok(ClientKey {
            pkcs8: SecretSlice::from(der.to_vec()),
            kty,
            kid: None,
            alg: None,
            public_jwk,
        })
    }

    /// Names the key (`kid` in the JWS header, RFC 7515 §4.1.4), as the
    /// provider knows it from the client's registered JWKS.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The key's `kid`, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key's type.
    pub fn key_type(&self) -> ClientKeyType {
        self.kty
    }

    /// The algorithm the JWK pins with its `alg`, if any.
    pub fn pinned_alg(&self) -> Option<SigningAlgorithm> {
        self.alg
    }

    /// The public half as a JWK (with `kid` and the pinned `alg` when
    /// known), to register with the provider (`jwks` client metadata,
    /// RFC 7591 §2).
    pub fn public_jwk(&self) -> Value {
        let mut jwk = self.public_jwk.clone();
        if let Some(kid) = &self.kid {
            jwk.insert("kid".into(), kid.as_str().into());
        }
        if let Some(alg) = self.alg {
            jwk.insert("alg".into(), alg.as_str().into());
        }
        Value::Object(jwk)
    }

    /// A signer with this key for `alg`, carrying the key's `kid`.
    pub fn signer(&self, alg: SigningAlgorithm) -> Result<JwsSigner> {
        if !self.kty.fits(alg) {
            return Err(Error::config(format!(
                "the client key ({:?}) cannot sign {alg}",
                self.kty
            )));
        }
        if self.alg.is_some_and(|pinned| pinned != alg) {
            return Err(Error::config(format!(
                "the client JWK is pinned to another algorithm than {alg}"
            )));
        }
        let signer = JwsSigner::private_key(alg, self.pkcs8.expose_secret())?;
        Ok(match &self.kid {
            Some(kid) => signer.with_kid(kid.clone()),
            None => signer,
        })
    }
}

/// The members of a parsed private JWK, whose strings are wiped when it is dropped.
struct WipedOnDrop(Map<String, Value>);

impl Drop for WipedOnDrop {
    fn drop(&mut self) {
        for value in self.0.values_mut() {
            if let Value::String(text) = value {
                text.zeroize();
            }
        }
    }
}

/// DER of a PKCS#1 `RSAPrivateKey` (RFC 8017 §A.1.2) from the JWK's
/// big-endian members n, e, d, p, q, dp, dq, qi. Every buffer holding key
/// material is allocated once at its final size (no reallocation leaves a
/// copy behind) and wiped when dropped.
fn rsa_private_key_der(parts: &[Zeroizing<Vec<u8>>]) -> Zeroizing<Vec<u8>> {
    let integers: Vec<Zeroizing<Vec<u8>>> = std::iter::once(der_integer(&[0]))
        .chain(parts.iter().map(|p| der_integer(p)))
        .collect();
    let mut body = Zeroizing::new(Vec::with_capacity(integers.iter().map(|i| i.len()).sum()));
    for integer in &integers {
        body.extend_from_slice(integer);
    }
    der_tlv(0x30, &body)
}

fn der_integer(big_endian: &[u8]) -> Zeroizing<Vec<u8>> {
    let trimmed = match big_endian.iter().position(|b| *b != 0) {
        Some(i) => &big_endian[i..],
        None => &[0][..],
    };
    // A set top bit would read as negative: DER prefixes a zero byte.
    let pad = trimmed[0] & 0x80 != 0;
    let mut v = Zeroizing::new(Vec::with_capacity(trimmed.len() + 1));
    if pad {
        v.push(0);
    }
    v.extend_from_slice(trimmed);
    der_tlv(0x02, &v)
}

fn der_tlv(tag: u8, value: &[u8]) -> Zeroizing<Vec<u8>> {
    let len = value.len();
    let len_bytes = len.to_be_bytes();
    let skip = len_bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(len_bytes.len() - 1);
    // Tag, the length's own length (long form), the length, the value.
    let mut out = Zeroizing::new(Vec::with_capacity(2 + len_bytes.len() + len));
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        out.push(0x80 | (len_bytes.len() - skip) as u8);
        out.extend_from_slice(&len_bytes[skip..]);
    }
    out.extend_from_slice(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_and_integers() {
        assert_eq!(*der_integer(&[0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(*der_integer(&[0, 0, 5]), vec![2, 1, 5]);
        assert_eq!(der_tlv(0x30, &[0; 200])[..3], [0x30, 0x81, 200]);
        assert_eq!(der_tlv(0x30, &[0; 300])[..4], [0x30, 0x82, 1, 44]);
    }

    #[test]
    fn pem_and_garbage() {
        assert!(ClientKey::parse("not a key").is_err());
        assert!(ClientKey::parse("{\"kty\":\"oct\",\"k\":\"AAAA\"}").is_err());
        let err = ClientKey::parse(
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----",
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("c2Vj"), "{err}");
    }
}
