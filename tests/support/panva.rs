//! Harness around panva's `oidc-provider` (tests/interop/provider.mjs): an independent,
//! OpenID-certified OP that integration tests start on 127.0.0.1.
//!
//! Include it with
//!
//! ```ignore
//! #[path = "support/panva.rs"]
//! #[allow(dead_code)]
//! mod panva;
//! ```
//!
//! `PanvaProvider::start` installs the pinned npm packages when they are missing (`npm ci` in
//! tests/interop, serialised across test binaries by a lock file), spawns `node provider.mjs` on a
//! free port and reads the JSON line it prints once it listens. The child is killed when the
//! `PanvaProvider` is dropped, and exits by itself when the test process goes away (its stdin is a
//! pipe from this process). `login` drives the provider's development login and consent pages the
//! way a browser does and returns what would reach the client's redirect URI.
//!
//! Set `INTEROP_LOG=1` to see the provider's log live; otherwise it is printed when a test panics
//! while the provider is alive, and is available through `PanvaProvider::log`.

use std::collections::HashMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use url::Url;

/// The redirect URI every built-in client is registered with.
pub const CALLBACK: &str = "http://127.0.0.1:3000/callback";

/// client_secret_post, RS256 id_tokens, authorization_code + refresh_token.
pub const RP_RS256: &str = "rp-rs256";
/// client_secret_basic, with a secret full of spaces and symbols.
pub const RP_BASIC: &str = "rp-basic";
/// client_secret_post, ES256 id_tokens.
pub const RP_ES256: &str = "rp-es256";
/// client_secret_post, HS256 id_tokens (keyed with the client secret; no `kid`).
pub const RP_HS256: &str = "rp-hs256";
/// A public client (`token_endpoint_auth_method: none`): PKCE S256 required.
pub const RP_PUBLIC: &str = "rp-public";
/// client_credentials only, client_secret_post.
pub const RP_M2M: &str = "rp-m2m";

const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);
const MAX_HOPS: usize = 25;

/// `tests/interop` of the workspace, found from whichever crate includes this file (the
/// root crate or a member under `crates/`).
fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("tests").join("interop"))
        .find(|dir| dir.join("package.json").is_file())
        .unwrap_or_else(|| {
            panic!(
                "no tests/interop/package.json above {}",
                env!("CARGO_MANIFEST_DIR")
            )
        })
}

/// How to start the provider. Everything is optional; `Default` gives the plain provider at the
/// root of `http://127.0.0.1:PORT` with fresh keys.
#[derive(Debug, Clone, Default)]
pub struct PanvaOptions {
    /// Listen on this port instead of a free one, e.g. to restart a provider at the same
    /// issuer (with new keys, to test key rotation, or the same ones from `write_keys_file`).
    pub port: Option<u16>,
    /// Mount the provider under this path (e.g. `/oidc`, for Authing-shaped URLs: the issuer is
    /// then `{app_host}/oidc` and the JWKS is at `{issuer}/.well-known/jwks.json`).
    pub mount: Option<String>,
    /// TTL overrides in seconds by oidc-provider artifact name: `AccessToken`, `IdToken`,
    /// `RefreshToken`, `AuthorizationCode`, `ClientCredentials`, `Session`, `Grant`, `Interaction`.
    pub ttl: Vec<(String, u64)>,
    /// How many seconds past `exp` the provider still accepts a token or code. The harness
    /// default is 0 (oidc-provider's own default is 15, which hides short TTLs).
    pub clock_tolerance: Option<u64>,
    /// Redirect URIs registered for every built-in code-flow client besides [`CALLBACK`].
    pub redirect_uris: Vec<String>,
    /// Extra client metadata objects (oidc-provider / RFC 7591 field names); one with the
    /// client_id of a built-in client replaces it.
    pub clients: Vec<serde_json::Value>,
    /// A JSON file `{"keys": [private JWKs]}` to sign with, instead of fresh RS256 + ES256 keys.
    pub keys_file: Option<PathBuf>,
    /// Write the private signing keys (fresh or from `keys_file`) to this file, for a later
    /// start with `keys_file`.
    pub write_keys_file: Option<PathBuf>,
    /// Provider plugins (`tests/interop/plugins/NAME.mjs`, path relative to tests/interop):
    /// modules that switch on features or add hooks; see provider.mjs.
    pub plugins: Vec<String>,
}

