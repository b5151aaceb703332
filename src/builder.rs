//! Building an [`AuthenticationClient`]: the Authing preset or discovery.

mod fapi2;

use std::sync::Arc;
use std::time::Duration;

use crate::client::{AuthenticationClient, Endpoint, Inner, Provider};
use crate::client_auth::{AssertionAudience, ClientCredentials, ClientKey};
use crate::clock::{Clock, SystemClock};
use crate::config::{
    AuthMethod, DEFAULT_LEEWAY, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, Protocol, SigningAlgorithm,
    provider_url,
};
use crate::error::{Error, Result};
use crate::http::{Http, default_client};
use crate::redirect_uri::RedirectUri;
use crate::secret::{ClientSecret, ExposeSecret as _};

/// Builds an [`AuthenticationClient`]; the Python SDK's
/// `AuthenticationClientOptions`. Every option has the Python SDK's default
/// (fixed where the Python SDK had none); everything is checked by
/// [`build`](Self::build) or [`discover`](Self::discover), not at the first
/// request.
///
/// ```
/// use authing_oidc::{AuthenticationClient, AuthMethod};
/// let client = AuthenticationClient::builder()
///     .app_id("AUTHING_APP_ID")
///     .secret("AUTHING_APP_SECRET")
///     .app_host("https://sample-app.authing.cn")
///     .redirect_uri("http://localhost:3000/callback")
///     .token_endpoint_auth_method(AuthMethod::ClientSecretBasic)
///     .build()?;
/// # Ok::<(), authing_oidc::Error>(())
/// ```
#[derive(Default)]
#[must_use]
pub struct AuthenticationClientBuilder {
    app_id: Option<String>,
    secret: Option<ClientSecret>,
    app_host: Option<String>,
    redirect_uri: Option<String>,
    protocol: Protocol,
    token_auth: Option<AuthMethod>,
    introspection_auth: Option<AuthMethod>,
    revocation_auth: Option<AuthMethod>,
    client_key: Option<ClientKey>,
    client_assertion_alg: Option<SigningAlgorithm>,
    assertion_audience: AssertionAudience,
    par: Option<bool>,
    jar: bool,
    fapi2: bool,
    id_token_alg: Option<SigningAlgorithm>,
    timeout: Option<Duration>,
    max_response_bytes: Option<usize>,
    http_client: Option<reqwest::Client>,
    insecure_http: bool,
    leeway: Option<Duration>,
    trusted_audiences: Vec<String>,
    clock: Option<Arc<dyn Clock>>,
    jwks_min_refetch_interval: Option<Duration>,
    max_iat_skew: Option<Duration>,
    signed_responses: crate::config::SignedResponses,
    dpop: Option<SigningAlgorithm>,
}

impl AuthenticationClient {
    /// A builder with the Python SDK's defaults. (It lives here, beside the
    /// builder, so that configuration flows into the client and the client
    /// module never reaches back into configuration.)
    pub fn builder() -> AuthenticationClientBuilder {
        AuthenticationClientBuilder::default()
    }
}

impl std::fmt::Debug for AuthenticationClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthenticationClientBuilder")
            .field("app_id", &self.app_id)
            .field("secret", &self.secret)
            .field("app_host", &self.app_host)
            .field("protocol", &self.protocol)
            .field("client_key", &self.client_key)
            .finish_non_exhaustive()
    }
}

