//! The introspection endpoint's answer (RFC 7662): status,
//! `WWW-Authenticate`, JSON body → `Introspection` or a typed error.
#![no_main]

use authing_oidc::fuzzing::{Response, introspection_response};
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
    match introspection_response(r) {
        Ok(i) => {
            let _ = format!("{i:?}");
        }
        Err(e) => check_error(&e),
    }
});
