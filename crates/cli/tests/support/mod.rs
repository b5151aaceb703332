//! Running the built `authing-oidc` binary as a user would, against the
//! embedded development provider.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use authing_oidc_dev_provider::{
    AuthorizationResponse, DevProvider, DevProviderConfig, RunningDevProvider, login_without_browser,
};
use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_authing-oidc");

/// The dev provider's confidential client (client_secret_post, RS256).
pub const DEV_APP: &str = "dev-app";
pub const DEV_APP_SECRET: &str = "dev-app-secret";
pub const CALLBACK: &str = "http://127.0.0.1:3000/callback";
pub const OFFLINE_SCOPE: &str = "openid profile email offline_access";

/// What a run of the binary left behind.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts exit 0, empty stderr, and returns the one JSON document on stdout.
    #[track_caller]
    pub fn ok(&self) -> Value {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        assert_eq!(
            self.stdout.lines().count(),
            1,
            "one JSON line on stdout: {self:#?}"
        );
        serde_json::from_str(self.stdout.trim_end()).expect("stdout is JSON")
    }

    /// Asserts the exit code, an empty stdout and exactly one JSON error object
    /// on stderr; returns its kind.
    #[track_caller]
    pub fn err(&self, code: i32) -> String {
        assert_eq!(self.code, code, "expected exit {code}: {self:#?}");
        assert!(
            self.stdout.is_empty(),
            "stdout must be empty on failure: {self:#?}"
        );
        assert_eq!(self.stderr.lines().count(), 1, "one line on stderr: {self:#?}");
        let v: Value = serde_json::from_str(self.stderr.trim_end()).expect("stderr is JSON");
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), 1, "{v}");
        let e = v["error"].as_object().unwrap();
        assert_eq!(e.len(), 2, "{v}");
        assert!(e["message"].is_string(), "{v}");
        e["kind"].as_str().unwrap().to_owned()
    }
}

/// A command for the binary with no AUTHING_* variable inherited from the
/// test's environment.
pub fn bare() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AUTHING_") {
            cmd.env_remove(name);
        }
    }
    cmd.timeout(std::time::Duration::from_secs(60));
    cmd
}

/// Runs a prepared command off the async runtime (the provider keeps serving).
pub async fn run(mut cmd: assert_cmd::Command) -> Run {
    tokio::task::spawn_blocking(move || Run::from(cmd.output().expect("run the binary")))
        .await
        .unwrap()
}

/// A dev provider and a scratch directory.
pub struct Env {
    pub provider: RunningDevProvider,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub async fn start() -> Env {
        Env::with_config(DevProviderConfig::default()).await
    }

    pub async fn with_config(config: DevProviderConfig) -> Env {
        Env {
            provider: DevProvider::start(config).await.unwrap(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The binary configured (through the environment) for `dev-app`.
    pub fn cli(&self) -> assert_cmd::Command {
        self.cli_for(DEV_APP, Some(DEV_APP_SECRET))
    }

    /// The binary configured for a client of the provider.
    pub fn cli_for(&self, app_id: &str, secret: Option<&str>) -> assert_cmd::Command {
        let mut cmd = bare();
        cmd.env("AUTHING_APP_HOST", self.provider.app_host())
            .env("AUTHING_APP_ID", app_id)
            .env("AUTHING_APP_REDIRECT_URI", CALLBACK)
            .current_dir(self.dir.path());
        if let Some(s) = secret {
            cmd.env("AUTHING_APP_SECRET", s);
        }
        cmd
    }

    /// The binary configured for the public client `dev-app-public` (no secret).
    pub fn public_cli(&self) -> assert_cmd::Command {
        let mut cmd = self.cli_for("dev-app-public", None);
        for m in [
            "--token-endpoint-auth-method",
            "--introspection-endpoint-auth-method",
            "--revocation-endpoint-auth-method",
        ] {
            cmd.args([m, "none"]);
        }
        cmd
    }

    /// Runs `dev-app` with these arguments (the future borrows nothing, so
    /// several can run at once).
    pub fn run(&self, args: &[&str]) -> impl std::future::Future<Output = Run> + use<> {
        let mut cmd = self.cli();
        cmd.args(args);
        run(cmd)
    }

    pub fn token_requests(&self) -> u64 {
        self.provider.request_count("/oidc/token")
    }

    /// begin → log in as alice → finish --session: a session file for dev-app.
    pub async fn logged_in_session(&self, name: &str) -> PathBuf {
        let pending = self.path(&format!("{name}.pending"));
        let session = self.path(name);
        let url = self
            .run(&["begin", "--scope", OFFLINE_SCOPE, "--pending", s(&pending)])
            .await
            .ok()["url"]
            .as_str()
            .unwrap()
            .to_owned();
        let callback = alice_logs_in(&url).await;
        let callback = match callback {
            AuthorizationResponse::Redirect(u) => u.to_string(),
            other => panic!("expected a redirect, got {other:?}"),
        };
        self.run(&[
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
        session
    }
}

/// Logs in as the dev provider's user without a browser.
pub async fn alice_logs_in(authorize_url: &str) -> AuthorizationResponse {
    login_without_browser(authorize_url, "alice", "alice-password")
        .await
        .unwrap()
}

/// A path as &str.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The saved session inside a session file.
pub fn saved_session(path: &Path) -> Value {
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(file["format"], "authing-oidc-cli/session");
    file["saved"].clone()
}

/// Unix permission bits of a file.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
