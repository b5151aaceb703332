//! Dynamic Client Registration (RFC 7591) and its management protocol
//! (RFC 7592): a client registers itself, then reads and updates its
//! registration with the registration access token it was given.
//!
//! Registration needs no client id yet, so it has its own small client, a
//! [`Registrar`], built from the issuer by discovery (the Authing preset has
//! no documented registration endpoint):
//!
//! ```no_run
//! use authing_oidc::registration::{ClientMetadata, Registrar};
//! use authing_oidc::AuthenticationClient;
//! # async fn run() -> Result<(), authing_oidc::Error> {
//! let registrar = Registrar::discover(AuthenticationClient::builder(), "https://op.example.com").await?;
//! let metadata = ClientMetadata::new().redirect_uris(["https://app.example.com/callback"]);
//! let registered = registrar.register(&metadata, None).await?;
//! // Keep `registered.registration_access_token` (a secret) to read or update it later;
//! // `configure` refuses a client secret past its client_secret_expires_at.
//! let client = registered.configure(AuthenticationClient::builder(), registrar.now())?
//!     .discover("https://op.example.com").await?;
//! # let _ = client; Ok(()) }
//! ```

use reqwest::Method;
use serde_json::{Map, Value, json};
use url::Url;

use crate::builder::AuthenticationClientBuilder;
use crate::config::provider_url;
use crate::error::{Error, Result};
use crate::http::{Body, Http, Reply};
use crate::secret::{ClientSecret, ExposeSecret as _, InitialAccessToken, RegistrationAccessToken};

/// Client metadata to register or update (RFC 7591 §2): a JSON object with a
/// setter for the common members and [`set`](Self::set) for any other. Values
/// go on the wire as given.
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct ClientMetadata {
    members: Map<String, Value>,
}

/// Members of a registration answer that describe the registration, not the
/// client: an update must not send them back (RFC 7592 §2.2).
const SERVER_MEMBERS: [&str; 6] = [
    "client_id",
    "client_secret",
    "client_id_issued_at",
    "client_secret_expires_at",
    "registration_access_token",
    "registration_client_uri",
];

impl ClientMetadata {
    /// No members yet.
    pub fn new() -> Self {
        ClientMetadata::default()
    }

    /// `redirect_uris`.
    pub fn redirect_uris<I, S>(self, uris: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let uris: Vec<Value> = uris.into_iter().map(|u| Value::String(u.into())).collect();
        self.set("redirect_uris", Value::Array(uris))
    }

    /// `token_endpoint_auth_method` (`client_secret_basic`, `none`, …).
    pub fn token_endpoint_auth_method(self, method: impl Into<String>) -> Self {
        self.set("token_endpoint_auth_method", Value::String(method.into()))
    }

    /// `grant_types`.
    pub fn grant_types<I, S>(self, grants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let grants: Vec<Value> = grants.into_iter().map(|g| Value::String(g.into())).collect();
        self.set("grant_types", Value::Array(grants))
    }

    /// `client_name`.
    pub fn client_name(self, name: impl Into<String>) -> Self {
        self.set("client_name", Value::String(name.into()))
    }

    /// `scope`.
    pub fn scope(self, scope: impl Into<String>) -> Self {
        self.set("scope", Value::String(scope.into()))
    }

    /// Any member, e.g. `id_token_signed_response_alg` or `jwks`.
    pub fn set(mut self, name: impl Into<String>, value: Value) -> Self {
        self.members.insert(name.into(), value);
        self
    }

    /// The members.
    pub fn members(&self) -> &Map<String, Value> {
        &self.members
    }

    fn check(&self) -> Result<()> {
        for name in SERVER_MEMBERS {
            if self.members.contains_key(name) {
                return Err(Error::input(format!(
                    "{name} is the provider's to assign, not client metadata"
                )));
            }
        }
        Ok(())
    }
}