impl PanvaOptions {
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    pub fn mount(mut self, path: &str) -> Self {
        self.mount = Some(path.to_owned());
        self
    }

    pub fn ttl(mut self, artifact: &str, seconds: u64) -> Self {
        self.ttl.push((artifact.to_owned(), seconds));
        self
    }

    pub fn clock_tolerance(mut self, seconds: u64) -> Self {
        self.clock_tolerance = Some(seconds);
        self
    }

    pub fn redirect_uri(mut self, uri: &str) -> Self {
        self.redirect_uris.push(uri.to_owned());
        self
    }

    pub fn client(mut self, metadata: serde_json::Value) -> Self {
        self.clients.push(metadata);
        self
    }

    pub fn keys_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.keys_file = Some(path.into());
        self
    }

    pub fn write_keys_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.write_keys_file = Some(path.into());
        self
    }

    /// Loads a provider plugin, e.g. `plugins/fapi2.mjs` (relative to tests/interop).
    pub fn plugin(mut self, path: &str) -> Self {
        self.plugins.push(path.to_owned());
        self
    }
}

/// A client as the provider registered it (from the provider's startup line).
#[derive(Debug, Clone)]
pub struct PanvaClient {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub token_endpoint_auth_method: String,
    pub id_token_signed_response_alg: String,
    pub grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
}

/// A running `oidc-provider`; killed on drop.
pub struct PanvaProvider {
    issuer: String,
    app_host: String,
    clients: Vec<PanvaClient>,
    log: Arc<Mutex<String>>,
    // Held so the child sees EOF on stdin (and exits) only when this process lets go of it.
    _stdin: Option<ChildStdin>,
    child: Child,
}

