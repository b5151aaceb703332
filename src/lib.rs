//! # authing-oidc
//!
//! An OpenID Connect client for [Authing](https://www.authing.cn) applications
//! and any certified OpenID Provider: a login flow whose misuse does not
//! compile, tokens that cannot leak through logs, id_tokens checked locally as
//! well as online, and sessions that refresh themselves.
//!
//! ## A login in ten lines
//!
//! ```no_run
//! use authing_oidc::AuthenticationClient;
//! use authing_oidc::flow::{CallbackParams, Unauthorized};
//! # async fn run(callback_query: &str) -> Result<(), authing_oidc::Error> {
//! let client = AuthenticationClient::builder()
//!     .app_id("AUTHING_APP_ID").secret("AUTHING_APP_SECRET")
//!     .app_host("https://sample-app.authing.cn").redirect_uri("https://example.com/callback")
//!     .build()?;
//! let (url, pending) = Unauthorized::new(client).scope("openid profile offline_access").start()?;
//! // Send the browser to `url`; keep `pending` (see `export_with_secrets`) until it comes back.
//! let session = pending.complete(CallbackParams::from_query(callback_query)?).await?;
//! let user = session.userinfo().await?; // userinfo's sub is checked against the id_token's
//! let token = session.access_token().await?; // refreshed first when it is about to expire
//! # let _ = (url, user, token); Ok(()) }
//! ```
//!
//! [`flow::PendingCallback::complete`] checks the callback (response mode,
//! repeated parameters, RFC 9207 `iss`, `state`, errors, age), exchanges the
//! code with the PKCE verifier and verifies the id_token with the nonce;
//! [`flow::Authenticated`] is a cheap-to-clone session that any number of tasks
//! share. The examples directory has it as a runnable program
//! (`cargo run --example quickstart`).
//!
//! ## The Python SDK's methods
//!
//! [`AuthenticationClient`] is stateless and has every method of Authing's
//! Python SDK OIDC module under the same names, with the requests on the wire
//! exactly as Authing expects them (see `docs/migrating-from-python.md`):
//!
//! ```no_run
//! # use authing_oidc::{AuthenticationClient, AuthorizeParams, AuthorizationCode};
//! # async fn run(client: AuthenticationClient) -> Result<(), authing_oidc::Error> {
//! let login = client.build_authorize_url(AuthorizeParams::new())?;
//! // … the browser comes back to the callback with ?code=…
//! let tokens = client.get_access_token_by_code(&AuthorizationCode::new("the code"), None).await?;
//! let user = client.get_user_info_by_access_token(&tokens.access_token).await?;
//! # let _ = (login, user); Ok(()) }
//! ```
//!
//! Local verification ([`AuthenticationClient::verify_id_token`]) needs no
//! request once the keys are cached and works with any provider; Authing's
//! online [`AuthenticationClient::validate_token`] asks Authing, which also
//! knows about tokens it has revoked, at the cost of a request each time.
//!
//! ## Device login (RFC 8628)
//!
//! For a CLI, a TV or a headless box: the user approves on another screen
//! while the device polls. [`flow::DeviceLogin`] → [`flow::DeviceAuthorization`]
//! (which holds the device code) → [`flow::Authenticated`], with the id_token
//! verified; `slow_down`, `access_denied` and expiry are handled and typed
//! (docs/protocol.md §2.9, §2.11). The endpoint comes from discovery. The
//! scope goes on the wire as given and must contain `openid`: a scope
//! without it is refused before any request, never rewritten (CIBA alike).
//!
//! ```no_run
//! use authing_oidc::flow::DeviceLogin;
//! # async fn run(client: authing_oidc::AuthenticationClient) -> Result<(), authing_oidc::Error> {
//! let device = DeviceLogin::new(client).scope("openid profile offline_access").start().await?;
//! println!("Go to {} and enter {}", device.verification_uri(), device.user_code());
//! let session = device.wait().await?; // or wait_until(shutdown_signal)
//! # let _ = session; Ok(()) }
//! ```
//!
//! ## Backchannel login (OpenID CIBA, poll mode)
//!
//! The client names the user; the provider asks them on their own device.
//! [`flow::BackchannelLogin`] → [`flow::BackchannelAuthentication`] (which
//! holds the `auth_req_id`) → [`flow::Authenticated`], polled like the device
//! flow (docs/protocol.md §2.10).
//!
//! ```no_run
//! use authing_oidc::{ciba::UserHint, flow::BackchannelLogin};
//! # async fn run(client: authing_oidc::AuthenticationClient) -> Result<(), authing_oidc::Error> {
//! let waiting = BackchannelLogin::new(client, UserHint::LoginHint("alice@example.com".into()))
//!     .binding_message("W4SCT")
//!     .start()
//!     .await?;
//! let session = waiting.wait().await?;
//! # let _ = session; Ok(()) }
//! ```
//!
//! ## Token exchange (RFC 8693)
//!
//! One request, so one stateless method:
//! [`AuthenticationClient::exchange_token`] with a
//! [`token_exchange::TokenExchangeRequest`]; the answer names its
//! `issued_token_type` (docs/protocol.md §2.8).
//!
//! ```no_run
//! use authing_oidc::token_exchange::{TokenExchangeRequest, TokenType};
//! use authing_oidc::SubjectToken;
//! # async fn run(client: authing_oidc::AuthenticationClient, incoming: &str) -> Result<(), authing_oidc::Error> {
//! let request = TokenExchangeRequest::new(SubjectToken::new(incoming), TokenType::AccessToken)
//!     .audience("orders-api");
//! let answer = client.exchange_token(&request).await?;
//! # let _ = answer; Ok(()) }
//! ```
//!
//! ## Dynamic client registration (RFC 7591, 7592)
//!
//! A [`registration::Registrar`] registers a client (with or without an
//! initial access token), then reads, updates and deletes it with the
//! registration access token it got; an expired client secret is refused
//! before use (docs/protocol.md §2.12).
//!
//! ```no_run
//! use authing_oidc::registration::{ClientMetadata, Registrar};
//! use authing_oidc::AuthenticationClient;
//! # async fn run() -> Result<(), authing_oidc::Error> {
//! let registrar = Registrar::discover(AuthenticationClient::builder(), "https://op.example").await?;
//! let registered = registrar
//!     .register(&ClientMetadata::new().redirect_uris(["https://app.example/cb"]), None)
//!     .await?;
//! let renamed = registrar
//!     .update(&registered, &ClientMetadata::new().redirect_uris(["https://app.example/cb"]).client_name("App"))
//!     .await?;
//! # let _ = renamed; Ok(()) }
//! ```
//!
//! ## Back-channel logout and signed answers
//!
//! When the user's session at the provider ends, the provider posts a logout
//! token to the service; [`AuthenticationClient::verify_logout_token`] makes
//! every check of OpenID Back-Channel Logout 1.0 §2.6 (replays included) and
//! names the `sid` and `sub` to log out ([`logout_token`];
//! `authing-oidc-axum` mounts `POST /backchannel-logout` on it):
//!
//! ```no_run
//! # async fn run(client: authing_oidc::AuthenticationClient, form_field: String) -> authing_oidc::Result<()> {
//! let logout = client.verify_logout_token(&authing_oidc::LogoutToken::new(form_field)).await?;
//! // End the local sessions whose Authenticated::sid() is logout.sid (or, without one, of logout.sub).
//! # let _ = logout; Ok(()) }
//! ```
//!
//! Signed userinfo (`application/jwt`) and RFC 9701 introspection answers are
//! verified by their content type; a client registered for them
//! ([`AuthenticationClientBuilder::userinfo_signed_response_alg`]) refuses
//! plain JSON.
//!
//! ## Secrets
//!
//! Every token and secret is a distinct [`secret`] type whose `Debug` prints
//! `[REDACTED]`; there is no `Display`, and errors and logs never quote them.
//! `docs/security.md` lists each guarantee with the test that backs it.
//!
//! ## Modules
//!
//! - [`flow`]: the typed login flow and self-refreshing sessions; [`callback`]
//!   parses what the browser brings back;
//! - [`client_auth`]: client authentication, incl. RFC 7523 assertions with
//!   a [`ClientKey`];
//! - [`config`]: protocol, auth methods, algorithms; [`discovery`]: provider
//!   metadata for non-Authing providers;
//! - [`authorize`], [`logout`]: the URLs the browser is sent to, back to a
//!   [`redirect_uri`] kept byte for byte; [`pkce`]: RFC 7636 verifiers and
//!   challenges;
//! - [`id_token`]: local id_token verification (OIDC Core §3.1.3.7, §12.2),
//!   with the provider's keys cached and rotated by [`jwks`];
//! - [`authorization_details`]: RFC 9396 rich authorization requests and
//!   RFC 8707 resource indicators;
//! - [`dpop`]: sender-constrained tokens (RFC 9449), switched on with
//!   [`AuthenticationClientBuilder::dpop`];
//! - [`token_set`], [`userinfo`], [`introspection`]: typed responses;
//! - [`access_token`]: RFC 9068 access-token verification; [`bearer`]: bearer
//!   tokens at a resource server (JWTs verified, opaque ones introspected,
//!   both cached);
//! - [`m2m`]: cached machine-to-machine tokens;
//! - [`device_authorization`], [`ciba`]: the requests of the device flow and
//!   CIBA (their waits are in [`flow`]); [`token_exchange`]: RFC 8693;
//!   [`registration`]: RFC 7591 / 7592;
//! - [`clock`]: the injectable clock every expiry decision uses;
//! - [`secret`]: the secret types; [`error`]: the one [`Error`] type.
//!
//! The SDK reports what it does through [`tracing`](https://docs.rs/tracing):
//! a span per request (operation, endpoint without query, status, duration)
//! and events for JWKS fetches, key rotation and refreshes — never a secret.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod access_token;
pub mod authorization_details;
pub mod authorize;
pub mod bearer;
mod builder;
pub mod callback;
pub mod ciba;
mod client;
pub mod client_auth;
pub mod clock;
pub mod config;
pub mod device_authorization;
pub mod discovery;
pub mod dpop;
pub mod error;
pub mod flow;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod http;
pub mod id_token;
pub mod introspection;
pub mod jose;
pub use jose::jwks;
pub mod logout;
pub mod logout_token;
pub mod m2m;
pub mod pkce;
mod random;
pub mod redirect_uri;
pub mod registration;
mod request_object;
pub mod secret;
mod signed_response;
pub mod token_exchange;
pub mod token_set;
pub mod userinfo;

