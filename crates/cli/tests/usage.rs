//! Usage and configuration errors (exit 2, JSON on stderr), `pkce`, the
//! `@PATH` / `-` conventions, and no secret on stderr, with `-v` too.

mod support;

use authing_oidc_dev_provider::AuthorizationResponse;
use support::*;

async fn bare_run(args: &[&str]) -> Run {
    let mut cmd = bare();
    cmd.args(args);
    run(cmd).await
}

#[tokio::test]
async fn argument_errors_are_json_usage_errors() {
    for args in [
        &[][..],
        &["no-such-command"],
        &["userinfo"],
        &["pkce", "--length", "abc"],
        &["pkce", "--method", "S512"],
        &["validate", "--id-token", "a", "--access-token", "b"],
        &["logout-url", "--expert"],
        &["authorize-url", "--code-challenge-method", "S256"],
        &["finish", "--pending", "p"],
        &["finish", "--pending", "p", "--callback", "c", "--form-body", "b"],
        &[
            "--app-host",
            "https://a.example",
            "--issuer",
            "https://b.example",
            "authorize-url",
        ],
    ] {
        let r = bare_run(args).await;
        assert_eq!(r.err(2), "usage", "{args:?}");
    }
}

#[tokio::test]
async fn help_and_version_print_on_stdout() {
    let r = bare_run(&["--help"]).await;
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("authorize-url") && r.stdout.contains("dev-provider"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("AUTHING_APP_HOST"));
    let mut cmd = bare();
    cmd.env("AUTHING_APP_SECRET", "canary-env-secret")
        .args(["token", "--help"]);
    let r = run(cmd).await;
    assert_eq!(r.code, 0);
    assert!(
        !r.stdout.contains("canary-env-secret"),
        "help hides the secret's value"
    );
    assert_eq!(bare_run(&["--version"]).await.code, 0);
}

#[tokio::test]
async fn usage_errors_never_echo_values() {
    for args in [
        &["userinfo", "canary-stray-token", "--access-token", "t"][..],
        &["userinfo", "--acess-token=canary-typo-token"],
        &["--protocol", "canary-protocol", "authorize-url"],
        &["pkce", "--length", "canary-length"],
    ] {
        let r = bare_run(args).await;
        assert_eq!(r.err(2), "usage", "{args:?}");
        assert!(!r.stderr.contains("canary"), "{args:?}: {}", r.stderr);
    }
}

#[tokio::test]
async fn configuration_errors() {
    let r = bare_run(&["authorize-url"]).await;
    assert_eq!(r.err(2), "config", "no app id");
    let r = bare_run(&["--app-id", "a", "authorize-url"]).await;
    assert_eq!(r.err(2), "config", "neither app host nor issuer");
    let r = bare_run(&[
        "--app-id",
        "a",
        "--secret",
        "s",
        "--app-host",
        "http://a.example",
        "authorize-url",
    ])
    .await;
    assert_eq!(r.err(2), "config", "plain http to a non-loopback host");
    let r = bare_run(&[
        "--app-id",
        "a",
        "--app-host",
        "https://a.example",
        "--redirect-uri",
        "https://a.example/cb",
        "authorize-url",
    ])
    .await;
    assert_eq!(r.err(2), "config", "a secret is needed with client_secret_post");
    let r = bare_run(&[
        "--app-id",
        "a",
        "--secret",
        "s",
        "--app-host",
        "https://a.example",
        "--id-token-signed-response-alg",
        "none",
        "authorize-url",
    ])
    .await;
    assert_eq!(r.err(2), "config");
    // The environment counts as configuration too.
    let mut cmd = bare();
    cmd.env("AUTHING_APP_ID", "a")
        .env("AUTHING_APP_SECRET", "s")
        .env("AUTHING_APP_HOST", "https://a.example")
        .env("AUTHING_APP_REDIRECT_URI", "https://a.example/cb")
        .env("AUTHING_APP_PROTOCOL", "saml")
        .arg("authorize-url");
    let out = run(cmd).await.ok();
    assert_eq!(out["url"], "https://a.example/api/v2/saml-idp/a");
}

#[tokio::test]
async fn remote_failures_exit_1() {
    let port = free_port();
    let host = format!("http://127.0.0.1:{port}");
    let r = bare_run(&[
        "--app-id",
        "a",
        "--secret",
        "s",
        "--app-host",
        &host,
        "userinfo",
        "--access-token",
        "canary-at",
    ])
    .await;
    assert_eq!(r.err(1), "transport");
    assert!(!r.stderr.contains("canary-at"));
    let r = bare_run(&["--app-id", "a", "--issuer", &format!("{host}/oidc"), "pkce"]).await;
    assert_eq!(
        r.code, 0,
        "pkce needs no configuration, not even a reachable issuer"
    );
    let r = bare_run(&[
        "--app-id",
        "a",
        "--issuer",
        &format!("{host}/oidc"),
        "authorize-url",
    ])
    .await;
    assert_eq!(r.err(1), "transport", "discovery failed");
}