impl PanvaProvider {
    /// Starts the provider on a free port of 127.0.0.1 (installing the npm packages first if
    /// needed). Panics with the provider's log when it does not come up within 30 s.
    pub async fn start(options: PanvaOptions) -> PanvaProvider {
        ensure_npm_packages();

        let dir = interop_dir();
        let node = std::env::var("INTEROP_NODE").unwrap_or_else(|_| "node".to_owned());
        let mut command = Command::new(&node);
        command
            .current_dir(&dir)
            .arg("provider.mjs")
            .arg("--port")
            .arg(options.port.unwrap_or(0).to_string())
            .arg("--exit-with-stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Options go through arguments only, so an INTEROP_* variable in the environment of
        // the test run cannot silently change the provider.
        for var in [
            "INTEROP_PORT",
            "PORT",
            "INTEROP_MOUNT",
            "INTEROP_KEYS_FILE",
            "INTEROP_WRITE_KEYS_FILE",
            "INTEROP_TTL",
            "INTEROP_CLOCK_TOLERANCE",
            "INTEROP_REDIRECT_URIS",
            "INTEROP_CLIENTS",
        ] {
            command.env_remove(var);
        }
        if let Some(mount) = &options.mount {
            command.args(["--mount", mount]);
        }
        if !options.ttl.is_empty() {
            let ttl: serde_json::Map<String, serde_json::Value> = options
                .ttl
                .iter()
                .map(|(name, secs)| (name.clone(), serde_json::Value::from(*secs)))
                .collect();
            command.args(["--ttl", &serde_json::Value::Object(ttl).to_string()]);
        }
        if let Some(seconds) = options.clock_tolerance {
            command.args(["--clock-tolerance", &seconds.to_string()]);
        }
        if !options.redirect_uris.is_empty() {
            command.args([
                "--redirect-uris",
                &serde_json::to_string(&options.redirect_uris).unwrap(),
            ]);
        }
        if !options.clients.is_empty() {
            command.args(["--clients", &serde_json::to_string(&options.clients).unwrap()]);
        }
        if let Some(keys) = &options.keys_file {
            command.arg("--keys").arg(keys);
        }
        if let Some(keys) = &options.write_keys_file {
            command.arg("--write-keys").arg(keys);
        }
        for plugin in &options.plugins {
            command.args(["--plugin", plugin]);
        }

        let mut child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot run `{node} provider.mjs` in {}: {e} (is Node.js ≥ 20.12 installed?)",
                dir.display()
            )
        });

        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&log);
        let live = std::env::var_os("INTEROP_LOG").is_some_and(|v| !v.is_empty() && v != "0");
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if live {
                    eprintln!("[oidc-provider] {line}");
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });

        let stdout = child.stdout.take().expect("piped stdout");
        let mut stdout = BufReader::new(stdout);
        let mut first = String::new();
        let read = tokio::time::timeout(STARTUP_TIMEOUT, stdout.read_line(&mut first)).await;
        let startup_failure = |why: String, child: &mut Child| -> ! {
            let _ = child.start_kill();
            std::thread::sleep(Duration::from_millis(200));
            panic!(
                "oidc-provider did not start: {why}\n--- provider log ---\n{}",
                log.lock().unwrap()
            );
        };
        match read {
            Err(_) => startup_failure(format!("no startup line within {STARTUP_TIMEOUT:?}"), &mut child),
            Ok(Err(e)) => startup_failure(format!("reading its stdout: {e}"), &mut child),
            Ok(Ok(0)) => startup_failure("it exited before listening".to_owned(), &mut child),
            Ok(Ok(_)) => {}
        }
        // Nothing else is expected on stdout; drain it so the child can never block on it.
        tokio::spawn(async move {
            let mut rest = Vec::new();
            let _ = stdout.read_to_end(&mut rest).await;
        });

        let line: serde_json::Value = match serde_json::from_str(first.trim()) {
            Ok(v) => v,
            Err(e) => startup_failure(format!("startup line is not JSON ({e}): {first:?}"), &mut child),
        };
        let text = |v: &serde_json::Value, key: &str| v[key].as_str().map(str::to_owned);
        let strings = |v: &serde_json::Value, key: &str| -> Vec<String> {
            v[key]
                .as_array()
                .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
                .unwrap_or_default()
        };
        let issuer = text(&line, "issuer").expect("startup line has an issuer");
        let app_host = text(&line, "app_host").expect("startup line has an app_host");
        let clients = line["clients"]
            .as_array()
            .expect("startup line has clients")
            .iter()
            .map(|c| PanvaClient {
                client_id: text(c, "client_id").expect("client_id"),
                client_secret: text(c, "client_secret"),
                token_endpoint_auth_method: text(c, "token_endpoint_auth_method").unwrap_or_default(),
                id_token_signed_response_alg: text(c, "id_token_signed_response_alg").unwrap_or_default(),
                grant_types: strings(c, "grant_types"),
                redirect_uris: strings(c, "redirect_uris"),
            })
            .collect();
        assert!(
            issuer.starts_with("http://127.0.0.1:"),
            "the provider must listen on 127.0.0.1, got {issuer}"
        );

        PanvaProvider {
            issuer,
            app_host,
            clients,
            log,
            _stdin: child.stdin.take(),
            child,
        }
    }

    /// `http://127.0.0.1:PORT` plus the mount path, if any.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `http://127.0.0.1:PORT` (the issuer without its mount path).
    pub fn app_host(&self) -> &str {
        &self.app_host
    }

    /// `{issuer}{path}`, e.g. `url("/token")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// `(client_id, client_secret)` of a registered client (no secret for a public client).
    /// Panics for an unknown client.
    pub fn client(&self, client_id: &str) -> (String, Option<String>) {
        let c = self.client_info(client_id);
        (c.client_id.clone(), c.client_secret.clone())
    }

    /// The `client_secret` of a confidential client; panics for a public or unknown one.
    pub fn secret(&self, client_id: &str) -> String {
        self.client(client_id)
            .1
            .unwrap_or_else(|| panic!("client {client_id} has no secret"))
    }

    pub fn client_info(&self, client_id: &str) -> &PanvaClient {
        self.clients
            .iter()
            .find(|c| c.client_id == client_id)
            .unwrap_or_else(|| panic!("the provider has no client {client_id:?}"))
    }

    pub fn clients(&self) -> &[PanvaClient] {
        &self.clients
    }

    /// Everything the provider wrote on stderr so far (notices and `*.error` events with their
    /// real reasons).
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// A browser with an empty cookie jar, bound to this provider.
    pub fn browser(&self) -> Browser {
        Browser::new(&self.issuer)
    }

    /// Logs `login` in (any password) and consents, in a fresh browser, starting from
    /// `authorize_url`; returns what reaches the client's redirect URI. Panics on failure.
    pub async fn login(&self, authorize_url: &str, login: &str) -> Callback {
        match self.try_login(authorize_url, login).await {
            Ok(callback) => callback,
            Err(e) => panic!("login through oidc-provider failed: {e}"),
        }
    }

    /// As [`PanvaProvider::login`], but failures are returned.
    pub async fn try_login(&self, authorize_url: &str, login: &str) -> Result<Callback, String> {
        self.browser().login(authorize_url, login).await
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        Url::parse(&self.issuer)
            .ok()
            .and_then(|u| u.port())
            .expect("the issuer has a port")
    }

    /// Kills the provider and waits until it has exited (its port is then free again).
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

