//! The CLI's pending-login and session files, as `finish` and the session
//! commands read them: format, version, owner, then the SDK's saved state,
//! restored as the CLI restores it.
#![no_main]

use std::sync::LazyLock;

use authing_oidc::AuthenticationClient;
use authing_oidc::flow::{Authenticated, PendingCallback};
use authing_oidc_cli::fuzzing::{read_pending_file, read_session_file};
use authing_oidc_fuzz::{authing_client, check_error};
use libfuzzer_sys::fuzz_target;

static CLIENT: LazyLock<AuthenticationClient> = LazyLock::new(|| authing_client(None));

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match read_pending_file(text, &CLIENT) {
        Ok(saved) => {
            if let Err(e) = PendingCallback::restore_from_trusted_store(CLIENT.clone(), saved) {
                check_error(&e);
            }
        }
        Err(message) => assert!(message.starts_with('{'), "the CLI reports a JSON error line"),
    }
    match read_session_file(text, &CLIENT) {
        Ok(saved) => {
            if let Err(e) = Authenticated::restore_from_trusted_store(CLIENT.clone(), saved) {
                check_error(&e);
            }
        }
        Err(message) => assert!(message.starts_with('{'), "the CLI reports a JSON error line"),
    }
});
