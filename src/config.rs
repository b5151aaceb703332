//! Configuration: the Python SDK's `AuthenticationClientOptions`, as a builder
//! that validates everything up front.

use std::str::FromStr;
use std::time::Duration;

use url::Url;

use crate::error::{Error, Result};

/// Which protocol the Authing application speaks (`protocol` in the Python SDK).
///
/// Under [`Protocol::Saml`] and [`Protocol::Cas`] only the URL builders work;
/// server calls are a configuration error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Protocol {
    /// OpenID Connect (the default): endpoints under `/oidc`.
    #[default]
    Oidc,
    /// Plain OAuth 2.0: endpoints under `/oauth`.
    Oauth,
    /// SAML: only the login and logout URLs.
    Saml,
    /// CAS: only the login and logout URLs.
    Cas,
}

impl Protocol {
    /// The name used in configuration (`oidc`, `oauth`, `saml`, `cas`).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Oidc => "oidc",
            Protocol::Oauth => "oauth",
            Protocol::Saml => "saml",
            Protocol::Cas => "cas",
        }
    }
}

impl FromStr for Protocol {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "oidc" => Ok(Protocol::Oidc),
            "oauth" => Ok(Protocol::Oauth),
            "saml" => Ok(Protocol::Saml),
            "cas" => Ok(Protocol::Cas),
            other => Err(Error::config(format!(
                "unknown protocol {other:?} (expected oidc, oauth, saml or cas)"
            ))),
        }
    }
}

/// How the client authenticates to the token, introspection, revocation and
/// pushed authorization request endpoints (OIDC Core §9, RFC 7523).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthMethod {
    /// `client_id` and `client_secret` in the form body (the default).
    #[default]
    ClientSecretPost,
    /// HTTP Basic with the form-urlencoded id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// A public client: `client_id` in the body only; PKCE carries the proof.
    None,
    /// A JWT signed HS256 with the client secret (RFC 7523 §2.2, OIDC Core
    /// §9), as `client_assertion`.
    ClientSecretJwt,
    /// A JWT signed with the client's private key (RFC 7523 §2.2, OIDC Core
    /// §9), as `client_assertion`; see [`crate::client_auth`].
    PrivateKeyJwt,
}

impl AuthMethod {
    /// Every method, in the order of OIDC Core §9.
    pub const ALL: [AuthMethod; 5] = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::ClientSecretJwt,
        AuthMethod::PrivateKeyJwt,
        AuthMethod::None,
    ];

    /// The registered name (`client_secret_post`, `client_secret_basic`,
    /// `client_secret_jwt`, `private_key_jwt`, `none`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::None => "none",
            AuthMethod::ClientSecretJwt => "client_secret_jwt",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }

    /// Whether the method uses the client secret.
    pub fn needs_secret(self) -> bool {
        matches!(
            self,
            AuthMethod::ClientSecretPost | AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretJwt
        )
    }
}

impl FromStr for AuthMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        AuthMethod::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                Error::config(format!(
                    "unknown auth method {s:?} (expected client_secret_post, client_secret_basic, \
                     client_secret_jwt, private_key_jwt or none)"
                ))
            })
    }
}

/// A JWS algorithm an id_token may be signed with.
///
/// `none` has no variant: an unsigned id_token is never accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)] // the variants are the JWA names (RFC 7518 §3.1, RFC 8037)
pub enum SigningAlgorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
    HS256,
    HS384,
    HS512,
}

impl SigningAlgorithm {
    /// Every algorithm on the allow-list.
    pub const ALL: [SigningAlgorithm; 12] = [
        SigningAlgorithm::RS256,
        SigningAlgorithm::RS384,
        SigningAlgorithm::RS512,
        SigningAlgorithm::PS256,
        SigningAlgorithm::PS384,
        SigningAlgorithm::PS512,
        SigningAlgorithm::ES256,
        SigningAlgorithm::ES384,
        SigningAlgorithm::EdDSA,
        SigningAlgorithm::HS256,
        SigningAlgorithm::HS384,
        SigningAlgorithm::HS512,
    ];

