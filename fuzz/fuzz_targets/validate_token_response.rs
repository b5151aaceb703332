//! Authing's `validate_token` answer: claims with `sub`, `{code, message}`
//! with any status, or a typed error.
#![no_main]

use authing_oidc::ValidateTokenResult;
use authing_oidc::fuzzing::{Response, validate_token_response};
use authing_oidc_fuzz::{SECRETS, check_error, frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(f) = frame(data) else { return };
    let r = Response {
        status: f.status,
        www_authenticate: f.header,
        cache_control: None,
        body: f.body,
        secrets: SECRETS,
    };
    match validate_token_response(r) {
        Ok(ValidateTokenResult::Valid(claims)) => {
            assert!(
                claims.get("sub").is_some_and(|s| s.is_string()),
                "valid claims carry a string sub"
            );
        }
        Ok(invalid) => {
            // The provider's words about the token, scrubbed like any error text.
            let shown = format!("{invalid:?}");
            for secret in SECRETS {
                assert!(!shown.contains(secret), "a secret the request sent is echoed");
            }
        }
        Err(e) => check_error(&e),
    }
});