impl Drop for PanvaProvider {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            eprintln!(
                "--- oidc-provider log ({}) ---\n{}--- end of oidc-provider log ---",
                self.issuer,
                self.log.lock().map(|l| l.clone()).unwrap_or_default()
            );
        }
    }
}

/// What reaches the client at the end of a browser flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    /// A redirect to the client: the full URL, with the response in its query or fragment.
    Redirect(String),
    /// `response_mode=form_post`: the auto-submitting page's target and the
    /// `application/x-www-form-urlencoded` body it would POST there.
    FormPost { action: String, body: String },
}

impl Callback {
    /// The response parameters, in order, from the query, the fragment or the form body
    /// (whichever holds them; for a redirect, the fragment when it has any, else the query).
    pub fn params(&self) -> Vec<(String, String)> {
        let decode = |s: &str| -> Vec<(String, String)> {
            url::form_urlencoded::parse(s.as_bytes()).into_owned().collect()
        };
        match self {
            Callback::Redirect(url) => {
                let url = Url::parse(url).expect("callback URL");
                match url.fragment() {
                    Some(fragment) if !fragment.is_empty() => decode(fragment),
                    _ => decode(url.query().unwrap_or("")),
                }
            }
            Callback::FormPost { body, .. } => decode(body),
        }
    }

    /// The first value of a response parameter.
    pub fn param(&self, name: &str) -> Option<String> {
        self.params().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The redirect URL; panics for a form_post callback.
    pub fn url(&self) -> &str {
        match self {
            Callback::Redirect(url) => url,
            Callback::FormPost { .. } => panic!("expected a redirect, got a form_post callback: {self:?}"),
        }
    }

    /// Where the response goes: the redirect URL without query and fragment, or the form action.
    pub fn target(&self) -> String {
        match self {
            Callback::Redirect(url) => {
                let mut url = Url::parse(url).expect("callback URL");
                url.set_query(None);
                url.set_fragment(None);
                url.to_string()
            }
            Callback::FormPost { action, .. } => action.clone(),
        }
    }
}

/// A minimal browser: no automatic redirects, a hand-made cookie jar (RFC 6265 path matching,
/// expiry honoured), relative `Location` headers resolved against the current URL. It stops as
/// soon as a redirect or a form leaves the provider's origin.
pub struct Browser {
    http: reqwest::Client,
    origin: url::Origin,
    jar: Vec<Cookie>,
}

#[derive(Debug, Clone)]
struct Cookie {
    name: String,
    value: String,
    host: String,
    path: String,
    expires: Option<u64>,
}

enum Step {
    Get(Url),
    Post(Url, String),
}

impl Browser {
    pub fn new(issuer: &str) -> Browser {
        let origin = Url::parse(issuer).expect("issuer URL").origin();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("reqwest client");
        Browser {
            http,
            origin,
            jar: Vec::new(),
        }
    }

    /// Opens `url` (an authorization or end-session request) and walks the provider's pages:
    /// the login form (with `login` and any password), consent, and the logout confirmation
    /// ("yes"), until the flow leaves the provider. Keeps the cookies, so a second call is a
    /// single sign-on (no login form) and a logout can end the session.
    pub async fn login(&mut self, url: &str, login: &str) -> Result<Callback, String> {
        self.drive(url, Some(login)).await
    }

