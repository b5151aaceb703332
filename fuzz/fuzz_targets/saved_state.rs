//! Restoring saved pending logins and sessions (`restore_from_trusted_store`)
//! from JSON a store hands back: a typed error or a restored value that
//! exports and restores again unchanged.
#![no_main]

use std::sync::LazyLock;

use authing_oidc::AuthenticationClient;
use authing_oidc::flow::{Authenticated, PendingCallback, SavedPendingCallback, SavedSession};
use authing_oidc_fuzz::{authing_client, check_error};
use libfuzzer_sys::fuzz_target;

static CLIENT: LazyLock<AuthenticationClient> = LazyLock::new(|| authing_client(None));

fn pending_round_trip(saved: SavedPendingCallback) {
    match PendingCallback::restore_from_trusted_store(CLIENT.clone(), saved) {
        Ok(pending) => {
            let first = serde_json::to_value(pending.export_with_secrets()).expect("exports serialise");
            let again: SavedPendingCallback = serde_json::from_value(first.clone()).expect("exports parse");
            let restored = PendingCallback::restore_from_trusted_store(CLIENT.clone(), again)
                .expect("an export restores");
            let second = serde_json::to_value(restored.export_with_secrets()).expect("exports serialise");
            assert_eq!(first, second, "a pending login round-trips unchanged");
        }
        Err(e) => check_error(&e),
    }
}

fn session_round_trip(saved: SavedSession) {
    match Authenticated::restore_from_trusted_store(CLIENT.clone(), saved) {
        Ok(session) => {
            let _ = (
                session.claims(),
                session.subject(),
                session.expires_at(),
                format!("{session:?}"),
            );
            let first = serde_json::to_value(session.export_with_secrets()).expect("exports serialise");
            let again: SavedSession = serde_json::from_value(first.clone()).expect("exports parse");
            let restored =
                Authenticated::restore_from_trusted_store(CLIENT.clone(), again).expect("an export restores");
            let second = serde_json::to_value(restored.export_with_secrets()).expect("exports serialise");
            assert_eq!(first, second, "a session round-trips unchanged");
        }
        Err(e) => check_error(&e),
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(saved) = serde_json::from_slice::<SavedPendingCallback>(data) {
        pending_round_trip(saved);
    }
    if let Ok(saved) = serde_json::from_slice::<SavedSession>(data) {
        session_round_trip(saved);
    }
});
