//! Fault switches: deliberate defects the SDK's negative tests turn on while the provider runs.
//!
//! Every switch is *sticky* (it stays on until changed or [`Faults::clear`]ed) except
//! [`Faults::fail_token_requests`], which counts down. Faults are shared by every clone of the
//! handle, so a test can flip them between two requests.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// A defect put into every id_token issued while the fault is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdTokenFault {
    /// `iss` is `https://attacker.example/oidc` instead of the issuer.
    WrongIssuer,
    /// `aud` is `another-client` instead of the client id.
    WrongAudience,
    /// `aud` is `[client_id, "untrusted-audience"]` with no `azp`.
    ExtraUntrustedAudience,
    /// `azp` is `another-client` while `aud` is the client id.
    AzpMismatch,
    /// `iat` two hours ago, `exp` one hour ago.
    Expired,
    /// No `iat` claim.
    MissingIat,
    /// No `sub` claim.
    MissingSub,
    /// `nonce` is `wrong-nonce`.
    WrongNonce,
    /// No `nonce` claim even though the request sent one.
    MissingNonce,
    /// The signature does not verify (bits flipped).
    BadSignature,
    /// `alg: none` with an empty signature.
    AlgNone,
    /// RS256-signed by the current key but with `kid` `unknown-kid` in the header.
    UnknownKid,
    /// `at_hash` computed over a different access token.
    WrongAtHash,
    /// Only for id_tokens issued by a refresh: `sub` differs from the original one.
    DifferentSubOnRefresh,
}

/// A defect put into the authorization response (the callback to the redirect URI) after the
/// login form is submitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallbackFault {
    /// `iss` is `https://attacker.example/oidc` (RFC 9207 mix-up).
    WrongIssuer,
    /// No `iss` parameter.
    MissingIssuer,
    /// `state` is not the one the client sent.
    WrongState,
    /// `code` appears twice, with two different values.
    DuplicatedParameter,
    /// `error=access_denied` (with `state` and `iss`) instead of a code.
    AccessDenied,
}

/// A defect in successful token endpoint responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenResponseFault {
    /// The JSON has no `access_token` member.
    MissingAccessToken,
    /// `token_type` is `mac` instead of `Bearer`.
    TokenTypeMac,
    /// `grant_type=refresh_token` answers `400 invalid_grant` (the grant itself is kept).
    RefreshInvalidGrant,
}

#[derive(Debug, Default)]
struct FaultState {
    id_token: Option<IdTokenFault>,
    callback: Option<CallbackFault>,
    token_response: Option<TokenResponseFault>,
    token_unavailable_remaining: u32,
    delay: Option<Duration>,
    oversized: bool,
}

/// Shared handle to the fault switches of one running provider
/// ([`RunningDevProvider::faults`](crate::RunningDevProvider::faults)).
///
/// ```no_run
/// # async fn demo() -> Result<(), authing_oidc_dev_provider::Error> {
/// use authing_oidc_dev_provider::{DevProvider, DevProviderConfig, IdTokenFault};
///
/// let provider = DevProvider::start(DevProviderConfig::default()).await?;
/// provider.faults().set_id_token_fault(Some(IdTokenFault::WrongNonce));
/// // ... the next id_tokens carry nonce "wrong-nonce" ...
/// provider.faults().clear();
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Faults {
    state: Arc<Mutex<FaultState>>,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, FaultState> {
        // A panic elsewhere must not disable the switches: the state is plain data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets (or with `None` clears) the defect put into every id_token.
    pub fn set_id_token_fault(&self, fault: Option<IdTokenFault>) {
        self.lock().id_token = fault;
    }

    /// Sets (or clears) the defect put into authorization responses.
    pub fn set_callback_fault(&self, fault: Option<CallbackFault>) {
        self.lock().callback = fault;
    }

    /// Sets (or clears) the defect put into token endpoint responses.
    pub fn set_token_response_fault(&self, fault: Option<TokenResponseFault>) {
        self.lock().token_response = fault;
    }

    /// The next `times` token endpoint requests answer `503` with
    /// `{"error":"temporarily_unavailable"}`; then the endpoint recovers. One-shot: counts down.
    pub fn fail_token_requests(&self, times: u32) {
        self.lock().token_unavailable_remaining = times;
    }

    /// Delays every response (any endpoint) by `delay` before handling the request, for
    /// timeout tests. `None` removes the delay.
    pub fn set_response_delay(&self, delay: Option<Duration>) {
        self.lock().delay = delay;
    }

    /// When on, every JSON response gets a `padding` member of 2 MiB (the body stays valid
    /// JSON), for response-size-cap tests.
    pub fn set_oversized_responses(&self, on: bool) {
        self.lock().oversized = on;
    }

    /// Turns every fault off.
    pub fn clear(&self) {
        *self.lock() = FaultState::default();
    }

    pub(crate) fn id_token(&self) -> Option<IdTokenFault> {
        self.lock().id_token
    }

    pub(crate) fn callback(&self) -> Option<CallbackFault> {
        self.lock().callback
    }

    pub(crate) fn token_response(&self) -> Option<TokenResponseFault> {
        self.lock().token_response
    }

    /// Consumes one injected 503, answering whether this request must fail.
    pub(crate) fn take_token_unavailable(&self) -> bool {
        let mut state = self.lock();
        if state.token_unavailable_remaining > 0 {
            state.token_unavailable_remaining -= 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn delay(&self) -> Option<Duration> {
        self.lock().delay
    }

    pub(crate) fn oversized(&self) -> bool {
        self.lock().oversized
    }
}
