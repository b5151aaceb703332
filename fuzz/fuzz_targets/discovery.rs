//! A discovery document (OpenID Connect Discovery 1.0 §3, §4.3): status and
//! body → a client for the provider or a typed error; an accepted client
//! then builds its login and logout URLs from the advertised endpoints.
#![no_main]

use authing_oidc::flow::Unauthorized;
use authing_oidc::fuzzing::{Response, discovery_response};
use authing_oidc::{IdToken, LogoutParams};
use authing_oidc_fuzz::{DISCOVERED_ISSUER, builder, check_error, frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(f) = frame(data) else { return };
    let r = Response {
        status: f.status,
        www_authenticate: f.header,
        cache_control: None,
        body: f.body,
        secrets: &[],
    };
    match discovery_response(r, DISCOVERED_ISSUER, builder()) {
        Ok(client) => {
            assert_eq!(
                client.issuer(),
                DISCOVERED_ISSUER,
                "the document's issuer is the one asked for"
            );
            match Unauthorized::new(client.clone()).start() {
                Ok((url, _pending)) => assert!(matches!(url.scheme(), "https" | "http")),
                Err(e) => check_error(&e),
            }
            let logout = LogoutParams::expert(IdToken::new("h.p.s"), "https://app.fuzz.example/bye");
            if let Err(e) = client.build_logout_url(logout) {
                check_error(&e);
            }
        }
        Err(e) => check_error(&e),
    }
});
