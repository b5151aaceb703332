//! Entry points for the fuzz targets in `fuzz/`. **Not a public API**: hidden,
//! compiled only with the `fuzzing` feature, and free to change at any time.
//!
//! Each function hands bytes straight to the parser the SDK runs on what
//! arrives over the network, with nothing reimplemented: a response goes
//! through the same code as one read by the HTTP layer, from the status check
//! to the typed value. What the public API already reaches (callbacks, saved
//! states, id_token verification) the targets call directly; this module only
//! supplies what cannot be had without a network: a response built from bytes,
//! a JWKS held without a fetch, and the callback checks before the code
//! exchange.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};

use crate::access_token::{AccessTokenClaims, AccessTokenVerifier};
use crate::builder::AuthenticationClientBuilder;
use crate::client::AuthenticationClient;
use crate::discovery::ProviderMetadata;
use crate::error::{Error, Result};
use crate::flow::{CallbackParams, PendingCallback};
use crate::http::{Body, Reply};
use crate::introspection::{Introspection, ValidateTokenResult};
use crate::token_set::TokenSet;
use crate::userinfo::UserInfo;

/// One HTTP answer, as bytes.
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    /// The status code (an invalid one is read as 200).
    pub status: u16,
    /// A `WWW-Authenticate` header, when present and a valid header value.
    pub www_authenticate: Option<&'a [u8]>,
    /// A `Cache-Control` header, when present and a valid header value.
    pub cache_control: Option<&'a [u8]>,
    /// The body.
    pub body: &'a [u8],
    /// What the request sent that must never be echoed into an error.
    pub secrets: &'a [&'a str],
}

impl Response<'_> {
    fn reply(&self) -> Reply {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            (header::WWW_AUTHENTICATE, self.www_authenticate),
            (header::CACHE_CONTROL, self.cache_control),
        ] {
            if let Some(v) = value.and_then(|v| HeaderValue::from_bytes(v).ok()) {
                headers.insert(name, v);
            }
        }
        Reply::from_parts(
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK),
            headers,
            self.body.to_vec(),
            self.secrets.iter().map(|s| (*s).to_owned()).collect(),
        )
    }
}

/// A token endpoint answer, as `get_access_token_by_code`, the refresh and
/// the client-credentials grant read it.
pub fn token_response(r: Response<'_>) -> Result<TokenSet> {
    crate::client::token_set_from(r.reply())
}

/// A userinfo answer, as `get_user_info_by_access_token` reads it.
pub fn userinfo_response(r: Response<'_>) -> Result<UserInfo> {
    crate::client::sensitive_json_from(r.reply())
}

/// An introspection answer, as `introspect_token` reads it.
pub fn introspection_response(r: Response<'_>) -> Result<Introspection> {
    crate::client::sensitive_json_from(r.reply())
}

/// Authing's `validate_token` answer, as `validate_token` reads it.
pub fn validate_token_response(r: Response<'_>) -> Result<ValidateTokenResult> {
    crate::client::validate_token_result_from(r.reply())
}

/// Any answer read for its status only (`revoke_token` with a quotable body,
/// the token endpoints with a sensitive one): OAuth error bodies, Authing's
/// `{code, message}` and `WWW-Authenticate: Bearer`.
pub fn status_check(r: Response<'_>, quotable: bool) -> Result<()> {
    let body = if quotable { Body::Quotable } else { Body::Sensitive };
    r.reply().error_for_status(body).map(drop)
}

/// A device authorization answer (RFC 8628 §3.2), as `device_authorization`
/// reads it.
pub fn device_authorization_response(
    r: Response<'_>,
) -> Result<crate::device_authorization::DeviceAuthorizationResponse> {
    crate::device_authorization::device_answer_from(r.reply(), false)
}

/// A CIBA authentication request's answer (CIBA Core §7.3), as
/// `backchannel_authentication` reads it.
pub fn backchannel_authentication_response(
    r: Response<'_>,
) -> Result<crate::ciba::BackchannelAuthenticationResponse> {
    crate::ciba::ciba_answer_from(r.reply())
}

