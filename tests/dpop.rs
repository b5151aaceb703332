//! DPoP (RFC 9449) on the wire, against in-process servers on 127.0.0.1 that
//! record every request and answer by script: the proof's exact header and
//! claims, `dpop_jkt`, `Authorization: DPoP`, the one nonce retry (and no
//! second one), the remembered nonce, `token_type`, and the key in saved
//! state (docs/protocol.md §2.13, §6). Then against panva's oidc-provider with
//! DPoP nonces required (tests/interop/plugins/dpop.mjs): the typed flow,
//! refresh, userinfo and revocation, and the provider's own refusals of a
//! bound token sent as a bearer token and of a replayed proof.

#[path = "support/panva.rs"]
#[allow(dead_code)]
mod panva;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use authing_oidc::flow::{Authenticated, CallbackParams, PendingCallback, SavedSession, Unauthorized};
use authing_oidc::{AuthenticationClient, Error, ExposeSecret as _, SigningAlgorithm};
use axum::body::Body;
use axum::http::{HeaderMap, Request, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::Digest as _;

const APP_ID: &str = "dpop-app";

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: HeaderMap,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_owned())
    }

    /// The DPoP proof's header and claims, decoded.
    fn proof(&self) -> (Value, Value) {
        let proof = self.header("dpop").expect("a DPoP header");
        let parts: Vec<&str> = proof.split('.').collect();
        assert_eq!(parts.len(), 3, "a compact JWS");
        let decode = |p: &str| serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
        (decode(parts[0]), decode(parts[1]))
    }
}

type Script = dyn Fn(usize, &Seen) -> Response<Body> + Send + Sync;

