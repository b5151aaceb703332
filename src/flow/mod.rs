//! The typed login flow: [`Unauthorized`] → [`PendingCallback`] →
//! [`Authenticated`], where each transition consumes the state before it.
//!
//! The checks other libraries leave to the caller happen here, in this order
//! (docs/protocol.md §3): the callback arrived in the response mode the login asked for;
//! no parameter is repeated; `iss` (RFC 9207) is the issuer when present, and
//! present when the provider promised it; `state` matches (constant time); an
//! `error` becomes [`crate::Error::Authorization`]; the
//! pending login is not older than its limit; the code is exchanged with the
//! PKCE verifier; the id_token is verified with the nonce
//! ([`crate::id_token`]).
//!
//! ```no_run
//! use authing_oidc::{AuthenticationClient, flow::{Unauthorized, CallbackParams}};
//! # async fn run(client: AuthenticationClient, query_string: &str) -> Result<(), authing_oidc::Error> {
//! let (url, pending) = Unauthorized::new(client).scope("openid profile email offline_access").start()?;
//! // redirect the browser to `url`; keep `pending` in the session …
//! let session = pending.complete(CallbackParams::from_query(query_string)?).await?;
//! let user = session.userinfo().await?;
//! println!("signed in as {} ({:?})", user.sub, user.standard.email);
//! # Ok(()) }
//! ```
//!
//! Misuse does not compile: an [`Unauthorized`] has no `complete`, a
//! [`PendingCallback`] is moved into [`PendingCallback::complete`] and cannot
//! be completed twice, neither state hands out tokens, and
//! [`Authenticated`] cannot be built from tokens except by the verifying
//! flow, a restore from a store the caller vouches for
//! ([`Authenticated::restore_from_trusted_store`]), or
//! [`Authenticated::insecure_from_unverified_tokens`]. Each of the following
//! is the example above with one misuse in it, and each is refused by the
//! compiler (these examples are compile-fail doctests):
//!
//! ```compile_fail,E0599
//! # use authing_oidc::{AuthenticationClient, flow::{CallbackParams, Unauthorized}};
//! # async fn misuse(client: AuthenticationClient, callback: CallbackParams) {
//! // A login that was never started has no callback to complete.
//! let _ = Unauthorized::new(client).complete(callback).await;
//! # }
//! ```
//!
//! ```compile_fail,E0382
//! # use authing_oidc::flow::{CallbackParams, PendingCallback};
//! # async fn misuse(pending: PendingCallback, first: CallbackParams, second: CallbackParams) {
//! // Completing consumes the pending login: a second completion is a use after move.
//! let _ = pending.complete(first).await;
//! let _ = pending.complete(second).await;
//! # }
//! ```
//!
//! ```compile_fail,E0599
//! # use authing_oidc::flow::PendingCallback;
//! # async fn misuse(pending: PendingCallback) {
//! // A pending login hands out no tokens …
//! let _ = pending.access_token().await;
//! # }
//! ```
//!
//! ```compile_fail,E0599
//! # use authing_oidc::{AuthenticationClient, flow::Unauthorized};
//! # async fn misuse(client: AuthenticationClient) {
//! // … and neither does one that was never started.
//! let _ = Unauthorized::new(client).access_token().await;
//! # }
//! ```
//!
//! ```compile_fail,E0599
//! # use authing_oidc::{AuthenticationClient, TokenSet, flow::Authenticated};
//! # fn misuse(client: AuthenticationClient, tokens: TokenSet) {
//! // No constructor takes unverified tokens under an innocent name.
//! let _ = Authenticated::new(client, tokens);
//! # }
//! ```
//!
//! ```compile_fail,E0616
//! # use authing_oidc::flow::PendingCallback;
//! # fn misuse(pending: PendingCallback) {
//! // The PKCE verifier and the nonce stay inside the pending login.
//! let _ = pending.secrets;
//! # }
//! ```
//!
//! That no secret type implements `Display`, `Deref<Target = str>` or
//! `Serialize`, and that [`Authenticated`] does not implement `Deserialize`, is
//! asserted at compile time in `tests/secrecy.rs`.
//!
//! Two more flows end in the same [`Authenticated`], waiting for the user by
//! polling instead of a callback (docs/protocol.md §2.11): the device flow
//! ([`DeviceLogin`] → [`DeviceAuthorization`], RFC 8628) and CIBA
//! ([`BackchannelLogin`] → [`BackchannelAuthentication`]).

pub(crate) mod authenticated;
mod ciba;
mod device;
mod pending;
mod poll;
mod saved;
pub mod store;

use std::time::Duration;

use url::Url;

