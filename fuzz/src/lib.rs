//! What the fuzz targets share: the fixed client, keys, secrets and clock
//! every input is checked against, and how a target's bytes are framed as an
//! HTTP answer. `examples/seeds.rs` writes the seed corpora with the same
//! fixtures, so that seeds reach past the signature and ownership checks.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use authing_oidc::clock::ManualClock;
use authing_oidc::{AuthenticationClient, AuthenticationClientBuilder, Error, SigningAlgorithm};

/// The Authing application every target's client is.
pub const APP_HOST: &str = "https://fuzz-app.authing.cn";
/// The issuer of that application (`{app_host}/oidc`).
pub const ISSUER: &str = "https://fuzz-app.authing.cn/oidc";
/// The issuer of the discovered-provider client.
pub const DISCOVERED_ISSUER: &str = "https://op.fuzz.example";
/// The client id.
pub const CLIENT_ID: &str = "fuzz-client";
/// The client secret (keys HS* id_tokens).
pub const CLIENT_SECRET: &str = "fuzz-client-secret-long-enough-for-hs512-0123456789abcdefghij";
/// The redirect URI.
pub const REDIRECT_URI: &str = "https://app.fuzz.example/callback";
/// The time every target's clock stands at (2027-01-15).
pub const NOW: u64 = 1_800_000_000;
/// The nonce id_tokens are checked against.
pub const NONCE: &str = "fuzz-nonce-0S6_WzA2Mj";
/// The access token `at_hash` is checked against.
pub const ACCESS_TOKEN: &str = "fuzz-access-token-SlAV32hkKG";
/// The `state` of the fixed pending login.
pub const STATE: &str = "fuzz-state-af0ifjsldkj";
/// The fixed JWKS (public halves of `fixtures/keys.json`).
pub const JWKS: &str = include_str!("../fixtures/jwks.json");

/// Values a request sent that must never come back in an error: a code, a
/// verifier, a secret whose form-encoded spelling differs from its raw one.
pub const SECRETS: &[&str] = &[
    "SECRET-code-Zq9x",
    "SECRET-verifier-Xw7y",
    "SECRET client+secret/=",
];

/// The clock of every client: it stands still at [`NOW`].
pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW),
    ))
}

/// The builder every client starts from.
pub fn builder() -> AuthenticationClientBuilder {
    AuthenticationClient::builder()
        .app_id(CLIENT_ID)
        .secret(CLIENT_SECRET)
        .redirect_uri(REDIRECT_URI)
        .clock(clock())
}

/// The Authing-preset client, optionally with a registered id_token algorithm,
/// holding the fixed JWKS.
pub fn authing_client(alg: Option<SigningAlgorithm>) -> AuthenticationClient {
    let mut b = builder().app_host(APP_HOST);
    if let Some(alg) = alg {
        b = b.id_token_signed_response_alg(alg);
    }
    let client = b.build().expect("the fixture client builds");
    authing_oidc::fuzzing::preload_jwks(&client, JWKS.as_bytes()).expect("the fixture JWKS parses");
    client
}

/// The clients the `id_token` target verifies with, in the order its first
/// byte picks them: the Authing preset (RS256 or HS256 accepted), each
/// registered algorithm, and the discovered provider.
pub fn id_token_clients() -> Vec<AuthenticationClient> {
    use SigningAlgorithm as A;
    let mut clients: Vec<_> = [
        None,
        Some(A::RS256),
        Some(A::PS256),
        Some(A::ES256),
        Some(A::ES384),
        Some(A::EdDSA),
        Some(A::HS256),
        Some(A::HS512),
    ]
    .into_iter()
    .map(authing_client)
    .collect();
    clients.push(discovered_client());
    clients
}

/// The discovery document of [`DISCOVERED_ISSUER`].
pub fn discovery_document() -> String {
    serde_json::json!({
        "issuer": DISCOVERED_ISSUER,
        "authorization_endpoint": format!("{DISCOVERED_ISSUER}/auth"),
        "token_endpoint": format!("{DISCOVERED_ISSUER}/token"),
        "userinfo_endpoint": format!("{DISCOVERED_ISSUER}/me"),
        "jwks_uri": format!("{DISCOVERED_ISSUER}/jwks"),
        "end_session_endpoint": format!("{DISCOVERED_ISSUER}/session/end"),
        "id_token_signing_alg_values_supported": ["RS256", "PS384", "ES256", "EdDSA", "HS256"],
        "authorization_response_iss_parameter_supported": true,
        "code_challenge_methods_supported": ["S256"],
    })
    .to_string()
}

