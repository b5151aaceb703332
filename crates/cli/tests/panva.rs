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

#[path = "../../redis/tests/support/redis_server.rs"]
#[allow(dead_code)]
mod redis_server;

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

// ------------------------------------------------------------ the grants beyond the login flow

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";
const EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
const CIBA_SECRET: &str = "rp-ciba-secret-0123456789abcdef0123456789";
const EXCHANGE_SECRET: &str = "rp-exchange-secret-0123456789abcdef0123456789";

/// One provider with every grant plugin and a client for each grant.
async fn grants_provider() -> PanvaProvider {
    use serde_json::json;
    let options = PanvaOptions::default()
        .plugin("plugins/device.mjs")
        .plugin("plugins/ciba.mjs")
        .plugin("plugins/exchange.mjs")
        .plugin("plugins/registration-iat.mjs")
        .client(json!({"client_id": "rp-device", "token_endpoint_auth_method": "none",
                       "grant_types": [DEVICE_GRANT, "refresh_token"], "response_types": [], "redirect_uris": []}))
        .client(json!({"client_id": "rp-ciba", "client_secret": CIBA_SECRET, "token_endpoint_auth_method": "client_secret_post",
                       "grant_types": [CIBA_GRANT], "response_types": [], "redirect_uris": [],
                       "backchannel_token_delivery_mode": "poll"}))
        .client(json!({"client_id": "rp-exchange", "client_secret": EXCHANGE_SECRET, "token_endpoint_auth_method": "client_secret_post",
                       "grant_types": ["client_credentials", EXCHANGE_GRANT], "response_types": [], "redirect_uris": [],
                       "scope": "api:read api:write"}));
    PanvaProvider::start(options).await
}