/// A registered client as the provider describes it (RFC 7591 §3.2.1,
/// RFC 7592 §3). `Debug` never shows the secret or the registration access
/// token.
#[derive(Clone)]
#[non_exhaustive]
pub struct RegisteredClient {
    /// The client id the provider assigned.
    pub client_id: String,
    /// The client secret, for a confidential client.
    pub client_secret: Option<ClientSecret>,
    /// When the client id was issued (seconds since the epoch), if said.
    pub client_id_issued_at: Option<u64>,
    /// When the secret expires (seconds since the epoch); `0` means never.
    /// Present whenever a secret is (RFC 7591 §3.2.1).
    pub client_secret_expires_at: Option<u64>,
    /// The token that reads and updates this registration (RFC 7592).
    pub registration_access_token: Option<RegistrationAccessToken>,
    /// Where this registration is read and updated (RFC 7592 §2).
    pub registration_client_uri: Option<String>,
    /// The client's metadata as the provider registered it (possibly
    /// different from what was asked: the provider may replace values).
    pub metadata: ClientMetadata,
}

impl std::fmt::Debug for RegisteredClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("client_secret_expires_at", &self.client_secret_expires_at)
            .field("registration_access_token", &self.registration_access_token)
            .field("registration_client_uri", &self.registration_client_uri)
            .field("metadata", &self.metadata.members.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl RegisteredClient {
    /// Whether the secret has expired at `now` (seconds since the epoch).
    /// A client without a secret, or one whose secret never expires, is not
    /// expired.
    pub fn client_secret_expired(&self, now: u64) -> bool {
        matches!(self.client_secret_expires_at, Some(at) if at != 0 && at <= now)
    }

    /// The secret, unless it has expired at `now`
    /// ([`Error::ClientSecretExpired`]); `None` for a client without one.
    pub fn client_secret_at(&self, now: u64) -> Result<Option<&ClientSecret>> {
        if self.client_secret_expired(now) {
            return Err(Error::ClientSecretExpired {
                expired_at: self.client_secret_expires_at.unwrap_or_default(),
            });
        }
        Ok(self.client_secret.as_ref())
    }

    /// A builder with this client's id and secret (and its
    /// `token_endpoint_auth_method`, when it is one the SDK knows); refuses a
    /// secret that has expired at `now`.
    pub fn configure(
        &self,
        builder: AuthenticationClientBuilder,
        now: u64,
    ) -> Result<AuthenticationClientBuilder> {
        let mut builder = builder.app_id(self.client_id.clone());
        if let Some(secret) = self.client_secret_at(now)? {
            builder = builder.secret(secret.clone());
        }
        if let Some(method) = self
            .metadata
            .members
            .get("token_endpoint_auth_method")
            .and_then(Value::as_str)
            .and_then(|m| m.parse().ok())
        {
            builder = builder.token_endpoint_auth_method(method);
        }
        Ok(builder)
    }

    /// The whole registration as the provider sent it, secrets included:
    /// **exports secrets**, for a caller whose job is to show or store them.
    pub fn to_json_with_secrets(&self) -> Value {
        let mut m = self.metadata.members.clone();
        m.insert("client_id".into(), json!(self.client_id));
        if let Some(s) = &self.client_secret {
            m.insert("client_secret".into(), json!(s.expose_secret()));
        }
        if let Some(at) = self.client_id_issued_at {
            m.insert("client_id_issued_at".into(), json!(at));
        }
        if let Some(at) = self.client_secret_expires_at {
            m.insert("client_secret_expires_at".into(), json!(at));
        }
        if let Some(t) = &self.registration_access_token {
            m.insert("registration_access_token".into(), json!(t.expose_secret()));
        }
        if let Some(u) = &self.registration_client_uri {
            m.insert("registration_client_uri".into(), json!(u));
        }
        Value::Object(m)
    }
}

/// A client of a provider's registration endpoints (RFC 7591 §3, RFC 7592 §2).
/// Cheap to clone.
#[derive(Clone)]
pub struct Registrar {
    http: Http,
    endpoint: Option<Url>,
    insecure_http: bool,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
}

impl std::fmt::Debug for Registrar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registrar")
            .field("endpoint", &self.endpoint.as_ref().map(Url::as_str))
            .finish_non_exhaustive()
    }
}

impl Registrar {
    /// The provider's registration endpoint, by discovery from `issuer`,
    /// with the builder's HTTP settings (timeout, response cap, injected
    /// client, `insecure_allow_http`, clock). A provider that advertises no
    /// `registration_endpoint` still allows reading and updating
    /// registrations; [`register`](Self::register) is then a configuration
    /// error.
    pub async fn discover(builder: AuthenticationClientBuilder, issuer: &str) -> Result<Registrar> {
        let (http, insecure_http, clock) = builder.registrar_parts()?;
        let metadata = crate::discovery::fetch(&http, issuer, insecure_http).await?;
        let endpoint = match &metadata.registration_endpoint {
            Some(e) => Some(provider_url("registration_endpoint", e, insecure_http)?),
            None => None,
        };
        Ok(Registrar {
            http,
            endpoint,
            insecure_http,
            clock,
        })
    }

