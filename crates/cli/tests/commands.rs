//! The stateless commands against the embedded dev provider (started in
//! process), and the `dev-provider` command itself (run as a process).

mod support;

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;

use authing_oidc_dev_provider::AuthorizationResponse;
use serde_json::{Value, json};
use support::*;

/// pkce → authorize-url → log in → exchange → userinfo → verify-id-token →
/// validate → refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_exchange_userinfo_verify_validate_refresh() {
    let env = Env::start().await;
    let pkce = env.run(&["pkce"]).await.ok();
    let verifier = pkce["code_verifier"].as_str().unwrap().to_owned();
    let challenge = pkce["code_challenge"].as_str().unwrap().to_owned();
    let nonce = "cli-nonce-0123456789";
    let url = env
        .run(&[
            "authorize-url",
            "--scope",
            OFFLINE_SCOPE,
            "--state",
            "cli-state-0123456789",
            "--nonce",
            nonce,
            "--code-challenge",
            &challenge,
            "--code-challenge-method",
            "S256",
        ])
        .await
        .ok()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let parsed = url::Url::parse(&url).unwrap();
    let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    assert_eq!(parsed.path(), "/oidc/auth");
    assert_eq!(q["client_id"], DEV_APP);
    assert_eq!(q["redirect_uri"], CALLBACK);
    assert_eq!(q["state"], "cli-state-0123456789");
    assert_eq!(q["prompt"], "consent", "offline_access adds prompt=consent");

    let code = match alice_logs_in(&url).await {
        AuthorizationResponse::Redirect(u) => {
            u.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned()
        }
        other => panic!("{other:?}"),
    };
    // The code from a file, the verifier from stdin.
    let code_file = env.path("code");
    std::fs::write(&code_file, &code).unwrap();
    let mut cmd = env.cli();
    cmd.args([
        "exchange",
        "--code",
        &format!("@{}", s(&code_file)),
        "--code-verifier",
        "-",
    ])
    .write_stdin(verifier);
    let tokens = run(cmd).await.ok();
    assert_eq!(tokens["token_type"], "Bearer");
    let at = tokens["access_token"].as_str().unwrap().to_owned();
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    assert!(tokens["expires_in"].as_u64().is_some());

    let me = env.run(&["userinfo", "--access-token", &at]).await.ok();
    assert_eq!(me["email"], "alice@example.com");
    let sub = me["sub"].as_str().unwrap().to_owned();

    let claims = env
        .run(&[
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
    assert_eq!(claims["sub"], sub.as_str());
    assert_eq!(claims["iss"], env.provider.issuer());
    assert_eq!(claims["nonce"], nonce);
    let r = env
        .run(&[
            "verify-id-token",
            "--id-token",
            &id_token,
            "--nonce",
            "another-nonce",
        ])
        .await;
    assert_eq!(r.err(1), "id_token_invalid");
    let r = env.run(&["verify-id-token", "--id-token", "not.a.jwt"]).await;
    assert_eq!(r.err(1), "id_token_invalid");

    // Authing's online check: valid → claims; invalid → refusal, exit 1.
    let valid = env.run(&["validate", "--id-token", &id_token]).await.ok();
    assert_eq!(valid["sub"], sub.as_str());
    let valid = env.run(&["validate", "--access-token", &at]).await.ok();
    assert_eq!(valid["sub"], sub.as_str());
    let r = env.run(&["validate", "--access-token", "aaa.bbb.ccc"]).await;
    assert_eq!(r.err(1), "token_invalid");
    let r = env
        .run(&["validate", "--id-token", &format!("{id_token}x")])
        .await;
    assert_eq!(r.err(1), "token_invalid");
    assert_eq!(env.run(&["validate"]).await.err(2), "usage");

    let refreshed = env.run(&["refresh", "--refresh-token", &rt]).await.ok();
    assert_ne!(refreshed["access_token"], at.as_str());
    assert!(refreshed["refresh_token"].is_string());
    assert!(refreshed["id_token"].is_string());

    // The exchanged code is single use.
    let r = env.run(&["exchange", "--code", &code]).await;
    assert_eq!(r.err(1), "op_error");
    assert!(!r.stderr.contains(&code));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspect_and_revoke() {
    let env = Env::start().await;
    let r = env.run(&["introspect", "--token", "-no-such-token"]).await;
    assert_eq!(
        r.ok(),
        json!({"active": false}),
        "an inactive token is a result; a leading - is a value"
    );
    let session = env.logged_in_session("s.json").await;
    let at = saved_session(&session)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let active = env.run(&["introspect", "--token", &at]).await.ok();
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], DEV_APP);
    assert_eq!(
        env.run(&["revoke", "--token", &at]).await.ok(),
        json!({"revoked": true})
    );
    assert_eq!(
        env.run(&["introspect", "--token", &at]).await.ok(),
        json!({"active": false})
    );
    // Revoking an unknown token is a success too (RFC 7009 §2.2).
    assert_eq!(
        env.run(&["revoke", "--token", "unknown"]).await.ok(),
        json!({"revoked": true})
    );
    // A wrong client secret is the provider's refusal, and is not echoed.
    let mut cmd = env.cli();
    cmd.args(["--secret", "canary-wrong-client-secret", "revoke", "--token", &at]);
    let r = run(cmd).await;
    assert_eq!(r.err(1), "op_error");
    assert!(!r.stderr.contains("canary-wrong-client-secret") && !r.stderr.contains(&at));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_with_the_secret_from_a_file() {
    let env = Env::start().await;
    let secret = env.path("m2m-secret");
    std::fs::write(&secret, "dev-m2m-access-secret\n").unwrap();
    let secret_arg = format!("@{}", s(&secret));
    let tokens = env
        .run(&[
            "client-credentials",
            "--scope",
            "read write",
            "--access-key",
            "dev-m2m-access-key",
            "--access-secret",
            &secret_arg,
        ])
        .await
        .ok();
    assert!(tokens["access_token"].is_string());
    assert_eq!(tokens["token_type"], "Bearer");
    let r = env
        .run(&[
            "client-credentials",
            "--scope",
            "read",
            "--access-key",
            "dev-m2m-access-key",
            "--access-secret",
            "canary-wrong-secret",
        ])
        .await;
    assert_eq!(r.err(1), "op_error");
    assert!(!r.stderr.contains("canary-wrong-secret"));
    let r = env
        .run(&[
            "client-credentials",
            "--scope",
            " ",
            "--access-key",
            "k",
            "--access-secret",
            "s",
        ])
        .await;
    assert_eq!(r.err(2), "usage", "an empty scope is bad input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_urls() {
    let env = Env::start().await;
    let host = env.provider.app_host();
    let simple = env.run(&["logout-url"]).await.ok();
    let url = url::Url::parse(simple["url"].as_str().unwrap()).unwrap();
    assert_eq!(url.path(), "/login/profile/logout");
    assert_eq!(
        url.query_pairs().find(|(k, _)| k == "redirect_uri").unwrap().1,
        CALLBACK
    );
    let to = env
        .run(&[
            "logout-url",
            "--post-logout-redirect-uri",
            "https://app.example/bye",
        ])
        .await
        .ok();
    assert!(
        to["url"]
            .as_str()
            .unwrap()
            .contains("redirect_uri=https%3A%2F%2Fapp.example%2Fbye")
    );
    let expert = env
        .run(&[
            "logout-url",
            "--expert",
            "--id-token",
            "the.id.token",
            "--post-logout-redirect-uri",
            "https://app.example/bye",
            "--state",
            "st",
        ])
        .await
        .ok();
    let url = url::Url::parse(expert["url"].as_str().unwrap()).unwrap();
    assert!(url.as_str().starts_with(&format!("{host}/oidc/session/end?")));
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["id_token_hint"], "the.id.token");
    assert_eq!(q["post_logout_redirect_uri"], "https://app.example/bye");
    assert_eq!(q["state"], "st");
    // --expert needs both values; --id-token needs --expert.
    let r = env.run(&["logout-url", "--expert", "--id-token", "t"]).await;
    assert_eq!(r.err(2), "usage");
    let r = env.run(&["logout-url", "--id-token", "t"]).await;
    assert_eq!(r.err(2), "usage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hs256_client_with_basic_auth() {
    let env = Env::start().await;
    let secret = "s3cr3t with spaces&+/=%";
    let pending = env.path("p");
    let mut cmd = env.cli_for("dev-app-basic", Some(secret));
    cmd.args([
        "--token-endpoint-auth-method",
        "client_secret_basic",
        "--introspection-endpoint-auth-method",
        "client_secret_basic",
    ]);
    cmd.args([
        "--id-token-signed-response-alg",
        "HS256",
        "begin",
        "--pending",
        s(&pending),
    ]);
    let url = run(cmd).await.ok()["url"].as_str().unwrap().to_owned();
    let callback = match alice_logs_in(&url).await {
        AuthorizationResponse::Redirect(u) => u.to_string(),
        other => panic!("{other:?}"),
    };
    let mut cmd = env.cli_for("dev-app-basic", Some(secret));
    cmd.args([
        "--token-endpoint-auth-method",
        "client_secret_basic",
        "--id-token-signed-response-alg",
        "HS256",
    ]);
    cmd.args(["finish", "--pending", s(&pending), "--callback", &callback]);
    let out = run(cmd).await.ok();
    assert_eq!(out["claims"]["aud"], "dev-app-basic");
    let r = {
        let mut cmd = env.cli_for("dev-app-basic", Some(secret));
        cmd.args(["--id-token-signed-response-alg", "none", "pkce"]);
        run(cmd).await
    };
    assert_eq!(r.code, 0, "pkce needs no configuration: {r:?}");
    let mut cmd = env.cli_for("dev-app-basic", Some(secret));
    cmd.args(["--id-token-signed-response-alg", "none", "logout-url"]);
    assert_eq!(run(cmd).await.err(2), "config");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_client_flow_needs_no_secret() {
    let env = Env::start().await;
    let pending = env.path("p");
    let mut cmd = env.public_cli();
    cmd.args(["begin", "--pending", s(&pending)]);
    let url = run(cmd).await.ok()["url"].as_str().unwrap().to_owned();
    let callback = match alice_logs_in(&url).await {
        AuthorizationResponse::Redirect(u) => u.to_string(),
        other => panic!("{other:?}"),
    };
    let mut cmd = env.public_cli();
    cmd.args(["finish", "--pending", s(&pending), "--callback", &callback]);
    let out = run(cmd).await.ok();
    assert_eq!(out["claims"]["aud"], "dev-app-public");
}

/// `authing-oidc dev-provider --port 0`: one JSON line, then serves; the other
/// commands work against it; SIGTERM ends it with exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_provider_command_serves_until_sigterm() {
    let mut child = std::process::Command::new(BIN)
        .args(["dev-provider", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let described: Value = serde_json::from_str(&line).unwrap();
    let app_host = described["app_host"].as_str().unwrap().to_owned();
    assert_eq!(described["issuer"], format!("{app_host}/oidc"));
    let dev_app = &described["clients"][0];
    assert_eq!(dev_app["app_id"], DEV_APP);
    assert_eq!(described["users"][0]["login"], "alice");
    assert_eq!(described["users"][0]["password"], "alice-password");
    assert_eq!(described["m2m"][0]["access_key"], "dev-m2m-access-key");
    assert_eq!(described["m2m"][0]["access_secret"], "dev-m2m-access-secret");

    // Configure from the description, by discovery this time.
    let mut cmd = bare();
    cmd.env("AUTHING_ISSUER", described["issuer"].as_str().unwrap())
        .env("AUTHING_APP_ID", dev_app["app_id"].as_str().unwrap())
        .env("AUTHING_APP_SECRET", dev_app["secret"].as_str().unwrap())
        .env(
            "AUTHING_APP_REDIRECT_URI",
            dev_app["redirect_uri"].as_str().unwrap(),
        )
        .args(["authorize-url"]);
    let url = run(cmd).await.ok()["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{app_host}/oidc/auth?")), "{url}");
    let code = match alice_logs_in(&url).await {
        AuthorizationResponse::Redirect(u) => {
            u.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned()
        }
        other => panic!("{other:?}"),
    };
    let mut cmd = bare();
    cmd.env("AUTHING_APP_HOST", &app_host)
        .env("AUTHING_APP_ID", DEV_APP)
        .env("AUTHING_APP_SECRET", DEV_APP_SECRET)
        .env("AUTHING_APP_REDIRECT_URI", CALLBACK)
        .args(["exchange", "--code", &code]);
    assert!(run(cmd).await.ok()["id_token"].is_string());

    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "dev-provider exits 0 on SIGTERM");
}

/// `verify-access-token`: the RFC 9068 local check of docs/protocol.md §4.3 on a token of the dev
/// provider (Authing's shape: `typ: JWT`, `aud` the app it was issued to), the token from an
/// argument, a file and stdin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_access_token_checks_audience_scope_and_typ() {
    let env = Env::start().await;
    let tokens = env
        .run(&[
            "client-credentials",
            "--scope",
            "read write",
            "--access-key",
            "dev-m2m-access-key",
            "--access-secret",
            "dev-m2m-access-secret",
        ])
        .await
        .ok();
    let at = tokens["access_token"].as_str().unwrap().to_owned();
    let aud = "dev-m2m-access-key";

    let claims = env
        .run(&[
            "verify-access-token",
            "--access-token",
            &at,
            "--audience",
            aud,
            "--scope",
            "read",
        ])
        .await
        .ok();
    assert_eq!(claims["sub"], aud);
    assert_eq!(claims["aud"], json!([aud]));
    assert_eq!(claims["iss"], env.provider.issuer());
    assert_eq!(claims["scope"], "read write");
    assert!(claims["exp"].is_i64() && claims["jti"].is_string());

    // From a file, several audiences, scopes repeated and space-separated.
    let file = env.path("at");
    std::fs::write(&file, format!("{at}\n")).unwrap();
    let from_file = format!("@{}", s(&file));
    let args = [
        "verify-access-token",
        "--access-token",
        &from_file,
        "--audience",
        "https://api.example",
        "--audience",
        aud,
        "--scope",
        "read write",
        "--scope",
        "write",
    ];
    assert_eq!(env.run(&args).await.ok()["sub"], aud);
    // From stdin.
    let mut cmd = env.cli();
    cmd.args(["verify-access-token", "--access-token", "-", "--audience", aud])
        .write_stdin(at.clone());
    assert_eq!(run(cmd).await.ok()["sub"], aud);

    // A missing scope is its own refusal, naming the scope and not the token.
    let r = env
        .run(&[
            "verify-access-token",
            "--access-token",
            &at,
            "--audience",
            aud,
            "--scope",
            "read admin",
        ])
        .await;
    assert_eq!(r.err(1), "insufficient_scope");
    assert!(r.stderr.contains("admin") && !r.stderr.contains(&at));

    // Another audience, --strict (typ JWT is not at+jwt), a forged or garbled token.
    for args in [vec!["--audience", "dev-app"], vec!["--audience", aud, "--strict"]] {
        let mut all = vec!["verify-access-token", "--access-token", &at];
        all.extend(args);
        let r = env.run(&all).await;
        assert_eq!(r.err(1), "token_invalid");
        assert!(!r.stderr.contains(&at));
    }
    let mut parts: Vec<&str> = at.split('.').collect();
    parts[2] = "AAAA";
    let forged = parts.join(".");
    for token in [forged.as_str(), "opaque-token", "a.b.c"] {
        let r = env
            .run(&["verify-access-token", "--access-token", token, "--audience", aud])
            .await;
        assert_eq!(r.err(1), "token_invalid", "{token}");
    }
    // No audience is a usage error.
    assert_eq!(
        env.run(&["verify-access-token", "--access-token", &at])
            .await
            .err(2),
        "usage"
    );
}