/// A client of the discovered provider, holding the fixed JWKS.
pub fn discovered_client() -> AuthenticationClient {
    let doc = discovery_document();
    let client = authing_oidc::fuzzing::discovery_response(
        authing_oidc::fuzzing::Response {
            status: 200,
            www_authenticate: None,
            cache_control: None,
            body: doc.as_bytes(),
            secrets: &[],
        },
        DISCOVERED_ISSUER,
        builder(),
    )
    .expect("the fixture discovery document is accepted");
    authing_oidc::fuzzing::preload_jwks(&client, JWKS.as_bytes()).expect("the fixture JWKS parses");
    client
}

/// The status codes a response target's first byte picks from.
pub const STATUSES: [u16; 16] = [
    200, 400, 401, 403, 500, 201, 204, 302, 404, 429, 502, 503, 299, 199, 100, 999,
];

/// A target's bytes read as an HTTP answer: the first byte picks the status
/// (its top bit is a flag for the target), then an optional header value up
/// to the first NUL byte, then the body. Without a NUL there is no header.
#[derive(Debug, Clone, Copy)]
pub struct Framed<'a> {
    /// The status code.
    pub status: u16,
    /// The flag bit of the first byte.
    pub flag: bool,
    /// The header value, when there is one.
    pub header: Option<&'a [u8]>,
    /// The body.
    pub body: &'a [u8],
}

/// Splits a target's bytes (see [`Framed`]).
pub fn frame(data: &[u8]) -> Option<Framed<'_>> {
    let (&first, rest) = data.split_first()?;
    let (header, body) = match rest.iter().position(|b| *b == 0) {
        Some(nul) => (Some(&rest[..nul]), &rest[nul + 1..]),
        None => (None, rest),
    };
    Some(Framed {
        status: STATUSES[usize::from(first & 0x0f)],
        flag: first & 0x80 != 0,
        header,
        body,
    })
}

/// The bytes [`frame`] reads back as the given answer (for the seeds).
pub fn unframe(status: u16, flag: bool, header: Option<&str>, body: &[u8]) -> Vec<u8> {
    let index = STATUSES
        .iter()
        .position(|s| *s == status)
        .expect("a listed status") as u8;
    let mut out = vec![index | if flag { 0x80 } else { 0 }];
    if let Some(h) = header {
        out.extend_from_slice(h.as_bytes());
        out.push(0);
    }
    out.extend_from_slice(body);
    out
}

/// Formats an error every way a user can, and fails the run if a secret the
/// request sent appears in it.
pub fn check_error(e: &Error) {
    let shown = format!("{e} | {e:?}");
    let _ = (e.is_timeout(), e.is_transient(), e.oauth_error(), e.op_error());
    for secret in SECRETS {
        assert!(
            !shown.contains(secret),
            "a secret the request sent is echoed in an error"
        );
    }
    // The form-encoded spelling of the one secret that has a different one.
    assert!(
        !shown.contains("SECRET+client%2Bsecret%2F%3D"),
        "a secret the request sent is echoed in an error"
    );
}

/// A verifier the PKCE checks accept (43 characters).
pub const CODE_VERIFIER: &str = "fuzz-code-verifier-0123456789abcdefghijklmnop";

/// The fixed pending login of [`authing_client`], started 30 s before
/// [`NOW`], for the given response mode (`None`: query).
pub fn pending(response_mode: Option<&str>) -> authing_oidc::flow::PendingCallback {
    let mut saved = serde_json::json!({
        "version": 1,
        "issuer": ISSUER,
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "created_at": NOW - 30,
        "pending_max_age_secs": 600,
        "state": STATE,
        "nonce": NONCE,
        "code_verifier": CODE_VERIFIER,
    });
    if let Some(mode) = response_mode {
        saved["response_mode"] = mode.into();
    }
    let saved = serde_json::from_value(saved).expect("the fixture pending login parses");
    authing_oidc::flow::PendingCallback::restore_from_trusted_store(authing_client(None), saved)
        .expect("the fixture pending login restores")
}

/// The claims of the login a refreshed id_token is compared with (OIDC Core
/// §12.2): the seeds' claims.
pub fn original_claims() -> serde_json::Value {
    serde_json::json!({
        "iss": ISSUER,
        "sub": "fuzz-user-603f184c",
        "aud": CLIENT_ID,
        "iat": NOW - 10,
        "exp": NOW + 3600,
        "auth_time": NOW - 60,
        "nonce": NONCE,
    })
}
