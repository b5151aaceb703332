//! The binary against panva's oidc-provider, an independent certified OP (the
//! harness installs its npm packages itself): once by discovery (`--issuer`),
//! once with Authing-shaped paths (`--app-host`, provider mounted at /oidc).
//!
//! `crates/cli/tests/interop` is a symlink to the workspace's `tests/interop`,
//! because the harness finds its directory from `CARGO_MANIFEST_DIR`.

mod support;

#[path = "../../../tests/support/panva.rs"]
#[allow(dead_code)]
mod panva;

use panva::{Callback, PanvaOptions, PanvaProvider};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_flow_by_discovery() {
    let op = PanvaProvider::start(PanvaOptions::default()).await;
    let (client_id, secret) = op.client(panva::RP_RS256);
    let dir = tempfile::tempdir().unwrap();
    let pending = dir.path().join("p.json");
    let session = dir.path().join("s.json");
    let cli = |args: &[&str]| {
        let mut cmd = bare();
        cmd.env("AUTHING_ISSUER", op.issuer())
            .env("AUTHING_APP_ID", &client_id)
            .env("AUTHING_APP_SECRET", secret.as_deref().unwrap())
            .env("AUTHING_APP_REDIRECT_URI", panva::CALLBACK)
            .args(args);
        run(cmd)
    };

    let url = cli(&[
        "begin",
        "--scope",
        "openid profile email offline_access",
        "--pending",
        s(&pending),
    ])
    .await
    .ok()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(url.contains("prompt=consent"), "{url}");
    let callback = match op.login(&url, "carol").await {
        Callback::Redirect(u) => u,
        other => panic!("{other:?}"),
    };
    let out = cli(&[
        "finish",
        "--pending",
        s(&pending),
        "--callback",
        &callback,
        "--session",
        s(&session),
    ])
    .await
    .ok();
    assert_eq!(out["claims"]["sub"], "carol");
    assert_eq!(out["claims"]["iss"], op.issuer());
    assert_eq!(out["token_set"]["has_refresh_token"], true);
    assert!(!pending.exists());

    let me = cli(&["whoami", "--session", s(&session)]).await.ok();
    assert_eq!(me["sub"], "carol");
    assert_eq!(me["email"], "carol@example.com");

    let first = saved_session(&session);
    let refreshed = cli(&["token", "--session", s(&session), "--force-refresh"])
        .await
        .ok();
    let second = saved_session(&session);
    assert_ne!(refreshed["access_token"], first["access_token"]);
    assert_eq!(refreshed["access_token"], second["access_token"]);
    assert_ne!(
        second["refresh_token"], first["refresh_token"],
        "panva rotates refresh tokens"
    );

    let at = second["access_token"].as_str().unwrap().to_owned();
    let intro = cli(&["introspect", "--token", &at]).await.ok();
    assert_eq!(intro["active"], true);
    assert_eq!(intro["sub"], "carol");
    let rt = second["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(cli(&["revoke", "--token", &rt]).await.ok()["revoked"], true);
    assert_eq!(
        cli(&["introspect", "--token", &rt]).await.ok(),
        serde_json::json!({"active": false})
    );
    let r = cli(&["token", "--session", s(&session), "--force-refresh"]).await;
    assert_eq!(r.err(1), "reauthentication_required");
    // validate_token is Authing's own: with a discovered provider it is a configuration error.
    assert_eq!(cli(&["validate", "--access-token", &at]).await.err(2), "config");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authing_shaped_stateless_commands() {
    let op = PanvaProvider::start(PanvaOptions::default().mount("/oidc")).await;
    let (client_id, secret) = op.client(panva::RP_BASIC);
    let app_host = op.app_host().to_owned();
    assert_eq!(op.issuer(), format!("{app_host}/oidc"));
    let cli = |args: &[&str]| {
        let mut cmd = bare();
        cmd.env("AUTHING_APP_HOST", &app_host)
            .env("AUTHING_APP_ID", &client_id)
            .env("AUTHING_APP_SECRET", secret.as_deref().unwrap())
            .env("AUTHING_APP_REDIRECT_URI", panva::CALLBACK)
            .args(["--token-endpoint-auth-method", "client_secret_basic"])
            .args(["--introspection-endpoint-auth-method", "client_secret_basic"])
            .args(["--revocation-endpoint-auth-method", "client_secret_basic"])
            .args(args);
        run(cmd)
    };

    let pkce = cli(&["pkce"]).await.ok();
    let verifier = pkce["code_verifier"].as_str().unwrap().to_owned();
    let challenge = pkce["code_challenge"].as_str().unwrap();
    let nonce = "panva-nonce-0123456789";
    let url = cli(&[
        "authorize-url",
        "--scope",
        "openid email offline_access",
        "--nonce",
        nonce,
        "--code-challenge",
        challenge,
    ])
    .await
    .ok()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(url.starts_with(&format!("{app_host}/oidc/auth?")), "{url}");
    let callback = op.login(&url, "dave").await;
    let code = callback.param("code").expect("a code");
    assert_eq!(callback.param("iss").as_deref(), Some(op.issuer()));

    let mut cmd = bare();
    cmd.env("AUTHING_APP_HOST", &app_host)
        .env("AUTHING_APP_ID", &client_id)
        .env("AUTHING_APP_SECRET", secret.as_deref().unwrap())
        .env("AUTHING_APP_REDIRECT_URI", panva::CALLBACK)
        .args(["--token-endpoint-auth-method", "client_secret_basic"])
        .args(["exchange", "--code", &code, "--code-verifier", "-"])
        .write_stdin(verifier);
    let tokens = run(cmd).await.ok();
    let at = tokens["access_token"].as_str().unwrap().to_owned();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();

    let me = cli(&["userinfo", "--access-token", &at]).await.ok();
    assert_eq!(me["sub"], "dave");
    let claims = cli(&[
        "verify-id-token",
        "--id-token",
        &id_token,
        "--nonce",
        nonce,
        "--access-token",
        &at,
    ])
    .await
    .ok();
    assert_eq!(claims["sub"], "dave");
    assert_eq!(claims["aud"], client_id.as_str());

    let refreshed = cli(&["refresh", "--refresh-token", &rt]).await.ok();
    assert!(refreshed["access_token"].is_string());
    assert_ne!(refreshed["refresh_token"], rt.as_str());
    assert_eq!(
        cli(&["introspect", "--token", &rt]).await.ok(),
        serde_json::json!({"active": false})
    );
    let new_at = refreshed["access_token"].as_str().unwrap();
    assert_eq!(cli(&["introspect", "--token", new_at]).await.ok()["active"], true);
    assert_eq!(cli(&["revoke", "--token", new_at]).await.ok()["revoked"], true);
    assert_eq!(
        cli(&["introspect", "--token", new_at]).await.ok(),
        serde_json::json!({"active": false})
    );

    let logout = cli(&[
        "logout-url",
        "--expert",
        "--id-token",
        &id_token,
        "--post-logout-redirect-uri",
        panva::CALLBACK,
    ])
    .await
    .ok();
    assert!(
        logout["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{app_host}/oidc/session/end?"))
    );
}

/// A client registered with a bare origin (`http://127.0.0.1:PORT`, no path):
/// `begin` prints and saves the redirect URI exactly as configured, and
/// `finish` repeats it in the code exchange, so panva's simple string
/// comparison (RFC 6749 §3.1.2.3) accepts both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn begin_and_finish_with_a_bare_origin_redirect_uri() {
    const BARE: &str = "http://127.0.0.1:3998";
    let op = PanvaProvider::start(PanvaOptions::default().client(serde_json::json!({
        "client_id": "rp-bare-origin",
        "client_secret": "rp-bare-origin-secret-0123456789abcdef012345",
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "redirect_uris": [BARE],
        "token_endpoint_auth_method": "client_secret_post",
    })))
    .await;
    let (client_id, secret) = op.client("rp-bare-origin");
    let dir = tempfile::tempdir().unwrap();
    let pending = dir.path().join("p.json");
    let cli = |args: &[&str]| {
        let mut cmd = bare();
        cmd.env("AUTHING_ISSUER", op.issuer())
            .env("AUTHING_APP_ID", &client_id)
            .env("AUTHING_APP_SECRET", secret.as_deref().unwrap())
            .env("AUTHING_APP_REDIRECT_URI", BARE)
            .args(args);
        run(cmd)
    };

    let url = cli(&["begin", "--pending", s(&pending)]).await.ok()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let sent: Vec<(String, String)> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k == "redirect_uri")
        .collect();
    assert_eq!(sent, vec![("redirect_uri".to_owned(), BARE.to_owned())], "{url}");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&pending).unwrap()).unwrap();
    assert!(
        saved
            .to_string()
            .contains(&format!("\"redirect_uri\":\"{BARE}\"")),
        "the pending file keeps the string as given: {saved}"
    );
    let callback = match op.login(&url, "carol").await {
        Callback::Redirect(u) => u,
        other => panic!("{other:?}"),
    };
    let out = cli(&["finish", "--pending", s(&pending), "--callback", &callback])
        .await
        .ok();
    assert_eq!(out["claims"]["sub"], "carol");
    assert!(!pending.exists());
}