#[tokio::test]
async fn pkce_respects_rfc_7636_bounds() {
    for bad in ["0", "42", "129"] {
        assert_eq!(
            bare_run(&["pkce", "--length", bad]).await.err(2),
            "usage",
            "{bad}"
        );
    }
    for (len, method) in [("43", "S256"), ("128", "S256"), ("64", "plain")] {
        let out = bare_run(&["pkce", "--length", len, "--method", method])
            .await
            .ok();
        let v = out["code_verifier"].as_str().unwrap();
        assert_eq!(v.len(), len.parse::<usize>().unwrap());
        assert!(
            v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)),
            "{v}"
        );
        assert_eq!(out["code_challenge_method"], method);
        let c = out["code_challenge"].as_str().unwrap();
        if method == "plain" {
            assert_eq!(c, v);
        } else {
            assert_eq!(c.len(), 43, "unpadded base64url of 32 bytes");
        }
    }
    let out = bare_run(&["pkce"]).await.ok();
    assert_eq!(out["code_verifier"].as_str().unwrap().len(), 43, "default length");
    assert_eq!(out["code_challenge_method"], "S256", "default method");
}

#[tokio::test]
async fn at_path_and_stdin() {
    let dir = tempfile::tempdir().unwrap();
    // A token file with CRLF: exactly one line ending is removed.
    let f = dir.path().join("t");
    std::fs::write(&f, "the.id.token\r\n").unwrap();
    let conf = [
        "--app-id",
        "a",
        "--secret",
        "s",
        "--app-host",
        "https://a.example",
    ];
    let at = format!("@{}", f.display());
    let mut args = conf.to_vec();
    args.extend([
        "logout-url",
        "--expert",
        "--post-logout-redirect-uri",
        "https://x.example/",
        "--id-token",
        &at,
    ]);
    let out = bare_run(&args).await.ok();
    assert!(
        out["url"]
            .as_str()
            .unwrap()
            .contains("id_token_hint=the.id.token&"),
        "{out}"
    );

    // From stdin, and the client secret from a file.
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s\n").unwrap();
    let secret_arg = format!("@{}", secret.display());
    let mut cmd = bare();
    cmd.args([
        "--app-id",
        "a",
        "--secret",
        &secret_arg,
        "--app-host",
        "https://a.example",
    ])
    .args([
        "logout-url",
        "--expert",
        "--post-logout-redirect-uri",
        "https://x.example/",
        "--id-token",
        "-",
    ])
    .write_stdin("from.stdin.token\n");
    let out = run(cmd).await.ok();
    assert!(
        out["url"]
            .as_str()
            .unwrap()
            .contains("id_token_hint=from.stdin.token&"),
        "{out}"
    );

    // Only one option can read stdin; a missing file or an empty value is a usage error.
    let mut cmd = bare();
    cmd.args([
        "--app-id",
        "a",
        "--secret",
        "-",
        "--app-host",
        "https://a.example",
    ])
    .args([
        "logout-url",
        "--expert",
        "--post-logout-redirect-uri",
        "https://x.example/",
        "--id-token",
        "-",
    ])
    .write_stdin("x");
    assert_eq!(run(cmd).await.err(2), "usage");
    let mut args = conf.to_vec();
    args.extend(["userinfo", "--access-token", "@/nonexistent/canary-path"]);
    assert_eq!(bare_run(&args).await.err(2), "usage");
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let empty_arg = format!("@{}", empty.display());
    let mut args = conf.to_vec();
    args.extend(["userinfo", "--access-token", &empty_arg]);
    assert_eq!(bare_run(&args).await.err(2), "usage");
}

/// With -vv the SDK logs its requests; no secret, token or code reaches stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_logs_carry_no_secret() {
    let env = Env::start().await;
    let pending = env.path("p");
    let session = env.path("s");
    let mut stderr = String::new();
    let verbose = |args: &[&str]| {
        let mut cmd = env.cli();
        cmd.arg("-vv").args(args);
        run(cmd)
    };
    let r = verbose(&["begin", "--scope", OFFLINE_SCOPE, "--pending", s(&pending)]).await;
    stderr.push_str(&r.stderr);
    let url = r.ok()["url"].as_str().unwrap().to_owned();
    let callback = match alice_logs_in(&url).await {
        AuthorizationResponse::Redirect(u) => u,
        other => panic!("{other:?}"),
    };
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let state = callback
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let r = verbose(&[
        "finish",
        "--pending",
        s(&pending),
        "--callback",
        callback.as_str(),
        "--session",
        s(&session),
    ])
    .await;
    stderr.push_str(&r.stderr);
    r.ok();
    let first = saved_session(&session);
    let r = verbose(&["token", "--session", s(&session), "--force-refresh"]).await;
    stderr.push_str(&r.stderr);
    r.ok();
    let r = verbose(&["whoami", "--session", s(&session)]).await;
    stderr.push_str(&r.stderr);
    r.ok();
    let second = saved_session(&session);
    let r = verbose(&[
        "refresh",
        "--refresh-token",
        first["refresh_token"].as_str().unwrap(),
    ])
    .await;
    stderr.push_str(&r.stderr);
    assert_eq!(r.code, 1, "a rotated refresh token is refused");

    assert!(stderr.contains("refresh"), "the SDK's logs are shown: {stderr}");
    let mut secrets = vec![DEV_APP_SECRET.to_owned(), code, state];
    for saved in [&first, &second] {
        for field in ["access_token", "refresh_token", "id_token"] {
            secrets.push(saved[field].as_str().unwrap().to_owned());
        }
    }
    for secret in secrets {
        assert!(!stderr.contains(&secret), "a secret reached stderr:\n{stderr}");
    }
}