    /// A registrar for a known registration endpoint, without discovery.
    pub fn at(builder: AuthenticationClientBuilder, registration_endpoint: &str) -> Result<Registrar> {
        let (http, insecure_http, clock) = builder.registrar_parts()?;
        let endpoint = provider_url("registration_endpoint", registration_endpoint, insecure_http)?;
        Ok(Registrar {
            http,
            endpoint: Some(endpoint),
            insecure_http,
            clock,
        })
    }

    /// Now, by the configured clock, for [`RegisteredClient::configure`].
    pub fn now(&self) -> u64 {
        self.clock.unix_now()
    }

    /// Registers a client (RFC 7591 §3.1): `POST` of the metadata as JSON,
    /// with `Authorization: Bearer` and the initial access token when the
    /// provider requires one.
    pub async fn register(
        &self,
        metadata: &ClientMetadata,
        initial_access_token: Option<&InitialAccessToken>,
    ) -> Result<RegisteredClient> {
        metadata.check()?;
        let endpoint = self
            .endpoint
            .clone()
            .ok_or_else(|| Error::config("the provider advertises no registration_endpoint"))?;
        let body = Value::Object(metadata.members.clone());
        let reply = self
            .http
            .json_request(
                "register_client",
                Method::POST,
                endpoint,
                Some(&body),
                initial_access_token.map(|t| t.expose_secret()),
                &[],
            )
            .await?;
        let registered = self.registered_from(reply, None)?;
        tracing::info!(client_id = %registered.client_id, "client registered");
        Ok(registered)
    }

    /// Reads a registration (RFC 7592 §2.1): `GET registration_client_uri`
    /// with its registration access token. A rotated token in the answer
    /// replaces the old one; without one, the old one is kept.
    pub async fn read(&self, client: &RegisteredClient) -> Result<RegisteredClient> {
        let (uri, token) = self.management(client)?;
        let reply = self
            .http
            .json_request(
                "read_client_registration",
                Method::GET,
                uri,
                None,
                Some(token.expose_secret()),
                &[],
            )
            .await?;
        self.registered_from(reply, Some(client))
    }

    /// Replaces a registration's metadata (RFC 7592 §2.2): `PUT
    /// registration_client_uri` with the whole new metadata, the `client_id`
    /// (and the current secret, as §2.2 allows), and the registration access
    /// token.
    pub async fn update(
        &self,
        client: &RegisteredClient,
        metadata: &ClientMetadata,
    ) -> Result<RegisteredClient> {
        metadata.check()?;
        let (uri, token) = self.management(client)?;
        let mut body = metadata.members.clone();
        body.insert("client_id".into(), json!(client.client_id));
        let mut sent_secrets = Vec::new();
        if let Some(s) = &client.client_secret {
            body.insert("client_secret".into(), json!(s.expose_secret()));
            sent_secrets.push(s.expose_secret());
        }
        let reply = self
            .http
            .json_request(
                "update_client_registration",
                Method::PUT,
                uri,
                Some(&Value::Object(body)),
                Some(token.expose_secret()),
                &sent_secrets,
            )
            .await?;
        self.registered_from(reply, Some(client))
    }

    /// Deletes a registration (RFC 7592 §2.3): `DELETE
    /// registration_client_uri`; any 2xx answer is success.
    pub async fn delete(&self, client: &RegisteredClient) -> Result<()> {
        let (uri, token) = self.management(client)?;
        self.http
            .json_request(
                "delete_client_registration",
                Method::DELETE,
                uri,
                None,
                Some(token.expose_secret()),
                &[],
            )
            .await?
            .error_for_status(Body::Sensitive)?;
        Ok(())
    }

