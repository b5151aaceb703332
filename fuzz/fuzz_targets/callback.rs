//! The authorization response the browser brings back: a query, a fragment,
//! a `form_post` body or a whole URL, then every check `complete` runs
//! before it exchanges the code, for a login in each response mode.
#![no_main]

use std::sync::LazyLock;

use authing_oidc::flow::{CallbackParams, PendingCallback};
use authing_oidc::fuzzing::check_callback;
use authing_oidc::{Error, ResponseMode};
use authing_oidc_fuzz::{STATE, check_error, pending};
use libfuzzer_sys::fuzz_target;

static PENDING: LazyLock<[PendingCallback; 3]> = LazyLock::new(|| {
    [
        pending(None),
        pending(Some("fragment")),
        pending(Some("form_post")),
    ]
});

fn checked(parsed: Result<CallbackParams, Error>) -> Option<CallbackParams> {
    let params = match parsed {
        Ok(p) => p,
        Err(e) => {
            check_error(&e);
            return None;
        }
    };
    let _ = format!("{params:?}");
    for pending in PENDING.iter() {
        match check_callback(pending, &params) {
            Ok(()) => {
                assert_eq!(
                    params.get("state"),
                    Some(STATE),
                    "only the login's own state passes"
                );
                assert!(
                    params.get("error").is_none(),
                    "an error response never yields a code"
                );
                assert!(
                    params.get("code").is_some_and(|c| !c.is_empty()),
                    "a code is required"
                );
            }
            Err(e) => check_error(&e),
        }
    }
    Some(params)
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let query = checked(CallbackParams::from_query(s));
    let form = checked(CallbackParams::from_form_post(s));
    let _ = checked(CallbackParams::from_fragment(s));
    if let Some(url) = checked(CallbackParams::from_url(s)) {
        assert_ne!(
            url.mode(),
            ResponseMode::FormPost,
            "a URL is a query or a fragment"
        );
    }
    // The query and a form_post body are the same encoding: they agree, but for a leading `?`.
    if !s.starts_with('?') {
        assert_eq!(
            query.is_some(),
            form.is_some(),
            "query and form_post parsing agree"
        );
        if let (Some(q), Some(f)) = (&query, &form) {
            for name in ["code", "state", "iss", "error", "error_description"] {
                assert_eq!(
                    q.get(name),
                    f.get(name),
                    "query and form_post parsing agree on {name}"
                );
            }
        }
    }
});