async fn provider_post(op: &PanvaProvider, path: &str) -> serde_json::Value {
    let r = reqwest::Client::new().post(op.url(path)).send().await.unwrap();
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

async fn provider_get(op: &PanvaProvider, path: &str) -> serde_json::Value {
    let r = reqwest::Client::new().get(op.url(path)).send().await.unwrap();
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

/// `device-login` as a user runs it: the first stderr line is read while the command waits,
/// the user acts on it, then the command's outcome.
async fn device_login(op: &PanvaProvider, approve: bool, extra: &[&str]) -> (i32, String, Vec<String>) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let mut child = tokio::process::Command::new(BIN)
        .env_clear()
        .env("AUTHING_ISSUER", op.issuer())
        .env("AUTHING_APP_ID", "rp-device")
        .args(["--token-endpoint-auth-method", "none"])
        .args(["--introspection-endpoint-auth-method", "none"])
        .args(["--revocation-endpoint-auth-method", "none"])
        .arg("device-login")
        .args(extra)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    tokio::time::timeout(std::time::Duration::from_secs(20), stderr.read_line(&mut first))
        .await
        .unwrap()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_str(first.trim()).unwrap();
    let mut keys: Vec<&str> = shown.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "expires_in",
            "user_code",
            "verification_uri",
            "verification_uri_complete"
        ],
        "{shown}"
    );
    let complete = shown["verification_uri_complete"].as_str().unwrap();
    assert!(shown["expires_in"].as_u64().unwrap() > 0);
    op.browser().device(complete, "gina", approve).await.unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).await.unwrap();
    let status = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    (
        status.code().unwrap_or(-1),
        out,
        rest.lines().map(str::to_owned).collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_commands() {
    let op = grants_provider().await;
    let dir = tempfile::tempdir().unwrap();

    // device-login, approved, with the session saved.
    let session = dir.path().join("device-session.json");
    let (code, out, rest) = device_login(
        &op,
        true,
        &[
            "--scope",
            "openid profile offline_access",
            "--session",
            s(&session),
        ],
    )
    .await;
    assert_eq!(code, 0, "{out} {rest:?}");
    assert!(rest.is_empty(), "{rest:?}");
    let out: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(out["claims"]["sub"], "gina");
    assert!(
        out["token_set"].get("access_token").is_none(),
        "saved, not printed: {out}"
    );
    assert!(session.exists());
    // device-login, denied: the refusal is the last stderr line.
    let (code, out, rest) = device_login(&op, false, &[]).await;
    assert_eq!((code, out.as_str()), (1, ""), "{rest:?}");
    let error: serde_json::Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    assert_eq!(error["error"]["kind"], "authorization_error");

    // A --scope without openid is refused before any request (exit 2, where the provider's
    // refusal would be exit 1 op_error), never rewritten.
    for (grant, extra) in [("device-login", None), ("ciba-login", Some("hank"))] {
        let mut cmd = bare();
        cmd.env("AUTHING_ISSUER", op.issuer())
            .env("AUTHING_APP_ID", "rp-ciba")
            .env("AUTHING_APP_SECRET", CIBA_SECRET)
            .args([grant, "--scope", "profile"]);
        if let Some(hint) = extra {
            cmd.args(["--login-hint", hint]);
        }
        let r = run(cmd).await;
        assert_eq!(r.err(2), "usage", "{grant}");
        assert!(r.stderr.contains("openid"), "{}", r.stderr);
    }

    // ciba-login, approved on "the user's device" while the command polls.
    let mut cmd = bare();
    cmd.env("AUTHING_ISSUER", op.issuer())
        .env("AUTHING_APP_ID", "rp-ciba")
        .env("AUTHING_APP_SECRET", CIBA_SECRET)
        .args([
            "ciba-login",
            "--login-hint",
            "hank",
            "--binding-message",
            "W4SCT",
            "--scope",
            "openid profile",
        ]);
    let running = tokio::spawn(run(cmd));
    let request = loop {
        let list = provider_get(&op, "/__ciba/requests").await;
        if let Some(r) = list["requests"].as_array().and_then(|a| a.first()).cloned() {
            break r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(request["binding_message"], "W4SCT");
    assert_eq!(request["scope"], "openid profile");
    provider_post(
        &op,
        &format!(
            "/__ciba/decide?id={}&approve=true",
            request["id"].as_str().unwrap()
        ),
    )
    .await;
    let out = running.await.unwrap().ok();
    assert_eq!(out["claims"]["sub"], "hank");
    assert!(out["token_set"]["access_token"].is_string());

    // token-exchange of a client-credentials token, read from a file.
    let exchange_cli = |args: &[&str]| {
        let mut cmd = bare();
        cmd.env("AUTHING_ISSUER", op.issuer())
            .env("AUTHING_APP_ID", "rp-exchange")
            .env("AUTHING_APP_SECRET", EXCHANGE_SECRET)
            .args(args);
        run(cmd)
    };
    let subject = exchange_cli(&[
        "client-credentials",
        "--scope",
        "api:read api:write",
        "--access-key",
        "rp-exchange",
        "--access-secret",
        EXCHANGE_SECRET,
    ])
    .await
    .ok()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let subject_file = dir.path().join("subject");
    std::fs::write(&subject_file, &subject).unwrap();
    let at_path = format!("@{}", s(&subject_file));
    let answer = exchange_cli(&[
        "token-exchange",
        "--subject-token",
        &at_path,
        "--subject-token-type",
        ACCESS,
        "--audience",
        "orders",
        "--audience",
        "billing",
        "--resource",
        "https://rs.example/orders",
        "--scope",
        "api:read",
    ])
    .await
    .ok();
    assert_eq!(answer["issued_token_type"], ACCESS);
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["scope"], "api:read");
    let last = provider_get(&op, "/__exchange/last").await["last"].clone();
    assert_eq!(last["audience"], serde_json::json!(["orders", "billing"]));
    assert_eq!(last["resource"], serde_json::json!(["https://rs.example/orders"]));
    let issued = answer["access_token"].as_str().unwrap();
    assert_eq!(
        exchange_cli(&["introspect", "--token", issued]).await.ok()["active"],
        true
    );
    let refused = exchange_cli(&[
        "token-exchange",
        "--subject-token",
        "forged",
        "--subject-token-type",
        ACCESS,
    ])
    .await;
    assert_eq!(refused.err(1), "op_error");
    let unpaired = exchange_cli(&[
        "token-exchange",
        "--subject-token",
        "x",
        "--subject-token-type",
        ACCESS,
        "--actor-token",
        "y",
    ])
    .await;
    assert_eq!(unpaired.err(2), "usage");

    // register: no --app-id; the initial access token from stdin.
    let mut cmd = bare();
    cmd.env("AUTHING_ISSUER", op.issuer())
        .args(["register", "--redirect-uri", panva::CALLBACK])
        .args(["--token-endpoint-auth-method", "client_secret_basic"])
        .args(["--initial-access-token", "-"])
        .write_stdin("test-initial-access-token");
    let registered = run(cmd).await.ok();
    assert!(registered["client_id"].is_string());
    assert!(registered["client_secret"].is_string());
    assert!(registered["registration_access_token"].is_string());
    assert_eq!(registered["client_secret_expires_at"], 0);
    assert_eq!(registered["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(registered["redirect_uris"], serde_json::json!([panva::CALLBACK]));
    let mut cmd = bare();
    cmd.env("AUTHING_ISSUER", op.issuer())
        .args(["register", "--redirect-uri", panva::CALLBACK]);
    assert_eq!(run(cmd).await.err(1), "op_error");
}

/// `--dpop` (RFC 9449) against a provider that demands DPoP proofs with
/// nonces (tests/interop/plugins/dpop.mjs): `begin --dpop` makes the key,
/// `finish` keeps it in the session file (mode 0600), and `whoami` and
/// `token --force-refresh` use it without being told. A bound token is
/// useless as a bearer token, and `userinfo --dpop` says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_session_keeps_its_key() {
    let op = PanvaProvider::start(PanvaOptions::default().plugin("plugins/dpop.mjs")).await;
    let (client_id, secret) = op.client("rp-dpop");
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
        "--dpop",
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
    assert!(url.contains("dpop_jkt="), "{url}");
    assert_eq!(mode(&pending), 0o600);
    let callback = match op.login(&url, "erin").await {
        Callback::Redirect(u) => u,
        other => panic!("{other:?}"),
    };
    // finish needs no --dpop: the pending login holds the key.
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
    assert_eq!(out["claims"]["sub"], "erin");
    assert_eq!(out["token_set"]["token_type"], "DPoP");
    assert_eq!(mode(&session), 0o600);
    let saved = saved_session(&session);
    assert!(
        saved["dpop_key"]["pkcs8"].is_string(),
        "the key is in the session file"
    );
    assert_eq!(saved["version"], 2);

    assert_eq!(
        cli(&["whoami", "--session", s(&session)]).await.ok()["sub"],
        "erin"
    );
    let refreshed = cli(&["token", "--session", s(&session), "--force-refresh"])
        .await
        .ok();
    let at = refreshed["access_token"].as_str().unwrap().to_owned();
    assert_ne!(saved["access_token"], refreshed["access_token"]);
    assert_eq!(
        saved_session(&session)["dpop_key"],
        saved["dpop_key"],
        "the same key"
    );
    assert_eq!(
        cli(&["whoami", "--session", s(&session)]).await.ok()["sub"],
        "erin"
    );
    let intro = cli(&["introspect", "--token", &at]).await.ok();
    assert_eq!(intro["token_type"], "DPoP");
    // The bound token as a bearer token: the provider refuses it.
    assert_eq!(cli(&["userinfo", "--access-token", &at]).await.err(1), "op_error");
    assert_eq!(
        cli(&["--dpop", "userinfo", "--access-token", &at]).await.err(2),
        "usage"
    );
}

/// `begin --par --resource R --authorization-details JSON`, then `finish` and `token
/// --force-refresh` against panva's RAR feature (plugins/rar.mjs): the details travel in the
/// pushed request, `finish` prints the granted ones, and the provider's own record shows the
/// login's one resource on the code exchange and on the refresh (the session file keeps it,
/// version 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rar_login_repeats_its_resource_on_finish_and_token() {
    const PAYMENTS: &str = "https://payments.example/";
    let op = PanvaProvider::start(PanvaOptions::default().plugin("plugins/rar.mjs")).await;
    let (client_id, secret) = op.client("rp-rar");
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
        "--par",
        "--resource",
        PAYMENTS,
        "--authorization-details",
        r#"[{"type":"payment_initiation","instructedAmount":{"amount":"9.99","currency":"EUR"}}]"#,
        "begin",
        "--scope",
        "openid offline_access payments",
        "--pending",
        s(&pending),
    ])
    .await
    .ok()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.contains("request_uri=") && !url.contains("authorization_details"),
        "{url}"
    );
    let callback = match op.login(&url, "erin").await {
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
    let granted = &out["token_set"]["authorization_details"][0];
    assert_eq!(granted["type"], "payment_initiation", "{out}");
    assert_eq!(granted["instructedAmount"]["amount"], "9.99");
    assert_eq!(granted["issuedBy"], "authorization_code");
    let saved = saved_session(&session);
    assert_eq!(saved["version"], 3);
    assert_eq!(saved["token_resource"], serde_json::json!([PAYMENTS]));
    cli(&["token", "--session", s(&session), "--force-refresh"])
        .await
        .ok();
    assert_eq!(
        saved_session(&session)["authorization_details"][0]["issuedBy"],
        "refresh_token"
    );
    assert_eq!(
        provider_get(&op, "/__rar/token-requests").await,
        serde_json::json!([
            {"grant_type": "authorization_code", "resource": PAYMENTS, "authorization_details": null},
            {"grant_type": "refresh_token", "resource": PAYMENTS, "authorization_details": null},
        ])
    );
}