    /// Drives the device verification pages (RFC 8628 §3.3) from `url` (the
    /// `verification_uri_complete`): submits the user code, then confirms it and logs `login` in
    /// and consents (`approve`), or presses "abort" (`!approve`, which the provider answers
    /// with `access_denied` to the device). Returns the text of the last page.
    pub async fn device(&mut self, url: &str, login: &str, approve: bool) -> Result<String, String> {
        let mut step = Step::Get(Url::parse(url).map_err(|e| format!("bad URL {url}: {e}"))?);
        let mut trail: Vec<String> = Vec::new();
        for _ in 0..MAX_HOPS {
            let (url, request) = match step {
                Step::Get(url) => {
                    trail.push(format!("GET {}", url.path()));
                    (url.clone(), self.http.get(url))
                }
                Step::Post(url, body) => {
                    trail.push(format!("POST {}", url.path()));
                    let request = self
                        .http
                        .post(url.clone())
                        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(body);
                    (url, request)
                }
            };
            if url.origin() != self.origin {
                return Err(format!("refusing to leave the provider for {url}"));
            }
            let request = match self.cookie_header(&url) {
                Some(cookies) => request.header(reqwest::header::COOKIE, cookies),
                None => request,
            };
            let response = request.send().await.map_err(|e| format!("{url} failed: {e}"))?;
            let status = response.status();
            for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
                if let Ok(value) = value.to_str() {
                    self.store_cookie(&url, value);
                }
            }
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| format!("{status} without a Location at {url}"))?;
                step = Step::Get(url.join(location).map_err(|e| format!("bad Location: {e}"))?);
                continue;
            }
            let body = response.text().await.map_err(|e| format!("reading {url}: {e}"))?;
            let Some(form) = Form::find(&body) else {
                return Ok(excerpt(&body));
            };
            let action = url
                .join(if form.action.is_empty() {
                    url.as_str()
                } else {
                    &form.action
                })
                .map_err(|e| format!("bad form action {:?}: {e}", form.action))?;
            let fields: Vec<(String, String)> = match form.field("prompt") {
                Some("login") => vec![
                    ("prompt".into(), "login".into()),
                    ("login".into(), login.into()),
                    ("password".into(), "any password".into()),
                ],
                Some("consent") => vec![("prompt".into(), "consent".into())],
                _ if form.field("confirm").is_some() && !approve => {
                    let mut fields: Vec<(String, String)> = form
                        .fields
                        .iter()
                        .filter(|(k, _)| k != "confirm")
                        .cloned()
                        .collect();
                    fields.push(("abort".into(), "yes".into()));
                    fields
                }
                _ if form.field("user_code").is_some() || form.field("confirm").is_some() => {
                    form.fields.clone()
                }
                // The code input page again, after an abort: nothing left to do.
                _ if form.field("xsrf").is_some() && !approve => return Ok(excerpt(&body)),
                _ => {
                    return Err(format!(
                        "unknown form at {url} after {}: {}",
                        trail.join(" -> "),
                        excerpt(&body)
                    ));
                }
            };
            step = Step::Post(action, encode(&fields));
        }
        Err(format!("more than {MAX_HOPS} hops: {}", trail.join(" -> ")))
    }

    /// As [`Browser::login`], but a login form is an error: for prompt=none, SSO and logout.
    pub async fn follow(&mut self, url: &str) -> Result<Callback, String> {
        self.drive(url, None).await
    }

    async fn drive(&mut self, start: &str, login: Option<&str>) -> Result<Callback, String> {
        let mut step = Step::Get(Url::parse(start).map_err(|e| format!("bad URL {start}: {e}"))?);
        let mut trail: Vec<String> = Vec::new();
        for _ in 0..MAX_HOPS {
            let (url, request) = match step {
                Step::Get(url) => {
                    trail.push(format!("GET {}", url.path()));
                    (url.clone(), self.http.get(url))
                }
                Step::Post(url, body) => {
                    trail.push(format!("POST {}", url.path()));
                    let request = self
                        .http
                        .post(url.clone())
                        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(body);
                    (url, request)
                }
            };
            if url.origin() != self.origin {
                return Err(format!("refusing to leave the provider for {url}"));
            }
            let request = match self.cookie_header(&url) {
                Some(cookies) => request.header(reqwest::header::COOKIE, cookies),
                None => request,
            };
            let response = request
                .send()
                .await
                .map_err(|e| format!("{} failed: {e}", trail.last().unwrap()))?;
            let status = response.status();
            for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
                if let Ok(value) = value.to_str() {
                    self.store_cookie(&url, value);
                }
            }

            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| format!("{status} without a Location at {url}"))?;
                let next = url
                    .join(location)
                    .map_err(|e| format!("bad Location {location:?} at {url}: {e}"))?;
                if next.origin() != self.origin {
                    return Ok(Callback::Redirect(next.to_string()));
                }
                step = Step::Get(next);
                continue;
            }

            let body = response.text().await.map_err(|e| format!("reading {url}: {e}"))?;
            let Some(form) = Form::find(&body) else {
                return Err(format!(
                    "stuck at {url} ({status}) after {}: {}",
                    trail.join(" -> "),
                    excerpt(&body)
                ));
            };
            let action = url
                .join(if form.action.is_empty() {
                    url.as_str()
                } else {
                    &form.action
                })
                .map_err(|e| format!("bad form action {:?} at {url}: {e}", form.action))?;
            if action.origin() != self.origin {
                // response_mode=form_post: this page would auto-submit to the client.
                return Ok(Callback::FormPost {
                    action: action.to_string(),
                    body: encode(&form.fields),
                });
            }
            let prompt = form.field("prompt");
            let fields: Vec<(String, String)> = if prompt == Some("login") {
                let Some(login) = login else {
                    return Err(format!("the provider asks for a login at {url}"));
                };
                vec![
                    ("prompt".into(), "login".into()),
                    ("login".into(), login.into()),
                    ("password".into(), "any password".into()),
                ]
            } else if prompt == Some("consent") {
                vec![("prompt".into(), "consent".into())]
            } else if form.field("xsrf").is_some() {
                // The end-session confirmation: "Yes, sign me out".
                let mut fields = form.fields.clone();
                fields.push(("logout".into(), "yes".into()));
                fields
            } else {
                return Err(format!(
                    "unknown form at {url} ({status}) after {}: {}",
                    trail.join(" -> "),
                    excerpt(&body)
                ));
            };
            step = Step::Post(action, encode(&fields));
        }
        Err(format!("more than {MAX_HOPS} hops: {}", trail.join(" -> ")))
    }

    fn cookie_header(&mut self, url: &Url) -> Option<String> {
        let now = unix_now();
        self.jar.retain(|c| c.expires.is_none_or(|t| t > now));
        let host = url.host_str().unwrap_or_default();
        let path = url.path();
        let pairs: Vec<String> = self
            .jar
            .iter()
            .filter(|c| c.host == host && path_matches(path, &c.path))
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    fn store_cookie(&mut self, url: &Url, header: &str) {
        let mut parts = header.split(';');
        let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
        let mut path = None;
        let mut expires = None;
        let mut max_age = None;
        for attr in parts {
            let (key, val) = attr.split_once('=').unwrap_or((attr, ""));
            match key.trim().to_ascii_lowercase().as_str() {
                "path" if val.trim().starts_with('/') => path = Some(val.trim().to_owned()),
                "expires" => expires = parse_http_date(val.trim()),
                "max-age" => max_age = val.trim().parse::<i64>().ok(),
                _ => {}
            }
        }
        let expires = match max_age {
            Some(secs) if secs <= 0 => Some(0),
            Some(secs) => Some(unix_now() + secs as u64),
            None => expires,
        };
        let path = path.unwrap_or_else(|| default_path(url.path()));
        let host = url.host_str().unwrap_or_default().to_owned();
        self.jar
            .retain(|c| !(c.name == name && c.path == path && c.host == host));
        if expires.is_none_or(|t| t > unix_now()) {
            self.jar.push(Cookie {
                name,
                value,
                host,
                path,
                expires,
            });
        }
    }
}

