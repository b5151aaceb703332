//! What the provider knows before it starts: registered clients, users, machine-to-machine
//! credentials and token lifetimes.
//!
//! Everything here has a default, so `DevProviderConfig::default()` gives a provider that a
//! fresh machine can log in to (see [`DevProviderConfig`] for the exact values).

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::Error;

/// The redirect URI every default client registers.
///
/// It is a loopback URI, so any port with the same path is accepted too
/// ([RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3)).
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:3000/callback";

/// Configuration of a [`DevProvider`](crate::DevProvider).
///
/// Build it from [`Default`] and change what you need:
///
/// ```
/// use authing_oidc_dev_provider::DevProviderConfig;
/// use std::time::Duration;
///
/// let mut config = DevProviderConfig::default();
/// config.port = 0; // any free port
/// config.access_token_lifetime = Duration::from_secs(5);
/// ```
///
/// The defaults register four clients, one user and one machine-to-machine credential:
///
/// | client | secret | auth method | id_token alg |
/// |---|---|---|---|
/// | `dev-app` | `dev-app-secret` | `client_secret_post` | RS256 |
/// | `dev-app-basic` | `s3cr3t with spaces&+/=%` | `client_secret_basic` | HS256 |
/// | `dev-app-public` | none | `none` (PKCE required) | RS256 |
/// | `dev-app-fapi` | none: a key pair generated at start | `private_key_jwt` | ES256 |
///
/// `dev-app-fapi` is a FAPI 2.0 client ([`ClientRegistration::fapi2`]): pushed authorization
/// requests, PKCE S256 and DPoP-bound tokens required; its private key is in
/// [`ClientRegistration::client_key`] once the provider runs.
///
/// All redirect to [`DEFAULT_REDIRECT_URI`]. The user is `alice` / `alice-password`; the
/// machine-to-machine pair is `dev-m2m-access-key` / `dev-m2m-access-secret`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DevProviderConfig {
    /// TCP port on 127.0.0.1; `0` picks any free port.
    pub port: u16,
    /// Registered clients (applications).
    pub clients: Vec<ClientRegistration>,
    /// Users who can log in on the login page.
    pub users: Vec<DevUser>,
    /// Access key / secret pairs accepted by the `client_credentials` grant.
    pub m2m_credentials: Vec<M2mCredential>,
    /// `expires_in` of access tokens.
    pub access_token_lifetime: Duration,
    /// Time between `iat` and `exp` of id_tokens.
    pub id_token_lifetime: Duration,
    /// How long an authorization code can be exchanged.
    pub code_lifetime: Duration,
    /// How long a refresh token stays usable.
    pub refresh_token_lifetime: Duration,
    /// DPoP (RFC 9449 §8): demand the provider's nonce in every proof, answering
    /// `use_dpop_nonce` with a `DPoP-Nonce` header until it is sent. Proofs are checked and
    /// tokens bound either way.
    pub require_dpop_nonce: bool,
}

impl Default for DevProviderConfig {
    fn default() -> Self {
        Self {
            port: 0,
            clients: vec![
                ClientRegistration::confidential(
                    "dev-app",
                    "dev-app-secret",
                    ClientAuthMethod::ClientSecretPost,
                ),
                ClientRegistration::confidential(
                    "dev-app-basic",
                    "s3cr3t with spaces&+/=%",
                    ClientAuthMethod::ClientSecretBasic,
                )
                .with_id_token_alg(IdTokenAlg::HS256),
                ClientRegistration::public("dev-app-public"),
                ClientRegistration::fapi2("dev-app-fapi"),
            ],
            users: vec![DevUser::new(
                "alice",
                "alice-password",
                "Alice Example",
                "alice@example.com",
            )],
            m2m_credentials: vec![M2mCredential {
                access_key: "dev-m2m-access-key".to_owned(),
                access_secret: "dev-m2m-access-secret".to_owned(),
            }],
            access_token_lifetime: Duration::from_secs(3600),
            id_token_lifetime: Duration::from_secs(3600),
            code_lifetime: Duration::from_secs(600),
            refresh_token_lifetime: Duration::from_secs(30 * 24 * 3600),
            require_dpop_nonce: false,
        }
    }
}

