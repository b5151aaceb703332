//! No token, secret, code, verifier or password reaches `Debug`, `Display`,
//! an error message or a log line: canary values go through every operation
//! and every error path, and every piece of output is searched for them.

#[path = "support/keys.rs"]
mod keys;
#[path = "support/mock.rs"]
mod mock;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use authing_oidc::{
    AccessSecret, AccessToken, AuthMethod, AuthenticationClient, AuthorizationCode, AuthorizeParams,
    ClientSecret, CodeChallengeMethod, CodeVerifier, IdToken, LogoutParams, Nonce, RefreshToken, State,
    TokenToValidate,
};
use mock::{Canned, MockServer};
use serde_json::json;

/// Fails to compile when `$ty` implements `$trait`: the call below resolves to one impl of
/// `NotImplemented<_>` when only the blanket one applies, and is ambiguous (a compile error) when
/// the second one, for types with the trait, applies too. Each type and trait is its own
/// assertion, so the error names exactly the secret type that gained the trait.
macro_rules! assert_not_implemented {
    ($trait:path: $($ty:ty),+ $(,)?) => {$(
        const _: fn() = || {
            trait NotImplemented<Marker> {
                fn check() {}
            }
            impl<T: ?Sized> NotImplemented<()> for T {}
            struct HasTrait;
            impl<T: ?Sized + $trait> NotImplemented<HasTrait> for T {}
            <$ty as NotImplemented<_>>::check();
        };
    )+};
}

// A secret printed with `{}` lands in logs and error messages; one that derefs to `str` can be
// passed to any `&str` API, `format!` and loggers included; one serialized into a response, a
// cookie or a log record leaves the process in clear.
assert_not_implemented!(std::fmt::Display: ClientSecret, AccessToken, RefreshToken, IdToken,
    AuthorizationCode, CodeVerifier, State, Nonce, AccessSecret);
assert_not_implemented!(std::ops::Deref<Target = str>: ClientSecret, AccessToken, RefreshToken,
    IdToken, AuthorizationCode, CodeVerifier, State, Nonce, AccessSecret);
assert_not_implemented!(serde::Serialize: ClientSecret, AccessToken, RefreshToken, IdToken,
    AuthorizationCode, CodeVerifier, State, Nonce, AccessSecret);
// An `Authenticated` is built by the verifying flow, never deserialized from unverified data
// (a restore goes through `restore_from_trusted_store`, which checks issuer and client).
assert_not_implemented!(serde::de::DeserializeOwned: authing_oidc::flow::Authenticated);

const CANARIES: [&str; 9] = [
    "CANARY-client-secret",
    "CANARY-access-token",
    "CANARY-refresh-token",
    "CANARY-id-token",
    "CANARY-auth-code",
    "CANARYverifierCANARYverifierCANARYverifier-0",
    "CANARY-access-secret",
    "CANARY-new-access-token",
    "CANARY-new-refresh-token",
];

/// Everything the SDK and the crates below it log, at every level, through
/// either facade: `tracing` (the SDK, hyper) and `log` (reqwest).
fn log_buffer() -> Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let b = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Writer(b.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        log::set_logger(Box::leak(Box::new(LogRecords(buf.clone())))).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
        buf
    })
    .clone()
}

/// A `log` logger that writes every record into the same buffer.
struct LogRecords(Arc<Mutex<Vec<u8>>>);
impl log::Log for LogRecords {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {} {}\n", record.level(), record.target(), record.args());
        self.0.lock().unwrap().extend_from_slice(line.as_bytes());
    }
    fn flush(&self) {}
}

/// What was logged so far, checked to hold reqwest's own `log` records, so a
/// clean log is evidence and not a capture that saw nothing.
fn captured_logs(buf: &Mutex<Vec<u8>>) -> String {
    let text = String::from_utf8_lossy(&buf.lock().unwrap()).into_owned();
    assert!(
        text.contains("reqwest::connect starting new connection"),
        "reqwest's log records are not captured: {text}"
    );
    text
}

struct Writer(Arc<Mutex<Vec<u8>>>);
impl Write for Writer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn assert_clean(what: &str, text: &str) {
    for c in CANARIES {
        assert!(!text.contains(c), "{what} leaks {c}: {text}");
    }
}

