//! `login`: the test plays the browser. It reads the URL the binary writes to
//! stderr, logs in without a browser, and delivers the callback to the
//! binary's loopback listener by GET (query) or POST (form_post).

mod support;

use std::process::Stdio;
use std::time::Duration;

use authing_oidc_dev_provider::AuthorizationResponse;
use serde_json::Value;
use support::*;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::process::{Child, Command};

struct LoginProcess {
    child: Child,
    url: String,
    stderr_seen: String,
}

/// Starts `authing-oidc login ARGS` for dev-app with the redirect URI
/// `http://127.0.0.1:PORT/callback` and waits for the URL on stderr.
async fn start_login(env: &Env, port: u16, args: &[&str]) -> LoginProcess {
    let mut cmd = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AUTHING_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("AUTHING_APP_HOST", env.provider.app_host())
        .env("AUTHING_APP_ID", DEV_APP)
        .env("AUTHING_APP_SECRET", DEV_APP_SECRET)
        .env(
            "AUTHING_APP_REDIRECT_URI",
            format!("http://127.0.0.1:{port}/callback"),
        )
        .arg("login")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let mut line = String::new();
            assert!(
                stderr.read_line(&mut line).await.unwrap() > 0,
                "stderr ended: {seen}"
            );
            seen.push_str(&line);
            if line.starts_with("http") {
                return line.trim_end().to_owned();
            }
        }
    })
    .await
    .expect("the login URL on stderr");
    // Keep draining stderr so the child never blocks on it.
    let rest = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s).await;
        s
    });
    drop(rest);
    LoginProcess {
        child,
        url,
        stderr_seen: seen,
    }
}

async fn finish(mut p: LoginProcess) -> (i32, Value) {
    let mut out = String::new();
    p.child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), p.child.wait())
        .await
        .unwrap()
        .unwrap();
    let json = if out.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(out.trim()).unwrap()
    };
    (status.code().unwrap_or(-1), json)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_by_query_saves_the_session() {
    let env = Env::start().await;
    let port = free_port();
    let session = env.path("session.json");
    let p = start_login(&env, port, &["--session", s(&session), "--scope", OFFLINE_SCOPE]).await;
    assert!(
        p.url
            .starts_with(&format!("{}/oidc/auth?", env.provider.app_host())),
        "{}",
        p.stderr_seen
    );

    // Something else reaches the listener first: answered 404, the login goes on.
    let other = http()
        .get(format!("http://127.0.0.1:{port}/favicon.ico"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    let bare = http()
        .get(format!("http://127.0.0.1:{port}/callback"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 400);

    let callback = match alice_logs_in(&p.url).await {
        AuthorizationResponse::Redirect(u) => u,
        other => panic!("{other:?}"),
    };
    assert_eq!(callback.port(), Some(port));
    let page = http().get(callback.as_str()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert!(page.text().await.unwrap().contains("logged in"));

    let (code, out) = finish(p).await;
    assert_eq!(code, 0, "{out}");
    assert!(out["token_set"].get("access_token").is_none(), "{out}");
    assert_eq!(out["token_set"]["has_refresh_token"], true);
    assert_eq!(out["claims"]["aud"], DEV_APP);
    #[cfg(unix)]
    assert_eq!(mode(&session), 0o600);
    // The session works with the other commands.
    let me = env.run(&["whoami", "--session", s(&session)]).await.ok();
    assert_eq!(me["sub"], out["claims"]["sub"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_by_form_post_prints_the_tokens() {
    let env = Env::start().await;
    let port = free_port();
    let p = start_login(&env, port, &["--response-mode", "form_post"]).await;
    assert!(p.url.contains("response_mode=form_post"));
    let (action, body) = match alice_logs_in(&p.url).await {
        AuthorizationResponse::FormPost { action, body } => (action, body),
        other => panic!("{other:?}"),
    };
    let page = http()
        .post(action.as_str())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let (code, out) = finish(p).await;
    assert_eq!(code, 0, "{out}");
    assert!(out["token_set"]["access_token"].is_string());
    assert!(out["token_set"]["id_token"].is_string());
    assert_eq!(out["claims"]["aud"], DEV_APP);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_callback_fails_the_login() {
    let env = Env::start().await;
    let port = free_port();
    let p = start_login(&env, port, &[]).await;
    let callback = match alice_logs_in(&p.url).await {
        AuthorizationResponse::Redirect(u) => u,
        other => panic!("{other:?}"),
    };
    let tampered = callback.as_str().replace("state=", "state=x");
    let page = http().get(&tampered).send().await.unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("state_mismatch"));
    let (code, out) = finish(p).await;
    assert_eq!(code, 1);
    assert_eq!(out, Value::Null, "nothing on stdout on failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_needs_a_loopback_redirect_uri() {
    let env = Env::start().await;
    for redirect in ["https://app.example/callback", "http://localhost:3000/callback"] {
        let mut cmd = env.cli();
        cmd.env("AUTHING_APP_REDIRECT_URI", redirect).arg("login");
        assert_eq!(run(cmd).await.err(2), "config", "{redirect}");
    }
    let mut cmd = env.cli();
    cmd.env(
        "AUTHING_APP_REDIRECT_URI",
        format!("http://127.0.0.1:{}/cb", free_port()),
    )
    .args(["login", "--response-mode", "fragment"]);
    assert_eq!(run(cmd).await.err(2), "usage");
}

/// The listening sockets on `port`, from the kernel's tables: (table, local
/// address in its hex form). Linux only.
#[cfg(target_os = "linux")]
fn listeners_on(port: u16) -> Vec<(&'static str, String)> {
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
                continue;
            };
            let Some((addr, hex_port)) = local.rsplit_once(':') else {
                continue;
            };
            // 0A is TCP_LISTEN.
            if *state == "0A" && u16::from_str_radix(hex_port, 16) == Ok(port) {
                found.push((table, addr.to_owned()));
            }
        }
    }
    found
}

/// While `login` waits, the only socket listening on the redirect URI's port
/// is bound to 127.0.0.1: not 0.0.0.0, not an IPv6 wildcard.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_listens_on_127_0_0_1_only() {
    let env = Env::start().await;
    let port = free_port();
    let p = start_login(&env, port, &[]).await;
    // 127.0.0.1 in the table's byte order on little-endian hosts.
    let loopback = if cfg!(target_endian = "little") {
        "0100007F"
    } else {
        "7F000001"
    };
    assert_eq!(listeners_on(port), vec![("/proc/net/tcp", loopback.to_owned())]);
    drop(p);
}
