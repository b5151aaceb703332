//! The stateless [`AuthenticationClient`]: every method of the Python SDK's
//! OIDC module, with the same names and meaning.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use serde_json::{Map, Value};
use url::Url;

mod dpop;
pub(crate) mod profile;
pub(crate) mod pushed;

use crate::authorization_details::TokenRequestExtras;
use crate::authorize::{self, AuthorizeContext, AuthorizeParams, AuthorizeUrl};
use crate::config::{AuthMethod, Protocol, SigningAlgorithm};
use crate::discovery::ProviderMetadata;
use crate::dpop::DpopKey;
use crate::error::{Error, Result};
use crate::http::{Body, Form, Http, Reply};
use crate::introspection::{Introspection, TokenToValidate, ValidateTokenResult};
use crate::logout::LogoutParams;
use crate::pkce::{self, CodeChallenge, CodeChallengeMethod};
use crate::redirect_uri::RedirectUri;
use crate::secret::{
    AccessSecret, AccessToken, AuthorizationCode, CodeVerifier, ExposeSecret as _, OAuthToken, RefreshToken,
};
use crate::token_set::{RawTokenResponse, RefreshAnswer, TokenSet, refresh_token_member};
use crate::userinfo::UserInfo;

/// A client for one application at one provider. Cheap to clone (an `Arc`):
/// clones share the configuration and the HTTP connection pool.
///
/// Build one with [`AuthenticationClient::builder`].
#[derive(Clone)]
pub struct AuthenticationClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) app_id: String,
    /// The secret and private key, with their signers (docs/protocol.md §7.1).
    pub(crate) credentials: crate::client_auth::ClientCredentials,
    /// The secret keyed for HS* JWTs, derived once.
    pub(crate) hmac_keys: Option<crate::jose::hmac::ClientSecretKeys>,
    pub(crate) redirect_uri: Option<RedirectUri>,
    /// Plain `http` to non-loopback hosts was opted into (also for per-call redirect URIs).
    pub(crate) insecure_http: bool,
    pub(crate) protocol: Protocol,
    pub(crate) token_auth: AuthMethod,
    pub(crate) introspection_auth: AuthMethod,
    pub(crate) revocation_auth: AuthMethod,
    pub(crate) id_token_alg: Option<SigningAlgorithm>,
    /// Logins push their request first (RFC 9126), by configuration.
    pub(crate) par: bool,
    /// Authorization requests are signed request objects (RFC 9101).
    pub(crate) jar: bool,
    /// The FAPI 2.0 preset is on (`client/profile.rs`).
    pub(crate) fapi2: bool,
    pub(crate) leeway: Duration,
    pub(crate) max_iat_skew: Duration,
    pub(crate) trusted_audiences: Vec<String>,
    pub(crate) issuer: String,
    pub(crate) provider: Provider,
    pub(crate) http: Http,
    pub(crate) clock: std::sync::Arc<dyn crate::clock::Clock>,
    /// The provider's signing keys, shared by every clone of the client (and by
    /// the background re-fetch the cache may start).
    pub(crate) jwks: Arc<crate::jose::jwks::JwksCache>,
    /// The `jti` of logout tokens already accepted (Back-Channel Logout §2.6
    /// step 10), shared by every clone of the client.
    pub(crate) logout_jti: crate::jose::replay::ReplayCache,
    /// The responses the client is registered to receive signed.
    pub(crate) signed_responses: crate::config::SignedResponses,
    /// DPoP (RFC 9449) for the typed flow's sessions: the algorithm of their keys.
    pub(crate) dpop: Option<SigningAlgorithm>,
    /// The latest DPoP nonce of each server, for every session of this client.
    pub(crate) dpop_nonces: crate::dpop::nonce::NonceCache,
}

/// Where the endpoints come from.
pub(crate) enum Provider {
    /// Authing's fixed paths under the app host.
    Authing { app_host: Url },
    /// Whatever discovery said.
    Discovered(Box<ProviderMetadata>),
}

