//! A JWKS answer (RFC 7517): the document's keys, each parsed or skipped,
//! and the `Cache-Control` header's lifetime, always within its bounds.
#![no_main]

use authing_oidc::fuzzing::{Response, jwks_response};
use authing_oidc::jwks::{MAX_MAX_AGE, MIN_MAX_AGE};
use authing_oidc_fuzz::{check_error, frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(f) = frame(data) else { return };
    let r = Response {
        status: f.status,
        www_authenticate: None,
        cache_control: f.header,
        body: f.body,
        secrets: &[],
    };
    match jwks_response(r) {
        Ok((_keys, max_age)) => {
            assert!(
                (MIN_MAX_AGE..=MAX_MAX_AGE).contains(&max_age),
                "the cache lifetime is clamped"
            );
        }
        Err(e) => check_error(&e),
    }
});
