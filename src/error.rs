//! The crate's one error type.
//!
//! Every variant is something a caller can act on. None of them carries a
//! token, a secret, a code, a verifier or a password: response bodies that may
//! hold tokens are never excerpted, and URLs are reported without their query.

use std::fmt;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong. `Clone`, so that concurrent callers waiting
/// on one refresh can all receive its outcome.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client was configured wrongly (found when it is built, or when an
    /// operation needs something the configuration lacks).
    #[error("configuration error: {0}")]
    Config(String),

    /// An argument given to an operation is not acceptable.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// The request could not be sent or the response not received.
    #[error("transport error calling {endpoint}: {message}")]
    Transport {
        /// The endpoint, without query string.
        endpoint: String,
        /// What went wrong, without URL.
        message: String,
    },

    /// The request took longer than the configured timeout.
    #[error("request to {endpoint} timed out")]
    Timeout {
        /// The endpoint, without query string.
        endpoint: String,
    },

    /// The provider answered with an error (boxed: it is the largest variant).
    #[error("{0}")]
    Op(Box<OpError>),

    /// The provider answered something that is not what the protocol says.
    #[error("invalid response from {endpoint}: {reason}")]
    InvalidResponse {
        /// The endpoint, without query string.
        endpoint: String,
        /// Why the response was refused, with a short excerpt of the body when
        /// the body cannot hold a token.
        reason: String,
    },

    /// The response body was larger than the configured cap.
    #[error("response from {endpoint} exceeds the {limit}-byte cap")]
    ResponseTooLarge {
        /// The endpoint, without query string.
        endpoint: String,
        /// The cap, in bytes.
        limit: usize,
    },

    /// The callback carried an `error` parameter (RFC 6749 §4.1.2.1).
    #[error("{0}")]
    Authorization(AuthorizationError),

    /// The callback's `state` is not the one this login sent.
    #[error("the callback's state does not match the pending login")]
    StateMismatch,

    /// The callback's `iss` (RFC 9207) is not the expected issuer, or is
    /// missing where the provider promised to send it.
    #[error("the callback's iss does not match the issuer: {0}")]
    IssMismatch(String),

    /// The callback is malformed: a parameter is missing or repeated, or the
    /// input is not a callback at all.
    #[error("malformed callback: {0}")]
    MalformedCallback(String),

    /// The callback is larger than any real authorization response: too many
    /// parameters or too many bytes. Refused before it is decoded.
    #[error("the callback exceeds the limit of {0}")]
    CallbackTooLarge(CallbackLimit),

    /// The pending login is older than its limit.
    #[error("the pending login expired (older than {max_age_secs} s)")]
    PendingExpired {
        /// The limit, in seconds.
        max_age_secs: u64,
    },

    /// An id_token failed verification.
    #[error("id_token rejected: {0}")]
    IdToken(#[from] IdTokenError),

    /// A JWT access token failed verification
    /// ([`AccessTokenVerifier`](crate::access_token::AccessTokenVerifier));
    /// the reason is the JWT core's, as for id_tokens.
    #[error("access token rejected: {0}")]
    AccessToken(IdTokenError),

    /// A logout token failed verification (OpenID Back-Channel Logout 1.0
    /// §2.6; [`crate::logout_token`]). Fetching the JWKS fails as for
    /// id_tokens.
    #[error("logout token rejected: {0}")]
    LogoutToken(LogoutTokenError),

    /// A signed userinfo (OIDC Core §5.3.2) or introspection (RFC 9701)
    /// response failed verification; the reason is the JWT core's.
    #[error("signed response from {endpoint} rejected: {reason}")]
    SignedResponse {
        /// The endpoint, without query string.
        endpoint: String,
        /// Why the JWT was refused.
        reason: IdTokenError,
    },

    /// The client is registered for signed responses from this endpoint
    /// (`userinfo_signed_response_alg`, `introspection_signed_response_alg`)
    /// and the provider answered plain JSON (or another content type).
    #[error(
        "{endpoint} answered unsigned content ({content_type}) to a client registered for signed responses"
    )]
    UnsignedResponse {
        /// The endpoint, without query string.
        endpoint: String,
        /// The answer's media type, without parameters.
        content_type: String,
    },

    /// Userinfo's `sub` differs from the id_token's (OIDC Core §5.3.2).
    #[error("userinfo sub does not match the id_token's sub")]
    SubMismatch,

    /// The session cannot continue: the refresh token was refused or is absent
    /// and the access token has expired. Start a new login.
    #[error("re-authentication required: {0}")]
    ReauthenticationRequired(String),

    /// The configuration, or a request, contradicts the security profile
    /// the client was built with (the FAPI 2.0 preset,
    /// [`fapi2`](crate::AuthenticationClientBuilder::fapi2)).
    #[error("the {profile} profile refuses this: {reason}")]
    ProfileConflict {
        /// The profile, e.g. `FAPI 2.0`.
        profile: &'static str,
        /// Which rule the setting breaks.
        reason: String,
    },

    /// Saved state could not be restored (wrong version, another issuer or
    /// client, malformed).
    #[error("cannot restore saved state: {0}")]
    Restore(String),

    /// A device authorization (RFC 8628) or CIBA request expired before the
    /// user answered: the provider said `expired_token`, or its `expires_in`
    /// passed while polling. Start again.
    #[error("the {grant} expired before the user answered{}", if *.by_provider { " (the provider said expired_token)" } else { "" })]
    AuthorizationExpired {
        /// What expired: `device authorization` or `backchannel authentication request`.
        grant: &'static str,
        /// True when the provider said so, false when its `expires_in` ran out here.
        by_provider: bool,
    },

    /// A wait for the user (device flow, CIBA) was cancelled by the caller.
    #[error("cancelled while waiting for the user")]
    Cancelled,

    /// A dynamically registered client's secret has expired
    /// (`client_secret_expires_at`, RFC 7591 §3.2.1): read the registration
    /// again or register anew.
    #[error("the registered client secret expired at {expired_at} (seconds since the epoch)")]
    ClientSecretExpired {
        /// `client_secret_expires_at`.
        expired_at: u64,
    },

    /// A request with a DPoP proof was answered with a token that is not
    /// bound to the key (`token_type` `Bearer`, RFC 9449 §5): a thief of
    /// that token could use it without the key, so it is refused.
    #[error("{endpoint} answered a DPoP request with a {token_type} token, not a DPoP-bound one")]
    DpopNotBound {
        /// The endpoint, without query string.
        endpoint: String,
        /// The `token_type` the provider sent.
        token_type: String,
    },

    /// A request with `Authorization: DPoP` was refused at a resource server
    /// ([`BearerVerifier::verify_dpop`](crate::bearer::BearerVerifier::verify_dpop)):
    /// its proof fails a check of RFC 9449 §4.3, or the access token is not
    /// bound to the proof's key (§7.1). A token that fails its own checks is
    /// [`Error::AccessToken`], as with `Bearer`.
    #[error("DPoP request rejected: {0}")]
    DpopProof(DpopProofError),

    /// The persistence hook refused to store rotated tokens. The new tokens are
    /// still held in memory.
    #[error("persisting refreshed tokens failed: {0}")]
    Persist(String),

    /// The shared session store ([`SessionStore`](crate::flow::store::SessionStore))
    /// failed: unreachable, its refresh lease not obtained in time or lost, or a
    /// stored value it cannot read. A session never refreshes without the lease,
    /// so an unreachable store means no refresh; a still-valid access token
    /// keeps being handed out meanwhile.
    #[error("{0}")]
    Store(StoreError),
}