/// RFC 6265 §5.1.4 path-match.
fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/')))
}

/// RFC 6265 §5.1.4 default-path.
fn default_path(request_path: &str) -> String {
    match request_path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => request_path[..i].to_owned(),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Parses an IMF-fixdate (`Thu, 01 Jan 1970 00:00:00 GMT`, what the provider sends) to Unix
/// seconds; `None` for anything else (the cookie is then kept for the session).
fn parse_http_date(text: &str) -> Option<u64> {
    let mut it = text.split_whitespace();
    let _weekday = it.next()?;
    let day: i64 = it.next()?.parse().ok()?;
    let month_name = it.next()?;
    let month = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|m| month_name.eq_ignore_ascii_case(m))? as i64
        + 1;
    let year: i64 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + m * 60 + s).ok()
}

fn encode(fields: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

fn excerpt(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(ch),
            _ => {}
        }
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    text.chars().take(400).collect()
}

/// The first `<form>` of a page: its action and its `<input>` fields that have a value
/// (hidden inputs; the provider's pages have no others with values).
struct Form {
    action: String,
    fields: Vec<(String, String)>,
}

impl Form {
    fn find(html: &str) -> Option<Form> {
        let start = html.find("<form")?;
        let rest = &html[start..];
        let tag_end = rest.find('>')?;
        let attrs = attributes(&rest[5..tag_end]);
        let action = attrs.get("action").cloned().unwrap_or_default();
        let end = rest.find("</form>").unwrap_or(rest.len());
        let mut fields = Vec::new();
        let mut inner = &rest[tag_end + 1..end];
        while let Some(i) = inner.find("<input") {
            let after = &inner[i + 6..];
            let close = after.find('>').unwrap_or(after.len());
            let attrs = attributes(&after[..close]);
            if let (Some(name), Some(value)) = (attrs.get("name"), attrs.get("value")) {
                fields.push((name.clone(), value.clone()));
            }
            inner = &after[close..];
        }
        Some(Form { action, fields })
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `name="value"` pairs of a tag (double-quoted values, HTML entities decoded).
fn attributes(tag: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = tag;
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq]
            .rsplit(|c: char| c.is_whitespace())
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let value_start = eq + 2;
        let Some(len) = rest[value_start..].find('"') else {
            break;
        };
        out.insert(name, unescape(&rest[value_start..value_start + len]));
        rest = &rest[value_start + len + 1..];
    }
    out
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';') else { break };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(ch) => {
                out.push(ch);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Installs tests/interop/node_modules with `npm ci` unless the pinned oidc-provider is already
/// there. Test binaries run in parallel, so one installs while the others wait on a lock file;
/// threads of one binary wait on a mutex.
fn ensure_npm_packages() {
    static IN_PROCESS: Mutex<()> = Mutex::new(());
    let _guard = IN_PROCESS.lock().unwrap_or_else(|p| p.into_inner());

    let dir = interop_dir();
    let lock = dir.join(".npm-install.lock");
    let deadline = Instant::now() + INSTALL_TIMEOUT;
    loop {
        if !lock.exists() && installed(&dir) {
            return;
        }
        match fs::OpenOptions::new().write(true).create_new(true).open(&lock) {
            Ok(_) => break,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                // Another test binary is installing; a lock older than the install timeout
                // was left by a killed run.
                let stale = fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > INSTALL_TIMEOUT);
                if stale {
                    let _ = fs::remove_file(&lock);
                } else if Instant::now() > deadline {
                    panic!(
                        "timed out waiting for another test's `npm ci` in {} (remove {} if no install is running)",
                        dir.display(),
                        lock.display()
                    );
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => panic!("cannot create {}: {e}", lock.display()),
        }
    }

    struct Unlock(PathBuf);
    impl Drop for Unlock {
        fn drop(&mut self) {
            let _ = fs::remove_file(&self.0);
        }
    }
    let _unlock = Unlock(lock);
    if installed(&dir) {
        return;
    }
    let npm = std::env::var("INTEROP_NPM").unwrap_or_else(|_| "npm".to_owned());
    eprintln!(
        "installing oidc-provider: `{npm} ci --no-audit --no-fund` in {}",
        dir.display()
    );
    let output = std::process::Command::new(&npm)
        .current_dir(&dir)
        .args(["ci", "--no-audit", "--no-fund"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{npm} ci` in {}: {e} (is npm installed?)",
                dir.display()
            )
        });
    assert!(
        output.status.success(),
        "`{npm} ci` in {} failed ({}):\n{}\n{}",
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        installed(&dir),
        "`{npm} ci` did not install the pinned oidc-provider"
    );
}

/// The installed oidc-provider is the version package-lock.json pins, and npm finished (it
/// writes node_modules/.package-lock.json last).
fn installed(dir: &Path) -> bool {
    let read = |p: PathBuf| -> Option<serde_json::Value> { serde_json::from_slice(&fs::read(p).ok()?).ok() };
    let Some(lock) = read(dir.join("package-lock.json")) else {
        panic!(
            "{} is missing or malformed",
            dir.join("package-lock.json").display()
        );
    };
    let pinned = lock["packages"]["node_modules/oidc-provider"]["version"].as_str();
    let present = read(dir.join("node_modules/oidc-provider/package.json"));
    let present = present.as_ref().and_then(|p| p["version"].as_str());
    pinned.is_some() && pinned == present && dir.join("node_modules/.package-lock.json").exists()
}
