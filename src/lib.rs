//! # authing-oidc
//!
//! An OpenID Connect client for [Authing](https://www.authing.cn) applications
//! and any certified OpenID Provider.
//!
//! It offers two layers:
//!
//! - [`AuthenticationClient`]: a stateless client with every method of
//!   Authing's Python SDK OIDC module, under the same names
//!   (`build_authorize_url`, `get_access_token_by_code`, …), with the requests
//!   on the wire exactly as Authing expects them.
//! - a typed login flow built on it (coming with the flow module).
//!
//! Every token and secret is a distinct secret type whose `Debug` prints
//! `[REDACTED]`; there is no `Display`. Errors never quote them.
//!
//! ```no_run
//! use authing_oidc::{AuthenticationClient, AuthorizeParams, AuthorizationCode};
//! # async fn run() -> Result<(), authing_oidc::Error> {
//! let client = AuthenticationClient::builder()
//!     .app_id("AUTHING_APP_ID")
//!     .secret("AUTHING_APP_SECRET")
//!     .app_host("https://sample-app.authing.cn")
//!     .redirect_uri("http://localhost:3000/callback")
//!     .build()?;
//! let login = client.build_authorize_url(AuthorizeParams::new())?;
//! println!("open {}", login.as_str());
//! // … the browser comes back to the callback with ?code=…
//! let tokens = client.get_access_token_by_code(&AuthorizationCode::new("the code"), None).await?;
//! let user = client.get_user_info_by_access_token(&tokens.access_token).await?;
//! println!("hello {}", user.sub);
//! # Ok(()) }
//! ```
//!
//! ## Modules
//!
//! - [`config`]: protocol, auth methods, algorithms;
//! - [`authorize`], [`logout`]: the URLs the browser is sent to;
//! - [`pkce`]: RFC 7636 verifiers and challenges;
//! - [`discovery`]: provider metadata for non-Authing providers;
//! - [`id_token`]: local id_token verification (OIDC Core §3.1.3.7, §12.2), with
//!   the provider's keys cached and rotated by [`jwks`];
//! - [`secret`]: the secret types;
//! - [`error`]: the one [`Error`] type.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod authorize;
mod builder;
pub mod callback;
mod client;
pub mod clock;
pub mod config;
pub mod discovery;
pub mod error;
pub mod flow;
mod http;
pub mod id_token;
pub mod introspection;
pub mod jwks;
pub mod logout;
pub mod m2m;
pub mod pkce;
mod random;
pub mod secret;
pub mod token_set;
pub mod userinfo;

pub use authorize::{AuthorizeParams, AuthorizeUrl, ResponseMode};
pub use builder::AuthenticationClientBuilder;
pub use client::AuthenticationClient;
pub use config::{AuthMethod, Protocol, SigningAlgorithm};
pub use error::{AuthorizationError, Error, IdTokenError, OpError, Result};
pub use id_token::{IdTokenClaims, IdTokenVerifier, VerifyOptions};
pub use introspection::{Introspection, TokenToValidate, ValidateTokenResult};
pub use logout::LogoutParams;
pub use pkce::{CodeChallenge, CodeChallengeMethod};
pub use secret::{
    AccessSecret, AccessToken, AuthorizationCode, ClientSecret, CodeVerifier, ExposeSecret, IdToken, Nonce,
    OAuthToken, RefreshToken, State,
};
pub use token_set::TokenSet;
pub use userinfo::{StandardClaims, UserInfo};

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
