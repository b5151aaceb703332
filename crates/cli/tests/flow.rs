//! The typed flow through the binary: begin → log in → finish → token →
//! whoami → introspect → revoke, the session and pending files, and the
//! failures of `finish`.

mod support;

use authing_oidc_dev_provider::AuthorizationResponse;
use serde_json::Value;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn begin_finish_token_refresh_whoami_introspect_revoke() {
    let env = Env::start().await;
    let pending = env.path("login.pending");
    let session = env.path("session.json");

    let begun = env
        .run(&["begin", "--scope", OFFLINE_SCOPE, "--pending", s(&pending)])
        .await
        .ok();
    let url = begun["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/oidc/auth?", env.provider.app_host())),
        "{url}"
    );
    assert!(url.contains("code_challenge_method=S256"));
    #[cfg(unix)]
    assert_eq!(mode(&pending), 0o600);
    let pending_text = std::fs::read_to_string(&pending).unwrap();
    let pending_json: Value = serde_json::from_str(&pending_text).unwrap();
    assert_eq!(pending_json["format"], "authing-oidc-cli/pending");
    assert_eq!(pending_json["version"], 1);
    assert_eq!(pending_json["client_id"], DEV_APP);
    assert_eq!(pending_json["issuer"], env.provider.issuer());
    assert!(
        !pending_text.contains(DEV_APP_SECRET),
        "no client secret in the pending file"
    );

    let callback = match alice_logs_in(url).await {
        AuthorizationResponse::Redirect(u) => u.to_string(),
        other => panic!("{other:?}"),
    };
    let finished = env
        .run(&[
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
    // Token values are left out when the session is saved.
    let ts = finished["token_set"].as_object().unwrap();
    for absent in ["access_token", "refresh_token", "id_token"] {
        assert!(!ts.contains_key(absent), "{finished}");
    }
    assert_eq!(ts["has_refresh_token"], true);
    assert_eq!(ts["token_type"], "Bearer");
    assert!(finished["claims"]["sub"].as_str().is_some());
    assert_eq!(finished["claims"]["aud"], DEV_APP);
    assert!(!pending.exists(), "finish deletes the pending file on success");
    #[cfg(unix)]
    assert_eq!(mode(&session), 0o600);
    let session_text = std::fs::read_to_string(&session).unwrap();
    assert!(
        !session_text.contains(DEV_APP_SECRET),
        "no client secret in the session file"
    );
    let file: Value = serde_json::from_str(&session_text).unwrap();
    assert_eq!(file["format"], "authing-oidc-cli/session");
    assert_eq!(file["issuer"], env.provider.issuer());
    assert_eq!(file["client_id"], DEV_APP);
    let first = saved_session(&session);
    let sub = finished["claims"]["sub"].as_str().unwrap().to_owned();

    // token: the saved access token, still fresh: no request.
    let before = env.token_requests();
    let token = env.run(&["token", "--session", s(&session)]).await.ok();
    assert_eq!(token["access_token"], first["access_token"]);
    assert!(token["expires_in"].as_u64().unwrap() > 3000);
    assert_eq!(env.token_requests(), before);

    // token --force-refresh: one refresh, rotated tokens saved before printing.
    let refreshed = env
        .run(&["token", "--session", s(&session), "--force-refresh"])
        .await
        .ok();
    assert_eq!(env.token_requests(), before + 1);
    let second = saved_session(&session);
    assert_ne!(refreshed["access_token"], first["access_token"]);
    assert_eq!(refreshed["access_token"], second["access_token"]);
    assert_ne!(
        second["refresh_token"], first["refresh_token"],
        "the refresh token rotated"
    );
    #[cfg(unix)]
    assert_eq!(mode(&session), 0o600);
    // The old refresh token no longer works (introspection has no side effect).
    let old_rt = first["refresh_token"].as_str().unwrap();
    assert_eq!(
        env.run(&["introspect", "--token", old_rt]).await.ok(),
        serde_json::json!({"active": false})
    );
    let new_rt = second["refresh_token"].as_str().unwrap().to_owned();
    let active = env.run(&["introspect", "--token", &new_rt]).await.ok();
    assert_eq!(active["active"], true);

    // whoami: userinfo with the session's token, sub checked.
    let me = env.run(&["whoami", "--session", s(&session)]).await.ok();
    assert_eq!(me["sub"], sub.as_str());
    assert_eq!(me["email"], "alice@example.com");

    // introspect the access token, read from a file (@PATH).
    let at_file = env.path("at.txt");
    std::fs::write(
        &at_file,
        format!("{}\n", second["access_token"].as_str().unwrap()),
    )
    .unwrap();
    let at_arg = format!("@{}", s(&at_file));
    let intro = env.run(&["introspect", "--token", &at_arg]).await.ok();
    assert_eq!(intro["active"], true);
    assert_eq!(intro["sub"], sub.as_str());

    // revoke the refresh token, read from stdin (-).
    let mut cmd = env.cli();
    cmd.args(["revoke", "--token", "-"])
        .write_stdin(format!("{new_rt}\n"));
    assert_eq!(run(cmd).await.ok(), serde_json::json!({"revoked": true}));
    assert_eq!(
        env.run(&["introspect", "--token", &new_rt]).await.ok(),
        serde_json::json!({"active": false})
    );

    // The grant is gone: the session needs a new login.
    let kind = env
        .run(&["token", "--session", s(&session), "--force-refresh"])
        .await
        .err(1);
    assert_eq!(kind, "reauthentication_required");
    // A refresh with the old (rotated) token is refused by the provider.
    assert_eq!(
        env.run(&["refresh", "--refresh-token", old_rt]).await.err(1),
        "op_error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finish_with_a_form_post_body_prints_tokens_without_session() {
    let env = Env::start().await;
    let pending = env.path("p.json");
    let url = env
        .run(&["begin", "--response-mode", "form_post", "--pending", s(&pending)])
        .await
        .ok()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(url.contains("response_mode=form_post"));
    let body = match alice_logs_in(&url).await {
        AuthorizationResponse::FormPost { body, .. } => body,
        other => panic!("{other:?}"),
    };
    let mut cmd = env.cli();
    cmd.args(["finish", "--pending", s(&pending), "--form-body", "-"])
        .write_stdin(body);
    let out = run(cmd).await.ok();
    assert!(out["token_set"]["access_token"].is_string(), "{out}");
    assert!(out["token_set"]["id_token"].is_string(), "{out}");
    assert!(
        out["token_set"].get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );
    assert_eq!(out["claims"]["aud"], DEV_APP);
    assert!(!pending.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finish_failures_keep_the_pending_file() {
    let env = Env::start().await;
    let pending = env.path("p.json");
    let url = env.run(&["begin", "--pending", s(&pending)]).await.ok()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let callback = match alice_logs_in(&url).await {
        AuthorizationResponse::Redirect(u) => u,
        other => panic!("{other:?}"),
    };

    // A tampered state: refused before the code is exchanged.
    let mut tampered = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                format!("{v}x")
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    let before = env.token_requests();
    let r = env
        .run(&[
            "finish",
            "--pending",
            s(&pending),
            "--callback",
            tampered.as_str(),
        ])
        .await;
    assert_eq!(r.err(1), "state_mismatch");
    assert!(pending.exists(), "kept on failure");
    assert_eq!(
        env.token_requests(),
        before,
        "no code exchange after a state mismatch"
    );
    assert!(
        !r.stderr.contains(
            callback
                .query_pairs()
                .find(|(k, _)| k == "code")
                .unwrap()
                .1
                .as_ref()
        )
    );

    // Malformed callbacks: exit 2.
    for bad in [
        "not a url",
        "http://127.0.0.1:3000/callback",
        "http://127.0.0.1:3000/callback?code=a&code=b",
    ] {
        let r = env
            .run(&["finish", "--pending", s(&pending), "--callback", bad])
            .await;
        assert_eq!(r.err(2), "malformed_callback", "{bad}");
        assert!(pending.exists());
    }
    // A query callback where a form_post body was asked for is malformed too.
    let r = env
        .run(&[
            "finish",
            "--pending",
            s(&pending),
            "--form-body",
            callback.query().unwrap(),
        ])
        .await;
    assert_eq!(r.err(2), "malformed_callback");

    // The real callback still completes the login.
    let ok = env
        .run(&[
            "finish",
            "--pending",
            s(&pending),
            "--callback",
            callback.as_str(),
        ])
        .await
        .ok();
    assert!(ok["token_set"]["access_token"].is_string());
    assert!(!pending.exists());
    // A second finish finds no pending login.
    let r = env
        .run(&[
            "finish",
            "--pending",
            s(&pending),
            "--callback",
            callback.as_str(),
        ])
        .await;
    assert_eq!(r.err(2), "file");
    // Neither the finished login nor the failed attempt leaves a lock file behind.
    let names: Vec<String> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorization_error_is_a_refusal() {
    let env = Env::start().await;
    let pending = env.path("p.json");
    let url = env.run(&["begin", "--pending", s(&pending)]).await.ok()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let cancelled = authing_oidc_dev_provider::cancel_without_browser(&url)
        .await
        .unwrap();
    let callback = match cancelled {
        AuthorizationResponse::Redirect(u) => u.to_string(),
        other => panic!("{other:?}"),
    };
    let r = env
        .run(&["finish", "--pending", s(&pending), "--callback", &callback])
        .await;
    assert_eq!(r.err(1), "authorization_error");
    assert!(r.stderr.contains("access_denied"), "{}", r.stderr);
    assert!(pending.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_for_another_client_or_malformed_are_file_errors() {
    let env = Env::start().await;
    let pending = env.path("p.json");
    env.run(&["begin", "--pending", s(&pending)]).await.ok();
    let callback = "http://127.0.0.1:3000/callback?code=c&state=s";

    // The pending file names dev-app; dev-app-public cannot use it.
    let mut cmd = env.public_cli();
    cmd.args(["finish", "--pending", s(&pending), "--callback", callback]);
    let r = run(cmd).await;
    assert_eq!(r.err(2), "file");
    assert!(r.stderr.contains("dev-app"), "{}", r.stderr);
    assert!(pending.exists());

    // Another issuer (same client id, another provider).
    let other = Env::start().await;
    let mut cmd = other.cli();
    cmd.args(["finish", "--pending", s(&pending), "--callback", callback]);
    assert_eq!(run(cmd).await.err(2), "file");

    // Malformed, of the wrong format, or missing.
    let garbage = env.path("garbage.json");
    std::fs::write(
        &garbage,
        "{\"format\": \"authing-oidc-cli/pending\", \"version\": 1, \"secret-ish\": ",
    )
    .unwrap();
    let r = env
        .run(&["finish", "--pending", s(&garbage), "--callback", callback])
        .await;
    assert_eq!(r.err(2), "file");
    let session = env.logged_in_session("s.json").await;
    let r = env
        .run(&["finish", "--pending", s(&session), "--callback", callback])
        .await;
    assert_eq!(r.err(2), "file", "a session file is not a pending file");
    let r = env.run(&["token", "--session", s(&pending)]).await;
    assert_eq!(r.err(2), "file", "a pending file is not a session file");
    let r = env
        .run(&["whoami", "--session", s(&env.path("missing.json"))])
        .await;
    assert_eq!(r.err(2), "file");
    // A session file of dev-app used as dev-app-basic's.
    let mut cmd = env.cli_for("dev-app-basic", Some("s3cr3t with spaces&+/=%"));
    cmd.args(["token", "--session", s(&session)]);
    assert_eq!(run(cmd).await.err(2), "file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_token_commands_refresh_once() {
    let env = Env::start().await;
    let session = env.logged_in_session("s.json").await;

    // Make the saved access token stale, as if an hour had passed.
    let mut file: Value = serde_json::from_str(&std::fs::read_to_string(&session).unwrap()).unwrap();
    file["saved"]["expires_at"] = Value::from(1u64);
    std::fs::write(&session, serde_json::to_string(&file).unwrap()).unwrap();

    let before = env.token_requests();
    let (a, b) = tokio::join!(
        env.run(&["token", "--session", s(&session)]),
        env.run(&["token", "--session", s(&session)])
    );
    let (a, b) = (a.ok(), b.ok());
    assert_eq!(
        env.token_requests(),
        before + 1,
        "exactly one refresh for two processes"
    );
    assert_eq!(
        a["access_token"], b["access_token"],
        "the second process used the first's refresh"
    );
    assert_eq!(saved_session(&session)["access_token"], a["access_token"]);

    // Two forced refreshes run one after the other, each with the latest refresh token.
    let before = env.token_requests();
    let (a, b) = tokio::join!(
        env.run(&["token", "--session", s(&session), "--force-refresh"]),
        env.run(&["token", "--session", s(&session), "--force-refresh"])
    );
    let (a, b) = (a.ok(), b.ok());
    assert_eq!(env.token_requests(), before + 2);
    assert_ne!(a["access_token"], b["access_token"]);
    // The file holds a working refresh token: no rotated token was reused.
    let saved = saved_session(&session);
    let rt = saved["refresh_token"].as_str().unwrap();
    assert_eq!(env.run(&["introspect", "--token", rt]).await.ok()["active"], true);
    env.run(&["token", "--session", s(&session), "--force-refresh"])
        .await
        .ok();
    assert!(
        !std::fs::read_dir(env.dir.path())
            .unwrap()
            .any(|e| { e.unwrap().file_name().to_string_lossy().ends_with(".tmp") })
    );
}

#[tokio::test]
async fn finish_refuses_one_file_for_pending_and_session_however_spelled() {
    let env = Env::start().await;
    let pending = env.path("p.json");
    env.run(&["begin", "--pending", s(&pending)]).await.ok();
    let dir = pending.parent().unwrap();
    let spelled = dir.join(".").join("p.json");
    let r = env
        .run(&[
            "finish",
            "--pending",
            s(&pending),
            "--session",
            s(&spelled),
            "--callback",
            "http://127.0.0.1:3000/callback?code=c&state=s",
        ])
        .await;
    assert_eq!(r.err(2), "usage");
    assert!(pending.exists());
}

/// `--fapi2` (and `--fapi2 --jar`) offline: the development provider's FAPI 2.0 client with
/// the private key from its JSON line entry (`client_key`, through AUTHING_CLIENT_KEY=@FILE),
/// by the Authing preset with `--id-token-signed-response-alg ES256` and by discovery. begin
/// pushes the request (with a DPoP proof and the assertion), finish gets DPoP-bound tokens and
/// an ES256 id_token, then whoami, a refresh, introspection and revocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fapi2_against_the_dev_provider_with_its_generated_key() {
    let env = Env::start().await;
    let description = serde_json::to_value(env.provider.description()).unwrap();
    let entry = description["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["app_id"] == "dev-app-fapi")
        .unwrap()
        .clone();
    assert_eq!(entry["token_endpoint_auth_method"], "private_key_jwt");
    let key_file = env.path("fapi-key.jwk");
    std::fs::write(&key_file, entry["client_key"].to_string()).unwrap();
    let key_arg = format!("@{}", s(&key_file));
    for jar in [false, true] {
        let pending = env.path(&format!("fapi-{jar}.pending"));
        let session = env.path(&format!("fapi-{jar}.json"));
        let cli = |args: &[&str]| {
            let mut cmd = bare();
            cmd.env("AUTHING_APP_ID", "dev-app-fapi")
                .env("AUTHING_CLIENT_KEY", &key_arg)
                .env("AUTHING_APP_REDIRECT_URI", CALLBACK)
                .arg("--fapi2");
            if jar {
                cmd.env("AUTHING_ISSUER", env.provider.issuer()).arg("--jar");
            } else {
                cmd.env("AUTHING_APP_HOST", env.provider.app_host())
                    .args(["--id-token-signed-response-alg", "ES256"]);
            }
            cmd.args(args);
            run(cmd)
        };
        let url = cli(&["begin", "--scope", OFFLINE_SCOPE, "--pending", s(&pending)])
            .await
            .ok()["url"]
            .as_str()
            .unwrap()
            .to_owned();
        let parsed = url::Url::parse(&url).unwrap();
        let names: Vec<String> = parsed.query_pairs().map(|(k, _)| k.into_owned()).collect();
        assert_eq!(names, ["client_id", "request_uri"], "jar={jar}: {url}");
        let callback = match alice_logs_in(&url).await {
            AuthorizationResponse::Redirect(u) => u.to_string(),
            other => panic!("jar={jar}: {other:?}"),
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
        assert_eq!(out["claims"]["sub"], "dev-user-alice", "jar={jar}");
        let saved = saved_session(&session);
        assert!(saved["dpop_key"].is_object(), "jar={jar}: {saved}");
        let me = cli(&["whoami", "--session", s(&session)]).await.ok();
        assert_eq!(me["email"], "alice@example.com");
        cli(&["token", "--session", s(&session), "--force-refresh"])
            .await
            .ok();
        let rotated = saved_session(&session);
        assert_ne!(rotated["refresh_token"], saved["refresh_token"]);
        let rt = rotated["refresh_token"].as_str().unwrap().to_owned();
        assert_eq!(cli(&["introspect", "--token", &rt]).await.ok()["active"], true);
        assert_eq!(cli(&["revoke", "--token", &rt]).await.ok()["revoked"], true);
        assert_eq!(cli(&["introspect", "--token", &rt]).await.ok()["active"], false);
    }
}