impl DevProviderConfig {
    /// Refuses configurations the provider could not serve consistently: duplicate ids,
    /// confidential methods or HS256 without a secret, redirect URIs that are not absolute URLs.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let mut seen = std::collections::HashSet::new();
        for client in &self.clients {
            if !seen.insert(client.app_id.as_str()) {
                return Err(Error::Config(format!(
                    "client {} is registered twice",
                    client.app_id
                )));
            }
            let needs_secret = client.id_token_signed_response_alg == IdTokenAlg::HS256
                || client
                    .auth_methods()
                    .iter()
                    .any(|m| !matches!(m, ClientAuthMethod::None | ClientAuthMethod::PrivateKeyJwt));
            let needs_jwks = client.auth_methods().contains(&ClientAuthMethod::PrivateKeyJwt);
            if needs_jwks && client.jwks.is_none() && !client.generate_key {
                return Err(Error::Config(format!(
                    "client {} uses private_key_jwt and needs its jwks",
                    client.app_id
                )));
            }
            if needs_secret && client.secret.as_deref().unwrap_or("").is_empty() {
                return Err(Error::Config(format!(
                    "client {} needs a secret for its auth method or HS256",
                    client.app_id
                )));
            }
            for uri in &client.redirect_uris {
                url::Url::parse(uri)
                    .map_err(|e| Error::Config(format!("client {}: redirect URI: {e}", client.app_id)))?;
            }
        }
        let mut users = std::collections::HashSet::new();
        for user in &self.users {
            if !users.insert(user.username.as_str()) {
                return Err(Error::Config(format!(
                    "user {} is configured twice",
                    user.username
                )));
            }
        }
        Ok(())
    }
}

/// How a client authenticates at the token, introspection and revocation endpoints
/// ([RFC 6749 §2.3](https://www.rfc-editor.org/rfc/rfc6749#section-2.3),
/// [OIDC Core §9](https://openid.net/specs/openid-connect-core-1_0.html#ClientAuthentication)).
///
/// The provider enforces exactly the registered method: credentials sent another way are
/// refused with `invalid_client`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`.
    ClientSecretBasic,
    /// Public client: `client_id` in the body only; PKCE is required.
    None,
    /// A JWT signed HS256 with the client secret (RFC 7523 §2.2).
    ClientSecretJwt,
    /// A JWT signed with the client's private key, checked with its registered `jwks`
    /// (RFC 7523 §2.2).
    PrivateKeyJwt,
}

impl ClientAuthMethod {
    /// The registered name, e.g. `client_secret_post`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretPost => "client_secret_post",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::None => "none",
            Self::ClientSecretJwt => "client_secret_jwt",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// The algorithm a client's id_tokens are signed with: the two Authing lets an app pick, and
/// the two the FAPI 2.0 profile allows (FAPI 2.0 Security Profile §5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum IdTokenAlg {
    /// RSA PKCS#1 v1.5 with SHA-256, key published in the JWKS with a `kid`.
    RS256,
    /// HMAC with SHA-256 keyed with the client secret; no `kid`.
    HS256,
    /// RSA-PSS with SHA-256, with an RSA-2048 key of its own (generated at start when a
    /// client uses it), published in the JWKS with a `kid` and `alg` `PS256`.
    PS256,
    /// ECDSA P-256 with SHA-256, with a P-256 key generated at start, published in the JWKS
    /// with a `kid` and `alg` `ES256`.
    ES256,
}

impl IdTokenAlg {
    /// The JOSE name, e.g. `RS256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::HS256 => "HS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
        }
    }
}

/// A grant type a client may use at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// `authorization_code`
    AuthorizationCode,
    /// `refresh_token`
    RefreshToken,
    /// `client_credentials`, with the client's own id and secret.
    ClientCredentials,
}

