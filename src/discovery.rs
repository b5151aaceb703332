//! OpenID Connect Discovery 1.0: a provider's metadata from its issuer.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::config::provider_url;
use crate::error::{Error, Result};
use crate::http::{Body, Http, Reply};

/// A provider's metadata (OpenID Connect Discovery 1.0 §3), as fetched from
/// `{issuer}/.well-known/openid-configuration`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// The issuer; equal to the URL discovery was asked for.
    pub issuer: String,
    /// Where the browser is sent to log in.
    pub authorization_endpoint: String,
    /// Where codes and refresh tokens are exchanged.
    pub token_endpoint: Option<String>,
    /// The userinfo endpoint.
    pub userinfo_endpoint: Option<String>,
    /// The JWKS the provider signs with.
    pub jwks_uri: String,
    /// RFC 7662 introspection.
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    /// RFC 7009 revocation.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// RP-initiated logout.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// RFC 8628 §4: where a device asks for a user code.
    #[serde(default)]
    pub device_authorization_endpoint: Option<String>,
    /// OpenID CIBA Core §4: where a client starts a backchannel authentication.
    #[serde(default)]
    pub backchannel_authentication_endpoint: Option<String>,
    /// RFC 7591 §3: where clients register themselves.
    #[serde(default)]
    pub registration_endpoint: Option<String>,
    /// Algorithms the provider signs id_tokens with.
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// Whether every authorization response carries `iss` (RFC 9207).
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// PKCE methods the provider accepts.
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    /// Client authentication methods at the token endpoint.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Response modes the provider supports.
    #[serde(default)]
    pub response_modes_supported: Vec<String>,
    /// The pushed authorization request endpoint (RFC 9126 §5).
    #[serde(default)]
    pub pushed_authorization_request_endpoint: Option<String>,
    /// Whether every login must push its request first (RFC 9126 §5).
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Scopes the provider supports.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// Every other member.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The discovery URL for an issuer: the issuer with any trailing slash
/// removed, then `/.well-known/openid-configuration` (Discovery §4).
pub(crate) fn discovery_url(issuer: &str, insecure_http: bool) -> Result<Url> {
    provider_url("issuer", issuer, insecure_http)?;
    let base = issuer.trim_end_matches('/');
    Url::parse(&format!("{base}/.well-known/openid-configuration"))
        .map_err(|e| Error::config(format!("issuer {issuer:?} is not a URL: {e}")))
}

/// Fetches and checks the metadata: `issuer` must equal the URL asked for,
/// exactly (Discovery §4.3), and every endpoint must be https (or loopback).
pub(crate) async fn fetch(http: &Http, issuer: &str, insecure_http: bool) -> Result<ProviderMetadata> {
    let url = discovery_url(issuer, insecure_http)?;
    let reply = http.get("discovery", url, None).await?;
    metadata_from(reply, issuer, insecure_http)
}

/// The checks of [`fetch`] on the answer it got.
pub(crate) fn metadata_from(reply: Reply, issuer: &str, insecure_http: bool) -> Result<ProviderMetadata> {
    let reply = reply.error_for_status(Body::Quotable)?;
    let metadata: ProviderMetadata = reply.json(Body::Quotable)?;
    if metadata.issuer != issuer {
        return Err(Error::InvalidResponse {
            endpoint: reply.endpoint,
            reason: format!(
                "discovery issuer {:?} is not the issuer asked for {issuer:?}",
                metadata.issuer
            ),
        });
    }
    metadata.check_urls(insecure_http)?;
    tracing::debug!(issuer, "provider metadata discovered");
    Ok(metadata)
}

impl ProviderMetadata {
    fn check_urls(&self, insecure_http: bool) -> Result<()> {
        provider_url(
            "authorization_endpoint",
            &self.authorization_endpoint,
            insecure_http,
        )?;
        provider_url("jwks_uri", &self.jwks_uri, insecure_http)?;
        for (name, value) in [
            ("token_endpoint", &self.token_endpoint),
            ("userinfo_endpoint", &self.userinfo_endpoint),
            ("introspection_endpoint", &self.introspection_endpoint),
            ("revocation_endpoint", &self.revocation_endpoint),
            ("end_session_endpoint", &self.end_session_endpoint),
            (
                "pushed_authorization_request_endpoint",
                &self.pushed_authorization_request_endpoint,
            ),
            (
                "device_authorization_endpoint",
                &self.device_authorization_endpoint,
            ),
            (
                "backchannel_authentication_endpoint",
                &self.backchannel_authentication_endpoint,
            ),
            ("registration_endpoint", &self.registration_endpoint),
        ] {
            if let Some(v) = value {
                provider_url(name, v, insecure_http)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_url_strips_one_trailing_slash() {
        assert_eq!(
            discovery_url("https://a.example/oidc/", false).unwrap().as_str(),
            "https://a.example/oidc/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("http://127.0.0.1:9/", false).unwrap().as_str(),
            "http://127.0.0.1:9/.well-known/openid-configuration"
        );
        assert!(discovery_url("http://a.example", false).is_err());
    }
}
