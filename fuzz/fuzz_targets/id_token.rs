//! id_token verification (OIDC Core §3.1.3.7, §12.2): header, claims and
//! signature, against the fixed JWKS and client secret, for each registered
//! algorithm and for a discovered provider; no request is ever made. A token
//! that passes must carry the issuer, audience and nonce it was checked for.
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use authing_oidc::fuzzing::run_now;
use authing_oidc::id_token::{IdTokenClaims, VerifyOptions};
use authing_oidc::{AccessToken, AuthenticationClient, IdToken, Nonce};
use authing_oidc_fuzz::{
    ACCESS_TOKEN, CLIENT_ID, NONCE, NOW, check_error, id_token_clients, original_claims,
};
use libfuzzer_sys::fuzz_target;

static CLIENTS: LazyLock<Vec<AuthenticationClient>> = LazyLock::new(id_token_clients);

static ORIGINAL: LazyLock<IdTokenClaims> =
    LazyLock::new(|| serde_json::from_value(original_claims()).expect("the original claims parse"));

fuzz_target!(|data: &[u8]| {
    // First byte: which client (and, past the last, a refresh), and whether max_age is asked.
    let Some((&first, token)) = data.split_first() else {
        return;
    };
    let Ok(token) = std::str::from_utf8(token) else {
        return;
    };
    let token = IdToken::new(token);
    let nonce = Nonce::new(NONCE);
    let access_token = AccessToken::new(ACCESS_TOKEN);
    let which = usize::from(first & 0x7f) % (CLIENTS.len() + 1);
    let refresh = which == CLIENTS.len();
    let client = &CLIENTS[if refresh { 0 } else { which }];
    let verifier = client.id_token_verifier();
    let result = if refresh {
        run_now(verifier.verify_refreshed(&token, &ORIGINAL, Some(&access_token)))
    } else {
        let mut opts = VerifyOptions::new().nonce(&nonce).access_token(&access_token);
        if first & 0x80 != 0 {
            opts = opts.max_age(Duration::from_secs(300));
        }
        run_now(verifier.verify(&token, &opts))
    };
    match result.expect("verification with a preloaded JWKS never waits for the network") {
        Ok(claims) => {
            assert_eq!(claims.iss, client.issuer(), "a verified token is from the issuer");
            assert!(
                claims.aud.iter().any(|a| a == CLIENT_ID),
                "a verified token is for the client"
            );
            assert!(claims.exp + 60 > NOW as i64, "a verified token has not expired");
            if refresh {
                assert_eq!(claims.sub, ORIGINAL.sub, "a refreshed token keeps the subject");
            } else {
                assert_eq!(
                    claims.nonce.as_deref(),
                    Some(NONCE),
                    "a verified token has the nonce"
                );
            }
        }
        Err(e) => check_error(&e),
    }
});