/// What went wrong with a shared session store: the kind a caller acts on, and
/// a message that names no token and no key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session store: {kind}: {message}")]
pub struct StoreError {
    /// What kind of failure.
    pub kind: StoreErrorKind,
    /// What happened, for a log line.
    pub message: String,
}

/// The kinds of [`StoreError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store did not answer (connection refused or lost, timeout).
    /// Transient: retry later.
    Unavailable,
    /// Another holder kept the refresh lease longer than this caller would
    /// wait, or the lease expired under this holder and another copy of the
    /// session won. Transient.
    Lease,
    /// The stored value cannot be used: it does not decrypt or parse, or it
    /// belongs to another issuer, client or user. Not transient.
    Invalid,
}

impl fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreErrorKind::Unavailable => "unavailable",
            StoreErrorKind::Lease => "refresh lease",
            StoreErrorKind::Invalid => "invalid stored value",
        })
    }
}

impl StoreError {
    /// The store did not answer.
    pub fn unavailable(message: impl Into<String>) -> Self {
        StoreError {
            kind: StoreErrorKind::Unavailable,
            message: message.into(),
        }
    }

    /// The refresh lease was not obtained in time, or was lost.
    pub fn lease(message: impl Into<String>) -> Self {
        StoreError {
            kind: StoreErrorKind::Lease,
            message: message.into(),
        }
    }