/// A registered client (an Authing "application").
#[derive(Clone)]
#[non_exhaustive]
pub struct ClientRegistration {
    /// The client id (`app_id`).
    pub app_id: String,
    /// The client secret; `None` for public clients.
    pub secret: Option<String>,
    /// Registered redirect URIs; loopback ones match any port (RFC 8252 §7.3).
    pub redirect_uris: Vec<String>,
    /// Method enforced at the token endpoint.
    pub token_endpoint_auth_method: ClientAuthMethod,
    /// Method enforced at introspection; `None` means the token endpoint's.
    pub introspection_endpoint_auth_method: Option<ClientAuthMethod>,
    /// Method enforced at revocation; `None` means the token endpoint's.
    pub revocation_endpoint_auth_method: Option<ClientAuthMethod>,
    /// How this client's id_tokens are signed.
    pub id_token_signed_response_alg: IdTokenAlg,
    /// Grant types this client may use.
    pub grant_types: Vec<GrantType>,
    /// The client's public keys (`{"keys": [JWK…]}`), for `private_key_jwt` and signed
    /// request objects (RFC 9101).
    pub jwks: Option<serde_json::Value>,
    /// The provider generates this client's key pair (ECDSA P-256, `ES256`) at start,
    /// registers its public half as [`jwks`](Self::jwks) and hands the private half out
    /// through [`client_key`](Self::client_key) and the JSON line, so a demo needs no key
    /// files. A development key, public on purpose.
    pub generate_key: bool,
    /// RFC 9126 §6: authorization requests of this client are accepted only when pushed.
    pub require_pushed_authorization_requests: bool,
    /// RFC 9449 §5.2: token requests of this client must carry a DPoP proof, so every token
    /// it gets is bound to its key.
    pub dpop_bound_access_tokens: bool,
    /// Authorization requests must carry a PKCE challenge with `S256` (FAPI 2.0 Security
    /// Profile §5.3.2.2); public clients need PKCE whatever this says.
    pub require_pkce_s256: bool,
    /// The private JWK generated at start when [`generate_key`](Self::generate_key) is set.
    pub(crate) generated_private_jwk: Option<serde_json::Value>,
}

impl ClientRegistration {
    /// A confidential client with the given secret and token endpoint auth method, RS256
    /// id_tokens, [`DEFAULT_REDIRECT_URI`], and the code and refresh grants.
    pub fn confidential(
        app_id: impl Into<String>,
        secret: impl Into<String>,
        method: ClientAuthMethod,
    ) -> Self {
        Self {
            app_id: app_id.into(),
            secret: Some(secret.into()),
            redirect_uris: vec![DEFAULT_REDIRECT_URI.to_owned()],
            token_endpoint_auth_method: method,
            introspection_endpoint_auth_method: None,
            revocation_endpoint_auth_method: None,
            id_token_signed_response_alg: IdTokenAlg::RS256,
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            jwks: None,
            generate_key: false,
            require_pushed_authorization_requests: false,
            dpop_bound_access_tokens: false,
            require_pkce_s256: false,
            generated_private_jwk: None,
        }
    }

    /// A client that authenticates with `private_key_jwt` (RFC 7523): its public keys
    /// (`{"keys": [JWK…]}`), no secret, RS256 id_tokens, [`DEFAULT_REDIRECT_URI`], and the code
    /// and refresh grants.
    pub fn private_key_jwt(app_id: impl Into<String>, jwks: serde_json::Value) -> Self {
        Self {
            secret: None,
            jwks: Some(jwks),
            ..Self::confidential(app_id, "", ClientAuthMethod::PrivateKeyJwt)
        }
    }

    /// A FAPI 2.0 client (FAPI 2.0 Security Profile §5.3): `private_key_jwt` with a key pair
    /// the provider generates at start ([`generate_key`](Self::generate_key)), ES256 id_tokens,
    /// pushed authorization requests, PKCE S256 and DPoP-bound tokens required,
    /// [`DEFAULT_REDIRECT_URI`], and the code and refresh grants.
    /// [`with_id_token_alg`](Self::with_id_token_alg) may pick PS256 instead.
    pub fn fapi2(app_id: impl Into<String>) -> Self {
        Self {
            secret: None,
            generate_key: true,
            require_pushed_authorization_requests: true,
            dpop_bound_access_tokens: true,
            require_pkce_s256: true,
            id_token_signed_response_alg: IdTokenAlg::ES256,
            ..Self::confidential(app_id, "", ClientAuthMethod::PrivateKeyJwt)
        }
    }

    /// The private key the provider generated for this client at start, as a JWK with `kid`
    /// and `alg` (what `authing-oidc --client-key` and `ClientKey::parse` take); `None` before
    /// the provider runs and for clients without [`generate_key`](Self::generate_key). A
    /// development key, public on purpose: never register it with a real provider.
    pub fn client_key(&self) -> Option<&serde_json::Value> {
        self.generated_private_jwk.as_ref()
    }

    /// A public client (auth method `none`, PKCE required) with RS256 id_tokens,
    /// [`DEFAULT_REDIRECT_URI`], and the code and refresh grants.
    pub fn public(app_id: impl Into<String>) -> Self {
        Self {
            secret: None,
            token_endpoint_auth_method: ClientAuthMethod::None,
            ..Self::confidential(app_id, "", ClientAuthMethod::None)
        }
    }

