//! DPoP (RFC 9449): sender-constrained tokens.
//!
//! A session that uses DPoP holds its own key pair ([`DpopKey`]), generated
//! from the OS CSPRNG when the login starts and kept with the session. Every
//! request that obtains or uses its tokens carries a proof signed with it
//! (RFC 9449 §4): the token requests (code exchange, refresh), PAR, and
//! requests to resource servers (userinfo, APIs), where the proof also hashes
//! the access token (`ath`, §4.2) and `Authorization` says `DPoP` (§7.1). The
//! authorization request names the key by its RFC 7638 thumbprint
//! (`dpop_jkt`, §10), so a stolen code is useless without the key.
//!
//! Servers may demand a nonce (§8, §9): a `use_dpop_nonce` error with a
//! `DPoP-Nonce` header is answered by exactly one retry carrying it, and the
//! latest nonce each server (origin) sent is remembered for the next request
//! (`dpop/nonce.rs`). See docs/protocol.md §2.13.

pub(crate) mod nonce;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret as _, SecretSlice, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use url::Url;
use zeroize::Zeroizing;

use crate::config::SigningAlgorithm;
use crate::error::{Error, Result};
use crate::jose::JwsSigner;
use crate::secret::AccessToken;

/// The `typ` of a DPoP proof (RFC 9449 §4.2).
pub const PROOF_TYP: &str = "dpop+jwt";

/// The algorithms a [`DpopKey`] can be generated for: ES256 (the default,
/// and what every DPoP server accepts), EdDSA (Ed25519) and PS256.
pub const DPOP_ALGORITHMS: [SigningAlgorithm; 3] = [
    SigningAlgorithm::ES256,
    SigningAlgorithm::EdDSA,
    SigningAlgorithm::PS256,
];