    /// The stored value cannot be used.
    pub fn invalid(message: impl Into<String>) -> Self {
        StoreError {
            kind: StoreErrorKind::Invalid,
            message: message.into(),
        }
    }

    /// True for failures worth retrying later (unavailable, lease).
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, StoreErrorKind::Unavailable | StoreErrorKind::Lease)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}

impl Error {
    /// True when the request timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// True for failures worth retrying later: transport errors, timeouts, 5xx
    /// answers, 429 (too many requests), and a session store that is
    /// unreachable or whose refresh lease is busy.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::Timeout { .. } => true,
            Error::Op(op) => op.status >= 500 || op.status == 429,
            Error::Store(e) => e.is_transient(),
            _ => false,
        }
    }

    /// The OAuth `error` code of a provider error, if any (`invalid_grant`, …).
    pub fn oauth_error(&self) -> Option<&str> {
        match self {
            Error::Op(op) => op.error.as_deref(),
            Error::Authorization(a) => Some(&a.error),
            _ => None,
        }
    }

    /// True when the user (or the provider on their behalf) refused the
    /// login: an `access_denied` callback, e.g. after "Cancel" at the provider.
    ///
    /// The device flow and CIBA report the user's refusal (the token endpoint's
    /// `access_denied`, RFC 8628 §3.5) the same way.
    pub fn is_access_denied(&self) -> bool {
        matches!(self, Error::Authorization(a) if a.error == "access_denied")
    }

    /// The provider error, if this is one.
    pub fn op_error(&self) -> Option<&OpError> {
        match self {
            Error::Op(op) => Some(op),
            _ => None,
        }
    }

    pub(crate) fn config(msg: impl Into<String>) -> Self {
        Error::Config(msg.into())
    }

    pub(crate) fn input(msg: impl Into<String>) -> Self {
        Error::InvalidInput(msg.into())
    }
}

/// An error answer from the provider: an OAuth error body
/// (`{error, error_description}`), Authing's `{code, message}`, or an
/// RFC 6750 `WWW-Authenticate: Bearer error=…` header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpError {
    /// The endpoint, without query string.
    pub endpoint: String,
    /// The HTTP status.
    pub status: u16,
    /// The OAuth `error` code.
    pub error: Option<String>,
    /// The OAuth `error_description`.
    pub error_description: Option<String>,
    /// Authing's `code`.
    pub code: Option<String>,
    /// Authing's `message`.
    pub message: Option<String>,
    /// A short excerpt of a body that was none of the above, for endpoints
    /// whose bodies cannot hold tokens.
    pub excerpt: Option<String>,
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} answered HTTP {}", self.endpoint, self.status)?;
        if let Some(e) = &self.error {
            write!(f, ": {e}")?;
            if let Some(d) = &self.error_description {
                write!(f, " ({d})")?;
            }
        }
        if let Some(c) = &self.code {
            write!(f, ": code {c}")?;
            if let Some(m) = &self.message {
                write!(f, " ({m})")?;
            }
        }
        if let Some(x) = &self.excerpt {
            write!(f, ": {x}")?;
        }
        Ok(())
    }
}

/// The provider sent the user back with an error instead of a code
/// (RFC 6749 §4.1.2.1), e.g. `access_denied` when the user pressed Cancel.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorizationError {
    /// The `error` code.
    pub error: String,
    /// The `error_description`, if sent.
    pub error_description: Option<String>,
    /// The `error_uri`, if sent.
    pub error_uri: Option<String>,
}