/// A token exchange answer (RFC 8693 §2.2), as `exchange_token` reads it.
pub fn token_exchange_response(r: Response<'_>) -> Result<crate::token_exchange::TokenExchangeResponse> {
    let reply = r.reply().error_for_status(Body::Sensitive)?;
    crate::token_exchange::response_from(&reply)
}

/// A registration answer (RFC 7591 §3.2, RFC 7592 §3), as `register` reads
/// it (`previous` `None`) or `read` and `update` do.
pub fn registration_response(
    registrar: &crate::registration::Registrar,
    r: Response<'_>,
    previous: Option<&crate::registration::RegisteredClient>,
) -> Result<crate::registration::RegisteredClient> {
    registrar.registered_from(r.reply(), previous)
}

/// A pushed authorization answer (RFC 9126 §2.2): its `request_uri`.
pub fn pushed_authorization_response(r: Response<'_>) -> Result<String> {
    crate::client::pushed::request_uri_from(r.reply())
}

/// A discovery document for `issuer`, checked as `discover` checks it, then
/// made into a client by `builder` as `discover` does.
pub fn discovery_response(
    r: Response<'_>,
    issuer: &str,
    builder: AuthenticationClientBuilder,
) -> Result<AuthenticationClient> {
    let metadata: ProviderMetadata = crate::discovery::metadata_from(r.reply(), issuer, false)?;
    builder.discovered(metadata)
}

/// A JWKS answer: the number of usable keys and how long they would be cached.
pub fn jwks_response(r: Response<'_>) -> Result<(usize, Duration)> {
    let reply = r.reply().error_for_status(Body::Quotable)?;
    let max_age = reply
        .headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .map_or(
            crate::jose::jwks::DEFAULT_MAX_AGE,
            crate::jose::jwks::cache_max_age,
        );
    let keys = crate::jose::keys::parse_jwks(&reply.body)?;
    Ok((keys.len(), max_age))
}

/// Gives `client` the keys of a JWKS document as if just fetched, and makes
/// the fetch the last attempt: with a clock that stands still, its id_tokens
/// then verify with no request, whatever `kid` they name.
pub fn preload_jwks(client: &AuthenticationClient, jwks: &[u8]) -> Result<()> {
    let keys = crate::jose::keys::parse_jwks(jwks)?;
    client.inner.jwks.preload(keys);
    Ok(())
}

/// The checks `PendingCallback::complete` runs before it exchanges the code
/// (response mode, `iss`, `state`, an error response, the pending login's age,
/// the code).
pub fn check_callback(pending: &PendingCallback, callback: &CallbackParams) -> Result<()> {
    pending.check_callback(callback).map(drop)
}

/// Runs a future that must not wait: an id_token verification with a
/// preloaded JWKS. A future that would wait (a fetch) is an
/// [`Error::Transport`] so the target notices.
pub fn run_now<F: Future>(future: F) -> std::result::Result<F::Output, Error> {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => Err(Error::Transport {
            endpoint: "fuzzing".to_owned(),
            message: "the future waited: it tried to use the network".to_owned(),
        }),
    }
}

/// What an access-token verifier makes of a token whose signature held: `payload` is the JSON
/// text its payload part decodes to, read by the verifier's one-pass claims parser (which
/// refuses a repeated member) and checked by every claim rule of RFC 9068 and the verifier's
/// policy, at the client's clock. No signature is involved, so every input reaches the parser.
pub fn access_token_claims(verifier: &AccessTokenVerifier, payload: &[u8]) -> Result<AccessTokenClaims> {
    use base64::Engine as _;
    let part = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload);
    verifier.check_payload(&part)
}

/// Whether the JWS header reader's fast path for plain headers (no escapes, no nesting, no
/// `crit`) reads `json` as serde_json's header visitor does, whenever it reads it at all; text
/// that is not UTF-8 never reaches either.
pub fn jws_header_readers_agree(json: &[u8]) -> bool {
    std::str::from_utf8(json).map_or(true, crate::jose::jws::header_readers_agree)
}