/// Debug and Display of a result, whichever it is.
fn show<T: std::fmt::Debug>(r: &Result<T, authing_oidc::Error>) -> String {
    match r {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("{e} | {e:?}"),
    }
}

fn client(server: &MockServer, method: AuthMethod) -> AuthenticationClient {
    AuthenticationClient::builder()
        .app_id("app")
        .secret(CANARIES[0])
        .app_host(server.url())
        .redirect_uri("https://example.com/cb")
        .token_endpoint_auth_method(method)
        .introspection_endpoint_auth_method(method)
        .revocation_endpoint_auth_method(method)
        .build()
        .unwrap()
}

/// A provider that echoes every secret it was sent back into its errors.
fn echo_everything(server: &MockServer) {
    for path in ["/oidc/token", "/oidc/token/introspection"] {
        server.on(
            path,
            Canned::json(
                400,
                json!({"error": "invalid_grant", "error_description": "{echo}"}),
            )
            .echoing(),
        );
    }
    server.on(
        "/oidc/token/revocation",
        Canned::json(403, json!({"code": 1, "message": "{echo}"})).echoing(),
    );
    server.on(
        "/oidc/me",
        Canned::raw(401, "text/html", "<h1>bad token {echo}</h1>")
            .with_header(
                "www-authenticate",
                "Bearer error=\"invalid_token\", error_description=\"{echo}\"",
            )
            .echoing(),
    );
    server.on(
        "/api/v2/oidc/validate_token",
        Canned::raw(500, "text/html", "oops {echo}").echoing(),
    );
}

async fn every_operation(c: &AuthenticationClient) -> Vec<String> {
    let at = AccessToken::new(CANARIES[1]);
    let rt = RefreshToken::new(CANARIES[2]);
    let it = IdToken::new(CANARIES[3]);
    let code = AuthorizationCode::new(CANARIES[4]);
    let verifier = CodeVerifier::new(CANARIES[5]);
    let access_secret = AccessSecret::new(CANARIES[6]);
    vec![
        show(&c.get_access_token_by_code(&code, Some(&verifier)).await),
        show(&c.get_new_access_token_by_refresh_token(&rt).await),
        show(&c.get_user_info_by_access_token(&at).await),
        show(&c.introspect_token(&at).await),
        show(&c.introspect_token(&rt).await),
        show(&c.validate_token(TokenToValidate::IdToken(&it)).await),
        show(&c.validate_token(TokenToValidate::AccessToken(&at)).await),
        show(&c.revoke_token(&rt).await),
        show(
            &c.get_access_token_by_client_credentials("openid", "AK", &access_secret)
                .await,
        ),
        show(&c.generate_code_challenge_digest(
            &CodeVerifier::new(format!("{}!", CANARIES[5])),
            CodeChallengeMethod::S256,
        )),
    ]
}

#[tokio::test]
async fn error_paths_never_show_a_secret() {
    let logs = log_buffer();
    let server = MockServer::start().await;
    echo_everything(&server);
    for method in [AuthMethod::ClientSecretPost, AuthMethod::ClientSecretBasic] {
        let c = client(&server, method);
        for (i, out) in every_operation(&c).await.iter().enumerate() {
            assert_clean(&format!("operation {i} under {method:?}"), out);
        }
        assert_clean("client Debug", &format!("{c:?}"));
    }
    // The requests really carried the canaries, so the test could fail.
    let sent: String = server
        .requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert!(sent.contains(CANARIES[2]) && sent.contains(CANARIES[4]));
    assert_clean("logs", &captured_logs(&logs));
}

