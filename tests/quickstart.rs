//! `cargo run --example quickstart [-- --dpop | --fapi2 [--jar]]`, end to end: the example's
//! own code (examples/quickstart.rs, compiled in here as a module) against the embedded
//! development provider, with what it prints checked for each step and for secrets.

#[path = "../examples/quickstart.rs"]
#[allow(dead_code)] // main and the Authing-app path are the binary's
mod quickstart;

#[path = "support/mock.rs"]
mod mock;

use authing_oidc::{AuthenticationClient, ClientKey};
use quickstart::{Mode, check_fapi2_support, with_dev_provider};
use serde_json::json;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| (*a).to_owned()).collect()
}

#[test]
fn the_command_line_picks_the_mode() {
    assert_eq!(Mode::from_args(args(&[])).unwrap(), Mode::Plain);
    assert_eq!(Mode::from_args(args(&["--dpop"])).unwrap(), Mode::Dpop);
    assert_eq!(
        Mode::from_args(args(&["--fapi2"])).unwrap(),
        Mode::Fapi2 { jar: false }
    );
    assert_eq!(
        Mode::from_args(args(&["--jar", "--fapi2"])).unwrap(),
        Mode::Fapi2 { jar: true }
    );
    assert!(Mode::from_args(args(&["--jar"])).is_err());
    assert!(Mode::from_args(args(&["--fapi3"])).is_err());
}

/// Runs the quickstart in `mode` and returns what it printed and the provider's request
/// counts, after checking that nothing secret was printed.
async fn run(mode: Mode) -> (String, std::collections::BTreeMap<String, u64>) {
    let mut out = Vec::new();
    let counts = with_dev_provider(mode, &mut out)
        .await
        .unwrap_or_else(|e| panic!("{mode:?}: {e}\n{}", String::from_utf8_lossy(&out)));
    let text = String::from_utf8(out).unwrap();
    // Every token, assertion, request object and JWK the run handled is a JSON object
    // encoded in base64url, which starts "eyJ"; none is printed, and no JSON key either.
    assert!(!text.contains("eyJ"), "{mode:?} printed a JWT:\n{text}");
    assert!(!text.contains("\"d\""), "{mode:?} printed a private key:\n{text}");
    assert!(!text.contains("dev-app-secret"), "{text}");
    for step in [
        "1. ",
        "2. logged in as alice",
        "sub = dev-user-alice",
        "4. userinfo",
        "Alice Example <alice@example.com>",
        "5. refreshed",
        "refresh token rotated: true",
        "active = true",
        "8. revoked",
    ] {
        assert!(text.contains(step), "{mode:?}: no {step:?} in\n{text}");
    }
    for line in text
        .lines()
        .filter(|l| l.contains("code=") || l.contains("state="))
    {
        assert!(
            line.contains("code=REDACTED") || !line.contains("code="),
            "{line}"
        );
        assert!(
            line.contains("state=REDACTED") || !line.contains("state="),
            "{line}"
        );
    }
    (text, counts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_fapi2_shows_the_whole_profile_offline() {
    for jar in [false, true] {
        let (text, counts) = run(Mode::Fapi2 { jar }).await;
        assert!(text.contains("FAPI 2.0 client"), "{text}");
        assert!(text.contains(&format!("request objects: {jar}")), "{text}");
        assert!(text.contains("pushed (PAR)"), "{text}");
        assert!(text.contains("request_uri=REDACTED"), "{text}");
        assert!(text.contains("id_token signed ES256"), "{text}");
        assert!(text.contains("jkt = "), "{text}");
        // The push (once refused for the DPoP nonce), and no authorization request that
        // did not come through it.
        assert_eq!(counts.get("/oidc/par"), Some(&2), "{counts:?}");
        assert_eq!(counts.get("/oidc/auth"), Some(&1), "{counts:?}");
        assert!(counts.get("/oidc/me").is_some_and(|n| *n >= 1), "{counts:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_without_flags_and_with_dpop() {
    let (text, counts) = run(Mode::Plain).await;
    assert!(text.contains("id_token signed RS256"), "{text}");
    assert!(!text.contains("jkt = "), "{text}");
    assert_eq!(counts.get("/oidc/par"), None);
    let (text, _) = run(Mode::Dpop).await;
    assert!(text.contains("jkt = "), "{text}");
}

/// Against an Authing application, `--fapi2` first reads the app's discovery document and names
/// what it lacks of the profile, rather than failing later on an obscure answer; the
/// development provider's document has it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fapi2_names_what_an_application_lacks() {
    let key = || {
        let text = std::fs::read_to_string(format!(
            "{}/tests/support/client-keys/ec.jwk.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        ClientKey::parse(&text).unwrap()
    };
    let client = |issuer: String| {
        let key = key();
        async move {
            AuthenticationClient::builder()
                .app_id("app")
                .redirect_uri("http://127.0.0.1:8400/callback")
                .client_key(key)
                .fapi2()
                .discover(&issuer)
                .await
                .unwrap()
        }
    };
    let server = mock::MockServer::start().await;
    let issuer = format!("{}/oidc", server.url());
    server.on(
        "/oidc/.well-known/openid-configuration",
        mock::Canned::json(
            200,
            json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/auth"),
                "token_endpoint": format!("{issuer}/token"),
                "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
                "id_token_signing_alg_values_supported": ["RS256", "HS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
            }),
        ),
    );
    let error = check_fapi2_support(&client(issuer).await)
        .unwrap_err()
        .to_string();
    for missing in [
        "pushed_authorization_request_endpoint",
        "private_key_jwt",
        "PS256, ES256 or EdDSA",
        "DPoP",
    ] {
        assert!(error.contains(missing), "{missing}: {error}");
    }

    let provider = authing_oidc_dev_provider::DevProvider::start(Default::default())
        .await
        .unwrap();
    check_fapi2_support(&client(provider.issuer()).await).unwrap();
}