impl std::fmt::Debug for AuthenticationClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = &self.inner;
        f.debug_struct("AuthenticationClient")
            .field("app_id", &i.app_id)
            .field("issuer", &i.issuer)
            .field("protocol", &i.protocol)
            .field("credentials", &i.credentials)
            .field("token_endpoint_auth_method", &i.token_auth)
            .finish_non_exhaustive()
    }
}

/// The endpoints an operation can need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Authorization,
    Token,
    Userinfo,
    Introspection,
    Revocation,
    Jwks,
    PushedAuthorization,
    /// RFC 8628 §3.1.
    DeviceAuthorization,
    /// OpenID CIBA Core §7.1.
    BackchannelAuthentication,
}

impl AuthenticationClient {
    /// The client id.
    pub fn app_id(&self) -> &str {
        &self.inner.app_id
    }

    /// The issuer id_tokens must carry: `{app_host}/oidc` for Authing, the
    /// discovered issuer otherwise.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The timeout of each request to the provider ([`timeout`](crate::AuthenticationClientBuilder::timeout),
    /// default 10 s).
    pub fn timeout(&self) -> std::time::Duration {
        self.inner.http.timeout()
    }

    /// The configured protocol.
    pub fn protocol(&self) -> Protocol {
        self.inner.protocol
    }

    /// The configured redirect URI, as given.
    pub fn redirect_uri(&self) -> Option<&RedirectUri> {
        self.inner.redirect_uri.as_ref()
    }

    /// The redirect URI a call uses: the one passed (validated like the
    /// configured one), else the configured one, else a configuration error
    /// naming `purpose`.
    pub(crate) fn redirect_uri_for(
        &self,
        what: &str,
        passed: Option<&str>,
        purpose: &str,
    ) -> Result<RedirectUri> {
        match passed {
            Some(raw) => RedirectUri::check(what, raw, self.inner.insecure_http),
            None => {
                self.inner.redirect_uri.clone().ok_or_else(|| {
                    Error::config(format!("no redirect_uri {purpose}: configure one or pass it"))
                })
            }
        }
    }

    /// The discovered metadata, when built by discovery.
    pub fn provider_metadata(&self) -> Option<&ProviderMetadata> {
        match &self.inner.provider {
            Provider::Discovered(m) => Some(m),
            Provider::Authing { .. } => None,
        }
    }

    /// The configured id_token algorithm, if one was set.
    pub fn id_token_signed_response_alg(&self) -> Option<SigningAlgorithm> {
        self.inner.id_token_alg
    }

    /// The algorithm of the DPoP keys the typed flow makes, when the client
    /// was built with [`dpop`](crate::AuthenticationClientBuilder::dpop).
    pub fn dpop_algorithm(&self) -> Option<SigningAlgorithm> {
        self.inner.dpop
    }

    /// The clock this client checks expiry against.
    pub fn clock(&self) -> &dyn crate::clock::Clock {
        &*self.inner.clock
    }

    pub(crate) fn http(&self) -> &Http {
        &self.inner.http
    }

    /// The URL of an endpoint, or a configuration error saying why there is none.
    pub(crate) fn endpoint(&self, which: Endpoint) -> Result<Url> {
        Self::endpoint_of(&self.inner.provider, self.inner.protocol, which)
    }

