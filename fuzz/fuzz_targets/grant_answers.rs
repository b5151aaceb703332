//! The answers of the grants beyond the login flow (issue 13), each read by
//! the same code as one from the network: the device authorization answer
//! (RFC 8628 §3.2), the CIBA authentication answer (CIBA Core §7.3), the token
//! exchange answer (RFC 8693 §2.2), the registration answer (RFC 7591 §3.2,
//! and RFC 7592 §3 when read or updated) and the pushed authorization answer
//! (RFC 9126 §2.2). The first byte picks the answer; the rest is a framed HTTP
//! answer (fuzz/src/lib.rs). Invariants: no panic; an accepted answer has
//! what the grant needs; a secret it carries never shows in `Debug`; an error
//! never quotes a canary secret the request sent ([`SECRETS`]).
#![no_main]

use std::sync::LazyLock;

use authing_oidc::ExposeSecret as _;
use authing_oidc::fuzzing::{
    Response, backchannel_authentication_response, device_authorization_response,
    pushed_authorization_response, registration_response, token_exchange_response,
};
use authing_oidc::registration::{RegisteredClient, Registrar};
use authing_oidc::token_exchange::TokenType;
use authing_oidc_fuzz::{SECRETS, builder, check_error, frame};
use libfuzzer_sys::fuzz_target;

/// The registration endpoint of the fixture provider.
const REGISTRATION_ENDPOINT: &str = "https://op.fuzz.example/reg";

static REGISTRAR: LazyLock<Registrar> = LazyLock::new(|| {
    Registrar::at(builder(), REGISTRATION_ENDPOINT).expect("the fixture registration endpoint is valid")
});

/// A client registered before, for the read and update answers.
static PREVIOUS: LazyLock<RegisteredClient> = LazyLock::new(|| {
    let body = serde_json::json!({
        "client_id": "fuzz-registered", "client_secret": "fuzz-registered-secret",
        "client_secret_expires_at": 0, "registration_access_token": "fuzz-rat",
        "registration_client_uri": format!("{REGISTRATION_ENDPOINT}/fuzz-registered"),
    })
    .to_string();
    registration_response(&REGISTRAR, answer(200, None, body.as_bytes()), None)
        .expect("the fixture registration answer is accepted")
});

fn answer<'a>(status: u16, header: Option<&'a [u8]>, body: &'a [u8]) -> Response<'a> {
    Response {
        status,
        www_authenticate: header,
        cache_control: None,
        body,
        secrets: SECRETS,
    }
}

/// A URI the client would send a browser or a request to: it parses, with
/// https, or http to a loopback host, and without a fragment (the URL rules
/// of docs/protocol.md §1). The text itself is kept as the provider sent it.
fn usable_uri(raw: &str) {
    let url = url::Url::parse(raw).expect("an accepted URI parses");
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    assert!(
        url.scheme() == "https" || (url.scheme() == "http" && loopback),
        "an accepted URI is https (or loopback)"
    );
    assert!(url.host().is_some() && url.fragment().is_none());
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Some(f) = frame(rest) else { return };
    let r = answer(f.status, f.header, f.body);
    match selector % 6 {
        0 => match device_authorization_response(r) {
            Ok(a) => {
                assert!(!a.device_code.expose_secret().is_empty());
                assert!(!a.user_code.is_empty());
                usable_uri(&a.verification_uri);
                if let Some(u) = &a.verification_uri_complete {
                    usable_uri(u);
                }
                assert!(a.expires_in > 0, "a positive lifetime");
                assert_eq!(
                    format!("{:?}", a.device_code),
                    format!("{:?}", authing_oidc::DeviceCode::new("x")),
                    "Debug never shows the device code"
                );
            }
            Err(e) => check_error(&e),
        },
        1 => match backchannel_authentication_response(r) {
            Ok(a) => {
                assert!(!a.auth_req_id.expose_secret().is_empty());
                assert!(a.expires_in > 0, "a positive lifetime");
                assert_eq!(
                    format!("{:?}", a.auth_req_id),
                    format!("{:?}", authing_oidc::AuthReqId::new("x")),
                    "Debug never shows the auth_req_id"
                );
            }
            Err(e) => check_error(&e),
        },
        2 => match token_exchange_response(r) {
            Ok(a) => {
                assert!(!a.access_token.expose_secret().is_empty());
                assert!(!a.issued_token_type.as_str().is_empty());
                let bearer = a.token_type == "Bearer";
                assert!(
                    bearer || (a.token_type == "N_A" && a.issued_token_type != TokenType::AccessToken),
                    "Bearer, or N_A for a token that is not an access token"
                );
                assert_eq!(
                    format!("{:?}", a.access_token),
                    format!("{:?}", authing_oidc::IssuedToken::new("x")),
                    "Debug never shows the issued token"
                );
                if let Some(r) = &a.refresh_token {
                    assert_eq!(
                        format!("{r:?}"),
                        format!("{:?}", authing_oidc::RefreshToken::new("x")),
                        "Debug never shows the refresh token"
                    );
                }
            }
            Err(e) => check_error(&e),
        },
        n @ (3 | 4) => {
            let previous = (n == 4).then(|| &*PREVIOUS);
            match registration_response(&REGISTRAR, r, previous) {
                Ok(c) => {
                    assert!(!c.client_id.is_empty());
                    if let Some(p) = previous {
                        assert_eq!(c.client_id, p.client_id, "an answer about the same client");
                    }
                    if c.client_secret.is_some() {
                        assert!(
                            c.client_secret_expires_at.is_some(),
                            "a secret comes with its expiry (RFC 7591 §3.2.1)"
                        );
                    }
                    if let Some(u) = &c.registration_client_uri {
                        usable_uri(u);
                    }
                    if let Some(s) = &c.client_secret {
                        assert_eq!(
                            format!("{s:?}"),
                            format!("{:?}", authing_oidc::ClientSecret::new("x")),
                            "Debug never shows the client secret"
                        );
                    }
                    if let Some(t) = &c.registration_access_token {
                        assert_eq!(
                            format!("{t:?}"),
                            format!("{:?}", authing_oidc::RegistrationAccessToken::new("x")),
                            "Debug never shows the registration access token"
                        );
                    }
                }
                Err(e) => check_error(&e),
            }
        }
        _ => match pushed_authorization_response(r) {
            Ok(request_uri) => assert!(!request_uri.is_empty()),
            Err(e) => check_error(&e),
        },
    }
});