    fn management<'a>(&self, client: &'a RegisteredClient) -> Result<(Url, &'a RegistrationAccessToken)> {
        let (Some(uri), Some(token)) = (&client.registration_client_uri, &client.registration_access_token)
        else {
            return Err(Error::input(
                "this registration has no registration_client_uri and registration_access_token",
            ));
        };
        Ok((
            provider_url("registration_client_uri", uri, self.insecure_http)?,
            token,
        ))
    }

    /// The checks of RFC 7591 §3.2.1 / RFC 7592 §3 on an answer: 2xx JSON
    /// with a `client_id` (the same one when reading or updating `previous`),
    /// a `client_secret_expires_at` beside any secret, a
    /// `registration_client_uri` fit for requests.
    pub(crate) fn registered_from(
        &self,
        reply: Reply,
        previous: Option<&RegisteredClient>,
    ) -> Result<RegisteredClient> {
        // The answer holds the client secret and the registration access token.
        let reply = reply.error_for_status(Body::Sensitive)?;
        let mut members: Map<String, Value> = reply.json(Body::Sensitive)?;
        let invalid = |reason: &str| Error::InvalidResponse {
            endpoint: reply.endpoint.clone(),
            reason: reason.to_owned(),
        };
        let text = |members: &mut Map<String, Value>, name: &str| -> Result<Option<String>> {
            match members.remove(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if !s.is_empty() => Ok(Some(s)),
                Some(_) => Err(invalid(&format!("{name} is not a non-empty string"))),
            }
        };
        let number = |members: &mut Map<String, Value>, name: &str| -> Result<Option<u64>> {
            match members.remove(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => n
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| invalid(&format!("{name} is not a non-negative integer"))),
                Some(_) => Err(invalid(&format!("{name} is not a number"))),
            }
        };
        let client_id =
            text(&mut members, "client_id")?.ok_or_else(|| invalid("the answer has no client_id"))?;
        if let Some(p) = previous
            && p.client_id != client_id
        {
            return Err(invalid("the answer is for another client_id"));
        }
        let client_secret = text(&mut members, "client_secret")?.map(ClientSecret::new);
        let client_id_issued_at = number(&mut members, "client_id_issued_at")?;
        let client_secret_expires_at = number(&mut members, "client_secret_expires_at")?;
        if client_secret.is_some() && client_secret_expires_at.is_none() {
            return Err(invalid(
                "the answer has a client_secret without client_secret_expires_at",
            ));
        }
        let registration_access_token = text(&mut members, "registration_access_token")?
            .map(RegistrationAccessToken::new)
            .or_else(|| previous.and_then(|p| p.registration_access_token.clone()));
        let registration_client_uri = match text(&mut members, "registration_client_uri")? {
            Some(u) => {
                // The provider's answer, not our configuration: an invalid answer, its text
                // scrubbed of what we sent (the initial or registration access token).
                provider_url("registration_client_uri", &u, self.insecure_http).map_err(|e| {
                    Error::InvalidResponse {
                        endpoint: reply.endpoint.clone(),
                        reason: reply.provider_text(&e.to_string()),
                    }
                })?;
                Some(u)
            }
            None => previous.and_then(|p| p.registration_client_uri.clone()),
        };
        Ok(RegisteredClient {
            client_id,
            client_secret,
            client_id_issued_at,
            client_secret_expires_at,
            registration_access_token,
            registration_client_uri,
            metadata: ClientMetadata { members },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(expires_at: Option<u64>) -> RegisteredClient {
        RegisteredClient {
            client_id: "c".into(),
            client_secret: Some(ClientSecret::new("canary-secret")),
            client_id_issued_at: None,
            client_secret_expires_at: expires_at,
            registration_access_token: Some(RegistrationAccessToken::new("canary-rat")),
            registration_client_uri: None,
            metadata: ClientMetadata::new(),
        }
    }

    #[test]
    fn secret_expiry() {
        assert!(!client(Some(0)).client_secret_expired(u64::MAX));
        assert!(!client(Some(100)).client_secret_expired(99));
        assert!(client(Some(100)).client_secret_expired(100));
        assert!(matches!(
            client(Some(100)).client_secret_at(200),
            Err(Error::ClientSecretExpired { expired_at: 100 })
        ));
        assert!(client(Some(0)).client_secret_at(200).unwrap().is_some());
    }

    #[test]
    fn debug_hides_the_secrets() {
        let d = format!("{:?}", client(Some(0)));
        assert!(!d.contains("canary"), "{d}");
    }

    #[test]
    fn server_members_are_not_metadata() {
        assert!(
            ClientMetadata::new()
                .set("client_id", json!("x"))
                .check()
                .is_err()
        );
        assert!(
            ClientMetadata::new()
                .redirect_uris(["https://a/cb"])
                .check()
                .is_ok()
        );
    }
}