    /// Replaces the registered redirect URIs.
    pub fn with_redirect_uris<I, S>(mut self, uris: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.redirect_uris = uris.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the id_token signing algorithm.
    pub fn with_id_token_alg(mut self, alg: IdTokenAlg) -> Self {
        self.id_token_signed_response_alg = alg;
        self
    }

    /// Sets separate introspection and revocation auth methods.
    pub fn with_introspection_and_revocation_methods(
        mut self,
        introspection: ClientAuthMethod,
        revocation: ClientAuthMethod,
    ) -> Self {
        self.introspection_endpoint_auth_method = Some(introspection);
        self.revocation_endpoint_auth_method = Some(revocation);
        self
    }

    /// Replaces the allowed grant types.
    pub fn with_grant_types(mut self, grants: impl IntoIterator<Item = GrantType>) -> Self {
        self.grant_types = grants.into_iter().collect();
        self
    }

    /// Method enforced at the introspection endpoint.
    pub fn introspection_method(&self) -> ClientAuthMethod {
        self.introspection_endpoint_auth_method
            .unwrap_or(self.token_endpoint_auth_method)
    }

    /// Method enforced at the revocation endpoint.
    pub fn revocation_method(&self) -> ClientAuthMethod {
        self.revocation_endpoint_auth_method
            .unwrap_or(self.token_endpoint_auth_method)
    }

    /// Whether the client is public (its token endpoint auth method is `none`).
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == ClientAuthMethod::None
    }

    fn auth_methods(&self) -> [ClientAuthMethod; 3] {
        [
            self.token_endpoint_auth_method,
            self.introspection_method(),
            self.revocation_method(),
        ]
    }
}

// The secret is a well-known development value, but a Debug that prints secrets is a habit
// the SDK must not learn from its own test tools.
impl fmt::Debug for ClientRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientRegistration")
            .field("app_id", &self.app_id)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("redirect_uris", &self.redirect_uris)
            .field("token_endpoint_auth_method", &self.token_endpoint_auth_method)
            .field("introspection_method", &self.introspection_method())
            .field("revocation_method", &self.revocation_method())
            .field("id_token_signed_response_alg", &self.id_token_signed_response_alg)
            .field("grant_types", &self.grant_types)
            .field("generate_key", &self.generate_key)
            .field(
                "require_pushed_authorization_requests",
                &self.require_pushed_authorization_requests,
            )
            .field("dpop_bound_access_tokens", &self.dpop_bound_access_tokens)
            .field("require_pkce_s256", &self.require_pkce_s256)
            .finish_non_exhaustive()
    }
}

/// A user who can log in on the login page.
#[derive(Clone)]
#[non_exhaustive]
pub struct DevUser {
    /// Subject identifier (`sub`), stable across logins.
    pub sub: String,
    /// Login name typed in the form; also `preferred_username`.
    pub username: String,
    /// Password typed in the form.
    pub password: String,
    /// `name` claim.
    pub name: String,
    /// `email` claim.
    pub email: String,
    /// `email_verified` claim.
    pub email_verified: bool,
    /// `phone_number` claim, when the user has one.
    pub phone_number: Option<String>,
}

impl DevUser {
    /// A user with a verified email and no phone number; `sub` is derived from the username
    /// so it stays the same across restarts.
    pub fn new(
        username: impl Into<String>,
        password: impl Into<String>,
        name: impl Into<String>,
        email: impl Into<String>,
    ) -> Self {
        let username = username.into();
        Self {
            sub: format!("dev-user-{username}"),
            username,
            password: password.into(),
            name: name.into(),
            email: email.into(),
            email_verified: true,
            phone_number: None,
        }
    }
}

impl fmt::Debug for DevUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevUser")
            .field("sub", &self.sub)
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("name", &self.name)
            .field("email", &self.email)
            .finish()
    }
}

/// An Authing "programmatic access account": an access key and secret accepted by the
/// `client_credentials` grant in place of a registered client.
#[derive(Clone)]
#[non_exhaustive]
pub struct M2mCredential {
    /// Sent as `client_id`.
    pub access_key: String,
    /// Sent as `client_secret`.
    pub access_secret: String,
}

impl M2mCredential {
    /// A credential pair.
    pub fn new(access_key: impl Into<String>, access_secret: impl Into<String>) -> Self {
        Self {
            access_key: access_key.into(),
            access_secret: access_secret.into(),
        }
    }
}

impl fmt::Debug for M2mCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("M2mCredential")
            .field("access_key", &self.access_key)
            .field("access_secret", &"[redacted]")
            .finish()
    }
}
