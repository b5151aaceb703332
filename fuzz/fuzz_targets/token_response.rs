//! The token endpoint's answer (code exchange, refresh, client credentials):
//! status, `WWW-Authenticate`, JSON body → `TokenSet` or a typed error.
#![no_main]

use authing_oidc::fuzzing::{Response, token_response};
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
    match token_response(r) {
        Ok(tokens) => {
            assert_eq!(tokens.token_type, "Bearer", "only Bearer tokens are accepted");
            let _ = format!("{tokens:?}");
        }
        Err(e) => check_error(&e),
    }
});