    /// [`endpoint`](Self::endpoint) before the client exists: the builder
    /// hands the JWKS cache its URI with it.
    pub(crate) fn endpoint_of(provider: &Provider, protocol: Protocol, which: Endpoint) -> Result<Url> {
        match provider {
            Provider::Authing { app_host } => {
                let p = match protocol {
                    Protocol::Oidc => "oidc",
                    Protocol::Oauth => "oauth",
                    other => {
                        return Err(Error::config(format!(
                            "protocol {} has no {which:?} endpoint: only the login and logout URLs work",
                            other.as_str()
                        )));
                    }
                };
                let path = match which {
                    Endpoint::Authorization => format!("/{p}/auth"),
                    Endpoint::Token => format!("/{p}/token"),
                    Endpoint::Userinfo => format!("/{p}/me"),
                    Endpoint::Introspection => format!("/{p}/token/introspection"),
                    Endpoint::Revocation => format!("/{p}/token/revocation"),
                    Endpoint::Jwks => "/oidc/.well-known/jwks.json".to_owned(),
                    // What the development provider serves; Authing itself has no PAR today.
                    Endpoint::PushedAuthorization => format!("/{p}/par"),
                    // The seed documents neither: Authing's paths for them are not part of
                    // the preset, so these grants need the client built by discovery.
                    Endpoint::DeviceAuthorization | Endpoint::BackchannelAuthentication => {
                        return Err(Error::config(format!(
                            "the Authing preset has no {which:?} endpoint: build the client by \
                             discovery (its metadata names the endpoint)"
                        )));
                    }
                };
                join(app_host, &path)
            }
            Provider::Discovered(m) => {
                let (name, value) = match which {
                    Endpoint::Authorization => ("authorization_endpoint", Some(&m.authorization_endpoint)),
                    Endpoint::Token => ("token_endpoint", m.token_endpoint.as_ref()),
                    Endpoint::Userinfo => ("userinfo_endpoint", m.userinfo_endpoint.as_ref()),
                    Endpoint::Introspection => ("introspection_endpoint", m.introspection_endpoint.as_ref()),
                    Endpoint::Revocation => ("revocation_endpoint", m.revocation_endpoint.as_ref()),
                    Endpoint::Jwks => ("jwks_uri", Some(&m.jwks_uri)),
                    Endpoint::PushedAuthorization => (
                        "pushed_authorization_request_endpoint",
                        m.pushed_authorization_request_endpoint.as_ref(),
                    ),
                    Endpoint::DeviceAuthorization => (
                        "device_authorization_endpoint",
                        m.device_authorization_endpoint.as_ref(),
                    ),
                    Endpoint::BackchannelAuthentication => (
                        "backchannel_authentication_endpoint",
                        m.backchannel_authentication_endpoint.as_ref(),
                    ),
                };
                let value =
                    value.ok_or_else(|| Error::config(format!("the provider advertises no {name}")))?;
                Url::parse(value).map_err(|e| Error::config(format!("{name} {value:?} is not a URL: {e}")))
            }
        }
    }

    fn authing_host(&self, what: &str) -> Result<&Url> {
        match &self.inner.provider {
            Provider::Authing { app_host } => Ok(app_host),
            Provider::Discovered(_) => Err(Error::config(format!(
                "{what} exists only for Authing applications (configured with app_host)"
            ))),
        }
    }

    /// Adds the client's credentials for `method` to a form (a signed
    /// assertion for the JWT methods), or returns the `Authorization: Basic`
    /// header.
    pub(crate) fn authenticate(&self, method: AuthMethod, form: &mut Form) -> Result<Option<HeaderValue>> {
        self.inner.credentials.apply(method, form, self.clock())
    }

    /// Generates the login URL (`build_authorize_url`).
    ///
    /// For `oidc` and `oauth` the returned [`AuthorizeUrl`] also holds the
    /// state and nonce it carries, generated ones included, to check the
    /// callback against. For `saml` it is `{app_host}/api/v2/saml-idp/{app_id}`
    /// and for `cas` `{app_host}/cas-idp/{app_id}?service=<redirect_uri>`.
    ///
    /// ```
    /// # let client = authing_oidc::AuthenticationClient::builder().app_id("app")
    /// #     .secret("s").app_host("https://sample-app.authing.cn")
    /// #     .redirect_uri("https://example.com/callback").build()?;
    /// use authing_oidc::AuthorizeParams;
    /// let login = client.build_authorize_url(AuthorizeParams::new().scope("openid profile offline_access"))?;
    /// assert!(login.as_str().contains("prompt=consent"));
    /// # Ok::<(), authing_oidc::Error>(())
    /// ```
    pub fn build_authorize_url(&self, params: AuthorizeParams) -> Result<AuthorizeUrl> {
        match self.inner.protocol {
            Protocol::Saml => {
                let host = self.authing_host("a SAML login URL")?;
                let url = join(
                    host,
                    &format!("/api/v2/saml-idp/{}", encode_path(&self.inner.app_id)),
                )?;
                Ok(AuthorizeUrl {
                    url,
                    state: None,
                    nonce: None,
                    redirect_uri: None,
                })
            }
            Protocol::Cas => {
                let host = self.authing_host("a CAS login URL")?;
                let mut url = join(host, &format!("/cas-idp/{}", encode_path(&self.inner.app_id)))?;
                let service = self.redirect_uri_for(
                    "redirect_uri",
                    params.redirect_uri.as_deref(),
                    "for the CAS service parameter",
                )?;
                url.query_pairs_mut().append_pair("service", service.as_str());
                Ok(AuthorizeUrl {
                    url,
                    state: None,
                    nonce: None,
                    redirect_uri: None,
                })
            }
            _ if self.uses_par() => Err(Error::config(
                "this client pushes its authorization requests (PAR): use \
                 push_authorization_request, or the flow's begin",
            )),
            _ if self.uses_jar() => self.signed_authorize_url(params),
            protocol => {
                self.inner.profile_checks_authorize(&params)?;
                authorize::build(
                    AuthorizeContext {
                        protocol,
                        app_id: &self.inner.app_id,
                        endpoint: self.endpoint(Endpoint::Authorization)?,
                        redirect_uri: self.redirect_uri_for(
                            "redirect_uri",
                            params.redirect_uri.as_deref(),
                            "for the authorize URL",
                        )?,
                    },
                    params,
                )
            }
        }
    }