/// A session's DPoP key pair. A secret: `Debug` shows the algorithm and the
/// public key's thumbprint only; the private key leaves it only through
/// [`Authenticated::export_with_secrets`](crate::flow::Authenticated::export_with_secrets)
/// and its pending-login twin.
pub struct DpopKey {
    alg: SigningAlgorithm,
    /// PKCS#8 DER, zeroed on drop; kept for the saved state.
    pkcs8: SecretSlice<u8>,
    signer: JwsSigner,
    /// The public key as a JWK (RFC 7517), for the proof header.
    jwk: Map<String, Value>,
    /// RFC 7638 SHA-256 thumbprint of the public key, base64url.
    thumbprint: String,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.alg)
            .field("jkt", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

/// The saved form of a [`DpopKey`]: its algorithm and PKCS#8 private key
/// (base64url). Part of a saved session; `Debug` redacts the key.
#[derive(Clone, Serialize, Deserialize)]
pub struct SavedDpopKey {
    alg: String,
    /// Wiped when dropped.
    pkcs8: Zeroizing<String>,
}

impl std::fmt::Debug for SavedDpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedDpopKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl DpopKey {
    /// A new key pair for `alg` (one of [`DPOP_ALGORITHMS`]) from the OS
    /// CSPRNG.
    pub fn generate(alg: SigningAlgorithm) -> Result<Self> {
        let failed = || Error::config("the operating system's random generator failed to make a DPoP key");
        // The key leaves aws-lc's buffer (wiped on drop) only into buffers wiped on drop.
        let der: Zeroizing<Vec<u8>> = Zeroizing::new(match alg {
            SigningAlgorithm::ES256 => {
                EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                    .map_err(|_| failed())?
                    .as_ref()
                    .to_vec()
            }
            SigningAlgorithm::EdDSA => Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map_err(|_| failed())?
                .as_ref()
                .to_vec(),
            SigningAlgorithm::PS256 => RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(|_| failed())?
                .as_der()
                .map_err(|_| failed())?
                .as_ref()
                .to_vec(),
            other => return Err(unsupported(other)),
        });
        Self::from_pkcs8(alg, der)
    }

    fn from_pkcs8(alg: SigningAlgorithm, der: Zeroizing<Vec<u8>>) -> Result<Self> {
        let rejected = || Error::Restore(format!("the DPoP key does not fit {}", alg.as_str()));
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let jwk = match alg {
            SigningAlgorithm::ES256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                    .map_err(|_| rejected())?;
                // The uncompressed point: 0x04 || x || y (SEC 1 §2.3.3).
                let point = pair.public_key().as_ref();
                if point.len() != 65 {
                    return Err(rejected());
                }
                serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..])})
            }
            SigningAlgorithm::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8(&der).map_err(|_| rejected())?;
                serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref())})
            }
            SigningAlgorithm::PS256 => {
                let pair = RsaKeyPair::from_pkcs8(&der).map_err(|_| rejected())?;
                let c = sig::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                serde_json::json!({"kty": "RSA", "n": b64(&c.n), "e": b64(&c.e)})
            }
            other => return Err(unsupported(other)),
        };
        let signer = JwsSigner::private_key(alg, &der).map_err(|_| rejected())?;
        let Value::Object(jwk) = jwk else {
            return Err(rejected());
        };
        let thumbprint = jwk_thumbprint(&jwk).ok_or_else(rejected)?;
        Ok(DpopKey {
            alg,
            // Copied at its exact size into the secret box; `der` is wiped on return.
            pkcs8: SecretSlice::from(der.to_vec()),
            signer,
            jwk,
            thumbprint,
        })
    }

    /// The algorithm proofs are signed with.
    pub fn alg(&self) -> SigningAlgorithm {
        self.alg
    }

    /// The RFC 7638 SHA-256 thumbprint of the public key: what a DPoP-bound
    /// token's `cnf.jkt` holds and what `dpop_jkt` sends (RFC 9449 §6.1, §10).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The public key as a JWK (RFC 7517): no private member.
    pub fn public_jwk(&self) -> &Map<String, Value> {
        &self.jwk
    }

    /// A DPoP proof (RFC 9449 §4.2) for a request `htm htu`, made at `iat`
    /// (seconds since the epoch), with the server's `nonce` when it gave one
    /// and, for a resource request, the access token's hash (`ath`). `htu` is
    /// sent without query and fragment (§4.2). Each proof has a fresh `jti`.
    pub fn proof(
        &self,
        htm: &str,
        htu: &Url,
        iat: u64,
        nonce: Option<&str>,
        access_token: Option<&AccessToken>,
    ) -> Result<SecretString> {
        let mut claims = Map::new();
        claims.insert("jti".into(), crate::random::url_safe_token()?.into());
        claims.insert("htm".into(), htm.into());
        claims.insert("htu".into(), htu_of(htu).into());
        claims.insert("iat".into(), iat.into());
        if let Some(nonce) = nonce {
            claims.insert("nonce".into(), nonce.into());
        }
        if let Some(token) = access_token {
            claims.insert("ath".into(), access_token_hash(token).into());
        }
        let mut header = Map::new();
        header.insert("jwk".into(), Value::Object(self.jwk.clone()));
        self.signer
            .sign_with_header(Some(PROOF_TYP), header, &Value::Object(claims))
    }

    /// **Exports secrets.** The private key, for a saved session.
    pub(crate) fn export_with_secrets(&self) -> SavedDpopKey {
        SavedDpopKey {
            alg: self.alg.as_str().to_owned(),
            pkcs8: Zeroizing::new(URL_SAFE_NO_PAD.encode(self.pkcs8.expose_secret())),
        }
    }

    /// The key of a saved session.
    pub(crate) fn restore(saved: &SavedDpopKey) -> Result<Self> {
        let alg = saved
            .alg
            .parse::<SigningAlgorithm>()
            .ok()
            .filter(|a| DPOP_ALGORITHMS.contains(a))
            .ok_or_else(|| Error::Restore(format!("unknown DPoP key algorithm {:?}", saved.alg)))?;
        let der = URL_SAFE_NO_PAD
            .decode(saved.pkcs8.as_bytes())
            .map(Zeroizing::new)
            .map_err(|_| Error::Restore("the saved DPoP key is not base64url".to_owned()))?;
        Self::from_pkcs8(alg, der)
    }
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK (EC, OKP or RSA), as
/// `cnf.jkt` and `dpop_jkt` carry it (RFC 9449 §6.1): the required members
/// only, in lexicographic order, without whitespace (§3.2). `None` when a
/// required member is missing or not a string, or the key type is another;
/// the members are written as JSON strings, so any value stays canonical.
pub(crate) fn jwk_thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let member = |name: &str| jwk.get(name).and_then(Value::as_str).map(json_string);
    let canonical = match jwk.get("kty").and_then(Value::as_str)? {
        "EC" => format!(
            r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
            member("crv")?,
            member("x")?,
            member("y")?
        ),
        "OKP" => format!(r#"{{"crv":{},"kty":"OKP","x":{}}}"#, member("crv")?, member("x")?),
        "RSA" => canonical_rsa(&member("n")?, &member("e")?),
        _ => return None,
    };
    Some(thumbprint_of(&canonical))
}