#[tokio::test]
async fn timeouts_and_transport_errors_never_show_a_secret() {
    let logs = log_buffer();
    let server = MockServer::start().await;
    server.on(
        "/api/v2/oidc/validate_token",
        Canned::json(200, json!({"sub": "u"})).delayed(std::time::Duration::from_secs(5)),
    );
    let c = AuthenticationClient::builder()
        .app_id("app")
        .secret(CANARIES[0])
        .app_host(server.url())
        .timeout(std::time::Duration::from_millis(200))
        .build()
        .unwrap();
    let it = IdToken::new(CANARIES[3]);
    let r = c.validate_token(TokenToValidate::IdToken(&it)).await;
    assert!(r.as_ref().is_err_and(|e| e.is_timeout()));
    assert_clean("timeout", &show(&r));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = AuthenticationClient::builder()
        .app_id("app")
        .secret(CANARIES[0])
        .app_host(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    assert_clean(
        "transport",
        &show(&dead.validate_token(TokenToValidate::IdToken(&it)).await),
    );
    assert_clean("logs", &captured_logs(&logs));
}

#[tokio::test]
async fn successful_results_never_show_a_secret() {
    let logs = log_buffer();
    let server = MockServer::start().await;
    server.on("/oidc/token", Canned::json(200, json!({"access_token": CANARIES[7], "token_type": "Bearer",
        "refresh_token": CANARIES[8], "id_token": CANARIES[3], "expires_in": 60, "unknown_token": CANARIES[1]})));
    server.on(
        "/oidc/me",
        Canned::json(200, json!({"sub": "u", "email": "e@example.com"})),
    );
    let c = client(&server, AuthMethod::ClientSecretBasic);
    let tokens = c
        .get_access_token_by_code(&AuthorizationCode::new(CANARIES[4]), None)
        .await;
    assert_clean("token set", &show(&tokens));
    let tokens = tokens.unwrap();
    assert_clean(
        "userinfo",
        &show(&c.get_user_info_by_access_token(&tokens.access_token).await),
    );
    let login = c.build_authorize_url(AuthorizeParams::new()).unwrap();
    let state = login.state.clone().unwrap();
    let nonce = login.nonce.clone().unwrap();
    let shown = format!("{login:?} {state:?} {nonce:?}");
    assert!(!shown.contains(authing_oidc::ExposeSecret::expose_secret(&state)));
    let logout = c.build_logout_url(LogoutParams::expert(IdToken::new(CANARIES[3]), "https://x/"));
    assert!(logout.is_ok());
    assert_clean("logs", &captured_logs(&logs));
}

#[test]
fn secret_types_redact_debug() {
    let shown = format!(
        "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
        ClientSecret::new(CANARIES[0]),
        AccessToken::new(CANARIES[1]),
        RefreshToken::new(CANARIES[2]),
        IdToken::new(CANARIES[3]),
        AuthorizationCode::new(CANARIES[4]),
        CodeVerifier::new(CANARIES[5]),
        AccessSecret::new(CANARIES[6]),
        State::new(CANARIES[7]),
        Nonce::new(CANARIES[8]),
    );
    assert_clean("secret types", &shown);
    assert!(shown.contains("[REDACTED]"));
    let builder = AuthenticationClient::builder().app_id("a").secret(CANARIES[0]);
    assert_clean("builder", &format!("{builder:?}"));
}

#[tokio::test]
async fn long_echoed_tokens_are_redacted_before_being_shortened() {
    let server = MockServer::start().await;
    let long = format!("CANARY-refresh-token{}", "x".repeat(600));
    server.on(
        "/oidc/token",
        Canned::json(
            400,
            json!({"error": "invalid_grant", "error_description": "refresh token {echo} is dead"}),
        )
        .echoing(),
    );
    server.on(
        "/oidc/token/revocation",
        Canned::raw(500, "text/html", "<p>cannot revoke {echo}</p>").echoing(),
    );
    let c = client(&server, AuthMethod::ClientSecretPost);
    let shown = show(
        &c.get_new_access_token_by_refresh_token(&RefreshToken::new(long.clone()))
            .await,
    );
    assert!(!shown.contains("CANARY-refresh-token"), "{shown}");
    let shown = show(&c.revoke_token(&RefreshToken::new(long)).await);
    assert!(!shown.contains("CANARY-refresh-token"), "{shown}");
    assert!(
        shown.contains("cannot revoke"),
        "the rest of the excerpt stays: {shown}"
    );
}

#[tokio::test]
async fn an_invalid_token_verdict_does_not_echo_the_token() {
    let server = MockServer::start().await;
    server.on(
        "/api/v2/oidc/validate_token",
        Canned::json(200, json!({"code": 400, "message": "id_token {echo} 不合法"})).echoing(),
    );
    let c = client(&server, AuthMethod::ClientSecretPost);
    let r = c
        .validate_token(TokenToValidate::IdToken(&IdToken::new(CANARIES[3])))
        .await
        .unwrap();
    assert!(!r.is_valid());
    assert_clean("validate_token verdict", &format!("{r:?}"));
    assert!(format!("{r:?}").contains("不合法"));
}

/// A gateway that answers 502 with an HTML page quoting the request's
/// `Authorization` header must not put the client secret into the error in any
/// spelling it went on the wire: raw, form-urlencoded, or as the Basic value.
#[tokio::test]
async fn an_echoed_basic_authorization_header_is_redacted() {
    use base64::Engine as _;
    // Characters that form-urlencoding changes, so every spelling differs.
    let secret = "CANARY client/secret+&=%";
    let form_encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let credentials = format!("app:{form_encoded}");
    let basic = base64::engine::general_purpose::STANDARD.encode(&credentials);
    let server = MockServer::start().await;
    server.on(
        "/oidc/token/revocation",
        Canned::raw(
            502,
            "text/html",
            "<html><h1>Bad Gateway</h1><pre>{echo}</pre></html>",
        )
        .echoing(),
    );
    let c = AuthenticationClient::builder()
        .app_id("app")
        .secret(secret)
        .app_host(server.url())
        .revocation_endpoint_auth_method(AuthMethod::ClientSecretBasic)
        .build()
        .unwrap();
    let shown = show(&c.revoke_token(&AccessToken::new(CANARIES[1])).await);
    // The header really carried the Basic value, so the test could fail.
    assert_eq!(
        server.single().header("authorization"),
        Some(format!("Basic {basic}"))
    );
    assert!(
        shown.contains("Bad Gateway") && shown.contains("[REDACTED]"),
        "{shown}"
    );
    for spelling in [secret, &form_encoded, &credentials, &basic, "CANARY"] {
        assert!(!shown.contains(spelling), "the error shows {spelling}: {shown}");
    }
}

fn client_key_file(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/support/client-keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The private key (its PEM body and its JWK `d`) and the client assertions
/// it signs (RFC 7523) stay out of every error, `Debug` and log line, also
/// when a provider echoes the request back.
#[tokio::test]
async fn client_assertions_and_the_private_key_never_show() {
    use authing_oidc::ClientKey;
    let logs = log_buffer();
    let pem = client_key_file("ec.pem");
    let jwk_text = client_key_file("rsa.jwk.json");
    let jwk: serde_json::Value = serde_json::from_str(&jwk_text).unwrap();
    let pem_body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    // Every 16-character window of the key material is a canary.
    let mut key_canaries: Vec<String> = Vec::new();
    for text in [
        pem_body.as_str(),
        jwk["d"].as_str().unwrap(),
        jwk["p"].as_str().unwrap(),
    ] {
        let chars: Vec<char> = text.chars().collect();
        key_canaries.extend(
            chars
                .chunks(16)
                .filter(|c| c.len() == 16)
                .map(|c| c.iter().collect()),
        );
    }
    let server = MockServer::start().await;
    echo_everything(&server);
    let mut shown = Vec::new();
    for key in [
        ClientKey::parse(&pem).unwrap(),
        ClientKey::parse(&jwk_text).unwrap(),
    ] {
        shown.push(format!("{key:?}"));
        let builder = AuthenticationClient::builder()
            .app_id("app")
            .secret(CANARIES[0])
            .app_host(server.url())
            .token_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
            .introspection_endpoint_auth_method(AuthMethod::PrivateKeyJwt)
            .revocation_endpoint_auth_method(AuthMethod::ClientSecretJwt)
            .redirect_uri("https://example.com/cb")
            .client_key(key);
        shown.push(format!("{builder:?}"));
        let c = builder.build().unwrap();
        shown.push(format!("{c:?}"));
        shown.extend(every_operation(&c).await);
    }
    // A key that does not parse is refused without being quoted.
    let broken = pem.replace("MI", "!!");
    shown.push(show(&ClientKey::parse(&broken)));
    let mut broken_jwk = jwk.clone();
    broken_jwk["q"] = "AQAB".into();
    shown.push(show(&ClientKey::parse(&broken_jwk.to_string())));
    // The assertions really went out, so the test could fail.
    let assertions: Vec<String> = server
        .requests()
        .iter()
        .filter_map(|r| {
            r.form()
                .into_iter()
                .find(|(k, _)| k == "client_assertion")
                .map(|(_, v)| v)
        })
        .collect();
    assert!(assertions.len() >= 8, "{}", assertions.len());
    let logs = captured_logs(&logs);
    for (i, text) in shown.iter().chain([&logs]).enumerate() {
        assert_clean(&format!("output {i}"), text);
        for a in &assertions {
            // The signature part is unique to each assertion.
            let sig = a.rsplit('.').next().unwrap();
            assert!(!text.contains(sig), "output {i} shows an assertion: {text}");
        }
        for k in &key_canaries {
            assert!(
                !text.contains(k.as_str()),
                "output {i} shows key material: {text}"
            );
        }
    }
}

/// A DPoP session's private key, its proofs and its bound tokens stay out of
/// errors, `Debug` and logs, even when the provider echoes every header
/// (RFC 9449 proofs are credentials: a replayed one is refused, but a
/// captured one is still a secret).
#[tokio::test]
async fn dpop_keys_and_proofs_never_show() {
    use authing_oidc::dpop::DpopKey;
    use authing_oidc::flow::{PendingCallback, Unauthorized};
    let logs = log_buffer();
    let server = MockServer::start().await;
    echo_everything(&server);
    server.on(
        "/oidc/me",
        Canned::raw(401, "text/html", "<h1>bad proof {echo}</h1>")
            .with_header(
                "www-authenticate",
                "DPoP error=\"invalid_dpop_proof\", error_description=\"{echo}\"",
            )
            .echoing(),
    );
    let c = AuthenticationClient::builder()
        .app_id("app")
        .secret(CANARIES[0])
        .app_host(server.url())
        .redirect_uri("https://example.com/cb")
        .dpop(authing_oidc::SigningAlgorithm::ES256)
        .build()
        .unwrap();
    let key = DpopKey::generate(authing_oidc::SigningAlgorithm::ES256).unwrap();
    let at = AccessToken::new(CANARIES[1]);
    let outputs = [
        show(&c.get_user_info_by_access_token_with_dpop(&at, &key).await),
        show(
            &c.get_new_access_token_by_refresh_token_with_dpop(&RefreshToken::new(CANARIES[2]), &key)
                .await,
        ),
        show(
            &c.get_access_token_by_code_with_dpop(&AuthorizationCode::new(CANARIES[4]), None, &key)
                .await,
        ),
        format!("{key:?}"),
    ];
    let requests = server.requests();
    let proofs: Vec<String> = requests.iter().filter_map(|r| r.header("dpop")).collect();
    assert_eq!(proofs.len(), 3, "every request carried a proof");
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("DPoP {}", CANARIES[1]))
    );
    for out in &outputs {
        assert_clean("a DPoP operation", out);
        for proof in &proofs {
            assert!(!out.contains(proof.as_str()), "a proof leaks: {out}");
        }
    }
    assert!(outputs[0].contains("[REDACTED]"), "{}", outputs[0]);
    // The private key of a login: only its saved form holds it.
    let (_url, pending) = Unauthorized::new(c.clone()).start().unwrap();
    let saved = pending.export_with_secrets();
    let private = serde_json::to_value(&saved).unwrap()["dpop_key"]["pkcs8"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(private.len() > 40);
    let restored = PendingCallback::restore_from_trusted_store(c.clone(), saved.clone()).unwrap();
    for shown in [
        format!("{pending:?}"),
        format!("{saved:?}"),
        format!("{restored:?}"),
        format!("{c:?}"),
    ] {
        assert!(!shown.contains(&private), "the private key leaks: {shown}");
    }
    let all_logs = captured_logs(&logs);
    assert_clean("logs", &all_logs);
    assert!(!all_logs.contains(&private));
    for proof in &proofs {
        assert!(!all_logs.contains(proof.as_str()), "a proof reaches a log line");
    }
}

/// A resource server's refusals of DPoP requests (RFC 9449 §4.3, §7.1) name
/// the check that failed, never the access token or the proof: every refusal
/// of the proof, and one that reaches the token (introspected at a provider
/// that echoes everything), with `Debug` of the request and the log lines.
#[tokio::test]
async fn resource_server_dpop_refusals_never_show_the_token_or_proof() {
    use authing_oidc::ExposeSecret as _;
    use authing_oidc::bearer::{DpopMode, DpopRequest};
    use authing_oidc::dpop::DpopKey;
    let logs = log_buffer();
    let server = MockServer::start().await;
    echo_everything(&server);
    let verifier = client(&server, AuthMethod::ClientSecretBasic)
        .bearer_verifier(["https://api.example"])
        .dpop(DpopMode::Accepted)
        .build()
        .unwrap();
    let key = DpopKey::generate(authing_oidc::SigningAlgorithm::ES256).unwrap();
    let url = url::Url::parse("https://api.example/me").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = CANARIES[1];
    let at = AccessToken::new(token);
    let proof = |htm: &str, path: &str, iat: u64| {
        let url = url.join(path).unwrap();
        key.proof(htm, &url, iat, None, Some(&at))
            .unwrap()
            .expose_secret()
            .to_owned()
    };
    let good = proof("GET", "/me", now);
    let truncated = good[..good.len() - 5].to_owned();
    let cases: [(Vec<String>, &str); 7] = [
        (vec![], "GET"),
        (vec![good.clone(), good.clone()], "GET"),
        (vec![good.clone()], "POST"),
        (vec![proof("GET", "/other", now)], "GET"),
        (vec![proof("GET", "/me", now - 3600)], "GET"),
        (vec![truncated], "GET"),
        // Every proof check passes; the token is introspected and refused.
        (vec![good.clone()], "GET"),
    ];
    let mut shown = Vec::new();
    for (proofs, method) in &cases {
        let proofs: Vec<&str> = proofs.iter().map(String::as_str).collect();
        let request = DpopRequest::new(method, &url, token, &proofs);
        let outcome = verifier.verify_dpop(&request).await;
        assert!(outcome.is_err(), "{method} {proofs:?} was accepted");
        shown.push(format!("{} {request:?}", show(&outcome)));
    }
    // Only the last request got past the proof, to the provider.
    assert_eq!(server.requests().len(), 1, "{}", shown[6]);
    let all_logs = captured_logs(&logs);
    for (what, text) in shown
        .iter()
        .map(|s| ("a DPoP refusal", s.as_str()))
        .chain([("logs", all_logs.as_str())])
    {
        assert_clean(what, text);
        for part in good.split('.').filter(|p| p.len() >= 16) {
            assert!(!text.contains(part), "{what} shows a part of the proof: {text}");
        }
    }
}

/// The secrets of the grants beyond the login flow (issue 13).
const GRANT_CANARIES: [&str; 7] = [
    "CANARY-device-code",
    "CANARY-auth-req-id",
    "CANARY-subject-token",
    "CANARY-actor-token",
    "CANARY-initial-access-token",
    "CANARY-registration-access-token",
    "CANARY-registered-secret",
];

fn assert_grants_clean(what: &str, text: &str) {
    assert_clean(what, text);
    for c in GRANT_CANARIES {
        assert!(!text.contains(c), "{what} leaks {c}: {text}");
    }
}

#[tokio::test]
async fn grant_secrets_never_show() {
    use authing_oidc::ciba::UserHint;
    use authing_oidc::flow::BackchannelLogin;
    use authing_oidc::registration::{ClientMetadata, Registrar};
    use authing_oidc::token_exchange::{TokenExchangeRequest, TokenType};
    use authing_oidc::{
        ActorToken, AuthReqId, DeviceCode, InitialAccessToken, RegistrationAccessToken, SubjectToken,
    };

    let logs = log_buffer();
    let server = MockServer::start().await;
    let base = server.url();
    server.on(
        "/.well-known/openid-configuration",
        Canned::json(
            200,
            json!({"issuer": base, "authorization_endpoint": format!("{base}/auth"),
                   "token_endpoint": format!("{base}/token"), "jwks_uri": format!("{base}/jwks"),
                   "device_authorization_endpoint": format!("{base}/device"),
                   "backchannel_authentication_endpoint": format!("{base}/bc"),
                   "registration_endpoint": format!("{base}/reg")}),
        ),
    );
    for path in ["/token", "/device", "/bc", "/reg", "/reg/c1"] {
        server.on(
            path,
            Canned::json(
                400,
                json!({"error": "invalid_request", "error_description": "{echo}"}),
            )
            .echoing(),
        );
    }
    let c = AuthenticationClient::builder()
        .app_id("app")
        .secret(CANARIES[0])
        .discover(&base)
        .await
        .unwrap();
    let exchange = TokenExchangeRequest::new(SubjectToken::new(GRANT_CANARIES[2]), TokenType::AccessToken)
        .actor(ActorToken::new(GRANT_CANARIES[3]), TokenType::Jwt);
    let registrar = Registrar::discover(AuthenticationClient::builder(), &base)
        .await
        .unwrap();
    let metadata = ClientMetadata::new().redirect_uris(["https://app.example/cb"]);
    let registered_body = json!({"client_id": "c1", "client_secret": GRANT_CANARIES[6], "client_secret_expires_at": 0,
        "registration_access_token": GRANT_CANARIES[5], "registration_client_uri": format!("{base}/reg/c1")});
    let outputs = [
        show(&c.exchange_token(&exchange).await),
        show(&c.device_authorization("openid").await),
        show(&c.poll_device_token(&DeviceCode::new(GRANT_CANARIES[0])).await),
        show(&c.poll_ciba_token(&AuthReqId::new(GRANT_CANARIES[1])).await),
        show(
            &BackchannelLogin::new(c.clone(), UserHint::IdTokenHint(IdToken::new(CANARIES[3])))
                .start()
                .await,
        ),
        show(
            &registrar
                .register(&metadata, Some(&InitialAccessToken::new(GRANT_CANARIES[4])))
                .await,
        ),
    ];
    // A registration that succeeds, then fails to read and update: the answer's secrets stay out
    // of its Debug and of the errors that echo the registration access token and the secret.
    server.on("/reg", Canned::json(201, registered_body));
    let registered = registrar.register(&metadata, None).await.unwrap();
    let more = [
        format!("{registered:?}"),
        show(&registrar.read(&registered).await),
        show(&registrar.update(&registered, &metadata).await),
        show(&registrar.delete(&registered).await),
        format!(
            "{:?} {:?} {:?} {:?} {:?} {:?}",
            DeviceCode::new(GRANT_CANARIES[0]),
            AuthReqId::new(GRANT_CANARIES[1]),
            SubjectToken::new(GRANT_CANARIES[2]),
            ActorToken::new(GRANT_CANARIES[3]),
            InitialAccessToken::new(GRANT_CANARIES[4]),
            RegistrationAccessToken::new(GRANT_CANARIES[5]),
        ),
    ];
    for (i, out) in outputs.iter().chain(more.iter()).enumerate() {
        assert_grants_clean(&format!("grant output {i}"), out);
    }
    // The requests really carried the canaries (bodies and bearer headers), so the test could fail.
    let sent: String = server
        .requests()
        .iter()
        .map(|r| {
            format!(
                "{} {:?}",
                String::from_utf8_lossy(&r.body),
                r.header("authorization")
            )
        })
        .collect();
    for c in GRANT_CANARIES {
        assert!(sent.contains(c), "{c} was not sent");
    }
    assert_grants_clean("logs", &captured_logs(&logs));
}

/// A logout token (OpenID Back-Channel Logout 1.0 §2.4) never shows: not its
/// `Debug`, not the errors of any refusal (malformed, bad signature, a claim
/// refused, replayed, JWKS unreachable), not the accepted claims, not the logs.
#[tokio::test]
async fn logout_tokens_never_show() {
    use authing_oidc::logout_token::BACKCHANNEL_LOGOUT_EVENT;
    use authing_oidc::{Error, LogoutToken, LogoutTokenError};
    use keys::{JwksServer, Signer, keys, rsa_jwk, sign_with_header};

    let logs = log_buffer();
    let server = JwksServer::start(json!({"keys": [rsa_jwk(&keys().rsa, Some("rsa-1"))]})).await;
    let client = AuthenticationClient::builder()
        .app_id("app")
        .secret(CANARIES[0])
        .app_host(server.app_host())
        .build()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = |jti: &str| {
        json!({"iss": server.issuer(), "aud": "app", "iat": now, "exp": now + 120, "jti": jti,
               "sub": "user-1", "sid": "sid-1", "events": {BACKCHANNEL_LOGOUT_EVENT: {}}})
    };
    let header = json!({"alg": "RS256", "kid": "rsa-1", "typ": "logout+jwt"});
    let sign = |claims: &serde_json::Value| sign_with_header(Signer::Rsa(&keys().rsa), &header, claims);

    let good = sign(&claims("jti-good"));
    // The same header and payload under a signature that is not the key's.
    let (signed_part, _) = good.rsplit_once('.').unwrap();
    let forged = format!("{signed_part}.CANARYlogoutCANARYsignatureCANARYlogout");
    let mut with_nonce = claims("jti-nonce");
    with_nonce["nonce"] = "CANARY-logout-nonce".into();
    let with_nonce = sign(&with_nonce);
    let tokens = [
        "CANARY-logout-token-that-is-no-jwt".to_owned(),
        forged,
        with_nonce,
        good.clone(),
    ];
    let mut outputs = vec![format!("{:?}", LogoutToken::new(good.as_str()))];
    let mut verdicts = Vec::new();
    for token in &tokens {
        let verdict = client
            .verify_logout_token(&LogoutToken::new(token.as_str()))
            .await;
        outputs.push(show(&verdict));
        verdicts.push(verdict);
    }
    // Each token went as far as intended (so the test could fail): refused as malformed, for its
    // signature, for its nonce; the good one accepted, and its replay refused.
    assert!(
        matches!(verdicts[0], Err(Error::LogoutToken(LogoutTokenError::Jwt(_)))),
        "{}",
        outputs[1]
    );
    assert!(
        matches!(verdicts[1], Err(Error::LogoutToken(LogoutTokenError::Jwt(_)))),
        "{}",
        outputs[2]
    );
    assert!(
        matches!(
            verdicts[2],
            Err(Error::LogoutToken(LogoutTokenError::NoncePresent))
        ),
        "{}",
        outputs[3]
    );
    assert!(verdicts[3].is_ok(), "{}", outputs[4]);
    let replayed = client.verify_logout_token(&LogoutToken::new(good.as_str())).await;
    assert!(matches!(
        replayed,
        Err(Error::LogoutToken(LogoutTokenError::Replayed))
    ));
    outputs.push(show(&replayed));
    // No JWKS to be had: a transport error, still without the token.
    let unreachable = AuthenticationClient::builder()
        .app_id("app")
        .secret(CANARIES[0])
        .app_host("http://127.0.0.1:9")
        .build()
        .unwrap();
    let offline = unreachable
        .verify_logout_token(&LogoutToken::new(good.as_str()))
        .await;
    assert!(offline.is_err());
    outputs.push(show(&offline));
    outputs.push(format!("{:?}", client.logout_token_verifier()));

    // Every whole token, each of its signed parts and signatures, and the nonce is a canary.
    let mut canaries: Vec<String> = vec!["CANARY-logout-nonce".into(), "CANARYlogoutCANARYsignature".into()];
    for token in &tokens {
        canaries.push(token.clone());
        canaries.extend(token.split('.').filter(|part| part.len() > 16).map(str::to_owned));
    }
    let logged = captured_logs(&logs);
    for (i, out) in outputs.iter().chain([&logged]).enumerate() {
        assert_clean(&format!("logout output {i}"), out);
        for c in &canaries {
            assert!(!out.contains(c.as_str()), "logout output {i} leaks {c}: {out}");
        }
        assert!(
            !out.contains("CANARY-logout"),
            "logout output {i} leaks a canary: {out}"
        );
    }
    assert!(outputs[0].contains("[REDACTED]"));
}
