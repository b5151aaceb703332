//! Client authentication at the token, introspection, revocation and pushed
//! authorization request endpoints (OIDC Core §9; docs/protocol.md §2 and
//! §7.1): the shared secret in the body or in HTTP Basic, a JWT signed with
//! the secret (`client_secret_jwt`) or with the client's private key
//! (`private_key_jwt`, RFC 7523 §2.2), or none.
//!
//! A client assertion carries `iss` = `sub` = the client id, `aud` (the
//! issuer by default, as FAPI 2.0 §5.3.2.1 asks; see [`AssertionAudience`]),
//! a fresh `jti` from the OS CSPRNG, `iat` and an `exp` 60 seconds later
//! (RFC 7523 §3). A new one is signed for every request, so none is ever
//! replayed, and it is registered as a secret of the request: an echo of it
//! never reaches an error.

mod key;

use std::time::Duration;

use reqwest::header::HeaderValue;
use serde::Serialize;

pub use key::{ClientKey, ClientKeyType};

use crate::clock::Clock;
use crate::config::{AuthMethod, SigningAlgorithm};
use crate::error::{Error, Result};
use crate::http::Form;
use crate::jose::JwsSigner;
use crate::secret::{ClientSecret, ExposeSecret as _};

/// `client_assertion_type` of a JWT assertion (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long a client assertion is valid: `exp` - `iat` (FAPI 2.0 and
/// OIDC Core §9 ask for a short lifetime; 60 s covers clock skew).
pub const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// The `aud` of client assertions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AssertionAudience {
    /// The issuer identifier (the default; FAPI 2.0 Security Profile
    /// §5.3.2.1 requires it, RFC 7523 §3 allows it).
    #[default]
    Issuer,
    /// The token endpoint's URL, for every endpoint (OIDC Core §9, for
    /// providers that want it).
    TokenEndpoint,
    /// Exactly this value.
    Custom(String),
}

/// What client authentication needs, prepared once when the client is built.
pub(crate) struct ClientCredentials {
    pub(crate) app_id: String,
    pub(crate) secret: Option<ClientSecret>,
    /// HS256 keyed with the secret, for `client_secret_jwt`.
    secret_signer: Option<JwsSigner>,
    /// The private key with its algorithm, for `private_key_jwt` and request objects.
    key_signer: Option<JwsSigner>,
    /// The resolved `aud` of assertions.
    audience: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("app_id", &self.app_id)
            .field("secret", &self.secret)
            .field("key_signer", &self.key_signer)
            .field("audience", &self.audience)
            .finish()
    }
}

/// The claims of a client assertion (RFC 7523 §3).
#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: u64,
    exp: u64,
}

impl ClientCredentials {
    /// Prepares the signers: `key` with `key_alg` (or the key's default),
    /// the secret for HS256.
    pub(crate) fn new(
        app_id: String,
        secret: Option<ClientSecret>,
        key: Option<(&ClientKey, Option<SigningAlgorithm>)>,
        audience: String,
    ) -> Result<Self> {
        let secret_signer = match &secret {
            Some(s) => Some(JwsSigner::client_secret(SigningAlgorithm::HS256, s)?),
            None => None,
        };
        let key_signer = match key {
            Some((key, alg)) => {
                let alg = alg
                    .or(key.pinned_alg())
                    .unwrap_or_else(|| key.key_type().default_alg());
                Some(key.signer(alg)?)
            }
            None => None,
        };
        Ok(ClientCredentials {
            app_id,
            secret,
            secret_signer,
            key_signer,
            audience,
        })
    }

    /// The private key's signer (for request objects), if a key is configured.
    pub(crate) fn key_signer(&self) -> Option<&JwsSigner> {
        self.key_signer.as_ref()
    }

    /// Adds the client's credentials for `method` to a form, or returns the
    /// `Authorization: Basic` header.
    pub(crate) fn apply(
        &self,
        method: AuthMethod,
        form: &mut Form,
        clock: &dyn Clock,
    ) -> Result<Option<HeaderValue>> {
        let id = self.app_id.as_str();
        let secret = || {
            self.secret
                .as_ref()
                .map(|s| s.expose_secret())
                .ok_or_else(|| Error::config(format!("{} needs the client secret", method.as_str())))
        };
        match method {
            AuthMethod::ClientSecretPost => {
                form.push("client_id", id).push_secret("client_secret", secret()?);
                Ok(None)
            }
            AuthMethod::ClientSecretBasic => Ok(Some(form.basic_authorization(id, secret()?)?)),
            AuthMethod::None => {
                form.push("client_id", id);
                Ok(None)
            }
            AuthMethod::ClientSecretJwt | AuthMethod::PrivateKeyJwt => {
                let signer = if method == AuthMethod::ClientSecretJwt {
                    self.secret_signer.as_ref()
                } else {
                    self.key_signer.as_ref()
                };
                let signer = signer.ok_or_else(|| {
                    Error::config(format!(
                        "{} needs {}",
                        method.as_str(),
                        if method == AuthMethod::ClientSecretJwt {
                            "the client secret"
                        } else {
                            "the client's private key (client_key)"
                        }
                    ))
                })?;
                let assertion = self.assertion(signer, clock)?;
                // RFC 7523 §2.2; client_id as well, which RFC 6749 §3.2.1 allows and some
                // providers need to find the client before reading the assertion.
                form.push("client_id", id)
                    .push("client_assertion_type", JWT_BEARER_ASSERTION_TYPE)
                    .push_secret("client_assertion", assertion.expose_secret());
                Ok(None)
            }
        }
    }

    fn assertion(&self, signer: &JwsSigner, clock: &dyn Clock) -> Result<secrecy::SecretString> {
        let iat = clock.unix_now();
        let claims = AssertionClaims {
            iss: &self.app_id,
            sub: &self.app_id,
            aud: &self.audience,
            jti: crate::random::url_safe_token()?,
            iat,
            exp: iat + ASSERTION_LIFETIME.as_secs(),
        };
        signer.sign(None, &claims)
    }
}
