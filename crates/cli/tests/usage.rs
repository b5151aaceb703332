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

fn client_key_path(name: &str) -> String {
    format!(
        "{}/../../tests/support/client-keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn jwt_part(jwt: &str, i: usize) -> serde_json::Value {
    use base64::Engine as _;
    let part = jwt.split('.').nth(i).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

const OFFLINE: [&str; 6] = [
    "--app-host",
    "http://127.0.0.1:9",
    "--app-id",
    "fapi-app",
    "--redirect-uri",
    "https://rp.example/cb",
];

/// `--jar` with `--client-key @PATH` (a JWK, its kid kept) or `-` (PEM, with
/// `--client-key-id`): the URL carries `client_id`, the signed `request` (with
/// `--resource` repeated and `--authorization-details`) and, as OIDC Core §6.1
/// asks, `response_type` and `scope` with the object's values.
#[tokio::test]
async fn jar_with_a_client_key_from_a_file_or_stdin() {
    let key_arg = format!("@{}", client_key_path("ec.jwk.json"));
    let mut args = OFFLINE.to_vec();
    args.extend([
        "--secret",
        "s",
        "--jar",
        "--client-key",
        &key_arg,
        "--resource",
        "https://api.example/a",
        "--resource",
        "https://api.example/b",
        "--authorization-details",
        r#"[{"type":"account_information","actions":["read"]}]"#,
        "authorize-url",
    ]);
    let out = bare_run(&args).await.ok();
    let url = url::Url::parse(out["url"].as_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    // OIDC Core §6.1: response_type and scope are repeated outside the object, same values.
    assert_eq!(q.len(), 4, "{q:?}");
    assert_eq!(q["client_id"], "fapi-app");
    assert_eq!(jwt_part(&q["request"], 0)["kid"], "test-ec");
    assert_eq!(q["response_type"], jwt_part(&q["request"], 1)["response_type"]);
    assert_eq!(q["scope"], jwt_part(&q["request"], 1)["scope"]);
    let claims = jwt_part(&q["request"], 1);
    assert_eq!(claims["iss"], "fapi-app");
    assert_eq!(claims["aud"], "http://127.0.0.1:9/oidc");
    assert_eq!(
        claims["resource"],
        serde_json::json!(["https://api.example/a", "https://api.example/b"])
    );
    assert_eq!(claims["authorization_details"][0]["type"], "account_information");

    let mut cmd = bare();
    cmd.args(OFFLINE)
        .args([
            "--secret",
            "s",
            "--jar",
            "--client-key",
            "-",
            "--client-key-id",
            "kid-from-cli",
        ])
        .arg("authorize-url")
        .write_stdin(std::fs::read_to_string(client_key_path("ed.pem")).unwrap());
    let out = run(cmd).await.ok();
    let url = url::Url::parse(out["url"].as_str().unwrap()).unwrap();
    let request = url
        .query_pairs()
        .find(|(k, _)| k == "request")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(jwt_part(&request, 0)["kid"], "kid-from-cli");
    assert_eq!(jwt_part(&request, 0)["alg"], "EdDSA");
}

/// The JWT methods and the FAPI 2.0 preset refuse what contradicts them
/// (exit 2, kind config or usage), and a broken key is never quoted.
#[tokio::test]
async fn jwt_methods_and_fapi2_refuse_contradicting_options() {
    let key_arg = format!("@{}", client_key_path("rsa.jwk.json"));
    let with = |extra: &[&str]| {
        let mut a: Vec<String> = OFFLINE.iter().map(|s| s.to_string()).collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            with(&[
                "--token-endpoint-auth-method",
                "private_key_jwt",
                "--secret",
                "s",
                "authorize-url",
            ]),
            "config",
        ),
        (
            with(&[
                "--fapi2",
                "--client-key",
                &key_arg,
                "--token-endpoint-auth-method",
                "client_secret_basic",
                "authorize-url",
            ]),
            "config",
        ),
        (with(&["--fapi2", "authorize-url"]), "config"),
        (with(&["--client-key-id", "k", "authorize-url"]), "usage"),
        (
            with(&["--secret", "s", "--authorization-details", "[]", "authorize-url"]),
            "usage",
        ),
        (
            with(&["--secret", "s", "--resource", "not-absolute", "authorize-url"]),
            "usage",
        ),
    ];
    for (args, kind) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = bare_run(&args).await;
        assert_eq!(r.err(2), kind, "{args:?}: {r:#?}");
    }
    // The preset's conflict names the profile.
    let r = bare_run(
        &with(&[
            "--fapi2",
            "--client-key",
            &key_arg,
            "--par",
            "--token-endpoint-auth-method",
            "client_secret_jwt",
            "authorize-url",
        ])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    )
    .await;
    r.err(2);
    assert!(r.stderr.contains("FAPI 2.0"), "{}", r.stderr);
    // A key that does not parse: refused, and not one line of it is shown.
    let pem = std::fs::read_to_string(client_key_path("rsa.pem")).unwrap();
    let broken = pem.replace("MII", "!!!");
    let r = bare_run(
        &with(&[
            "--client-key",
            &broken,
            "--token-endpoint-auth-method",
            "private_key_jwt",
            "authorize-url",
        ])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(r.err(2), "config");
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(
            !r.stderr.contains(&line[4..]),
            "stderr shows key material: {}",
            r.stderr
        );
    }
}
