//! The SDK against panva's oidc-provider, an independent, OpenID-certified provider
//! (tests/support/panva.rs, tests/interop/provider.mjs): discovery, the typed flow for every
//! client authentication method and id_token algorithm, the three response modes, the Authing
//! preset's stateless methods on the wire, refresh through the session (rotation, concurrency),
//! key rotation, refusals, and RP-initiated logout.
//!
//! Request counts come from the SDK's own tracing spans (`authing_oidc.request`, one per HTTP
//! request, with the operation and the endpoint URL, whose port is unique to each provider).

#[path = "support/panva.rs"]
#[allow(dead_code)]
mod panva;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authing_oidc::flow::{Authenticated, CallbackParams, PendingCallback, Unauthorized};
use authing_oidc::{
    AccessSecret, AuthMethod, AuthenticationClient, AuthorizationCode, AuthorizeParams, CodeChallengeMethod,
    Error, ExposeSecret, IdToken, LogoutParams, ResponseMode, VerifyOptions,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use panva::{CALLBACK, Callback, PanvaOptions, PanvaProvider};
use serde_json::Value;
use url::Url;

const SCOPE: &str = "openid profile email offline_access";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Everything the SDK logs at INFO and above, with a line per closed request span.
fn log_buffer() -> Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_writer(move || LogWriter(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        buf
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A position in the log; requests are counted from there on.
fn log_mark() -> usize {
    log_buffer().lock().unwrap().len()
}

/// How many HTTP requests of `operation` the SDK sent to `provider` since `mark`.
fn requests_since(mark: usize, provider: &PanvaProvider, operation: &str) -> usize {
    let buf = log_buffer();
    let buf = buf.lock().unwrap();
    let text = String::from_utf8_lossy(&buf[mark..]);
    let operation = format!("operation=\"{operation}\"");
    let endpoint = format!("endpoint={}/", provider.app_host());
    text.lines()
        .filter(|l| l.contains("authing_oidc.request{") && l.contains(": close"))
        .filter(|l| l.contains(&operation) && l.contains(&endpoint))
        .count()
}

/// A client for a built-in panva client, built by discovery as an application would.
async fn discovered(provider: &PanvaProvider, client_id: &str) -> AuthenticationClient {
    discovered_with(provider, client_id, |b| b).await
}

async fn discovered_with(
    provider: &PanvaProvider,
    client_id: &str,
    extra: impl FnOnce(authing_oidc::AuthenticationClientBuilder) -> authing_oidc::AuthenticationClientBuilder,
) -> AuthenticationClient {
    let info = provider.client_info(client_id);
    let method = match info.token_endpoint_auth_method.as_str() {
        "client_secret_post" => AuthMethod::ClientSecretPost,
        "client_secret_basic" => AuthMethod::ClientSecretBasic,
        "none" => AuthMethod::None,
        other => panic!("unexpected auth method {other}"),
    };
    let mut builder = AuthenticationClient::builder()
        .app_id(client_id)
        .redirect_uri(CALLBACK)
        .token_endpoint_auth_method(method)
        .introspection_endpoint_auth_method(method)
        .revocation_endpoint_auth_method(method);
    if let Some(secret) = &info.client_secret {
        builder = builder.secret(secret.as_str());
    }
    extra(builder)
        .discover(provider.issuer())
        .await
        .unwrap_or_else(|e| panic!("discovery of {} for {client_id}: {e}", provider.issuer()))
}

/// The parameters of a URL's query, as a map (the SDK never repeats one).
fn query(url: &str) -> HashMap<String, String> {
    Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

/// What a web framework would hand the SDK for this callback.
fn callback_params(callback: &Callback) -> CallbackParams {
    match callback {
        Callback::Redirect(url) => CallbackParams::from_url(url),
        Callback::FormPost { body, .. } => CallbackParams::from_form_post(body),
    }
    .unwrap_or_else(|e| panic!("callback {callback:?}: {e}"))
}

/// The callback with one parameter replaced (`Some`) or removed (`None`), in query mode.
fn with_param(callback: &Callback, name: &str, value: Option<&str>) -> CallbackParams {
    let mut pairs = callback.params();
    pairs.retain(|(k, _)| k != name);
    if let Some(v) = value {
        pairs.push((name.to_owned(), v.to_owned()));
    }
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    CallbackParams::from_query(&encoded).unwrap()
}

/// A second handle on a pending login, through the documented save/restore path, so one
/// login can be completed with several callbacks.
fn copy_pending(client: &AuthenticationClient, pending: &PendingCallback) -> PendingCallback {
    PendingCallback::restore_from_trusted_store(client.clone(), pending.export_with_secrets()).unwrap()
}

/// The typed flow, start to finish, for `login` (a fresh browser).
async fn sign_in(provider: &PanvaProvider, client: &AuthenticationClient, login: &str) -> Authenticated {
    let (url, pending) = Unauthorized::new(client.clone()).scope(SCOPE).start().unwrap();
    let callback = provider.login(url.as_str(), login).await;
    pending
        .complete(callback_params(&callback))
        .await
        .unwrap_or_else(|e| panic!("login of {login} as {}: {e}", client.app_id()))
}

/// The JOSE header of a compact JWT.
fn jwt_header(token: &IdToken) -> Value {
    let header = token.expose_secret().split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

/// Sleeps until the session's access token has expired by the wall clock (the SDK's refresh
/// margin is at most a tenth of the lifetime, i.e. 0 s for these short-lived tokens).
async fn wait_until_stale(session: &Authenticated) {
    let expires_at = session.expires_at().expect("the provider sends expires_in");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let at = Duration::from_secs(expires_at) + Duration::from_millis(50);
    assert!(
        at.saturating_sub(now) < Duration::from_secs(10),
        "expires_at too far"
    );
    tokio::time::sleep(at.saturating_sub(now)).await;
}

fn assert_invalid_grant<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) {
    match result {
        Err(Error::Op(op)) => {
            assert_eq!(op.error.as_deref(), Some("invalid_grant"), "{what}: {op}");
            assert_eq!(op.status, 400, "{what}: {op}");
        }
        other => panic!("{what}: expected invalid_grant, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// 1. The typed flow with every client of the provider
// ---------------------------------------------------------------------------------------------

async fn typed_flow_for(client_id: &str) {
    let provider = PanvaProvider::start(PanvaOptions::default()).await;
    let client = discovered(&provider, client_id).await;
    assert_eq!(client.issuer(), provider.issuer());

    let (url, pending) = Unauthorized::new(client.clone()).scope(SCOPE).start().unwrap();
    assert!(
        url.as_str().starts_with(&provider.url("/auth?")),
        "the discovered authorization_endpoint: {url}"
    );
    let q = query(url.as_str());
    assert_eq!(q["client_id"], client_id);
    assert_eq!(q["prompt"], "consent", "offline_access adds prompt=consent");
    assert_eq!(q["code_challenge_method"], "S256");

    let callback = provider.login(url.as_str(), "alice").await;
    assert_eq!(callback.target(), CALLBACK);
    assert_eq!(callback.param("iss").as_deref(), Some(provider.issuer()));
    let session = pending
        .complete(callback_params(&callback))
        .await
        .unwrap_or_else(|e| panic!("{client_id}: {e}\n{}", provider.log()));

    let claims = session.claims();
    assert_eq!(claims.iss, provider.issuer());
    assert_eq!(claims.aud, vec![client_id.to_owned()]);
    assert_eq!(claims.sub, "alice");
    assert_eq!(session.subject(), "alice");
    assert!(claims.nonce.is_some(), "the nonce was checked and kept");
    let header = jwt_header(&session.id_token());
    let registered = &provider.client_info(client_id).id_token_signed_response_alg;
    assert_eq!(header["alg"], registered.as_str(), "{client_id}: {header}");
    if registered == "HS256" {
        assert!(
            header.get("kid").is_none(),
            "HS256 is keyed by the secret: {header}"
        );
    }
    assert!(
        session.refresh_token().is_some(),
        "{client_id}: offline_access with prompt=consent yields a refresh token"
    );

    let info = session.userinfo().await.unwrap();
    assert_eq!(info.sub, "alice");
    assert_eq!(info.standard.email.as_deref(), Some("alice@example.com"));

    let introspection = session.introspect().await.unwrap();
    assert!(introspection.active, "{client_id}: {introspection:?}");
    assert_eq!(introspection.sub.as_deref(), Some("alice"));
    assert_eq!(introspection.client_id.as_deref(), Some(client_id));
    let refresh = session.introspect_refresh_token().await.unwrap().unwrap();
    assert!(refresh.active, "{client_id}: {refresh:?}");

    // Revocation with the same client authentication ends both tokens and the session.
    let access_token = session.access_token().await.unwrap().access_token;
    session.revoke().await.unwrap();
    assert!(!session.introspect().await.unwrap().active, "{client_id}");
    assert!(matches!(
        session.access_token().await,
        Err(Error::ReauthenticationRequired(_))
    ));
    // The userinfo endpoint's refusal comes as RFC 6750 WWW-Authenticate, and is typed.
    match client.get_user_info_by_access_token(&access_token).await {
        Err(Error::Op(op)) => {
            assert_eq!(op.status, 401, "{op}");
            assert_eq!(op.error.as_deref(), Some("invalid_token"), "{op}");
        }
        other => panic!("{client_id}: a revoked access token at userinfo: {other:?}"),
    }
}

#[tokio::test]
async fn typed_flow_rp_rs256_client_secret_post() {
    typed_flow_for(panva::RP_RS256).await;
}

#[tokio::test]
async fn typed_flow_rp_es256() {
    typed_flow_for(panva::RP_ES256).await;
}

#[tokio::test]
async fn typed_flow_rp_hs256_keyed_by_the_client_secret() {
    typed_flow_for(panva::RP_HS256).await;
}

#[tokio::test]
async fn typed_flow_rp_basic_with_a_secret_full_of_symbols() {
    typed_flow_for(panva::RP_BASIC).await;
}

#[tokio::test]
async fn typed_flow_rp_public_with_pkce_only() {
    typed_flow_for(panva::RP_PUBLIC).await;
}

// ---------------------------------------------------------------------------------------------
// 2. Response modes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_response_mode_completes_and_a_callback_in_another_mode_is_refused() {
    let provider = PanvaProvider::start(PanvaOptions::default()).await;
    let client = discovered(&provider, panva::RP_RS256).await;
    for mode in [
        ResponseMode::Query,
        ResponseMode::Fragment,
        ResponseMode::FormPost,
    ] {
        let (url, pending) = Unauthorized::new(client.clone())
            .scope("openid email")
            .response_mode(mode)
            .start()
            .unwrap();
        let callback = provider.login(url.as_str(), "bob").await;
        assert_eq!(callback.target(), CALLBACK, "{mode:?}");
        // Where the provider put the response, and the same parameters delivered the wrong way.
        let wrong = match (mode, &callback) {
            (ResponseMode::Query, Callback::Redirect(u)) => {
                let u = Url::parse(u).unwrap();
                assert!(u.fragment().is_none(), "{u}");
                CallbackParams::from_fragment(u.query().unwrap())
            }
            (ResponseMode::Fragment, Callback::Redirect(u)) => {
                let u = Url::parse(u).unwrap();
                assert!(u.query().is_none(), "{u}");
                CallbackParams::from_query(u.fragment().unwrap())
            }
            (ResponseMode::FormPost, Callback::FormPost { body, .. }) => CallbackParams::from_query(body),
            _ => panic!("{mode:?} answered with {callback:?}"),
        }
        .unwrap();
        let refused = copy_pending(&client, &pending).complete(wrong).await;
        assert!(
            matches!(refused, Err(Error::MalformedCallback(_))),
            "{mode:?}: {refused:?}"
        );
        // The refusal spent nothing: the code is still good.
        let session = pending
            .complete(callback_params(&callback))
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert_eq!(session.subject(), "bob");
        assert_eq!(session.userinfo().await.unwrap().sub, "bob");
    }
}

// ---------------------------------------------------------------------------------------------
// 3. The Authing preset against the provider mounted at /oidc
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn authing_preset_stateless_methods_on_the_wire() {
    let provider = PanvaProvider::start(PanvaOptions::default().mount("/oidc")).await;
    let app_host = provider.app_host();
    let secret = provider.secret(panva::RP_RS256);
    let client = AuthenticationClient::builder()
        .app_id(panva::RP_RS256)
        .secret(secret.as_str())
        .app_host(app_host)
        .redirect_uri(CALLBACK)
        .build()
        .unwrap();
    assert_eq!(
        client.issuer(),
        provider.issuer(),
        "the preset's issuer is {{app_host}}/oidc"
    );

    // build_authorize_url with PKCE S256 → a real login.
    let verifier = client.generate_code_challenge(43).unwrap();
    let challenge = client
        .generate_code_challenge_digest(&verifier, CodeChallengeMethod::S256)
        .unwrap();
    let login = client
        .build_authorize_url(
            AuthorizeParams::new()
                .scope(SCOPE)
                .code_challenge(challenge.as_str())
                .code_challenge_method(CodeChallengeMethod::S256),
        )
        .unwrap();
    assert!(
        login.as_str().starts_with(&format!("{app_host}/oidc/auth?")),
        "{}",
        login.as_str()
    );
    let mut browser = provider.browser();
    let callback = browser.login(login.as_str(), "alice").await.unwrap();
    assert_eq!(callback.target(), CALLBACK);
    assert_eq!(callback.param("iss").as_deref(), Some(provider.issuer()));
    let state = login.state.as_ref().unwrap();
    assert!(state.ct_eq(&callback.param("state").unwrap()));
    let code = AuthorizationCode::new(callback.param("code").unwrap());

    let tokens = client
        .get_access_token_by_code(&code, Some(&verifier))
        .await
        .unwrap();
    assert_eq!(tokens.token_type.to_ascii_lowercase(), "bearer");
    let id_token = tokens.id_token.clone().expect("an id_token");
    let rt1 = tokens.refresh_token.clone().expect("a refresh token");

    // Local verification with the preset's JWKS path, /oidc/.well-known/jwks.json.
    let nonce = login.nonce.as_ref().unwrap();
    let mark = log_mark();
    let claims = client
        .verify_id_token(
            &id_token,
            &VerifyOptions::new()
                .nonce(nonce)
                .access_token(&tokens.access_token),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", provider.log()));
    assert_eq!(requests_since(mark, &provider, "jwks"), 1);
    assert_eq!(
        (claims.iss.as_str(), claims.sub.as_str()),
        (provider.issuer(), "alice")
    );
    let wrong_nonce = authing_oidc::Nonce::new("not-the-nonce-that-was-sent");
    let refused = client
        .verify_id_token(&id_token, &VerifyOptions::new().nonce(&wrong_nonce))
        .await;
    assert!(
        matches!(
            refused,
            Err(Error::IdToken(authing_oidc::IdTokenError::NonceMismatch))
        ),
        "{refused:?}"
    );

    let user = client
        .get_user_info_by_access_token(&tokens.access_token)
        .await
        .unwrap();
    assert_eq!(user.sub, "alice");
    assert_eq!(user.standard.email.as_deref(), Some("alice@example.com"));
    let introspection = client.introspect_token(&tokens.access_token).await.unwrap();
    assert!(introspection.active);
    assert_eq!(introspection.client_id.as_deref(), Some(panva::RP_RS256));

    // Refresh: new tokens, a rotated refresh token, an id_token that keeps the original's claims.
    let refreshed = client.get_new_access_token_by_refresh_token(&rt1).await.unwrap();
    let rt2 = refreshed.refresh_token.clone().expect("a rotated refresh token");
    assert_ne!(rt2.expose_secret(), rt1.expose_secret());
    assert_ne!(
        refreshed.access_token.expose_secret(),
        tokens.access_token.expose_secret()
    );
    let renewed = client
        .id_token_verifier()
        .verify_refreshed(
            refreshed.id_token.as_ref().expect("a refreshed id_token"),
            &claims,
            Some(&refreshed.access_token),
        )
        .await
        .unwrap();
    assert_eq!(renewed.sub, "alice");

    // Revocation (RFC 7009): the refresh token, then its access token, go inactive.
    assert!(client.introspect_token(&rt2).await.unwrap().active);
    assert!(
        client
            .introspect_token(&refreshed.access_token)
            .await
            .unwrap()
            .active
    );
    client.revoke_token(&rt2).await.unwrap();
    assert!(!client.introspect_token(&rt2).await.unwrap().active);
    assert!(
        !client
            .introspect_token(&refreshed.access_token)
            .await
            .unwrap()
            .active,
        "revoking a refresh token ends its access tokens at panva"
    );
    // Revoking an unknown token is a success (HTTP 200, RFC 7009 §2.2).
    client
        .revoke_token(&authing_oidc::AccessToken::new("never-issued"))
        .await
        .unwrap();
    // The rotated-out refresh token is refused.
    assert_invalid_grant(
        client.get_new_access_token_by_refresh_token(&rt1).await,
        "the rotated-out refresh token",
    );

    // Expert logout at {app_host}/oidc/session/end ends the provider session.
    let logout = client
        .build_logout_url(LogoutParams::expert(id_token.clone(), CALLBACK).with_state("bye-authing"))
        .unwrap();
    assert!(
        logout
            .as_str()
            .starts_with(&format!("{app_host}/oidc/session/end?"))
    );
    let back = browser.follow(logout.as_str()).await.unwrap();
    assert_eq!(back.target(), CALLBACK);
    assert_eq!(back.param("state").as_deref(), Some("bye-authing"));

    // client_credentials with a programmatic account (rp-m2m), through the same app's client.
    let m2m_secret = AccessSecret::new(provider.secret(panva::RP_M2M));
    let machine = client
        .get_access_token_by_client_credentials("api:read", panva::RP_M2M, &m2m_secret)
        .await
        .unwrap();
    assert!(machine.id_token.is_none() && machine.refresh_token.is_none());
    assert_eq!(machine.scope.as_deref(), Some("api:read"));
    let m2m = AuthenticationClient::builder()
        .app_id(panva::RP_M2M)
        .secret(provider.secret(panva::RP_M2M))
        .app_host(app_host)
        .build()
        .unwrap();
    let introspection = m2m.introspect_token(&machine.access_token).await.unwrap();
    assert!(introspection.active, "{introspection:?}");
    assert_eq!(introspection.client_id.as_deref(), Some(panva::RP_M2M));
    assert_eq!(introspection.scope.as_deref(), Some("api:read"));
    let bad = client
        .get_access_token_by_client_credentials("api:read", panva::RP_M2M, &AccessSecret::new("wrong"))
        .await;
    match bad {
        Err(Error::Op(op)) => assert_eq!(op.error.as_deref(), Some("invalid_client"), "{op}"),
        other => panic!("a wrong access secret: {other:?}"),
    }
    assert!(matches!(
        client
            .get_access_token_by_client_credentials(" ", panva::RP_M2M, &m2m_secret)
            .await,
        Err(Error::InvalidInput(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// 4. Refresh through the session (docs/protocol.md §5)
// ---------------------------------------------------------------------------------------------

fn short_lived() -> PanvaOptions {
    PanvaOptions::default().ttl("AccessToken", 5).clock_tolerance(0)
}

#[tokio::test]
async fn session_refreshes_when_stale_rotates_and_ends_on_invalid_grant() {
    let provider = PanvaProvider::start(short_lived()).await;
    let client = discovered(&provider, panva::RP_RS256).await;
    let session = sign_in(&provider, &client, "carol").await;
    // The margin is capped at a tenth of the lifetime (0 s for 5 s tokens), so asking for
    // more changes nothing here: the test waits for the token to expire instead.
    session.set_refresh_margin(Duration::from_secs(60));
    let original = session.claims();
    let id0 = session.id_token();
    let rt0 = session.refresh_token().expect("a refresh token");

    // Fresh: handed out as it is, no request.
    let mark = log_mark();
    let t0 = session.access_token().await.unwrap();
    let lifetime = t0.expires_in.expect("expires_in");
    assert!(lifetime <= Duration::from_secs(5), "{lifetime:?}");
    assert_eq!(
        requests_since(mark, &provider, "get_new_access_token_by_refresh_token"),
        0
    );

    wait_until_stale(&session).await;
    let mark = log_mark();
    let t1 = session.access_token().await.unwrap();
    assert_eq!(
        requests_since(mark, &provider, "get_new_access_token_by_refresh_token"),
        1
    );
    assert_ne!(t1.access_token.expose_secret(), t0.access_token.expose_secret());
    assert!(
        t1.expires_in
            .is_some_and(|e| e > Duration::ZERO && e <= Duration::from_secs(5))
    );
    let rt1 = session.refresh_token().unwrap();
    assert_ne!(
        rt1.expose_secret(),
        rt0.expose_secret(),
        "the refresh token rotated"
    );
    // The refreshed id_token was verified and replaced the old one; the claims that must stay did.
    assert_ne!(session.id_token().expose_secret(), id0.expose_secret());
    let renewed = session.claims();
    assert_eq!(renewed.sub, original.sub);
    assert_eq!(renewed.iss, original.iss);
    assert_eq!(renewed.nonce, original.nonce, "panva keeps the nonce on refresh");
    assert!(renewed.iat >= original.iat);
    // The session works with the new token.
    assert_eq!(session.userinfo().await.unwrap().sub, "carol");
    assert!(session.introspect().await.unwrap().active);

    // force_refresh refreshes whatever the lifetime.
    let t2 = session.force_refresh().await.unwrap();
    assert_ne!(t2.access_token.expose_secret(), t1.access_token.expose_secret());
    let rt2 = session.refresh_token().unwrap();
    assert_ne!(rt2.expose_secret(), rt1.expose_secret());
    assert_eq!(session.userinfo().await.unwrap().sub, "carol");

    // The provider refuses a rotated-out refresh token (and, detecting reuse, revokes the grant).
    assert_invalid_grant(
        client.get_new_access_token_by_refresh_token(&rt0).await,
        "a rotated-out refresh token",
    );
    // The session learns of it at its next refresh: re-authentication, without asking again.
    let ended = session.force_refresh().await;
    assert!(
        matches!(ended, Err(Error::ReauthenticationRequired(_))),
        "{ended:?}"
    );
    let mark = log_mark();
    assert!(matches!(
        session.access_token().await,
        Err(Error::ReauthenticationRequired(_))
    ));
    assert_eq!(
        requests_since(mark, &provider, "get_new_access_token_by_refresh_token"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_callers_share_one_refresh() {
    let provider = PanvaProvider::start(short_lived()).await;
    let client = discovered(&provider, panva::RP_RS256).await;
    let session = sign_in(&provider, &client, "dave").await;
    let t0 = session.access_token().await.unwrap();
    let rt0 = session.refresh_token().unwrap();

    wait_until_stale(&session).await;
    let mark = log_mark();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let session = session.clone();
        tasks.spawn(async move { session.access_token().await });
    }
    let mut tokens = Vec::new();
    while let Some(result) = tasks.join_next().await {
        let token = result.unwrap().unwrap_or_else(|e| panic!("a caller failed: {e}"));
        tokens.push(token.access_token.expose_secret().to_owned());
    }
    assert_eq!(tokens.len(), 50);
    assert_eq!(
        requests_since(mark, &provider, "get_new_access_token_by_refresh_token"),
        1,
        "exactly one refresh request"
    );
    assert!(
        tokens.iter().all(|t| t == &tokens[0]),
        "every caller got the same new token"
    );
    assert_ne!(tokens[0], t0.access_token.expose_secret());
    let rt1 = session.refresh_token().unwrap();
    assert_ne!(rt1.expose_secret(), rt0.expose_secret());

    // Had the old refresh token been used twice, panva would have revoked the grant: the rotated
    // one works, and the session goes on.
    assert!(client.introspect_token(&rt1).await.unwrap().active);
    let t2 = session.force_refresh().await.unwrap();
    assert_ne!(t2.access_token.expose_secret(), tokens[0]);
    assert_eq!(session.userinfo().await.unwrap().sub, "dave");
}

// ---------------------------------------------------------------------------------------------
// 5. Key rotation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn key_rotation_is_followed_by_one_jwks_refetch_without_rebuilding_the_client() {
    let first = PanvaProvider::start(PanvaOptions::default()).await;
    let (issuer, port) = (first.issuer().to_owned(), first.port());
    // Re-fetches for unknown kids are rate limited (default 10 s); 1 s keeps the test short.
    let client = discovered_with(&first, panva::RP_RS256, |b| {
        b.jwks_min_refetch_interval(Duration::from_secs(1))
    })
    .await;
    let mark = log_mark();
    let before = sign_in(&first, &client, "erin").await;
    assert_eq!(requests_since(mark, &first, "jwks"), 1);
    let old_kid = jwt_header(&before.id_token())["kid"].clone();
    first.stop().await;

    // Same issuer, every key new.
    let second = PanvaProvider::start(PanvaOptions::default().port(port)).await;
    assert_eq!(second.issuer(), issuer);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let mark = log_mark();
    let after = sign_in(&second, &client, "erin").await;
    let new_kid = jwt_header(&after.id_token())["kid"].clone();
    assert_ne!(new_kid, old_kid);
    assert_eq!(after.subject(), "erin");
    assert_eq!(
        requests_since(mark, &second, "jwks"),
        1,
        "one re-fetch for the new kid"
    );

    // The new keys are cached: another login fetches nothing.
    let mark = log_mark();
    sign_in(&second, &client, "frank").await;
    assert_eq!(requests_since(mark, &second, "jwks"), 0);
}

// ---------------------------------------------------------------------------------------------
// 6. Refusals
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_reused_code_is_invalid_grant_and_revokes_the_first_session() {
    let provider = PanvaProvider::start(PanvaOptions::default()).await;
    let client = discovered(&provider, panva::RP_RS256).await;
    let (url, pending) = Unauthorized::new(client.clone()).scope(SCOPE).start().unwrap();
    let second_try = copy_pending(&client, &pending);
    let callback = provider.login(url.as_str(), "grace").await;
    let session = pending.complete(callback_params(&callback)).await.unwrap();
    assert!(session.introspect().await.unwrap().active);

    assert_invalid_grant(
        second_try.complete(callback_params(&callback)).await,
        "the same code again",
    );
    // RFC 6749 §4.1.2: panva revokes what the code had yielded.
    assert!(!session.introspect().await.unwrap().active);

    // The stateless exchange says the same.
    let login = client
        .build_authorize_url(AuthorizeParams::new().scope("openid"))
        .unwrap();
    let callback = provider.login(login.as_str(), "grace").await;
    let code = AuthorizationCode::new(callback.param("code").unwrap());
    client.get_access_token_by_code(&code, None).await.unwrap();
    assert_invalid_grant(
        client.get_access_token_by_code(&code, None).await,
        "stateless reuse",
    );
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_invalid_grant() {
    let provider = PanvaProvider::start(PanvaOptions::default()).await;
    let client = discovered(&provider, panva::RP_PUBLIC).await;
    let verifier = client.generate_code_challenge(64).unwrap();
    let challenge = client
        .generate_code_challenge_digest(&verifier, CodeChallengeMethod::S256)
        .unwrap();
    let login = client
        .build_authorize_url(
            AuthorizeParams::new()
                .scope("openid")
                .code_challenge(challenge.as_str()),
        )
        .unwrap();
    let callback = provider.login(login.as_str(), "heidi").await;
    let code = AuthorizationCode::new(callback.param("code").unwrap());
    let wrong = client.generate_code_challenge(64).unwrap();
    assert_invalid_grant(
        client.get_access_token_by_code(&code, Some(&wrong)).await,
        "a verifier of another login",
    );
}

#[tokio::test]
async fn callback_refusals_happen_before_the_token_endpoint() {
    let provider = PanvaProvider::start(PanvaOptions::default()).await;
    let client = discovered(&provider, panva::RP_RS256).await;
    let (url, pending) = Unauthorized::new(client.clone()).scope(SCOPE).start().unwrap();
    let callback = provider.login(url.as_str(), "ivan").await;
    let state = callback.param("state").unwrap();
    let mut tampered = state.clone();
    tampered.push('x');

    let mark = log_mark();
    let cases = [
        (
            "a tampered state",
            with_param(&callback, "state", Some(&tampered)),
        ),
        ("no state", with_param(&callback, "state", None)),
        (
            "another iss",
            with_param(&callback, "iss", Some("http://127.0.0.1:1/evil")),
        ),
        (
            "no iss (discovery promises it)",
            with_param(&callback, "iss", None),
        ),
    ];
    for (what, params) in cases {
        let result = copy_pending(&client, &pending).complete(params).await;
        match (what, &result) {
            ("a tampered state" | "no state", Err(Error::StateMismatch)) => {}
            ("another iss" | "no iss (discovery promises it)", Err(Error::IssMismatch(_))) => {}
            _ => panic!("{what}: {result:?}"),
        }
    }
    assert_eq!(requests_since(mark, &provider, "get_access_token_by_code"), 0);
    // The code was never sent (panva would have revoked it on reuse): it still works.
    let session = pending.complete(callback_params(&callback)).await.unwrap();
    assert_eq!(session.subject(), "ivan");
    assert_eq!(requests_since(mark, &provider, "get_access_token_by_code"), 1);

    // An error response from the provider (prompt=none without a session) is typed.
    let (url, pending) = Unauthorized::new(client.clone()).prompt("none").start().unwrap();
    let callback = provider.browser().follow(url.as_str()).await.unwrap();
    match pending.complete(callback_params(&callback)).await {
        Err(Error::Authorization(e)) => assert_eq!(e.error, "login_required"),
        other => panic!("prompt=none without a session: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// 7. RP-initiated logout
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rp_initiated_logout_returns_to_the_post_logout_redirect_uri_with_the_state() {
    let provider = PanvaProvider::start(PanvaOptions::default()).await;
    let client = discovered(&provider, panva::RP_ES256).await;
    let mut browser = provider.browser();
    let (url, pending) = Unauthorized::new(client.clone()).scope(SCOPE).start().unwrap();
    let callback = browser.login(url.as_str(), "judy").await.unwrap();
    let session = pending.complete(callback_params(&callback)).await.unwrap();

    let logout = session.logout_url(CALLBACK, Some("bye-judy")).unwrap();
    let end_session = client
        .provider_metadata()
        .unwrap()
        .end_session_endpoint
        .clone()
        .expect("panva advertises end_session_endpoint");
    assert_eq!(end_session, provider.url("/session/end"));
    assert!(
        logout.as_str().starts_with(&format!("{end_session}?")),
        "{logout}"
    );
    let q = query(logout.as_str());
    assert_eq!(q["id_token_hint"], session.id_token().expose_secret());
    assert_eq!(q["post_logout_redirect_uri"], CALLBACK);
    assert_eq!(q["state"], "bye-judy");

    // Single sign-on (prompt=none) before the logout, none after.
    let sso = || {
        Unauthorized::new(client.clone())
            .scope("openid")
            .prompt("none")
            .start()
            .unwrap()
    };
    let (url, pending) = sso();
    let callback = browser.follow(url.as_str()).await.unwrap();
    assert_eq!(
        pending
            .complete(callback_params(&callback))
            .await
            .unwrap()
            .subject(),
        "judy"
    );

    let back = browser.follow(logout.as_str()).await.unwrap();
    assert_eq!(back.target(), CALLBACK);
    assert_eq!(back.param("state").as_deref(), Some("bye-judy"));

    let (url, pending) = sso();
    let callback = browser.follow(url.as_str()).await.unwrap();
    assert!(
        matches!(pending.complete(callback_params(&callback)).await, Err(Error::Authorization(e)) if e.error == "login_required"),
        "the provider session ended"
    );
}

// ---------------------------------------------------------------------------------------------
// max_age, auth_time through refresh, and a session saved and restored
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn max_age_auth_time_survives_refresh_of_a_restored_session() {
    let provider = PanvaProvider::start(PanvaOptions::default()).await;
    let client = discovered(&provider, panva::RP_RS256).await;
    let (url, pending) = Unauthorized::new(client.clone())
        .scope(SCOPE)
        .max_age(Duration::from_secs(300))
        .start()
        .unwrap();
    assert_eq!(query(url.as_str())["max_age"], "300");
    let callback = provider.login(url.as_str(), "kim").await;
    let session = pending.complete(callback_params(&callback)).await.unwrap();
    let auth_time = session.claims().auth_time.expect("max_age asks for auth_time");

    // Saved as JSON (e.g. in a session store), restored by a new process with its own client.
    let saved = serde_json::to_string(&session.export_with_secrets()).unwrap();
    drop(session);
    let client = discovered(&provider, panva::RP_RS256).await;
    let restored =
        Authenticated::restore_from_trusted_store(client, serde_json::from_str(&saved).unwrap()).unwrap();
    restored
        .force_refresh()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", provider.log()));
    let claims = restored.claims();
    assert_eq!(claims.auth_time, Some(auth_time), "§12.2: auth_time stays");
    assert_eq!(claims.sub, "kim");
    assert_eq!(restored.userinfo().await.unwrap().sub, "kim");
}

// ---------------------------------------------------------------------------------------------
// The typed flow with the Authing preset, and a provider outage
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn typed_flow_with_the_authing_preset_and_its_default_algorithms() {
    let provider = PanvaProvider::start(PanvaOptions::default().mount("/oidc")).await;
    let preset = |client_id: &str, alg: Option<authing_oidc::SigningAlgorithm>| {
        let mut builder = AuthenticationClient::builder()
            .app_id(client_id)
            .secret(provider.secret(client_id))
            .app_host(provider.app_host())
            .redirect_uri(CALLBACK);
        if let Some(alg) = alg {
            builder = builder.id_token_signed_response_alg(alg);
        }
        builder.build().unwrap()
    };

    // RS256 and HS256, the two Authing offers, are accepted without configuration.
    for client_id in [panva::RP_RS256, panva::RP_HS256] {
        let client = preset(client_id, None);
        let session = sign_in(&provider, &client, "lena").await;
        assert_eq!(session.claims().iss, format!("{}/oidc", provider.app_host()));
        assert_eq!(session.userinfo().await.unwrap().sub, "lena");
        session.force_refresh().await.unwrap();
        assert_eq!(session.subject(), "lena");
    }

    // ES256 is not among them: refused unless configured.
    let client = preset(panva::RP_ES256, None);
    let (url, pending) = Unauthorized::new(client.clone()).scope("openid").start().unwrap();
    let callback = provider.login(url.as_str(), "lena").await;
    let refused = pending.complete(callback_params(&callback)).await;
    assert!(
        matches!(
            refused,
            Err(Error::IdToken(authing_oidc::IdTokenError::AlgorithmNotAllowed(_)))
        ),
        "{refused:?}"
    );
    let client = preset(panva::RP_ES256, Some(authing_oidc::SigningAlgorithm::ES256));
    assert_eq!(sign_in(&provider, &client, "lena").await.subject(), "lena");
}

#[tokio::test]
async fn a_provider_outage_keeps_a_valid_token_and_a_lost_grant_ends_the_session() {
    use authing_oidc::clock::{Clock, ManualClock};
    let provider = PanvaProvider::start(PanvaOptions::default()).await;
    let port = provider.port();
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let shared: Arc<dyn Clock> = clock.clone();
    let client = discovered_with(&provider, panva::RP_RS256, |b| b.clock(shared)).await;
    let session = sign_in(&provider, &client, "mallory").await;
    let before = session.access_token().await.unwrap().access_token;
    let expires_at = session.expires_at().unwrap();
    provider.stop().await;

    // Within the refresh margin but not expired: the refresh fails (connection refused), the
    // current token is handed out with its real remaining lifetime.
    clock.set(UNIX_EPOCH + Duration::from_secs(expires_at - 30));
    let token = session.access_token().await.unwrap();
    assert_eq!(token.access_token.expose_secret(), before.expose_secret());
    assert_eq!(token.expires_in, Some(Duration::from_secs(30)));

    // Expired: the transient error itself.
    clock.set(UNIX_EPOCH + Duration::from_secs(expires_at + 1));
    let failed = session.access_token().await;
    assert!(failed.as_ref().is_err_and(Error::is_transient), "{failed:?}");

    // The provider is back but has forgotten the grant (in-memory): invalid_grant ends it.
    let provider = PanvaProvider::start(PanvaOptions::default().port(port)).await;
    let ended = session.access_token().await;
    assert!(
        matches!(ended, Err(Error::ReauthenticationRequired(_))),
        "{ended:?}\n{}",
        provider.log()
    );
}

// ---------------------------------------------------------------------------------------------
// A bare-origin redirect URI, byte for byte (docs/protocol.md §1)
// ---------------------------------------------------------------------------------------------

/// A client registered with `http://127.0.0.1:PORT` — no path — logs in and out: the SDK sends
/// the redirect URI exactly as configured, and panva compares it as a simple string (RFC 6749
/// §3.1.2.3). The same URI with the slash a URL parser adds is refused by the provider, so the
/// login would fail if the SDK re-serialised it.
#[tokio::test]
async fn a_bare_origin_redirect_uri_completes_the_typed_flow() {
    const BARE: &str = "http://127.0.0.1:3999";
    let provider = PanvaProvider::start(PanvaOptions::default().client(serde_json::json!({
        "client_id": "rp-bare-origin",
        "client_secret": "rp-bare-origin-secret-0123456789abcdef012345",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [BARE],
        "post_logout_redirect_uris": [BARE],
        "token_endpoint_auth_method": "client_secret_post",
        "id_token_signed_response_alg": "RS256",
    })))
    .await;
    let client = discovered_with(&provider, "rp-bare-origin", |b| b.redirect_uri(BARE)).await;
    assert_eq!(client.redirect_uri().unwrap().as_str(), BARE);

    let mut browser = provider.browser();
    let (url, pending) = Unauthorized::new(client.clone()).scope(SCOPE).start().unwrap();
    assert_eq!(query(url.as_str())["redirect_uri"], BARE);
    assert_eq!(pending.redirect_uri(), BARE);
    // Through the store, as a web service keeps it between redirect and callback.
    let saved = serde_json::to_string(&pending.export_with_secrets()).unwrap();
    let pending =
        PendingCallback::restore_from_trusted_store(client.clone(), serde_json::from_str(&saved).unwrap())
            .unwrap();
    let callback = browser.login(url.as_str(), "olga").await.unwrap();
    assert!(
        callback.target().trim_end_matches('/') == BARE,
        "the provider redirected to {}",
        callback.target()
    );
    let session = pending
        .complete(callback_params(&callback))
        .await
        .unwrap_or_else(|e| panic!("bare-origin login: {e}\n{}", provider.log()));
    assert_eq!(session.subject(), "olga");

    // RP-initiated logout back to the bare origin.
    let logout = session.logout_url(BARE, Some("bye")).unwrap();
    assert_eq!(query(logout.as_str())["post_logout_redirect_uri"], BARE);
    let back = browser.follow(logout.as_str()).await.unwrap();
    assert_eq!(back.target().trim_end_matches('/'), BARE);
    assert_eq!(back.param("state").as_deref(), Some("bye"));

    // The control: the re-serialised form (with the slash) is not the registered URI.
    let (url, _) = Unauthorized::new(client.clone())
        .redirect_uri(format!("{BARE}/"))
        .start()
        .unwrap();
    assert!(
        provider.try_login(url.as_str(), "olga").await.is_err(),
        "panva accepted {BARE}/ for a client registered with {BARE}"
    );
}
