//! The JWTs a service receives from the network besides id_tokens: back-channel
//! logout tokens (posted to a public endpoint, Back-Channel Logout 1.0 §2.6)
//! and bearer access tokens (RFC 9068, every API request), verified against the
//! fixed JWKS and client secret with no request. A token that passes must be
//! from the issuer and for the audience it was checked for.
#![no_main]

use std::sync::LazyLock;

use authing_oidc::access_token::TypPolicy;
use authing_oidc::fuzzing::run_now;
use authing_oidc::{AccessToken, AuthenticationClient, LogoutToken};
use authing_oidc_fuzz::{CLIENT_ID, authing_client, check_error};
use libfuzzer_sys::fuzz_target;

static CLIENT: LazyLock<AuthenticationClient> = LazyLock::new(|| authing_client(None));

fuzz_target!(|data: &[u8]| {
    // First byte: a logout token, or an access token under the Authing or strict policy.
    let Some((&first, token)) = data.split_first() else {
        return;
    };
    let Ok(token) = std::str::from_utf8(token) else {
        return;
    };
    let client = &*CLIENT;
    match first % 3 {
        0 => {
            let result = run_now(client.verify_logout_token(&LogoutToken::new(token)))
                .expect("verification with a preloaded JWKS never waits for the network");
            match result {
                Ok(claims) => {
                    assert_eq!(claims.iss, client.issuer(), "a logout token from the issuer");
                    assert!(claims.aud.iter().any(|a| a == CLIENT_ID), "for the client");
                    assert!(claims.sid.is_some() || claims.sub.is_some(), "naming a session");
                }
                Err(e) => check_error(&e),
            }
        }
        n => {
            let policy = if n == 1 {
                TypPolicy::Authing
            } else {
                TypPolicy::Strict
            };
            let verifier = client.access_token_verifier([CLIENT_ID]).typ_policy(policy);
            let result = run_now(verifier.verify(&AccessToken::new(token)))
                .expect("verification with a preloaded JWKS never waits for the network");
            match result {
                Ok(claims) => {
                    assert_eq!(claims.iss, client.issuer(), "an access token from the issuer");
                    assert!(claims.aud.iter().any(|a| a == CLIENT_ID), "for the API");
                }
                Err(e) => check_error(&e),
            }
        }
    }
});
