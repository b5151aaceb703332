//! Any answer read for its status: OAuth error bodies (RFC 6749 §5.2),
//! Authing's `{code, message}`, `WWW-Authenticate: Bearer` (RFC 6750 §3),
//! HTML pages; quotable (revocation) or sensitive (token endpoints). The
//! error must never quote a secret the request sent.
#![no_main]

use authing_oidc::fuzzing::{Response, status_check};
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
    let quotable = f.flag;
    match status_check(r, quotable) {
        Ok(()) => assert!((200..300).contains(&f.status), "only a 2xx status passes"),
        Err(e) => {
            assert!(!(200..300).contains(&f.status), "a 2xx status is not an error");
            check_error(&e);
        }
    }
});