    /// The JWA name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::RS256 => "RS256",
            SigningAlgorithm::RS384 => "RS384",
            SigningAlgorithm::RS512 => "RS512",
            SigningAlgorithm::PS256 => "PS256",
            SigningAlgorithm::PS384 => "PS384",
            SigningAlgorithm::PS512 => "PS512",
            SigningAlgorithm::ES256 => "ES256",
            SigningAlgorithm::ES384 => "ES384",
            SigningAlgorithm::EdDSA => "EdDSA",
            SigningAlgorithm::HS256 => "HS256",
            SigningAlgorithm::HS384 => "HS384",
            SigningAlgorithm::HS512 => "HS512",
        }
    }

    /// True for the HMAC algorithms, which are keyed with the client secret.
    pub fn is_symmetric(self) -> bool {
        matches!(
            self,
            SigningAlgorithm::HS256 | SigningAlgorithm::HS384 | SigningAlgorithm::HS512
        )
    }
}

impl FromStr for SigningAlgorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        SigningAlgorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| Error::config(format!("unsupported id_token algorithm {s:?}")))
    }
}

impl std::fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which responses the client is registered to receive as signed JWTs
/// (`userinfo_signed_response_alg`, `introspection_signed_response_alg`), and
/// with which algorithm. `None`: plain JSON or a JWT are both accepted.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SignedResponses {
    pub(crate) userinfo: Option<SigningAlgorithm>,
    pub(crate) introspection: Option<SigningAlgorithm>,
}

impl SignedResponses {
    /// Whether an HS* algorithm is configured (which needs the client secret).
    pub(crate) fn uses_symmetric(&self) -> bool {
        [self.userinfo, self.introspection]
            .into_iter()
            .flatten()
            .any(SigningAlgorithm::is_symmetric)
    }
}

/// Default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on a response body.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Default clock leeway for `exp`, `nbf` and `auth_time`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// True for hosts where plain `http` is acceptable: loopback only.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Parses a provider URL (app_host, issuer, an endpoint) and refuses plain
/// `http` to anything but loopback unless `insecure_http` is set.
pub(crate) fn provider_url(what: &str, raw: &str, insecure_http: bool) -> Result<Url> {
    let url = Url::parse(raw).map_err(|e| Error::config(format!("{what} {raw:?} is not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if insecure_http || is_loopback(&url) => {}
        "http" => {
            return Err(Error::config(format!(
                "{what} {raw:?} uses plain http to a non-loopback host; use https \
                 (or opt in with insecure_allow_http)"
            )));
        }
        other => {
            return Err(Error::config(format!(
                "{what} {raw:?} has scheme {other:?}, expected https"
            )));
        }
    }
    if url.host().is_none() {
        return Err(Error::config(format!("{what} {raw:?} has no host")));
    }
    if url.fragment().is_some() {
        return Err(Error::config(format!("{what} {raw:?} must not have a fragment")));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in SigningAlgorithm::ALL {
            assert_eq!(a.as_str().parse::<SigningAlgorithm>().ok(), Some(a));
        }
        assert!("none".parse::<SigningAlgorithm>().is_err());
        for m in AuthMethod::ALL {
            assert_eq!(m.as_str().parse::<AuthMethod>().ok(), Some(m));
        }
        for p in [Protocol::Oidc, Protocol::Oauth, Protocol::Saml, Protocol::Cas] {
            assert_eq!(p.as_str().parse::<Protocol>().ok(), Some(p));
        }
    }

    #[test]
    fn http_only_for_loopback() {
        assert!(provider_url("app_host", "http://127.0.0.1:8080", false).is_ok());
        assert!(provider_url("app_host", "http://localhost", false).is_ok());
        assert!(provider_url("app_host", "http://[::1]:9", false).is_ok());
        assert!(provider_url("app_host", "https://a.authing.cn", false).is_ok());
        assert!(matches!(
            provider_url("app_host", "http://a.authing.cn", false),
            Err(Error::Config(_))
        ));
        assert!(provider_url("app_host", "http://a.authing.cn", true).is_ok());
        assert!(provider_url("app_host", "ftp://a", false).is_err());
        assert!(provider_url("app_host", "not a url", false).is_err());
    }
}