/// Refreshes panva saw (plugins/count.mjs): (successful, refused).
async fn refreshes(op: &PanvaProvider) -> (u64, u64) {
    let body = reqwest::get(op.url("/_counts"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counts: serde_json::Value = serde_json::from_str(&body).unwrap();
    (
        counts["refresh"]["success"].as_u64().unwrap(),
        counts["refresh"]["error"].as_u64().unwrap(),
    )
}

/// `--session redis://HOST:PORT/KEY` against a real redis-server: `finish` stores the session,
/// `whoami` and `token` use it, and 20 `token` processes started together after the access
/// token expired refresh it once at the provider (panva rotates refresh tokens and revokes the
/// grant on reuse, so a second refresh would also show up as failures) and all print the same
/// new token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_session_refreshes_once_across_processes() {
    use base64::Engine as _;
    let redis = redis_server::RedisServer::start();
    let op = PanvaProvider::start(
        PanvaOptions::default()
            .ttl("AccessToken", 6)
            .plugin("plugins/count.mjs"),
    )
    .await;
    let (client_id, secret) = op.client(panva::RP_RS256);
    let dir = tempfile::tempdir().unwrap();
    let pending = dir.path().join("p.json");
    let session = format!("{}/alice", redis.url());
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let command = |args: &[&str]| {
        let mut cmd = bare();
        cmd.env("AUTHING_ISSUER", op.issuer())
            .env("AUTHING_APP_ID", &client_id)
            .env("AUTHING_APP_SECRET", secret.as_deref().unwrap())
            .env("AUTHING_APP_REDIRECT_URI", panva::CALLBACK)
            .env("AUTHING_SESSION_KEY", &key)
            .args(args);
        cmd
    };
    let cli = |args: &[&str]| run(command(args));

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
    let callback = match op.login(&url, "alice").await {
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
        &session,
    ])
    .await
    .ok();
    assert_eq!(out["claims"]["sub"], "alice");
    assert_eq!(out["token_set"]["has_refresh_token"], true);
    assert!(out["token_set"].get("access_token").is_none(), "{out}");
    assert!(!pending.exists());
    // Nothing was written next to the pending file for the session.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    let me = cli(&["whoami", "--session", &session]).await.ok();
    assert_eq!(me["sub"], "alice");
    let first = cli(&["token", "--session", &session]).await.ok();
    let first_token = first["access_token"].as_str().unwrap().to_owned();

    // Past the access token's expiry, 20 processes at once.
    let expires_in = first["expires_in"].as_u64().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(expires_in * 1000 + 1200)).await;
    let before = refreshes(&op).await;
    let runs: Vec<_> = (0..20)
        .map(|_| tokio::spawn(run(command(&["token", "--session", &session]))))
        .collect();
    let mut tokens = std::collections::BTreeSet::new();
    for r in runs {
        let out = r.await.unwrap().ok();
        tokens.insert(out["access_token"].as_str().unwrap().to_owned());
    }
    let after = refreshes(&op).await;
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (1, 0),
        "exactly one refresh at the provider, none refused"
    );
    assert_eq!(tokens.len(), 1, "all 20 print the same token: {tokens:?}");
    assert!(!tokens.contains(&first_token), "the token was refreshed");
    // The refreshed session is what Redis holds now: a later process uses it without a refresh.
    let again = cli(&["token", "--session", &session]).await.ok();
    assert!(tokens.contains(again["access_token"].as_str().unwrap()));
    assert_eq!(refreshes(&op).await, after);

    // A key holding no session is a file error; a malformed URL a usage error; a missing or
    // malformed key a config error that never shows the key.
    let missing = format!("{}/nobody", redis.url());
    assert_eq!(cli(&["token", "--session", &missing]).await.err(2), "file");
    for bad in [
        "redis://127.0.0.1:1",
        "redis://127.0.0.1:1/",
        "redis:///k",
        "redis://h:1/k?x=1",
    ] {
        assert_eq!(cli(&["whoami", "--session", bad]).await.err(2), "usage", "{bad}");
    }
    let mut no_key = command(&["token", "--session", &session]);
    no_key.env_remove("AUTHING_SESSION_KEY");
    assert_eq!(run(no_key).await.err(2), "config");
    let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
    let mut short_key = command(&["token", "--session", &session]);
    short_key.env("AUTHING_SESSION_KEY", &short);
    let r = run(short_key).await;
    assert_eq!(r.err(2), "config");
    assert!(!r.stderr.contains(&short), "{r:?}");
    // Another key cannot open the session.
    let mut other_key = command(&["token", "--session", &session]);
    other_key.env(
        "AUTHING_SESSION_KEY",
        base64::engine::general_purpose::STANDARD.encode([8u8; 32]),
    );
    assert_eq!(run(other_key).await.err(2), "file");
}