    /// Exchanges an authorization code for tokens (`get_access_token_by_code`),
    /// with the PKCE verifier when the login used one. Uses the configured
    /// `redirect_uri`.
    ///
    /// The id_token in the answer is not verified here; the typed flow
    /// ([`crate::flow`]) does that.
    pub async fn get_access_token_by_code(
        &self,
        code: &AuthorizationCode,
        code_verifier: Option<&CodeVerifier>,
    ) -> Result<TokenSet> {
        let redirect_uri = self.exchange_redirect_uri()?;
        self.exchange_code(
            code,
            code_verifier,
            redirect_uri,
            &TokenRequestExtras::new(),
            None,
        )
        .await
    }

    /// The redirect_uri a stateless code exchange repeats (RFC 6749 §4.1.3):
    /// the configured one.
    fn exchange_redirect_uri(&self) -> Result<&RedirectUri> {
        self.inner
            .redirect_uri
            .as_ref()
            .ok_or_else(|| Error::config("the code exchange needs the configured redirect_uri"))
    }

    /// [`get_access_token_by_code`](Self::get_access_token_by_code) with a
    /// DPoP proof of `key` (RFC 9449 §5): the tokens are bound to it, and an
    /// answer whose `token_type` is not `DPoP` is
    /// [`Error::DpopNotBound`].
    pub async fn get_access_token_by_code_with_dpop(
        &self,
        code: &AuthorizationCode,
        code_verifier: Option<&CodeVerifier>,
        key: &DpopKey,
    ) -> Result<TokenSet> {
        let redirect_uri = self.exchange_redirect_uri()?;
        self.exchange_code(
            code,
            code_verifier,
            redirect_uri,
            &TokenRequestExtras::new(),
            Some(key),
        )
        .await
    }

    /// [`get_access_token_by_code`](Self::get_access_token_by_code) with
    /// RFC 8707 `resource` and RFC 9396 `authorization_details` parameters.
    pub async fn get_access_token_by_code_with(
        &self,
        code: &AuthorizationCode,
        code_verifier: Option<&CodeVerifier>,
        extras: &TokenRequestExtras,
    ) -> Result<TokenSet> {
        let redirect_uri = self.exchange_redirect_uri()?;
        self.exchange_code(code, code_verifier, redirect_uri, extras, None)
            .await
    }

    /// [`get_access_token_by_code_with`](Self::get_access_token_by_code_with)
    /// with a DPoP proof of `key` (RFC 9449 §5): `resource` and
    /// `authorization_details` on a code exchange that binds the tokens.
    pub async fn get_access_token_by_code_with_dpop_and(
        &self,
        code: &AuthorizationCode,
        code_verifier: Option<&CodeVerifier>,
        extras: &TokenRequestExtras,
        key: &DpopKey,
    ) -> Result<TokenSet> {
        let redirect_uri = self.exchange_redirect_uri()?;
        self.exchange_code(code, code_verifier, redirect_uri, extras, Some(key))
            .await
    }