impl fmt::Display for AuthorizationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "authorization failed: {}", self.error)?;
        if let Some(d) = &self.error_description {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

/// Why an id_token was rejected. Each reason names the check of OpenID Connect
/// Core §3.1.3.7 (or §12.2 for refreshed tokens) that failed.
///
/// The reasons up to the registered claims are the [JWT core](crate::jose)'s,
/// shared by every kind of JWT this crate verifies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// Not a compact JWS, or its header or payload is not valid JSON.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The algorithm is not allowed (`none`, not on the allow-list, not the
    /// configured one, not advertised by the provider).
    #[error("algorithm {0} is not allowed")]
    AlgorithmNotAllowed(String),
    /// The header's `typ` says the token is another kind of JWT (an access
    /// token's `at+jwt`, a logout token's `logout+jwt`, …; RFC 8725 §3.11),
    /// or is not the `typ` the verifier requires.
    #[error("typ {0:?} is not accepted here")]
    TypeNotAllowed(String),
    /// The header's `alg` does not fit the key's type.
    #[error("algorithm {alg} does not fit the key (kid {kid:?})")]
    AlgorithmKeyMismatch {
        /// The header's algorithm.
        alg: String,
        /// The key's id.
        kid: Option<String>,
    },
    /// No key in the JWKS has the header's `kid`, even after a re-fetch.
    #[error("no key with kid {0:?}")]
    UnknownKid(String),
    /// The header has no `kid` and the JWKS has several usable keys.
    #[error("the token names no kid and the provider has several keys")]
    AmbiguousKey,
    /// The JWKS has no usable key for this token.
    #[error("no usable key")]
    NoUsableKey,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `iss` differs from the issuer.
    #[error("iss {actual:?} is not the issuer {expected:?}")]
    IssuerMismatch {
        /// The issuer expected.
        expected: String,
        /// The token's `iss`.
        actual: String,
    },
    /// `aud` is missing or does not contain the client id.
    #[error("aud does not contain the client id")]
    AudienceMismatch,
    /// `aud` holds an audience the client does not trust.
    #[error("aud holds an untrusted audience {0:?}")]
    UntrustedAudience(String),
    /// `azp` is missing where required (several audiences) or is not the client id.
    #[error("azp is missing or is not the client id")]
    AuthorizedPartyMismatch,
    /// `exp` is in the past (beyond the leeway).
    #[error("expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("not valid yet")]
    NotYetValid,
    /// `iat` is further in the future than the client's `max_iat_skew` allows.
    #[error("issued in the future")]
    IssuedInFuture,
    /// A required claim is missing (`iat`, `sub`, `exp`, `iss`, `nonce`, `auth_time`).
    #[error("missing claim {0}")]
    MissingClaim(&'static str),
    /// `nonce` differs from the one sent.
    #[error("nonce mismatch")]
    NonceMismatch,
    /// `at_hash` does not match the access token.
    #[error("at_hash mismatch")]
    AtHashMismatch,
    /// `auth_time` is older than `max_age` allows.
    #[error("authentication is older than max_age")]
    AuthTimeTooOld,
    /// A refreshed id_token changed a claim that must stay (§12.2).
    #[error("refreshed id_token changed {0}")]
    RefreshClaimChanged(&'static str),
    /// A claim has the wrong type.
    #[error("claim {0} has the wrong type")]
    InvalidClaim(&'static str),
    /// The JWKS document is not a key set, or there are no keys and a new
    /// fetch is not due yet. (HTTP failures of the fetch are
    /// [`Error::Transport`], [`Error::Timeout`] or [`Error::Op`].)
    #[error("no usable JWKS: {0}")]
    Jwks(String),
    /// The introspection endpoint says the token is not active (RFC 7662
    /// §2.2): unknown, expired or revoked.
    #[error("the token is not active")]
    Inactive,
}

/// Why a resource server refused a DPoP proof, or the binding between the
/// proof and its access token (RFC 9449 §4.3, §7.1, §11.1). Each reason names
/// the check; none quotes the proof or the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopProofError {
    /// The request has no `DPoP` header (§4.3 point 1, §7.1).
    #[error("no DPoP proof")]
    Missing,
    /// The request has more than one `DPoP` header (§4.3 point 1).
    #[error("more than one DPoP proof")]
    Multiple,
    /// The proof fails a check of the JWT core: not one compact JWS, `typ`
    /// not `dpop+jwt`, `alg` not an allowed asymmetric algorithm, bad
    /// signature, a required claim (`jti`, `htm`, `htu`, `iat`, `ath`)
    /// missing or of the wrong type (§4.3 points 2–6).
    #[error("{0}")]
    Jwt(IdTokenError),
    /// The header's `jwk` holds private key members (§4.3 point 7).
    #[error("the proof's jwk holds a private key")]
    PrivateKey,
    /// The header's `jwk` is missing or not a usable public key for `alg`.
    #[error("the proof's jwk is not a usable public key: {0}")]
    BadKey(&'static str),
    /// `htm` is not the request's method (§4.3 point 8).
    #[error("htm does not match the request method")]
    MethodMismatch,
    /// `htu` is not the request's URI, query and fragment aside (§4.3 point 9).
    #[error("htu does not match the request URI")]
    UriMismatch,
    /// `iat` is older than the verifier's window (§4.3 point 11).
    #[error("the proof is too old")]
    TooOld,
    /// `iat` is further in the future than the verifier allows (§4.3 point 11).
    #[error("the proof is issued in the future")]
    IssuedInFuture,
    /// `ath` is not the hash of the access token it came with (§4.3 point 12).
    #[error("ath does not match the access token")]
    AthMismatch,
    /// The access token is not bound to a DPoP key: no `cnf.jkt` (§7.1).
    #[error("the access token is not DPoP-bound")]
    TokenNotBound,
    /// The access token is bound to another key than the proof's (§4.3
    /// point 12, §6.1).
    #[error("the proof's key is not the one the access token is bound to")]
    KeyMismatch,
    /// A proof with this `jti` and key was already accepted (§11.1).
    #[error("jti already seen (replayed)")]
    Replayed,
    /// The memory of seen `jti` values is full of entries still needed;
    /// the client may retry shortly.
    #[error("too many DPoP proofs to remember; retry later")]
    ReplayMemoryFull,
    /// The resource accepts DPoP-bound tokens only and the request used
    /// `Bearer` (§7.1, [`DpopMode::Required`](crate::bearer::DpopMode::Required)).
    #[error("this resource accepts DPoP-bound tokens only")]
    Required,
    /// The verifier was not configured to accept DPoP
    /// ([`DpopMode::Refused`](crate::bearer::DpopMode::Refused)).
    #[error("this resource does not accept DPoP")]
    NotAccepted,
}

/// Why a logout token was refused (OpenID Back-Channel Logout 1.0 §2.6; each
/// reason names the check). The checks it shares with every JWT (signature,
/// `alg`, `typ`, `iss`, `aud`, `exp`, `iat`, `jti` present) are
/// [`LogoutTokenError::Jwt`] with the JWT core's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogoutTokenError {
    /// A check of the JWT core failed (form, `alg`, `typ`,
    /// key, signature, `iss`, `aud`, `exp`, `iat`, `jti` present).
    #[error("{0}")]
    Jwt(IdTokenError),
    /// `iat` is older than the verifier's age window, so its `jti`
    /// may already be forgotten.
    #[error("issued too long ago")]
    TooOld,
    /// No `events` member holding
    /// `http://schemas.openid.net/event/backchannel-logout` as a JSON object.
    #[error("no back-channel logout event in events")]
    MissingEvent,
    /// Neither `sid` nor `sub` (or one of them is not a non-empty string).
    #[error("neither sid nor sub")]
    MissingSidAndSub,
    /// The token carries a `nonce`, which would let an id_token pass
    /// as a logout token (§2.4).
    #[error("a logout token must not carry a nonce")]
    NoncePresent,
    /// A logout token with this `jti` was already accepted.
    #[error("jti already seen (replayed)")]
    Replayed,
    /// The memory of seen `jti` values is full of entries still
    /// needed; the provider retries later (§2.8).
    #[error("too many logout tokens to remember; retry later")]
    ReplayCacheFull,
}

impl From<IdTokenError> for LogoutTokenError {
    fn from(e: IdTokenError) -> Self {
        LogoutTokenError::Jwt(e)
    }
}

/// At most `max_chars` characters of `s`, with `…` when something was cut:
/// provider text and claim values in error messages stay short.
pub(crate) fn truncate(s: &str, max_chars: usize) -> String {
    let mut out: String = s.chars().take(max_chars).collect();
    if s.chars().nth(max_chars).is_some() {
        out.push('…');
    }
    out
}

/// Which bound of a callback was exceeded ([`Error::CallbackTooLarge`]; the bounds are
/// [`MAX_CALLBACK_PARAMETERS`](crate::callback::MAX_CALLBACK_PARAMETERS) and
/// [`MAX_CALLBACK_BYTES`](crate::callback::MAX_CALLBACK_BYTES)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallbackLimit {
    /// More than this many parameters.
    Parameters(usize),
    /// More than this many bytes.
    Bytes(usize),
}

impl std::fmt::Display for CallbackLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallbackLimit::Parameters(n) => write!(f, "{n} parameters"),
            CallbackLimit::Bytes(n) => write!(f, "{n} bytes"),
        }
    }
}
