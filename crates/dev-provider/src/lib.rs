//! A development OpenID Provider that speaks Authing's endpoint shapes on 127.0.0.1.
//!
//! **This is a test and demo tool, not a production identity provider.** It keeps everything
//! in memory, generates its keys at start-up, ships well-known secrets and passwords, has no
//! login session, rate limit or consent screen, and only ever listens on loopback.
//!
//! It exists so that people can run a full OpenID Connect login on a fresh machine with no
//! Authing account, and so that the `authing-oidc` SDK's tests can exercise both the happy
//! path and the defects a client must refuse (see [`Faults`]).
//!
//! # Quick start
//!
//! ```no_run
//! use authing_oidc_dev_provider::{DevProvider, DevProviderConfig, login_without_browser};
//!
//! # async fn demo() -> Result<(), authing_oidc_dev_provider::Error> {
//! let provider = DevProvider::start(DevProviderConfig::default()).await?;
//! let authorize_url = format!(
//!     "{}/auth?client_id=dev-app&redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2Fcallback\
//!      &response_type=code&scope=openid+profile&state=s&nonce=n",
//!     provider.issuer()
//! );
//! let callback = login_without_browser(&authorize_url, "alice", "alice-password").await?;
//! let code = callback.param("code"); // exchange it at {issuer}/token
//! provider.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Development credentials
//!
//! [`DevProviderConfig::default`] registers these; the JSON line `authing-oidc dev-provider`
//! prints ([`ProviderDescription`]) names them too (`clients`, `users`, `m2m`). They are
//! public, well-known values of a test tool, not secrets of the SDK: never reuse them for a
//! real provider.
//!
//! | what | value |
//! |---|---|
//! | user (login form `username` / `password`) | `alice` / `alice-password` |
//! | machine-to-machine pair (`client_id` / `client_secret` of `client_credentials`) | `dev-m2m-access-key` / `dev-m2m-access-secret` |
//! | client `dev-app` (`client_secret_post`, RS256) | secret `dev-app-secret` |
//! | client `dev-app-basic` (`client_secret_basic`, HS256) | secret `s3cr3t with spaces&+/=%` |
//! | client `dev-app-public` (`none`, PKCE required) | no secret |
//! | client `dev-app-fapi` (`private_key_jwt`, ES256, FAPI 2.0) | a P-256 key pair generated at start: [`ClientRegistration::client_key`], and `client_key` in the JSON line |
//!
//! # Endpoints (relative to `app_host` = `http://127.0.0.1:PORT`; issuer `{app_host}/oidc`)
//!
//! | path | what |
//! |---|---|
//! | `GET /oidc/.well-known/openid-configuration` | discovery |
//! | `GET /oidc/.well-known/jwks.json` | public keys (`kid`, `alg`, `use=sig`): RS256, and PS256 and ES256 when a client uses them |
//! | `GET /oidc/auth`, `/oauth/auth` | authorization request (query, `request_uri` of a pushed request, or `request` object) → login page |
//! | `POST /oidc/par`, `/oauth/par` | pushed authorization request (RFC 9126), plain or a signed request object |
//! | `POST /oidc/interaction/{uid}` | login form (`username`, `password`, or `cancel`) |
//! | `POST /oidc/token`, `/oauth/token` | `authorization_code`, `refresh_token`, `client_credentials` |
//! | `GET`/`POST /oidc/me`, `/oauth/me` | userinfo, Bearer header only |
//! | `POST /oidc/token/introspection` | RFC 7662 |
//! | `POST /oidc/token/revocation` | RFC 7009 |
//! | `GET /api/v2/oidc/validate_token` | Authing's online check (`{code, message}` when invalid) |
//! | `GET /login/profile/logout`, `/oidc/session/end`, `/cas-idp/logout` | logout redirects |
//!
//! # What it enforces
//!
//! - Redirect URIs registered exactly, or loopback ones on any port (RFC 8252 §7.3); an
//!   unknown client or redirect URI is shown an error page, never redirected to.
//! - Client authentication exactly as registered (`client_secret_post`,
//!   `client_secret_basic` with RFC 6749 §2.3.1 form-urlencoding, `none`, `client_secret_jwt`
//!   or `private_key_jwt`).
//! - Signed request objects (RFC 9101) verified with the client's registered key, with the
//!   outer-parameter rules of OIDC Core §6.1 by value and RFC 9126 §3 inside PAR.
//! - Per client ([`ClientRegistration::fapi2`]): pushed requests only (RFC 9126 §6), PKCE S256,
//!   DPoP-bound tokens (RFC 9449 §5.2). DPoP proofs are checked and tokens bound for every
//!   client that sends one.
//! - PKCE (`S256`, `plain`) when a challenge was sent; required for public clients.
//! - Single-use codes (reuse revokes the grant), rotating refresh tokens (reuse revokes the
//!   grant), no repeated request parameters.
//! - `iss` in every authorization response (RFC 9207).
//!
//! # Modules
//!
//! [`config`](crate::DevProviderConfig) what is registered; [`DevProvider`] /
//! [`RunningDevProvider`] start and observe; [`Faults`] defects on demand;
//! [`login_without_browser`] drive the login form; [`serve_until_signal`] and
//! [`ProviderDescription`] for the CLI.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod claims;
mod client_auth;
mod config;
mod describe;
mod dpop;
mod error;
mod faults;
mod html;
mod keys;
mod login;
mod params;
mod pkce;
mod provider;
mod request_object;
mod routes;
mod server;
mod store;
mod tokens;
mod verify;

pub use config::{
    ClientAuthMethod, ClientRegistration, DEFAULT_REDIRECT_URI, DevProviderConfig, DevUser, GrantType,
    IdTokenAlg, M2mCredential,
};
pub use describe::{
    ClientDescription, M2mDescription, ProviderDescription, UserDescription, serve_until_signal,
};
pub use error::Error;
pub use faults::{CallbackFault, Faults, IdTokenFault, TokenResponseFault};
pub use login::{AuthorizationResponse, cancel_without_browser, login_without_browser};
pub use server::{DevProvider, RunningDevProvider};
