//! The global `--resource` (repeatable) and `--authorization-details` on the
//! token requests of `exchange` and `refresh`, with and without `--dpop`, as a
//! recording server on 127.0.0.1 receives them (docs/cli.md); and the commands
//! whose token requests do not take them refuse them instead of dropping them.

mod support;

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use support::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// One request as the server read it.
#[derive(Debug, Clone)]
struct Seen {
    request_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }
}

/// A token endpoint that records every request and answers each with `answer`.
struct Recorder {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    async fn start(answer: Value) -> Recorder {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (record, answer) = (record.clone(), answer.to_string());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    // Headers, then as many body bytes as Content-Length says.
                    let (head_len, body_len) = loop {
                        let n = socket.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                            let len = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                            break (end + 4, len);
                        }
                    };
                    while buf.len() < head_len + body_len {
                        let n = socket.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let head = String::from_utf8_lossy(&buf[..head_len - 4]).into_owned();
                    let mut lines = head.split("\r\n");
                    let request_line = lines.next().unwrap_or_default().to_owned();
                    let headers = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                        .collect();
                    let body = String::from_utf8_lossy(&buf[head_len..head_len + body_len]).into_owned();
                    record.lock().unwrap().push(Seen {
                        request_line,
                        headers,
                        body,
                    });
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                        answer.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Recorder { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

const APP: &str = "extras-app";
const SECRET: &str = "extras-secret";
const REDIRECT: &str = "https://rp.example/cb";
const A: &str = "https://api.example/a";
const B: &str = "urn:example:b";
/// Members deliberately not in alphabetical order, nested objects and spaces: the bytes every
/// request must carry, as given.
const DETAILS: &str = r#"[{"type": "payment", "currency": "EUR", "amount": "1", "creditor": {"name": "Z", "account": {"iban": "DE02", "bic": "X"}}}, {"type":"account_information","actions":["read"]}]"#;

fn cli(server: &Recorder, dpop: bool) -> assert_cmd::Command {
    cli_with(server, dpop, DETAILS)
}

fn cli_with(server: &Recorder, dpop: bool, details: &str) -> assert_cmd::Command {
    let mut cmd = bare();
    cmd.args([
        "--app-host",
        &server.url,
        "--app-id",
        APP,
        "--secret",
        SECRET,
        "--redirect-uri",
        REDIRECT,
        "--token-endpoint-auth-method",
        "client_secret_post",
        "--resource",
        A,
        "--resource",
        B,
    ]);
    cmd.args(["--authorization-details", details]);
    if dpop {
        cmd.arg("--dpop");
    }
    cmd
}

fn encoded(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// `exchange` and `refresh` send both resources, in order, and the details exactly as given,
/// with `--dpop` (besides a proof) as without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_and_refresh_carry_resource_and_authorization_details_with_and_without_dpop() {
    for dpop in [false, true] {
        let token_type = if dpop { "DPoP" } else { "Bearer" };
        let server =
            Recorder::start(json!({"access_token": "at", "token_type": token_type, "expires_in": 60})).await;
        let mut cmd = cli(&server, dpop);
        cmd.args([
            "exchange",
            "--code",
            "the-code",
            "--code-verifier",
            &"v".repeat(43),
        ]);
        let out = run(cmd).await.ok();
        assert_eq!(out["token_type"], token_type);
        let mut cmd = cli(&server, dpop);
        cmd.args(["refresh", "--refresh-token", "the-rt"]);
        run(cmd).await.ok();

        let seen = server.seen();
        assert_eq!(seen.len(), 2, "dpop={dpop}: {seen:?}");
        let extras = [
            ("resource", A),
            ("resource", B),
            ("authorization_details", DETAILS),
        ];
        let tail = [("client_id", APP), ("client_secret", SECRET)];
        let verifier = "v".repeat(43);
        let mut exchange = vec![
            ("grant_type", "authorization_code"),
            ("code", "the-code"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ];
        exchange.extend(extras);
        exchange.extend(tail);
        let mut refresh = vec![("grant_type", "refresh_token"), ("refresh_token", "the-rt")];
        refresh.extend(extras);
        refresh.extend(tail);
        for (r, expected) in seen.iter().zip([encoded(&exchange), encoded(&refresh)]) {
            assert_eq!(r.request_line, "POST /oidc/token HTTP/1.1");
            assert_eq!(r.body, expected, "dpop={dpop}");
            assert_eq!(r.header("dpop").is_some(), dpop, "dpop={dpop}: {:?}", r.headers);
        }
        assert!(
            seen[0]
                .form()
                .iter()
                .any(|(k, v)| k == "authorization_details" && v == DETAILS)
        );
    }
}

/// Commands whose token requests do not take them refuse the options (usage, exit 2) before
/// any request, instead of dropping them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_that_cannot_carry_them_refuse_them() {
    let server = Recorder::start(json!({})).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("session.json");
    let file = file.to_str().unwrap();
    for args in [
        &["token", "--session", file][..],
        &["whoami", "--session", file],
        &[
            "finish",
            "--pending",
            file,
            "--callback",
            "https://rp.example/cb?code=c",
        ],
        &[
            "client-credentials",
            "--scope",
            "s",
            "--access-key",
            "k",
            "--access-secret",
            "x",
        ],
        &["device-login"],
        &["ciba-login", "--login-hint", "alice"],
    ] {
        let mut cmd = cli(&server, false);
        cmd.args(args);
        let r = run(cmd).await;
        assert_eq!(r.err(2), "usage", "{args:?}");
        assert!(r.stderr.contains("--resource"), "{args:?}: {}", r.stderr);
    }
    assert!(server.seen().is_empty(), "{:?}", server.seen());
}

/// `--authorization-details` that is not a JSON array of objects with a string `type` is a
/// usage error before any request, and the message does not repeat what was given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_details_that_are_not_a_typed_list_are_refused() {
    let server = Recorder::start(json!({})).await;
    for details in [
        r#"[{"type": "payment", "pin": "s3cr3t-pin""#,
        r#"{"type": "payment", "pin": "s3cr3t-pin"}"#,
        r#"[{"pin": "s3cr3t-pin"}]"#,
        r#"[{"type": "s3cr3t-pin"}, "s3cr3t-pin"]"#,
        "[]",
    ] {
        let mut cmd = cli_with(&server, false, details);
        cmd.args(["refresh", "--refresh-token", "the-rt"]);
        let r = run(cmd).await;
        assert_eq!(r.err(2), "usage", "{details}");
        assert!(
            r.stderr.contains("authorization_details"),
            "{details}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("s3cr3t"), "{details}: {}", r.stderr);
    }
    assert!(server.seen().is_empty(), "{:?}", server.seen());
}