/// `verify-logout-token` (Back-Channel Logout §2.6): the token from the
/// argument, a file or stdin; a refusal is exit 1 `logout_token_invalid`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_logout_token_prints_who_and_refuses_a_bad_token() {
    use authing_oidc::jose::JwsSigner;
    use authing_oidc::{ClientSecret, ExposeSecret as _, SigningAlgorithm};
    let env = Env::start().await;
    // The dev app's id_tokens may be HS256 with its secret; logout tokens follow the same rule.
    let signer =
        JwsSigner::client_secret(SigningAlgorithm::HS256, &ClientSecret::new(DEV_APP_SECRET)).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = |jti: &str| {
        json!({"iss": env.provider.issuer(), "aud": DEV_APP, "iat": now, "exp": now + 120, "jti": jti,
            "sub": "alice", "sid": "sid-1",
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}}})
    };
    let token = signer.sign(Some("logout+jwt"), &claims("cli-1")).unwrap();
    let out = env
        .run(&["verify-logout-token", "--logout-token", token.expose_secret()])
        .await
        .ok();
    assert_eq!(
        out,
        json!({"iss": env.provider.issuer(), "sub": "alice", "sid": "sid-1", "jti": "cli-1"})
    );
    let file = env.path("logout-token");
    std::fs::write(&file, token.expose_secret()).unwrap();
    let at_file = format!("@{}", s(&file));
    assert_eq!(
        env.run(&["verify-logout-token", "--logout-token", &at_file])
            .await
            .ok()["jti"],
        "cli-1"
    );
    let mut cmd = env.cli();
    cmd.args(["verify-logout-token", "--logout-token", "-"])
        .write_stdin(token.expose_secret().to_owned());
    assert_eq!(run(cmd).await.ok()["sub"], "alice");

    // A token carrying a nonce (an id_token in disguise) is refused, and never echoed.
    let mut with_nonce = claims("cli-2");
    with_nonce["nonce"] = "n-1".into();
    let bad = signer.sign(Some("logout+jwt"), &with_nonce).unwrap();
    let r = env
        .run(&["verify-logout-token", "--logout-token", bad.expose_secret()])
        .await;
    assert_eq!(r.err(1), "logout_token_invalid");
    assert!(r.stderr.contains("nonce"), "{}", r.stderr);
    assert!(!r.stderr.contains(bad.expose_secret()));
    let r = env
        .run(&["verify-logout-token", "--logout-token", "not.a.jwt"])
        .await;
    assert_eq!(r.err(1), "logout_token_invalid");
    assert_eq!(env.run(&["verify-logout-token"]).await.err(2), "usage");
}