impl AuthenticationClientBuilder {
    /// The application's client id (`app_id`). Required.
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.app_id = Some(app_id.into());
        self
    }

    /// The application's secret. Required unless every auth method is
    /// [`AuthMethod::None`].
    pub fn secret(mut self, secret: impl Into<ClientSecret>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// The application's address, e.g. `https://sample-app.authing.cn` (a
    /// trailing slash is tolerated). Selects the Authing preset.
    pub fn app_host(mut self, app_host: impl Into<String>) -> Self {
        self.app_host = Some(app_host.into());
        self
    }

    /// The callback URL. Required for the code flow. It is sent exactly as
    /// given (see [`RedirectUri`]); [`build`](Self::build) refuses one that is
    /// not absolute `http`/`https`, is plain `http` to a non-loopback host, or
    /// has a fragment.
    pub fn redirect_uri(mut self, redirect_uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(redirect_uri.into());
        self
    }

    /// `oidc` (default), `oauth`, `saml` or `cas`.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Client authentication at the token endpoint; default `client_secret_post`.
    pub fn token_endpoint_auth_method(mut self, m: AuthMethod) -> Self {
        self.token_auth = Some(m);
        self
    }

    /// Client authentication at the introspection endpoint; default `client_secret_post`.
    pub fn introspection_endpoint_auth_method(mut self, m: AuthMethod) -> Self {
        self.introspection_auth = Some(m);
        self
    }

    /// Client authentication at the revocation endpoint; default `client_secret_post`.
    pub fn revocation_endpoint_auth_method(mut self, m: AuthMethod) -> Self {
        self.revocation_auth = Some(m);
        self
    }

    /// The client's private key, for [`AuthMethod::PrivateKeyJwt`] (RFC 7523)
    /// and signed request objects (RFC 9101). Read one with
    /// [`ClientKey::parse`] (PKCS#8 PEM or a private JWK).
    pub fn client_key(mut self, key: ClientKey) -> Self {
        self.client_key = Some(key);
        self
    }

    /// The algorithm `private_key_jwt` assertions (and request objects) are
    /// signed with. Default: the JWK's `alg`, else RS256 for RSA keys (PS256
    /// under the FAPI 2.0 preset), ES256, ES384 or EdDSA by key type.
    pub fn client_assertion_signing_alg(mut self, alg: SigningAlgorithm) -> Self {
        self.client_assertion_alg = Some(alg);
        self
    }

    /// The `aud` of client assertions; default the issuer (FAPI 2.0). Some
    /// providers want [`AssertionAudience::TokenEndpoint`].
    pub fn client_assertion_audience(mut self, audience: AssertionAudience) -> Self {
        self.assertion_audience = audience;
        self
    }

    /// Push every login's authorization request to the provider first
    /// (PAR, RFC 9126), so the browser carries only a `request_uri`. Off by
    /// default; on whenever the provider's metadata says
    /// `require_pushed_authorization_requests`, and under
    /// [`fapi2`](Self::fapi2).
    pub fn pushed_authorization_requests(mut self, on: bool) -> Self {
        self.par = Some(on);
        self
    }

    /// Send authorization requests as request objects signed with the
    /// client's private key (JAR, RFC 9101): by value (`request=`), or
    /// inside a pushed authorization request.
    pub fn request_objects(mut self, on: bool) -> Self {
        self.jar = on;
        self
    }

    /// The one algorithm this application's id_tokens are signed with. Unset:
    /// RS256 and HS256 for the Authing preset, the provider's advertised ones
    /// (within the allow-list) with discovery.
    pub fn id_token_signed_response_alg(mut self, alg: SigningAlgorithm) -> Self {
        self.id_token_alg = Some(alg);
        self
    }

    /// The client is registered for signed userinfo responses with this
    /// algorithm (`userinfo_signed_response_alg`, OIDC Dynamic Registration
    /// §2; OIDC Core §5.3.2): userinfo must then be an `application/jwt`
    /// signed with it, and a plain JSON answer is refused
    /// ([`Error::UnsignedResponse`]). Without it both are accepted.
    pub fn userinfo_signed_response_alg(mut self, alg: SigningAlgorithm) -> Self {
        self.signed_responses.userinfo = Some(alg);
        self
    }

    /// The client is registered for JWT introspection responses with this
    /// algorithm (`introspection_signed_response_alg`, RFC 9701 §6): the
    /// request asks for `application/token-introspection+jwt`, the answer
    /// must be one signed with it, and plain JSON is refused
    /// ([`Error::UnsignedResponse`]). Without it, JSON is asked for and either
    /// is accepted.
    pub fn introspection_signed_response_alg(mut self, alg: SigningAlgorithm) -> Self {
        self.signed_responses.introspection = Some(alg);
        self
    }

    /// Request timeout; default 10 s. Applies to every request, also with a
    /// caller-provided HTTP client.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Cap on a response body; default 1 MiB. A larger body is an error, so a
    /// hostile server cannot exhaust memory.
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = Some(bytes);
        self
    }

    /// Use this HTTP client (its connection pool, proxy, TLS settings).
    ///
    /// **Security warning:** build it with
    /// `redirect(reqwest::redirect::Policy::none())`. A client that follows
    /// redirects re-sends a token request's form — client secret, code,
    /// refresh token — to wherever a 307/308 points. The default client never
    /// follows redirects.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Clock leeway for `exp`, `nbf` and `auth_time` checks; default 60 s.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = Some(leeway);
        self
    }

    /// How far in the future a JWT's `iat` may be before the token is refused
    /// ([`IdTokenError::IssuedInFuture`](crate::IdTokenError::IssuedInFuture));
    /// default the leeway plus 5 minutes. A token "issued" later than now was
    /// minted by a provider whose clock is wrong, or minted to be used later.
    pub fn max_iat_skew(mut self, skew: Duration) -> Self {
        self.max_iat_skew = Some(skew);
        self
    }

    /// Trust another audience in id_tokens besides this client (by default
    /// none is trusted).
    pub fn trust_audience(mut self, audience: impl Into<String>) -> Self {
        self.trusted_audiences.push(audience.into());
        self
    }

    /// The clock expiry is checked against; default the system clock. Tests
    /// pass a [`crate::clock::ManualClock`].
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The minimum time between two JWKS fetches triggered by an id_token
    /// whose `kid` is not in the cached keys (key rotation); default 10 s. It
    /// bounds the load forged tokens can cause at the provider. See
    /// [`crate::jose::jwks`].
    pub fn jwks_min_refetch_interval(mut self, interval: Duration) -> Self {
        self.jwks_min_refetch_interval = Some(interval);
        self
    }

    /// DPoP (RFC 9449) for every login of the typed flow: each session gets
    /// its own `alg` key pair (ES256 is what every DPoP server accepts;
    /// EdDSA and PS256 also work), its tokens are bound to that key, and
    /// every request for or with them carries a proof (docs/protocol.md
    /// §2.13). See [`crate::dpop`].
    pub fn dpop(mut self, alg: SigningAlgorithm) -> Self {
        self.dpop = Some(alg);
        self
    }

    /// **Insecure.** Allows plain `http` to non-loopback hosts for the app
    /// host, the issuer, every discovered endpoint and the redirect URIs.
    /// Tokens and secrets then travel in clear text. Loopback hosts never need
    /// this.
    pub fn insecure_allow_http(mut self) -> Self {
        self.insecure_http = true;
        self
    }

    /// Builds a client for an Authing application at `app_host`.
    pub fn build(self) -> Result<AuthenticationClient> {
        let raw = self
            .app_host
            .clone()
            .ok_or_else(|| Error::config("app_host is required (or use discover with an issuer)"))?;
        let mut app_host = provider_url("app_host", &raw, self.insecure_http)?;
        if app_host.query().is_some() || raw.contains('?') {
            return Err(Error::config(format!("app_host {raw:?} must not have a query")));
        }
        // One trailing slash is tolerated; more would put `//` before every endpoint path.
        let path = app_host.path();
        let path = path.strip_suffix('/').unwrap_or(path).to_owned();
        if path.ends_with('/') {
            return Err(Error::config(format!(
                "app_host {raw:?} ends in more than one slash"
            )));
        }
        app_host.set_path(&path);
        let http = self.http()?;
        self.finish(Provider::Authing { app_host }, http)
    }

    /// Builds a client for any OpenID Provider from its issuer, by OpenID
    /// Connect Discovery. The document's `issuer` must equal `issuer` exactly.
    pub async fn discover(self, issuer: &str) -> Result<AuthenticationClient> {
        if self.app_host.is_some() {
            return Err(Error::config("app_host and an issuer exclude each other"));
        }
        if self.protocol != Protocol::Oidc {
            return Err(Error::config("a discovered provider speaks oidc only"));
        }
        let http = self.http()?;
        let metadata = crate::discovery::fetch(&http, issuer, self.insecure_http).await?;
        // The client that fetched the metadata, with its open connection, serves every request.
        self.finish(Provider::Discovered(Box::new(metadata)), http)
    }

    /// [`discover`](Self::discover) with metadata that did not come over the
    /// wire (the fuzz targets).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn discovered(
        self,
        metadata: crate::discovery::ProviderMetadata,
    ) -> Result<AuthenticationClient> {
        let http = self.http()?;
        self.finish(Provider::Discovered(Box::new(metadata)), http)
    }

    /// What a [`Registrar`](crate::registration::Registrar) needs of this
    /// builder: its HTTP settings, whether plain http was opted into, the clock.
    pub(crate) fn registrar_parts(self) -> Result<(Http, bool, Arc<dyn Clock>)> {
        let http = self.http()?;
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        Ok((http, self.insecure_http, clock))
    }

    fn http(&self) -> Result<Http> {
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let client = match &self.http_client {
            Some(c) => c.clone(),
            None => default_client(timeout)?,
        };
        Ok(Http::new(
            client,
            timeout,
            self.max_response_bytes.unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
        ))
    }

    fn finish(mut self, provider: Provider, http: Http) -> Result<AuthenticationClient> {
        fapi2::apply(&mut self)?;
        let app_id = self.app_id.clone().unwrap_or_default();
        if app_id.trim().is_empty() {
            return Err(Error::config("app_id is required"));
        }
        let methods =
            [self.token_auth, self.introspection_auth, self.revocation_auth].map(Option::unwrap_or_default);
        let needs_secret = methods.iter().any(|m| m.needs_secret())
            || self.id_token_alg.is_some_and(SigningAlgorithm::is_symmetric)
            || self.signed_responses.uses_symmetric();
        // An empty secret would make HS256 id_tokens forgeable by anyone: refuse it outright.
        if self
            .secret
            .as_ref()
            .is_some_and(|s| s.expose_secret().trim().is_empty())
        {
            return Err(Error::config("secret is empty"));
        }
        if needs_secret && self.secret.is_none() {
            return Err(Error::config(
                "secret is required: a client_secret_* auth method, or an HS* id_token \
                 algorithm, is configured",
            ));
        }
        if methods.contains(&AuthMethod::PrivateKeyJwt) && self.client_key.is_none() {
            return Err(Error::config(
                "private_key_jwt needs the client's private key (client_key)",
            ));
        }
        if let Some(alg) = self.dpop
            && !crate::dpop::DPOP_ALGORITHMS.contains(&alg)
        {
            return Err(Error::config(format!(
                "DPoP keys are ES256, EdDSA or PS256, not {}",
                alg.as_str()
            )));
        }
        let redirect_uri = match &self.redirect_uri {
            Some(r) => Some(RedirectUri::check("redirect_uri", r, self.insecure_http)?),
            None => None,
        };
        let issuer = match &provider {
            Provider::Authing { app_host } => format!("{}/oidc", app_host.as_str().trim_end_matches('/')),
            Provider::Discovered(m) => m.issuer.clone(),
        };
        let audience = match &self.assertion_audience {
            AssertionAudience::Issuer => issuer.clone(),
            AssertionAudience::TokenEndpoint => {
                let checked = AuthenticationClient::endpoint_of(&provider, self.protocol, Endpoint::Token)?;
                match &provider {
                    // The provider compares `aud` with its token_endpoint as a string: the
                    // discovered value goes out as discovery spelled it, not re-serialized.
                    Provider::Discovered(m) => {
                        m.token_endpoint.clone().unwrap_or_else(|| checked.to_string())
                    }
                    Provider::Authing { .. } => checked.to_string(),
                }
            }
            AssertionAudience::Custom(aud) => aud.clone(),
        };
        let credentials = ClientCredentials::new(
            app_id.clone(),
            self.secret.clone(),
            self.client_key.as_ref().map(|k| (k, self.client_assertion_alg)),
            audience,
        )?;
        let leeway = self.leeway.unwrap_or(DEFAULT_LEEWAY);
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        // The cache gets what it fetches with; it never reaches back into the client.
        let jwks = crate::jose::jwks::JwksCache::new(
            http.clone(),
            AuthenticationClient::endpoint_of(&provider, self.protocol, Endpoint::Jwks),
            clock.clone(),
            self.jwks_min_refetch_interval
                .unwrap_or(crate::jose::jwks::DEFAULT_MIN_REFETCH_INTERVAL),
        );
        Ok(AuthenticationClient {
            inner: Arc::new(Inner {
                app_id,
                hmac_keys: self
                    .secret
                    .as_ref()
                    .map(|s| crate::jose::hmac::ClientSecretKeys::new(s.expose_secret())),
                credentials,
                redirect_uri,
                insecure_http: self.insecure_http,
                protocol: self.protocol,
                token_auth: methods[0],
                introspection_auth: methods[1],
                revocation_auth: methods[2],
                id_token_alg: self.id_token_alg,
                par: self.par.unwrap_or(false),
                jar: self.jar,
                fapi2: self.fapi2,
                leeway,
                max_iat_skew: self
                    .max_iat_skew
                    .unwrap_or(leeway + crate::jose::IAT_SKEW_BEYOND_LEEWAY),
                trusted_audiences: self.trusted_audiences,
                issuer,
                provider,
                http,
                clock,
                jwks: Arc::new(jwks),
                logout_jti: Default::default(),
                signed_responses: self.signed_responses,
                dpop: self.dpop,
                dpop_nonces: Default::default(),
            }),
        })
    }
}
