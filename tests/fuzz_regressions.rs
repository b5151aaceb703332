//! Inputs the fuzz targets in `fuzz/` found, each replayed through the
//! public API against a provider on 127.0.0.1, so the fix stays fixed. The
//! input is the target's, inline; the test names the target that found it.

#[path = "support/mock.rs"]
mod mock;

use authing_oidc::{AuthenticationClient, AuthorizationCode, CodeVerifier, Error};
use mock::{Canned, MockServer};

const CODE: &str = "SECRET-code-Zq9x";
const VERIFIER: &str = "SECRET-verifier-Xw7y-0123456789abcdefghijklmnop";

fn client(server: &MockServer) -> AuthenticationClient {
    AuthenticationClient::builder()
        .app_id("fuzz-client")
        .secret("fuzz-client-secret")
        .app_host(server.url())
        .redirect_uri("https://app.example/callback")
        .build()
        .unwrap()
}

/// `token_response`: a 200 whose `token_type` echoes what the request sent
/// (`{"access_token":"at","expin":-1,"token_type":"BeSECRET-verifier-Xw7yarhr"}`)
/// was refused with the value quoted as it came, secret included.
#[tokio::test]
async fn a_token_type_echoing_the_request_is_refused_without_the_secrets() {
    let server = MockServer::start().await;
    server.on(
        "/oidc/token",
        Canned::raw(
            200,
            "application/json",
            r#"{"access_token":"at","expin":-1,"token_type":"Be{echo}arhr"}"#,
        )
        .echoing(),
    );
    let e = client(&server)
        .get_access_token_by_code(&AuthorizationCode::new(CODE), Some(&CodeVerifier::new(VERIFIER)))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidResponse { .. }), "{e:?}");
    let shown = format!("{e} {e:?}");
    assert!(shown.contains("token_type"), "the reason is still given: {shown}");
    for secret in [CODE, VERIFIER, "fuzz-client-secret"] {
        assert!(!shown.contains(secret), "{secret} is echoed: {shown}");
    }
}