pub use crate::callback::CallbackParams;
pub use authenticated::{
    Authenticated, DEFAULT_REFRESH_MARGIN, PersistFuture, SessionToken, TokenPersistence,
};
pub use ciba::{BackchannelAuthentication, BackchannelLogin};
pub use device::{DeviceAuthorization, DeviceLogin};
pub use pending::PendingCallback;
pub use saved::{SavedPendingCallback, SavedSession};

use crate::authorization_details::{TokenRequestExtras, TokenResource};
use crate::authorize::{AuthorizeParams, ResponseMode};
use crate::client::AuthenticationClient;
use crate::error::{Error, Result};
use crate::pkce::{self, CodeChallengeMethod};

/// How long a pending login may wait for its callback, by default.
pub const DEFAULT_PENDING_MAX_AGE: Duration = Duration::from_secs(10 * 60);

/// The start of a login: nothing is known yet. Configure the request, then
/// [`start`](Self::start) it.
#[derive(Debug, Clone)]
#[must_use]
pub struct Unauthorized {
    client: AuthenticationClient,
    params: AuthorizeParams,
    pending_max_age: Duration,
    token_resource: TokenResource,
    repeat_authorization_details: bool,
}

impl Unauthorized {
    /// A login for this client.
    pub fn new(client: AuthenticationClient) -> Self {
        Unauthorized {
            client,
            params: AuthorizeParams::new(),
            pending_max_age: DEFAULT_PENDING_MAX_AGE,
            token_resource: TokenResource::IfOne,
            repeat_authorization_details: false,
        }
    }