    /// The code exchange with an explicit redirect URI (the one the login used).
    pub(crate) async fn exchange_code(
        &self,
        code: &AuthorizationCode,
        code_verifier: Option<&CodeVerifier>,
        redirect_uri: &RedirectUri,
        extras: &TokenRequestExtras,
        dpop: Option<&DpopKey>,
    ) -> Result<TokenSet> {
        let mut form = Form::new();
        // RFC 6749 §4.1.3: identical to the authorization request's value, so the raw string.
        form.push("grant_type", "authorization_code")
            .push_secret("code", code.expose_secret())
            .push("redirect_uri", redirect_uri.as_str());
        if let Some(v) = code_verifier {
            form.push_secret("code_verifier", v.expose_secret());
        }
        for (name, value) in extras.pairs()? {
            form.push(name, value);
        }
        self.token_request(
            "get_access_token_by_code",
            form,
            Some(self.inner.token_auth),
            dpop,
        )
        .await
    }

    async fn token_request(
        &self,
        operation: &'static str,
        form: Form,
        app_auth: Option<AuthMethod>,
        dpop: Option<&DpopKey>,
    ) -> Result<TokenSet> {
        let reply = self.token_reply(operation, form, app_auth, dpop).await?;
        token_set_of(&reply, dpop.is_some())
    }

    /// A 2xx answer of the token endpoint.
    pub(crate) async fn token_reply(
        &self,
        operation: &'static str,
        form: Form,
        app_auth: Option<AuthMethod>,
        dpop: Option<&DpopKey>,
    ) -> Result<Reply> {
        let url = self.endpoint(Endpoint::Token)?;
        self.post_form_dpop(operation, url, &form, app_auth, dpop)
            .await?
            .error_for_status(Body::Sensitive)
    }

    /// The refresh grant as a session needs it (docs/protocol.md §5): a 2xx
    /// answer refused by strict parsing still yields the new refresh token it
    /// carries.
    pub(crate) async fn refresh_grant(
        &self,
        refresh_token: &RefreshToken,
        extras: &TokenRequestExtras,
        dpop: Option<&DpopKey>,
    ) -> Result<RefreshAnswer> {
        let mut form = Form::new();
        form.push("grant_type", "refresh_token")
            .push_secret("refresh_token", refresh_token.expose_secret());
        for (name, value) in extras.pairs()? {
            form.push(name, value);
        }
        let reply = self
            .token_reply(
                "get_new_access_token_by_refresh_token",
                form,
                Some(self.inner.token_auth),
                dpop,
            )
            .await?;
        Ok(RefreshAnswer {
            rotated: refresh_token_member(&reply.body),
            tokens: token_set_of(&reply, dpop.is_some()),
        })
    }

    /// Fetches the user's claims with an access token
    /// (`get_user_info_by_access_token`): `GET` with `Authorization: Bearer`.
    pub async fn get_user_info_by_access_token(&self, access_token: &AccessToken) -> Result<UserInfo> {
        self.userinfo_with(access_token, None).await
    }

    /// [`get_user_info_by_access_token`](Self::get_user_info_by_access_token)
    /// for a DPoP-bound access token: `Authorization: DPoP` and a proof of
    /// `key` with the token's hash (RFC 9449 §7).
    pub async fn get_user_info_by_access_token_with_dpop(
        &self,
        access_token: &AccessToken,
        key: &DpopKey,
    ) -> Result<UserInfo> {
        self.userinfo_with(access_token, Some(key)).await
    }

    pub(crate) async fn userinfo_with(
        &self,
        access_token: &AccessToken,
        dpop: Option<&DpopKey>,
    ) -> Result<UserInfo> {
        let url = self.endpoint(Endpoint::Userinfo)?;
        let reply = self
            .get_resource("get_user_info_by_access_token", url, access_token, dpop)
            .await?;
        let registered = self.inner.signed_responses.userinfo;
        self.signed_response_verifier().userinfo(reply, registered).await
    }