/// The provider's back-channel deliveries to this test: `POST /backchannel-logout` on 127.0.0.1,
/// answered 200 (Back-Channel Logout §2.8); each delivered `logout_token` is sent on the channel.
async fn logout_receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() < end + 4 + length {
                        continue;
                    }
                    let body = &buf[end + 4..end + 4 + length];
                    if let Some((_, token)) =
                        url::form_urlencoded::parse(body).find(|(k, _)| k == "logout_token")
                    {
                        let _ = tx.send(token.into_owned());
                    }
                    let _ = socket
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\ncache-control: no-store\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                    return;
                }
            });
        }
    });
    (format!("http://{addr}/backchannel-logout"), rx)
}

const BCL_SECRET: &str = "rp-bcl-cli-secret-0123456789abcdef0123456789";

/// Back-channel logout and signed userinfo through the binary, with tokens panva really issued:
/// a login by `begin`/`finish`, a signed (`application/jwt`) userinfo answer verified by
/// `userinfo`, then an RP-initiated logout whose back-channel logout token `verify-logout-token`
/// verifies (naming the login's `sid`), and refuses as another client's (its `aud`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_token_and_signed_userinfo_from_panva() {
    use serde_json::json;
    let (endpoint, mut delivered) = logout_receiver().await;
    let op = PanvaProvider::start(
        PanvaOptions::default()
            .plugin("plugins/backchannel.mjs")
            .plugin("plugins/jwtresp.mjs")
            .client(json!({
                "client_id": "rp-bcl-cli", "client_secret": BCL_SECRET,
                "grant_types": ["authorization_code"], "response_types": ["code"],
                "redirect_uris": [panva::CALLBACK], "post_logout_redirect_uris": [panva::CALLBACK],
                "token_endpoint_auth_method": "client_secret_post",
                "id_token_signed_response_alg": "RS256", "userinfo_signed_response_alg": "RS256",
                "backchannel_logout_uri": endpoint, "backchannel_logout_session_required": true,
            })),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let pending = dir.path().join("p.json");
    let cli = |app_id: &str, secret: &str, args: &[&str]| {
        let mut cmd = bare();
        cmd.env("AUTHING_ISSUER", op.issuer())
            .env("AUTHING_APP_ID", app_id)
            .env("AUTHING_APP_SECRET", secret)
            .env("AUTHING_APP_REDIRECT_URI", panva::CALLBACK)
            .args(args);
        run(cmd)
    };
    let ours = |args: &[&str]| cli("rp-bcl-cli", BCL_SECRET, args);

    let url = ours(&["begin", "--scope", "openid", "--pending", s(&pending)])
        .await
        .ok()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut browser = op.browser();
    let callback = match browser.login(&url, "ivy").await.unwrap() {
        Callback::Redirect(u) => u,
        other => panic!("{other:?}"),
    };
    let out = ours(&["finish", "--pending", s(&pending), "--callback", &callback])
        .await
        .ok();
    let sid = out["claims"]["sid"]
        .as_str()
        .expect("sid in the id_token")
        .to_owned();
    let id_token = out["token_set"]["id_token"].as_str().unwrap().to_owned();
    let access_token = out["token_set"]["access_token"].as_str().unwrap().to_owned();

    // Userinfo answered as a signed JWT (jwtUserinfo), verified by its content type.
    let me = ours(&["userinfo", "--access-token", &access_token]).await.ok();
    assert_eq!(me["sub"], "ivy", "{me}");

    // RP-initiated logout in the same browser; the provider delivers a logout token to us.
    let logout = ours(&[
        "logout-url",
        "--expert",
        "--id-token",
        &id_token,
        "--post-logout-redirect-uri",
        panva::CALLBACK,
    ])
    .await
    .ok()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let end = browser.follow(&logout).await.unwrap();
    assert!(end.url().starts_with(panva::CALLBACK), "{end:?}");
    let token = tokio::time::timeout(std::time::Duration::from_secs(10), delivered.recv())
        .await
        .unwrap_or_else(|_| panic!("no delivery: {}", op.log()))
        .unwrap();
    assert!(
        op.log().contains("backchannel.success client=rp-bcl-cli"),
        "{}",
        op.log()
    );
    let file = dir.path().join("logout-token");
    std::fs::write(&file, &token).unwrap();
    let at_file = format!("@{}", s(&file));
    let verified = ours(&["verify-logout-token", "--logout-token", &at_file])
        .await
        .ok();
    assert_eq!(verified["iss"], op.issuer());
    assert_eq!(verified["sub"], "ivy");
    assert_eq!(verified["sid"], sid.as_str());
    assert!(
        verified["jti"].as_str().is_some_and(|j| !j.is_empty()),
        "{verified}"
    );
    let mut keys: Vec<_> = verified.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["iss", "jti", "sid", "sub"]);

    // The same token checked as another client's: its aud is not that client, exit 1.
    let (other, other_secret) = op.client(panva::RP_RS256);
    let r = cli(
        &other,
        other_secret.as_deref().unwrap(),
        &["verify-logout-token", "--logout-token", &at_file],
    )
    .await;
    assert_eq!(r.err(1), "logout_token_invalid");
    assert!(!r.stderr.contains(&token), "the token is never echoed");
}