/// A server that records requests and answers the n-th one (from 0) by `script`.
#[derive(Clone)]
struct Scripted {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Scripted {
    async fn start(script: impl Fn(usize, &Seen) -> Response<Body> + Send + Sync + 'static) -> Self {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script: Arc<Script> = Arc::new(script);
        let s = seen.clone();
        let app = axum::Router::new().fallback(move |req: Request<Body>| {
            let (s, script) = (s.clone(), script.clone());
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
                let seen = Seen {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_owned(),
                    headers: parts.headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
                let n = {
                    let mut all = s.lock().unwrap();
                    all.push(seen.clone());
                    all.len() - 1
                };
                script(n, &seen)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Scripted { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn json_answer(status: u16, body: Value, headers: &[(&str, &str)]) -> Response<Body> {
    let mut r = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(Body::from(body.to_string())).unwrap()
}

fn nonce_error(nonce: &str) -> Response<Body> {
    json_answer(
        400,
        json!({"error": "use_dpop_nonce", "error_description": "nonce required"}),
        &[("dpop-nonce", nonce)],
    )
}

fn dpop_tokens(at: &str) -> Response<Body> {
    json_answer(
        200,
        json!({"access_token": at, "token_type": "DPoP", "expires_in": 3600}),
        &[],
    )
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn client(server: &Scripted, dpop: Option<SigningAlgorithm>) -> AuthenticationClient {
    let mut b = AuthenticationClient::builder()
        .app_id(APP_ID)
        .secret("dpop-secret")
        .app_host(&server.url)
        .redirect_uri("http://127.0.0.1:9/callback");
    if let Some(alg) = dpop {
        b = b.dpop(alg);
    }
    b.build().unwrap()
}

/// A session as if a login had completed, with canned tokens: for a DPoP
/// client with the key a real `start` generated (taken from its saved form).
fn session(client: &AuthenticationClient) -> Authenticated {
    let (_url, pending) = Unauthorized::new(client.clone()).start().unwrap();
    let key = serde_json::to_value(pending.export_with_secrets()).unwrap()["dpop_key"].clone();
    let t = now() as i64;
    let mut saved = json!({
        "version": 1, "issuer": client.issuer(), "client_id": APP_ID,
        "access_token": "at-1", "expires_at": t + 3600, "lifetime_secs": 3600,
        "refresh_token": "rt-1", "id_token": "h.p.s",
        "claims": {"iss": client.issuer(), "sub": "user-1", "aud": [APP_ID], "exp": t + 3600, "iat": t},
    });
    if key.is_object() {
        saved["version"] = 2.into();
        saved["dpop_key"] = key;
    }
    Authenticated::restore_from_trusted_store(client.clone(), serde_json::from_value(saved).unwrap()).unwrap()
}

/// RFC 7638 thumbprint of a public JWK, computed here independently.
fn thumbprint(jwk: &Value) -> String {
    let canonical = match jwk["kty"].as_str().unwrap() {
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["crv"].as_str().unwrap(),
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        ),
        "OKP" => format!(
            r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
            jwk["crv"].as_str().unwrap(),
            jwk["x"].as_str().unwrap()
        ),
        "RSA" => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            jwk["e"].as_str().unwrap(),
            jwk["n"].as_str().unwrap()
        ),
        other => panic!("unexpected kty {other}"),
    };
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(canonical.as_bytes()))
}

fn ath(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(token.as_bytes()))
}

/// The checks every proof must pass (RFC 9449 §4.2, §4.3).
fn check_proof(seen: &Seen, htm: &str, htu: &str, alg: &str) -> (Value, Value) {
    let (header, claims) = seen.proof();
    assert_eq!(header["typ"], "dpop+jwt");
    assert_eq!(header["alg"], alg);
    let jwk = header["jwk"].as_object().expect("the public key as a JWK");
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        assert!(
            !jwk.contains_key(private),
            "private member {private} in the proof's jwk"
        );
    }
    assert!(header.get("kid").is_none() && header.get("x5c").is_none());
    assert_eq!(claims["htm"], htm);
    assert_eq!(claims["htu"], htu, "htu is the URL without query and fragment");
    let iat = claims["iat"].as_u64().expect("iat is a number");
    assert!(iat.abs_diff(now()) <= 5, "iat is now");
    assert!(
        claims["jti"].as_str().is_some_and(|j| j.len() >= 16),
        "a jti with enough entropy"
    );
    (header, claims)
}

// ----------------------------------------------------------------- the login

#[tokio::test]
async fn the_login_names_the_key_and_the_code_exchange_proves_it_in_every_algorithm() {
    for alg in [
        SigningAlgorithm::ES256,
        SigningAlgorithm::EdDSA,
        SigningAlgorithm::PS256,
    ] {
        let server = Scripted::start(|_, _| {
            // A provider that ignores DPoP and issues a bearer token.
            json_answer(
                200,
                json!({"access_token": "at", "token_type": "Bearer", "id_token": "a.b.c"}),
                &[],
            )
        })
        .await;
        let client = client(&server, Some(alg));
        let (url, pending) = Unauthorized::new(client).start().unwrap();
        let jkt: String = url
            .query_pairs()
            .find(|(k, _)| k == "dpop_jkt")
            .map(|(_, v)| v.into_owned())
            .expect("dpop_jkt on the authorization request");
        assert_eq!(Some(jkt.as_str()), pending.dpop_thumbprint());
        let state: String = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
        let callback = CallbackParams::from_query(&format!("code=the-code&state={state}")).unwrap();
        let e = pending.complete(callback).await.unwrap_err();
        // A bearer answer to a DPoP request is refused by its own error, before the id_token.
        assert!(
            matches!(&e, Error::DpopNotBound { token_type, .. } if token_type == "Bearer"),
            "{alg:?}: {e:?}"
        );
        let seen = server.seen();
        assert_eq!(seen.len(), 1, "one request, and nothing after the refusal");
        let exchange = &seen[0];
        assert_eq!(exchange.path, "/oidc/token");
        assert!(exchange.body.contains("grant_type=authorization_code"));
        let (header, claims) = check_proof(
            exchange,
            "POST",
            &format!("{}/oidc/token", server.url),
            alg.as_str(),
        );
        assert_eq!(
            thumbprint(&header["jwk"]),
            jkt,
            "the proof's key is the one dpop_jkt named"
        );
        assert!(claims.get("ath").is_none(), "no ath without an access token");
        assert!(
            claims.get("nonce").is_none(),
            "no nonce before the server gave one"
        );
        assert!(
            exchange
                .header("authorization")
                .is_none_or(|a| !a.starts_with("DPoP"))
        );
    }
}

#[tokio::test]
async fn without_dpop_nothing_of_it_is_sent() {
    let server = Scripted::start(|_, _| json_answer(200, json!({"sub": "user-1"}), &[])).await;
    let client = client(&server, None);
    let (url, pending) = Unauthorized::new(client.clone()).start().unwrap();
    assert!(url.query_pairs().all(|(k, _)| k != "dpop_jkt"));
    assert!(pending.dpop_thumbprint().is_none());
    let saved = pending.export_with_secrets();
    let saved = serde_json::to_value(&saved).unwrap();
    assert_eq!(saved["version"], 1, "saves without a key keep version 1");
    assert!(saved.get("dpop_key").is_none());
    let session = session(&client);
    let target = url::Url::parse(&format!("{}/api/orders?page=2", server.url)).unwrap();
    let headers = session
        .authorize_request(&reqwest::Method::GET, &target)
        .await
        .unwrap();
    assert_eq!(headers["authorization"], "Bearer at-1");
    assert!(headers.get("dpop").is_none());
    assert!(headers["authorization"].is_sensitive());
}

// ---------------------------------------------------------------- nonces

#[tokio::test]
async fn a_nonce_error_is_answered_by_one_retry_and_the_nonce_is_remembered() {
    let server = Scripted::start(|n, seen| {
        let (_, claims) = seen.proof();
        match (n, claims.get("nonce").and_then(Value::as_str)) {
            (0, None) => nonce_error("n-1"),
            (_, Some("n-1")) if seen.path == "/oidc/token" => dpop_tokens(&format!("at-{}", n + 1)),
            (_, Some("n-1")) => json_answer(200, json!({"sub": "user-1"}), &[]),
            _ => json_answer(400, json!({"error": "invalid_dpop_proof"}), &[]),
        }
    })
    .await;
    let client = client(&server, Some(SigningAlgorithm::ES256));
    let session = session(&client);
    let token = session.force_refresh().await.unwrap();
    assert_eq!(token.access_token.expose_secret(), "at-2");
    // The nonce is remembered: the next refresh and userinfo send it at once.
    let token = session.force_refresh().await.unwrap();
    assert_eq!(token.access_token.expose_secret(), "at-3");
    let info = session.userinfo().await.unwrap();
    assert_eq!(info.sub, "user-1");
    let seen = server.seen();
    assert_eq!(seen.len(), 4, "{seen:#?}");
    let token_url = format!("{}/oidc/token", server.url);
    for s in &seen[..3] {
        let (_, claims) = check_proof(s, "POST", &token_url, "ES256");
        assert!(claims.get("ath").is_none());
        assert!(s.body.contains("grant_type=refresh_token"));
        assert!(
            s.body.contains("refresh_token=rt-1"),
            "the same refresh token, with the same key"
        );
    }
    // The session's key signs every proof.
    let keys: HashSet<String> = seen.iter().map(|s| thumbprint(&s.proof().0["jwk"])).collect();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys.iter().next().map(String::as_str), session.dpop_thumbprint());
    // Userinfo: Authorization: DPoP, and a proof bound to that token.
    let me = &seen[3];
    assert_eq!(me.method, "GET");
    assert_eq!(me.header("authorization").as_deref(), Some("DPoP at-3"));
    let (_, claims) = check_proof(me, "GET", &format!("{}/oidc/me", server.url), "ES256");
    assert_eq!(claims["ath"], ath("at-3"));
    assert_eq!(claims["nonce"], "n-1");
    // jti is unique across every proof.
    let jtis: HashSet<String> = seen
        .iter()
        .map(|s| s.proof().1["jti"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(jtis.len(), seen.len(), "a fresh jti per proof");
}

#[tokio::test]
async fn a_second_nonce_error_is_returned_not_answered() {
    // A server that wants a new nonce every time: the client must not loop.
    let server = Scripted::start(|n, _| nonce_error(&format!("nonce-{n}"))).await;
    let client = client(&server, Some(SigningAlgorithm::ES256));
    let session = session(&client);
    let e = session.force_refresh().await.unwrap_err();
    assert_eq!(e.oauth_error(), Some("use_dpop_nonce"), "{e:?}");
    assert!(matches!(&e, Error::Op(op) if op.status == 400));
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "exactly one retry");
    assert!(seen[0].proof().1.get("nonce").is_none());
    assert_eq!(seen[1].proof().1["nonce"], "nonce-0");
    // The session was not ended by it: the access token it holds is still handed out.
    assert_eq!(
        session.access_token().await.unwrap().access_token.expose_secret(),
        "at-1"
    );
}

#[tokio::test]
async fn a_bearer_answer_to_a_dpop_refresh_is_refused() {
    let server = Scripted::start(|_, _| {
        json_answer(
            200,
            json!({"access_token": "at-plain", "token_type": "bearer", "expires_in": 60}),
            &[],
        )
    })
    .await;
    let client = client(&server, Some(SigningAlgorithm::ES256));
    let session = session(&client);
    let e = session.force_refresh().await.unwrap_err();
    assert!(
        matches!(&e, Error::DpopNotBound { token_type, .. } if token_type == "bearer"),
        "{e:?}"
    );
    assert!(!format!("{e} {e:?}").contains("at-plain"));
    assert_eq!(server.seen().len(), 1);
    // The unbound token was not taken.
    assert_eq!(
        session.current_access_token().access_token.expose_secret(),
        "at-1"
    );
}

#[tokio::test]
async fn a_dpop_answer_without_a_dpop_request_is_refused() {
    let server = Scripted::start(|_, _| dpop_tokens("at-x")).await;
    let client = client(&server, None);
    let e = client
        .get_new_access_token_by_refresh_token(&authing_oidc::RefreshToken::new("rt"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidResponse { reason, .. } if reason.contains("DPoP")),
        "{e:?}"
    );
    assert!(server.seen()[0].header("dpop").is_none());
}

// ------------------------------------------------------- resource servers

#[tokio::test]
async fn a_resource_request_carries_the_token_and_a_proof_for_it() {
    let server = Scripted::start(|n, seen| {
        let (_, claims) = seen.proof();
        match (n, claims.get("nonce")) {
            (0, None) => Response::builder()
                .status(401)
                .header(
                    "www-authenticate",
                    r#"DPoP error="use_dpop_nonce", error_description="nonce", algs="ES256""#,
                )
                .header("dpop-nonce", "rs-1")
                .body(Body::empty())
                .unwrap(),
            (1, Some(_)) => json_answer(200, json!({"orders": []}), &[]),
            _ => Response::builder().status(500).body(Body::empty()).unwrap(),
        }
    })
    .await;
    let client = client(&server, Some(SigningAlgorithm::ES256));
    let session = session(&client);
    let http = reqwest::Client::new();
    let response = session
        .send(
            http.post(format!("{}/api/orders?page=2#top", server.url))
                .body("x=1"),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let htu = format!("{}/api/orders", server.url);
    for s in &seen {
        assert_eq!(s.header("authorization").as_deref(), Some("DPoP at-1"));
        assert_eq!(s.body, "x=1", "the body is sent again as it was");
        let (_, claims) = check_proof(s, "POST", &htu, "ES256");
        assert_eq!(claims["ath"], ath("at-1"));
    }
    assert_eq!(seen[1].proof().1["nonce"], "rs-1");
    // authorize_request uses the nonce that server gave.
    let url = url::Url::parse(&format!("{}/api/other?q=1", server.url)).unwrap();
    let headers = session
        .authorize_request(&reqwest::Method::DELETE, &url)
        .await
        .unwrap();
    assert_eq!(headers["authorization"], "DPoP at-1");
    let proof = headers["dpop"].to_str().unwrap();
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(proof.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(claims["htm"], "DELETE");
    assert_eq!(claims["htu"], format!("{}/api/other", server.url));
    assert_eq!(claims["nonce"], "rs-1");
    assert!(headers["dpop"].is_sensitive() && headers["authorization"].is_sensitive());
}

#[tokio::test]
async fn a_resource_server_that_keeps_asking_gets_one_retry() {
    let server = Scripted::start(|n, _| {
        Response::builder()
            .status(401)
            .header("www-authenticate", r#"DPoP error="use_dpop_nonce""#)
            .header("dpop-nonce", format!("rs-{n}"))
            .body(Body::empty())
            .unwrap()
    })
    .await;
    let client = client(&server, Some(SigningAlgorithm::ES256));
    let session = session(&client);
    let response = session
        .send(reqwest::Client::new().get(format!("{}/api", server.url)))
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "the second refusal is the answer");
    assert_eq!(server.seen().len(), 2, "exactly one retry");
}

// ------------------------------------------------------------ saved state

#[tokio::test]
async fn the_key_travels_with_saved_state_and_only_there() {
    let server = Scripted::start(|_, _| json_answer(500, json!({}), &[])).await;
    let client = client(&server, Some(SigningAlgorithm::EdDSA));
    let (_url, pending) = Unauthorized::new(client.clone()).start().unwrap();
    let jkt = pending.dpop_thumbprint().unwrap().to_owned();
    let saved = pending.export_with_secrets();
    let value = serde_json::to_value(&saved).unwrap();
    assert_eq!(value["version"], 2);
    let private = value["dpop_key"]["pkcs8"].as_str().unwrap().to_owned();
    assert!(!format!("{pending:?} {saved:?}").contains(&private));
    let restored = PendingCallback::restore_from_trusted_store(client.clone(), saved).unwrap();
    assert_eq!(restored.dpop_thumbprint(), Some(jkt.as_str()));
    // A version 2 save that lost its key, or a key in a version 1 save, is refused.
    for (version, key) in [(2, Value::Null), (1, value["dpop_key"].clone())] {
        let mut broken = value.clone();
        broken["version"] = version.into();
        broken["dpop_key"] = key;
        let e = PendingCallback::restore_from_trusted_store(
            client.clone(),
            serde_json::from_value(broken).unwrap(),
        )
        .unwrap_err();
        assert!(matches!(e, Error::Restore(_)), "{e:?}");
    }
    let session = session(&client);
    let saved: SavedSession = session.export_with_secrets();
    assert!(saved.uses_dpop());
    let back = Authenticated::restore_from_trusted_store(client.clone(), saved).unwrap();
    assert_eq!(back.dpop_thumbprint(), session.dpop_thumbprint());
    assert!(!format!("{session:?} {back:?}").contains(&private));
}

#[tokio::test]
async fn other_algorithms_are_refused_when_the_client_is_built() {
    let server = Scripted::start(|_, _| json_answer(500, json!({}), &[])).await;
    for alg in [SigningAlgorithm::HS256, SigningAlgorithm::RS256] {
        let e = AuthenticationClient::builder()
            .app_id(APP_ID)
            .secret("s")
            .app_host(&server.url)
            .dpop(alg)
            .build()
            .unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e:?}");
    }
}

// ------------------------------------------------------ panva's oidc-provider

async fn panva() -> panva::PanvaProvider {
    panva::PanvaProvider::start(panva::PanvaOptions::default().plugin("plugins/dpop.mjs")).await
}

async fn panva_client(provider: &panva::PanvaProvider, client_id: &str) -> AuthenticationClient {
    let info = provider.client_info(client_id);
    let method = match info.token_endpoint_auth_method.as_str() {
        "none" => authing_oidc::AuthMethod::None,
        _ => authing_oidc::AuthMethod::ClientSecretPost,
    };
    let mut b = AuthenticationClient::builder()
        .app_id(client_id)
        .redirect_uri(panva::CALLBACK)
        .token_endpoint_auth_method(method)
        .introspection_endpoint_auth_method(method)
        .revocation_endpoint_auth_method(method)
        .dpop(SigningAlgorithm::ES256);
    if let Some(secret) = &info.client_secret {
        b = b.secret(secret.as_str());
    }
    b.discover(provider.issuer()).await.unwrap()
}

async fn panva_sign_in(provider: &panva::PanvaProvider, client: &AuthenticationClient) -> Authenticated {
    let (url, pending) = Unauthorized::new(client.clone())
        .scope("openid profile email offline_access")
        .start()
        .unwrap();
    let jkt = pending.dpop_thumbprint().unwrap().to_owned();
    assert!(url.query_pairs().any(|(k, v)| k == "dpop_jkt" && v == jkt));
    let callback = provider.login(url.as_str(), "alice").await;
    let params = match &callback {
        panva::Callback::Redirect(url) => CallbackParams::from_url(url),
        panva::Callback::FormPost { body, .. } => CallbackParams::from_form_post(body),
    }
    .unwrap();
    let session = pending
        .complete(params)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", client.app_id(), provider.log()));
    assert_eq!(session.dpop_thumbprint(), Some(jkt.as_str()));
    session
}

/// The whole typed flow with DPoP, for a confidential and a public client:
/// every token the provider issues is bound to the session's key (`cnf.jkt`,
/// RFC 9449 §6), refresh keeps the binding, userinfo and revocation work.
#[tokio::test]
async fn panva_typed_flow_refresh_userinfo_and_revocation_with_dpop() {
    let provider = panva().await;
    for client_id in ["rp-dpop", "rp-dpop-public"] {
        let client = panva_client(&provider, client_id).await;
        let session = panva_sign_in(&provider, &client).await;
        let jkt = session.dpop_thumbprint().unwrap().to_owned();
        let bound = |i: &authing_oidc::Introspection| {
            i.extra
                .get("cnf")
                .and_then(|c| c.get("jkt"))
                .and_then(Value::as_str)
                == Some(jkt.as_str())
        };
        let at = session.introspect().await.unwrap();
        assert!(
            at.active && bound(&at),
            "{client_id}: the access token is bound: {at:?}"
        );
        assert_eq!(at.token_type.as_deref(), Some("DPoP"));
        let info = session.userinfo().await.unwrap();
        assert_eq!(info.sub, "alice");

        let before = session.current_access_token().access_token;
        let after = session.force_refresh().await.unwrap().access_token;
        assert_ne!(before.expose_secret(), after.expose_secret());
        let at = session.introspect().await.unwrap();
        assert!(
            at.active && bound(&at),
            "{client_id}: the refreshed token is bound too"
        );
        if client_id == "rp-dpop-public" {
            // A public client's refresh token is bound to the key as well (RFC 9449 §5).
            let rt = session.introspect_refresh_token().await.unwrap().unwrap();
            assert!(bound(&rt), "{client_id}: {rt:?}");
        }
        assert_eq!(session.userinfo().await.unwrap().sub, "alice");

        // The saved session carries the key; the restored one keeps working.
        let restored =
            Authenticated::restore_from_trusted_store(client.clone(), session.export_with_secrets()).unwrap();
        assert_eq!(restored.userinfo().await.unwrap().sub, "alice");

        let access = session.current_access_token().access_token;
        session.revoke().await.unwrap();
        let e = client.introspect_token(&access).await.unwrap();
        assert!(!e.active, "{client_id}: revoked");
    }
}

/// The public client's refresh token is bound: another key cannot use it.
#[tokio::test]
async fn panva_refuses_a_bound_refresh_token_with_another_key() {
    let provider = panva().await;
    let client = panva_client(&provider, "rp-dpop-public").await;
    let session = panva_sign_in(&provider, &client).await;
    let other = authing_oidc::dpop::DpopKey::generate(SigningAlgorithm::ES256).unwrap();
    let e = client
        .get_new_access_token_by_refresh_token_with_dpop(&session.refresh_token().unwrap(), &other)
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error(), Some("invalid_grant"), "{e:?}");
}

/// A DPoP-bound access token sent as a plain bearer token is refused by the
/// provider (RFC 9449 §7.2): the binding is enforced, not advisory.
#[tokio::test]
async fn panva_refuses_a_bound_token_presented_as_a_bearer_token() {
    let provider = panva().await;
    let client = panva_client(&provider, "rp-dpop").await;
    let session = panva_sign_in(&provider, &client).await;
    let token = session.access_token().await.unwrap().access_token;
    match client.get_user_info_by_access_token(&token).await {
        Err(Error::Op(op)) => {
            assert_eq!(op.status, 401, "{op}");
            assert_eq!(op.error.as_deref(), Some("invalid_token"), "{op}");
        }
        other => panic!("a bound token as a bearer token: {other:?}"),
    }
    // With its proof, the same token is accepted.
    assert_eq!(session.userinfo().await.unwrap().sub, "alice");
}

/// A proof is good for one request: sent again, the provider refuses it
/// (RFC 9449 §11.1, `jti` replay).
#[tokio::test]
async fn panva_refuses_a_replayed_proof() {
    let provider = panva().await;
    let client = panva_client(&provider, "rp-dpop").await;
    let session = panva_sign_in(&provider, &client).await;
    let me = url::Url::parse(
        client
            .provider_metadata()
            .unwrap()
            .userinfo_endpoint
            .as_deref()
            .unwrap(),
    )
    .unwrap();
    let http = reqwest::Client::new();
    // The nonce from the login is remembered, so the first use is accepted.
    let headers = session
        .authorize_request(&reqwest::Method::GET, &me)
        .await
        .unwrap();
    let first = http
        .get(me.clone())
        .headers(headers.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200, "{:?}", first.headers());
    let replay = http.get(me.clone()).headers(headers).send().await.unwrap();
    assert_eq!(replay.status(), 401);
    let challenge = replay.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(
        challenge.contains("invalid_token") || challenge.contains("invalid_dpop_proof"),
        "{challenge}"
    );
    assert!(
        provider.log().contains("Replay") || challenge.contains("Replay"),
        "{challenge}\n{}",
        provider.log()
    );
    // A fresh proof for the same token is fine.
    let again = session.send(http.get(me)).await.unwrap();
    assert_eq!(again.status(), 200);
}

// ------------------------------------------------- the development provider

/// The embedded development provider speaks DPoP too (so the quickstart can
/// show it offline): it checks proofs, demands its nonce when configured,
/// binds the code (`dpop_jkt`) and the tokens (`cnf.jkt`), answers `DPoP`,
/// and refuses a bound token without its proof.
#[tokio::test]
async fn the_dev_provider_binds_tokens_and_demands_its_nonce() {
    use authing_oidc_dev_provider::{DevProvider, DevProviderConfig, login_without_browser};
    let mut config = DevProviderConfig::default();
    config.require_dpop_nonce = true;
    let p = DevProvider::start(config).await.unwrap();
    for (app_id, secret, method) in [
        (
            "dev-app",
            Some("dev-app-secret"),
            authing_oidc::AuthMethod::ClientSecretPost,
        ),
        ("dev-app-public", None, authing_oidc::AuthMethod::None),
    ] {
        let mut b = AuthenticationClient::builder()
            .app_id(app_id)
            .app_host(p.app_host())
            .redirect_uri("http://127.0.0.1:3000/callback")
            .token_endpoint_auth_method(method)
            .introspection_endpoint_auth_method(method)
            .revocation_endpoint_auth_method(method)
            .dpop(SigningAlgorithm::ES256);
        if let Some(s) = secret {
            b = b.secret(s);
        }
        let client = b.build().unwrap();
        let (url, pending) = Unauthorized::new(client.clone())
            .scope("openid profile email offline_access")
            .start()
            .unwrap();
        let response = login_without_browser(url.as_str(), "alice", "alice-password")
            .await
            .unwrap();
        let callback = match response {
            authing_oidc_dev_provider::AuthorizationResponse::Redirect(u) => {
                CallbackParams::from_url(u.as_str()).unwrap()
            }
            other => panic!("{other:?}"),
        };
        let session = pending.complete(callback).await.unwrap();
        let jkt = session.dpop_thumbprint().unwrap().to_owned();
        let at = session.current_access_token().access_token;
        let payload: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(at.expose_secret().split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            payload["cnf"]["jkt"],
            jkt.as_str(),
            "{app_id}: the token names its key"
        );
        assert_eq!(session.userinfo().await.unwrap().sub, session.subject());
        // A bound token without its proof is refused.
        let e = client.get_user_info_by_access_token(&at).await.unwrap_err();
        assert!(matches!(&e, Error::Op(op) if op.status == 401), "{e:?}");
        // Refresh with the same key works; with another key a public client's refresh token does not.
        let refreshed = session.force_refresh().await.unwrap().access_token;
        assert_ne!(refreshed.expose_secret(), at.expose_secret());
        assert_eq!(session.userinfo().await.unwrap().sub, session.subject());
        let other = authing_oidc::dpop::DpopKey::generate(SigningAlgorithm::ES256).unwrap();
        let with_other = client
            .get_new_access_token_by_refresh_token_with_dpop(&session.refresh_token().unwrap(), &other)
            .await;
        if app_id == "dev-app-public" {
            assert_eq!(with_other.unwrap_err().oauth_error(), Some("invalid_grant"));
        } else {
            // A confidential client's refresh token is not bound; the new tokens are bound to `other`.
            assert_eq!(with_other.unwrap().token_type, "DPoP");
        }
    }
    let counts = p.request_counts();
    assert!(counts.get("/oidc/token").copied().unwrap_or(0) >= 6, "{counts:?}");
}

// ------------------------------------------------------------- FAPI 2.0

/// The FAPI 2.0 preset turns DPoP on (sender-constrained tokens, FAPI 2.0
/// §5.3.2.2): the pushed request names the key (`dpop_jkt`) and carries a
/// proof for the PAR endpoint (RFC 9449 §10.1), next to the client assertion.
#[tokio::test]
async fn the_fapi2_preset_pushes_with_dpop() {
    let server = Scripted::start(|_, _| {
        json_answer(
            201,
            json!({"request_uri": "urn:ietf:params:oauth:request_uri:x", "expires_in": 60}),
            &[],
        )
    })
    .await;
    let key = std::fs::read_to_string(format!(
        "{}/tests/support/client-keys/rsa.jwk.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let client = AuthenticationClient::builder()
        .app_id(APP_ID)
        .app_host(&server.url)
        .redirect_uri("http://127.0.0.1:9/callback")
        .client_key(authing_oidc::ClientKey::parse(&key).unwrap())
        .fapi2()
        .build()
        .unwrap();
    assert_eq!(client.dpop_algorithm(), Some(SigningAlgorithm::ES256));
    let (_url, pending) = Unauthorized::new(client).begin().await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let par = &seen[0];
    let (header, _) = check_proof(par, "POST", &format!("{}/oidc/par", server.url), "ES256");
    let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(par.body.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(form["dpop_jkt"], thumbprint(&header["jwk"]));
    assert_eq!(Some(form["dpop_jkt"].as_str()), pending.dpop_thumbprint());
    assert!(
        form.contains_key("client_assertion"),
        "private_key_jwt next to the proof"
    );
}