    /// Gets new tokens with a refresh token (`get_new_access_token_by_refresh_token`).
    pub async fn get_new_access_token_by_refresh_token(
        &self,
        refresh_token: &RefreshToken,
    ) -> Result<TokenSet> {
        self.refresh_grant(refresh_token, &TokenRequestExtras::new(), None)
            .await?
            .tokens
    }

    /// [`get_new_access_token_by_refresh_token`](Self::get_new_access_token_by_refresh_token)
    /// with a DPoP proof of `key`, the key the tokens are bound to (RFC 9449 §5).
    pub async fn get_new_access_token_by_refresh_token_with_dpop(
        &self,
        refresh_token: &RefreshToken,
        key: &DpopKey,
    ) -> Result<TokenSet> {
        self.refresh_grant(refresh_token, &TokenRequestExtras::new(), Some(key))
            .await?
            .tokens
    }

    /// [`get_new_access_token_by_refresh_token`](Self::get_new_access_token_by_refresh_token)
    /// with RFC 8707 `resource` (down-scoping to one resource, §2.2) and
    /// RFC 9396 `authorization_details` parameters.
    pub async fn get_new_access_token_by_refresh_token_with(
        &self,
        refresh_token: &RefreshToken,
        extras: &TokenRequestExtras,
    ) -> Result<TokenSet> {
        self.refresh_grant(refresh_token, extras, None).await?.tokens
    }

    /// [`get_new_access_token_by_refresh_token_with`](Self::get_new_access_token_by_refresh_token_with)
    /// with a DPoP proof of `key` (RFC 9449 §5): `resource` and
    /// `authorization_details` on a refresh of DPoP-bound tokens.
    pub async fn get_new_access_token_by_refresh_token_with_dpop_and(
        &self,
        refresh_token: &RefreshToken,
        extras: &TokenRequestExtras,
        key: &DpopKey,
    ) -> Result<TokenSet> {
        self.refresh_grant(refresh_token, extras, Some(key)).await?.tokens
    }

    /// Asks the provider whether an access or refresh token is active
    /// (`introspect_token`, RFC 7662). An inactive token is
    /// `Ok(Introspection { active: false, .. })`.
    pub async fn introspect_token(&self, token: &impl OAuthToken) -> Result<Introspection> {
        let url = self.endpoint(Endpoint::Introspection)?;
        let mut form = Form::new();
        form.push_secret("token", token.expose_secret());
        let authorization = self.authenticate(self.inner.introspection_auth, &mut form)?;
        let registered = self.inner.signed_responses.introspection;
        // RFC 9701 §4: a client registered for JWT answers asks for one.
        let accept = match registered {
            Some(_) => crate::signed_response::INTROSPECTION_JWT,
            None => "application/json",
        };
        let reply = self
            .http()
            .post_form_accepting("introspect_token", url, &form, authorization, accept)
            .await?;
        self.signed_response_verifier()
            .introspection(reply, registered)
            .await
    }

