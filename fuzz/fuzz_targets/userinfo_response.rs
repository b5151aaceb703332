//! The userinfo endpoint's answer: status, `WWW-Authenticate`, JSON body →
//! `UserInfo` or a typed error.
#![no_main]

use authing_oidc::fuzzing::{Response, userinfo_response};
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
    match userinfo_response(r) {
        Ok(user) => {
            let _ = format!("{user:?}");
        }
        Err(e) => check_error(&e),
    }
});