    /// The scope to ask for; `openid` is added when missing. Default
    /// `openid profile email phone address`.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.params.scope = Some(scope.into());
        self
    }

    /// `prompt` (e.g. `login`, `consent`).
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.params.prompt = Some(prompt.into());
        self
    }

    /// How the provider returns the response; default `query`.
    pub fn response_mode(mut self, mode: ResponseMode) -> Self {
        self.params.response_mode = Some(mode);
        self
    }

    /// Ask for a fresh authentication no older than `max_age`; the id_token's
    /// `auth_time` is then checked.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.params.max_age = Some(max_age.as_secs());
        self
    }

    /// A redirect URI other than the configured one.
    pub fn redirect_uri(mut self, redirect_uri: impl Into<String>) -> Self {
        self.params.redirect_uri = Some(redirect_uri.into());
        self
    }

    /// A further authorization parameter (e.g. `login_hint`).
    pub fn extra(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.extra.push((name.into(), value.into()));
        self
    }

    /// A resource indicator (RFC 8707) for the login; repeatable. The code
    /// exchange and every refresh repeat it when it is the only one (see
    /// [`token_resource`](Self::token_resource)).
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.params.resource.push(resource.into());
        self
    }

    /// Which of the login's `resource` values the code exchange and every
    /// refresh of the session send (RFC 8707 §2.2); default
    /// [`TokenResource::IfOne`]. The choice is kept in saved state.
    pub fn token_resource(mut self, which: TokenResource) -> Self {
        self.token_resource = which;
        self
    }

    /// `authorization_details` (RFC 9396) for the login; the granted ones
    /// come back in the token set
    /// ([`Authenticated::authorization_details`]).
    pub fn authorization_details(
        mut self,
        details: Vec<crate::authorization_details::AuthorizationDetail>,
    ) -> Self {
        self.params.authorization_details = Some(details);
        self
    }

    /// Whether the code exchange and every refresh repeat the login's
    /// `authorization_details` (RFC 9396 §6); default `false`. Without them
    /// the provider assigns what the user granted (RFC 9396 §7), which may be
    /// less than the login asked for or enriched by the provider; repeating
    /// them asks for exactly these again, and a provider refuses that
    /// (`invalid_authorization_details`) when the grant does not cover them.
    pub fn repeat_authorization_details(mut self, repeat: bool) -> Self {
        self.repeat_authorization_details = repeat;
        self
    }

    /// How long the pending login may wait for its callback; default 10 minutes.
    pub fn pending_max_age(mut self, max_age: Duration) -> Self {
        self.pending_max_age = max_age;
        self
    }

    /// Generates state, nonce and a PKCE S256 verifier (OS CSPRNG) and returns
    /// the URL to send the browser to, with the [`PendingCallback`] that owns
    /// those secrets. With DPoP on
    /// ([`dpop`](crate::AuthenticationClientBuilder::dpop)) it also makes the
    /// session's key pair and names it in `dpop_jkt` (RFC 9449 §10), so the
    /// code can only be exchanged with that key.
    ///
    /// A client that pushes its authorization requests (PAR: configured,
    /// required by the provider, or the FAPI 2.0 preset) must make a request
    /// first: use [`begin`](Self::begin); `start` refuses with a
    /// configuration error.
    pub fn start(self) -> Result<(Url, PendingCallback)> {
        let (client, params, keys, pending_max_age) = self.prepare()?;
        let (response_mode, max_age) = (params.response_mode, params.max_age);
        let login = client.build_authorize_url(params)?;
        Self::pending(client, login, keys, response_mode, max_age, pending_max_age)
    }

    /// [`start`](Self::start) for every client: when the client pushes its
    /// authorization requests (RFC 9126), the request is pushed here —
    /// client-authenticated, signed when the client uses request objects —
    /// and the URL carries only `client_id` and the `request_uri`; otherwise
    /// it is `start`'s URL. With DPoP the push carries a proof of the
    /// session's key (RFC 9449 §10.1) besides `dpop_jkt`.
    pub async fn begin(self) -> Result<(Url, PendingCallback)> {
        if !self.client.uses_par() {
            return self.start();
        }
        let (client, params, keys, pending_max_age) = self.prepare()?;
        let (response_mode, max_age) = (params.response_mode, params.max_age);
        let login = client
            .push_authorization_request_with(params, keys.dpop.as_deref())
            .await?;
        Self::pending(client, login, keys, response_mode, max_age, pending_max_age)
    }

    /// The request's parameters with `openid` in the scope, a fresh PKCE
    /// S256 challenge and, with DPoP, the new key's `dpop_jkt`; the verifier
    /// and the key.
    fn prepare(self) -> Result<(AuthenticationClient, AuthorizeParams, LoginKeys, Duration)> {
        if self.client.protocol() != crate::Protocol::Oidc {
            return Err(Error::config("the typed login flow needs protocol oidc"));
        }
        let mut params = self.params;
        let scope = params
            .scope
            .take()
            .unwrap_or_else(|| crate::authorize::DEFAULT_OIDC_SCOPE.to_owned());
        params.scope = Some(if scope.split_whitespace().any(|s| s == "openid") {
            scope
        } else {
            format!("openid {scope}").trim().to_owned()
        });
        let verifier = pkce::generate_code_verifier(pkce::MIN_VERIFIER_LEN + 21)?;
        let challenge = pkce::code_challenge(&verifier, CodeChallengeMethod::S256)?;
        params.code_challenge = Some(challenge.as_str().to_owned());
        params.code_challenge_method = Some(CodeChallengeMethod::S256);
        let dpop = match self.client.dpop_algorithm() {
            Some(alg) => {
                let key = crate::dpop::DpopKey::generate(alg)?;
                params
                    .extra
                    .push(("dpop_jkt".to_owned(), key.thumbprint().to_owned()));
                Some(std::sync::Arc::new(key))
            }
            None => None,
        };
        // What the token requests repeat of the login (docs/protocol.md §2.3.4), checked now.
        let mut token_extras = TokenRequestExtras::new();
        token_extras.resource = self.token_resource.select(&params.resource)?;
        if self.repeat_authorization_details {
            token_extras.authorization_details = params.authorization_details.clone();
        }
        token_extras.pairs()?;
        let keys = LoginKeys {
            verifier,
            dpop,
            token_extras,
        };
        Ok((self.client, params, keys, self.pending_max_age))
    }

    fn pending(
        client: AuthenticationClient,
        login: crate::authorize::AuthorizeUrl,
        keys: LoginKeys,
        response_mode: Option<ResponseMode>,
        max_age: Option<u64>,
        pending_max_age: Duration,
    ) -> Result<(Url, PendingCallback)> {
        // An OIDC authorize URL always carries these; the types just cannot say so.
        let (Some(state), Some(nonce), Some(redirect_uri)) = (login.state, login.nonce, login.redirect_uri)
        else {
            return Err(Error::config(
                "the authorize URL carries no state, nonce or redirect_uri",
            ));
        };
        let pending = PendingCallback::new(
            client,
            pending::Secrets {
                state,
                nonce,
                code_verifier: keys.verifier,
                dpop: keys.dpop,
            },
            keys.token_extras,
            redirect_uri,
            response_mode,
            max_age,
            pending_max_age,
        );
        Ok((login.url, pending))
    }
}

/// The secrets a login makes before its URL: the PKCE verifier and, with
/// DPoP, the session's key; and what its token requests repeat.
struct LoginKeys {
    verifier: crate::secret::CodeVerifier,
    dpop: Option<std::sync::Arc<crate::dpop::DpopKey>>,
    token_extras: TokenRequestExtras,
}