/// `--fapi2` with `--client-key` (a JWK from a file, through AUTHING_CLIENT_KEY) against
/// oidc-provider's FAPI 2.0 profile (plugin fapi2.mjs, PAR required): begin pushes the request
/// with a PS256 private_key_jwt assertion, then finish, whoami, a refresh, introspection and
/// revocation, every one authenticated by the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fapi2_profile_with_a_client_key() {
    let key_path = format!(
        "{}/../../tests/support/client-keys/rsa.jwk.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let key = authing_oidc::ClientKey::parse(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
    let op = PanvaProvider::start(PanvaOptions::default().plugin("plugins/fapi2.mjs").client(
        serde_json::json!({
            "client_id": "rp-fapi2-cli",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "redirect_uris": [panva::CALLBACK],
            "token_endpoint_auth_method": "private_key_jwt",
            "id_token_signed_response_alg": "ES256",
            "jwks": {"keys": [key.public_jwk()]},
        }),
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let pending = dir.path().join("p.json");
    let session = dir.path().join("s.json");
    let key_arg = format!("@{key_path}");
    let cli = |args: &[&str]| {
        let mut cmd = bare();
        cmd.env("AUTHING_ISSUER", op.issuer())
            .env("AUTHING_APP_ID", "rp-fapi2-cli")
            .env("AUTHING_CLIENT_KEY", &key_arg)
            .env("AUTHING_APP_REDIRECT_URI", panva::CALLBACK)
            .arg("--fapi2")
            .args(args);
        run(cmd)
    };
    let url = cli(&[
        "begin",
        "--scope",
        "openid email offline_access",
        "--pending",
        s(&pending),
    ])
    .await
    .ok()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let parsed = url::Url::parse(&url).unwrap();
    let names: Vec<String> = parsed.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(names, ["client_id", "request_uri"], "{url}");
    let callback = match op.login(&url, "dave").await {
        Callback::Redirect(u) => u,
        other => panic!("{other:?}"),
    };
    let out = cli(&[
        "finish",
        "--pending",
        s(&pending),
        "--callback",
        &callback,
        "--session",
        s(&session),
    ])
    .await
    .ok();
    assert_eq!(out["claims"]["sub"], "dave");
    let me = cli(&["whoami", "--session", s(&session)]).await.ok();
    assert_eq!(me["email"], "dave@example.com");
    let first = saved_session(&session);
    cli(&["token", "--session", s(&session), "--force-refresh"])
        .await
        .ok();
    let second = saved_session(&session);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let rt = second["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(cli(&["introspect", "--token", &rt]).await.ok()["active"], true);
    assert_eq!(cli(&["revoke", "--token", &rt]).await.ok()["revoked"], true);
    assert_eq!(
        cli(&["introspect", "--token", &rt]).await.ok(),
        serde_json::json!({"active": false})
    );
    // The preset refuses a response mode other than query before anything is sent.
    let r = cli(&["begin", "--response-mode", "form_post", "--pending", s(&pending)]).await;
    assert_eq!(r.err(2), "config");
}
