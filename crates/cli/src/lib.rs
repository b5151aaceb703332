//! Not a public API. The tool is the `authing-oidc` binary (`docs/cli.md`);
//! this library exists only so that the fuzz targets in `fuzz/` can reach the
//! CLI's file parsing, with the `fuzzing` feature. Without it, it is empty.

#![forbid(unsafe_code)]

// The binary's own modules, compiled a second time here: only the parsing is
// used, the rest of them is dead code in this crate.
#[cfg(feature = "fuzzing")]
#[allow(dead_code)]
mod error;
#[cfg(feature = "fuzzing")]
#[allow(dead_code)]
mod store;

/// Entry points for the fuzz targets: the pending-login and session files'
/// text, checked as `begin`/`finish`/`session` read them from disk.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    use authing_oidc::AuthenticationClient;
    use authing_oidc::flow::{SavedPendingCallback, SavedSession};

    use crate::store::{PENDING_FORMAT, SESSION_FORMAT, parse_envelope};

    /// A pending-login file; the error as the CLI would print it.
    pub fn read_pending_file(
        text: &str,
        client: &AuthenticationClient,
    ) -> Result<SavedPendingCallback, String> {
        parse_envelope(text, "pending.json", PENDING_FORMAT, client).map_err(|e| e.to_json_line())
    }

    /// A session file; the error as the CLI would print it.
    pub fn read_session_file(text: &str, client: &AuthenticationClient) -> Result<SavedSession, String> {
        parse_envelope(text, "session.json", SESSION_FORMAT, client).map_err(|e| e.to_json_line())
    }
}