pub use authorize::{AuthorizeParams, AuthorizeUrl, ResponseMode};
pub use builder::AuthenticationClientBuilder;
pub use client::AuthenticationClient;
pub use client::profile::FAPI2_ALGORITHMS;
pub use client_auth::{AssertionAudience, ClientKey};
pub use config::{AuthMethod, Protocol, SigningAlgorithm};
pub use error::{
    AuthorizationError, DpopProofError, Error, IdTokenError, LogoutTokenError, OpError, Result, StoreError,
    StoreErrorKind,
};
pub use flow::store;
pub use id_token::{IdTokenClaims, IdTokenVerifier, VerifyOptions};
pub use introspection::{Introspection, TokenToValidate, ValidateTokenResult};
pub use logout::LogoutParams;
pub use logout_token::LogoutTokenClaims;
pub use pkce::{CodeChallenge, CodeChallengeMethod};
pub use redirect_uri::RedirectUri;
pub use secret::{
    AccessSecret, AccessToken, ActorToken, AuthReqId, AuthorizationCode, ClientSecret, CodeVerifier,
    DeviceCode, ExposeSecret, IdToken, InitialAccessToken, IssuedToken, LogoutToken, Nonce, OAuthToken,
    RefreshToken, RegistrationAccessToken, State, SubjectToken,
};
pub use token_set::TokenSet;
pub use userinfo::{StandardClaims, UserInfo};

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