    /// What verifying a signed userinfo or introspection answer needs
    /// (docs/protocol.md §4.5).
    fn signed_response_verifier(&self) -> crate::signed_response::Verifier<'_> {
        let inner = &self.inner;
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        crate::signed_response::Verifier {
            issuer: &inner.issuer,
            client_id: &inner.app_id,
            trusted: &inner.trusted_audiences,
            keys: crate::jose::Keys {
                client_secret: inner.hmac_keys.as_ref(),
                jwks: &inner.jwks,
            },
            now: i64::try_from(self.clock().unix_now()).unwrap_or(i64::MAX),
            leeway: secs(inner.leeway),
            max_iat_skew: secs(inner.max_iat_skew),
        }
    }

    /// Authing's online check of an id_token or access token (`validate_token`).
    ///
    /// Use it when you want Authing's own verdict (e.g. for tokens it may have
    /// revoked); for id_tokens you received yourself, local verification
    /// ([`crate::id_token`]) needs no request.
    pub async fn validate_token(&self, token: TokenToValidate<'_>) -> Result<ValidateTokenResult> {
        let host = self.authing_host("validate_token")?;
        let mut url = join(host, "/api/v2/oidc/validate_token")?;
        let (name, value) = match token {
            TokenToValidate::IdToken(t) => ("id_token", t.expose_secret()),
            TokenToValidate::AccessToken(t) => ("access_token", t.expose_secret()),
        };
        url.query_pairs_mut().append_pair(name, value);
        let reply = self.http().get("validate_token", url, None).await?;
        validate_token_result_from(reply)
    }

    /// Revokes an access or refresh token (`revoke_token`, RFC 7009). Any 2xx
    /// answer, with any or no body, is success.
    pub async fn revoke_token(&self, token: &impl OAuthToken) -> Result<()> {
        let url = self.endpoint(Endpoint::Revocation)?;
        let mut form = Form::new();
        form.push_secret("token", token.expose_secret());
        let authorization = self.authenticate(self.inner.revocation_auth, &mut form)?;
        self.http()
            .post_form("revoke_token", url, &form, authorization)
            .await?
            .error_for_status(Body::Quotable)?;
        Ok(())
    }

    /// Builds a logout URL (`build_logout_url`).
    ///
    /// [`LogoutParams::Simple`]: Authing's `/login/profile/logout?redirect_uri=…`
    /// (`/cas-idp/logout?url=…` under CAS). [`LogoutParams::Expert`] (`expert=True`
    /// in Python): the OIDC `end_session_endpoint` with `id_token_hint` and
    /// `post_logout_redirect_uri`.
    pub fn build_logout_url(&self, params: LogoutParams) -> Result<Url> {
        match params {
            LogoutParams::Simple { redirect_uri } => {
                let host = self.authing_host("the simple logout URL")?;
                let redirect =
                    self.redirect_uri_for("redirect_uri", redirect_uri.as_deref(), "for the logout URL")?;
                let (path, name) = match self.inner.protocol {
                    Protocol::Cas => ("/cas-idp/logout", "url"),
                    _ => ("/login/profile/logout", "redirect_uri"),
                };
                let mut url = join(host, path)?;
                url.query_pairs_mut().append_pair(name, redirect.as_str());
                Ok(url)
            }
            LogoutParams::Expert {
                id_token,
                post_logout_redirect_uri,
                state,
            } => {
                if self.inner.protocol != Protocol::Oidc {
                    return Err(Error::input(format!(
                        "expert logout (RP-initiated logout) needs protocol oidc, not {}",
                        self.inner.protocol.as_str()
                    )));
                }
                if post_logout_redirect_uri.is_empty() {
                    return Err(Error::input("post_logout_redirect_uri is empty"));
                }
                let post_logout_redirect_uri = RedirectUri::check(
                    "post_logout_redirect_uri",
                    &post_logout_redirect_uri,
                    self.inner.insecure_http,
                )?;
                let mut url = match &self.inner.provider {
                    Provider::Authing { app_host } => join(app_host, "/oidc/session/end")?,
                    Provider::Discovered(m) => {
                        let e = m.end_session_endpoint.as_deref().ok_or_else(|| {
                            Error::config("the provider advertises no end_session_endpoint")
                        })?;
                        Url::parse(e).map_err(|e| Error::config(format!("end_session_endpoint: {e}")))?
                    }
                };
                {
                    let mut q = url.query_pairs_mut();
                    q.append_pair("id_token_hint", id_token.expose_secret());
                    q.append_pair("post_logout_redirect_uri", post_logout_redirect_uri.as_str());
                    if let Some(s) = &state {
                        q.append_pair("state", s);
                    }
                }
                Ok(url)
            }
        }
    }

    /// Gets a machine-to-machine access token with a programmatic access
    /// account (`get_access_token_by_client_credentials`). `scope` must not be
    /// empty.
    pub async fn get_access_token_by_client_credentials(
        &self,
        scope: &str,
        access_key: &str,
        access_secret: &AccessSecret,
    ) -> Result<TokenSet> {
        if scope.split_whitespace().next().is_none() {
            return Err(Error::input("client credentials need a non-empty scope"));
        }
        if access_key.is_empty() {
            return Err(Error::input("access_key is empty"));
        }
        let mut form = Form::new();
        form.push("grant_type", "client_credentials")
            .push("scope", scope)
            .push("client_id", access_key)
            .push_secret("client_secret", access_secret.expose_secret());
        // The access key pair authenticates this request, not the application's credentials.
        self.token_request("get_access_token_by_client_credentials", form, None, None)
            .await
    }

    /// A new PKCE code verifier of `length` characters, 43..=128
    /// (`generate_code_challenge`, whose default length is 43). Despite the
    /// Python name, this is the secret verifier: send only its digest.
    pub fn generate_code_challenge(&self, length: usize) -> Result<CodeVerifier> {
        pkce::generate_code_verifier(length)
    }

    /// The challenge for a verifier (`generate_code_challenge_digest`).
    pub fn generate_code_challenge_digest(
        &self,
        code_verifier: &CodeVerifier,
        method: CodeChallengeMethod,
    ) -> Result<CodeChallenge> {
        pkce::code_challenge(code_verifier, method)
    }
}