/// A JSON string literal (quoted and escaped) of `s`.
fn json_string(s: &str) -> String {
    Value::from(s).to_string()
}

/// RFC 7638 §3.2: SHA-256 of the canonical JWK, base64url.
fn thumbprint_of(canonical: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// An RSA public key's canonical JWK (RFC 7638 §3.2: required members,
/// sorted), from the members as JSON string literals.
fn canonical_rsa(n: &str, e: &str) -> String {
    format!(r#"{{"e":{e},"kty":"RSA","n":{n}}}"#)
}

/// The `htu` of a proof: the request URL without query and fragment (RFC 9449 §4.2).
pub(crate) fn htu_of(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// `ath`: base64url(SHA-256(access token)) (RFC 9449 §4.2).
pub(crate) fn access_token_hash(token: &AccessToken) -> String {
    ath_of(token.expose_secret())
}

/// [`access_token_hash`] of a token borrowed from a request.
pub(crate) fn ath_of(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

fn unsupported(alg: SigningAlgorithm) -> Error {
    Error::config(format!(
        "DPoP keys are ES256, EdDSA or PS256, not {}",
        alg.as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn proofs_carry_the_public_key_and_the_claims() {
        for alg in DPOP_ALGORITHMS {
            let key = DpopKey::generate(alg).unwrap();
            let url = Url::parse("https://op.example/token?x=1#f").unwrap();
            let at = AccessToken::new("the-access-token");
            let proof = key.proof("POST", &url, 1000, Some("n-1"), Some(&at)).unwrap();
            let parts: Vec<&str> = proof.expose_secret().split('.').collect();
            let header = decode(parts[0]);
            assert_eq!(header["typ"], "dpop+jwt");
            assert_eq!(header["alg"], alg.as_str());
            let jwk = header["jwk"].as_object().unwrap();
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(!jwk.contains_key(private), "{alg:?} {private}");
            }
            let claims = decode(parts[1]);
            assert_eq!(claims["htu"], "https://op.example/token");
            assert_eq!(claims["htm"], "POST");
            assert_eq!(claims["iat"], 1000);
            assert_eq!(claims["nonce"], "n-1");
            assert_eq!(
                claims["ath"],
                URL_SAFE_NO_PAD.encode(Sha256::digest(b"the-access-token"))
            );
            let restored = DpopKey::restore(&key.export_with_secrets()).unwrap();
            assert_eq!(restored.thumbprint(), key.thumbprint());
            assert!(!format!("{key:?}").contains(key.export_with_secrets().pkcs8.as_str()));
        }
    }

    /// RFC 7638 §3.1's example key and thumbprint.
    #[test]
    fn thumbprint_matches_rfc_7638() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint_of(&canonical_rsa(&json_string(n), &json_string("AQAB"))),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        // The same from the JWK as a proof carries it: other members and their order do not count.
        let jwk = serde_json::json!({"kid": "2011-04-29", "n": n, "alg": "RS256", "e": "AQAB", "kty": "RSA"});
        let Value::Object(jwk) = jwk else { unreachable!() };
        assert_eq!(
            jwk_thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
        for broken in [
            serde_json::json!({"kty": "RSA", "n": n}),
            serde_json::json!({"kty": "oct", "k": "c2VjcmV0"}),
            serde_json::json!({"kty": "EC", "crv": "P-256", "x": 1, "y": "AA"}),
        ] {
            let Value::Object(jwk) = broken else {
                unreachable!()
            };
            assert_eq!(jwk_thumbprint(&jwk), None);
        }
    }

    #[test]
    fn other_algorithms_and_bad_saves_are_refused() {
        assert!(DpopKey::generate(SigningAlgorithm::HS256).is_err());
        assert!(DpopKey::generate(SigningAlgorithm::RS256).is_err());
        let saved = SavedDpopKey {
            alg: "ES256".into(),
            pkcs8: Zeroizing::new("AAAA".into()),
        };
        assert!(matches!(DpopKey::restore(&saved), Err(Error::Restore(_))));
        let key = DpopKey::generate(SigningAlgorithm::EdDSA).unwrap();
        let mut saved = key.export_with_secrets();
        saved.alg = "ES256".into();
        assert!(DpopKey::restore(&saved).is_err());
    }
}