/// A token endpoint's answer (RFC 6749 §5.1, §5.2) as a [`TokenSet`]: the
/// status check of `token_reply`, then `token_set_of`, as `token_request`
/// runs them (for the fuzz targets, which have no request).
#[cfg(feature = "fuzzing")]
pub(crate) fn token_set_from(reply: Reply) -> Result<TokenSet> {
    token_set_of(&reply.error_for_status(Body::Sensitive)?, false)
}

/// A userinfo or introspection answer: JSON that may hold tokens or personal
/// data, so never quoted in an error. (The clients' own path also reads signed
/// answers: [`crate::signed_response`].)
#[cfg(feature = "fuzzing")]
pub(crate) fn sensitive_json_from<T: serde::de::DeserializeOwned>(reply: Reply) -> Result<T> {
    reply.error_for_status(Body::Sensitive)?.json(Body::Sensitive)
}

/// Authing's `validate_token` answer: the token's claims, or `{code, message}`
/// (with any status) for an invalid token.
pub(crate) fn validate_token_result_from(reply: Reply) -> Result<ValidateTokenResult> {
    // A `{code, message}` body means invalid whatever the status.
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&reply.body)
        && let Some(code) = map.get("code").filter(|c| !c.is_null())
    {
        let code = match code {
            Value::String(s) => reply.provider_text(s),
            other => reply.provider_text(&other.to_string()),
        };
        let message = map.get("message").and_then(Value::as_str).unwrap_or_default();
        let message = reply.provider_text(message);
        return Ok(ValidateTokenResult::Invalid { code, message });
    }
    let reply = reply.error_for_status(Body::Sensitive)?;
    let claims: Map<String, Value> = reply.json(Body::Sensitive)?;
    if !claims.get("sub").is_some_and(Value::is_string) {
        return Err(Error::InvalidResponse {
            endpoint: reply.endpoint,
            reason: "validate_token answered neither claims with sub nor {code, message}".to_owned(),
        });
    }
    Ok(ValidateTokenResult::Valid(claims))
}

/// `base` + an absolute path.
/// A 2xx token answer, strictly parsed (RFC 6749 §5.1).
/// After a DPoP request its `token_type` must be `DPoP` (RFC 9449 §5): a
/// `Bearer` token is not bound to the key, and is refused by its own error.
pub(crate) fn token_set_of(reply: &Reply, dpop: bool) -> Result<TokenSet> {
    let raw: RawTokenResponse = reply.json(Body::Sensitive)?;
    if dpop && let Some(t) = raw.token_type().filter(|t| t.eq_ignore_ascii_case("bearer")) {
        return Err(Error::DpopNotBound {
            endpoint: reply.endpoint.clone(),
            token_type: reply.provider_text(t),
        });
    }
    TokenSet::from_raw(raw, dpop).map_err(|reason| Error::InvalidResponse {
        endpoint: reply.endpoint.clone(),
        // The reason quotes the provider (its token_type), which may echo what we sent.
        reason: reply.provider_text(&reason),
    })
}

fn join(base: &Url, path: &str) -> Result<Url> {
    let s = format!("{}{}", base.as_str().trim_end_matches('/'), path);
    Url::parse(&s).map_err(|e| Error::config(format!("cannot build endpoint URL: {e}")))
}

fn encode_path(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
