//! Proves the panva oidc-provider harness (tests/support/panva.rs + tests/interop/provider.mjs)
//! works, with raw HTTP only — no SDK code — so that an SDK interop failure can be trusted to be
//! the SDK's.

#[path = "support/panva.rs"]
#[allow(dead_code)]
mod panva;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use panva::{CALLBACK, Callback, PanvaOptions, PanvaProvider};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap()
}

fn form(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

async fn json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = response.bytes().await.unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({status}, {e}): {}", String::from_utf8_lossy(&bytes)));
    (status, value)
}

async fn get_json(url: &str) -> (StatusCode, Value) {
    json(http().get(url).send().await.unwrap()).await
}

/// POST an `application/x-www-form-urlencoded` body, optionally with an Authorization header.
async fn post_form(url: &str, fields: &[(&str, &str)], authorization: Option<String>) -> (StatusCode, Value) {
    let mut request = http()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(fields));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    json(request.send().await.unwrap()).await
}

struct AuthRequest<'a> {
    client_id: &'a str,
    scope: &'a str,
    state: &'a str,
    nonce: &'a str,
    extra: Vec<(&'a str, &'a str)>,
}

impl<'a> AuthRequest<'a> {
    fn new(client_id: &'a str) -> Self {
        AuthRequest {
            client_id,
            scope: "openid profile email",
            state: "state-Zx7q9LmN2pQr4sTv",
            nonce: "nonce-Ab3dEf6gHi9jKl2m",
            extra: Vec::new(),
        }
    }

    fn with(mut self, key: &'a str, value: &'a str) -> Self {
        self.extra.push((key, value));
        self
    }

    fn url(&self, provider: &PanvaProvider) -> String {
        let mut url = Url::parse(&provider.url("/auth")).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", self.client_id)
            .append_pair("redirect_uri", CALLBACK)
            .append_pair("response_type", "code")
            .append_pair("scope", self.scope)
            .append_pair("state", self.state)
            .append_pair("nonce", self.nonce)
            .extend_pairs(&self.extra);
        url.to_string()
    }
}

/// Checks the callback carries a code for this request (state, RFC 9207 iss) and returns it.
fn code_from(callback: &Callback, provider: &PanvaProvider, request: &AuthRequest) -> String {
    assert_eq!(callback.target(), CALLBACK, "{callback:?}");
    assert_eq!(callback.param("error"), None, "{callback:?}");
    assert_eq!(callback.param("state").as_deref(), Some(request.state));
    assert_eq!(callback.param("iss").as_deref(), Some(provider.issuer()));
    callback.param("code").expect("a code in the callback")
}

async fn exchange_post(provider: &PanvaProvider, client_id: &str, code: &str) -> (StatusCode, Value) {
    let secret = provider.secret(client_id);
    post_form(
        &provider.url("/token"),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("client_id", client_id),
            ("client_secret", &secret),
        ],
        None,
    )
    .await
}

fn basic(client_id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(client_id), enc(secret)))
    )
}

fn pkce_pair() -> (String, String) {
    let verifier = "interop-verifier-0123456789-abcdefghijklmnopqrstuvwxyz.~_".to_owned();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Verifies an id_token's signature with the provider's JWKS (asymmetric) or the client secret
/// (HS*) and returns its header and claims.
async fn verify_id_token(
    provider: &PanvaProvider,
    id_token: &str,
    client_id: &str,
) -> (jsonwebtoken::Header, Value) {
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    let key = if header.alg == Algorithm::HS256 {
        DecodingKey::from_secret(provider.secret(client_id).as_bytes())
    } else {
        let (status, discovery) = get_json(&provider.url("/.well-known/openid-configuration")).await;
        assert_eq!(status, StatusCode::OK);
        let (status, jwks) = get_json(discovery["jwks_uri"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
        let kid = header
            .kid
            .as_deref()
            .expect("an asymmetric id_token names its key");
        DecodingKey::from_jwk(jwks.find(kid).expect("the kid is in the JWKS")).unwrap()
    };
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[client_id]);
    validation.set_issuer(&[provider.issuer()]);
    let data = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .unwrap_or_else(|e| panic!("id_token does not verify: {e}"));
    (header, data.claims)
}

#[tokio::test]
async fn discovery_matches_the_printed_issuer() {
    let provider = PanvaProvider::start(PanvaOptions::default()).await;
    let issuer = provider.issuer();
    assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");
    assert_eq!(provider.app_host(), issuer);

    let (status, doc) = get_json(&format!("{issuer}/.well-known/openid-configuration")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["issuer"], issuer);
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(doc["authorization_endpoint"], format!("{issuer}/auth"));
    assert_eq!(doc["token_endpoint"], format!("{issuer}/token"));
    assert_eq!(doc["userinfo_endpoint"], format!("{issuer}/me"));
    assert_eq!(
        doc["introspection_endpoint"],
        format!("{issuer}/token/introspection")
    );
    assert_eq!(doc["revocation_endpoint"], format!("{issuer}/token/revocation"));
    assert_eq!(doc["end_session_endpoint"], format!("{issuer}/session/end"));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    let algs = doc["id_token_signing_alg_values_supported"].as_array().unwrap();
    for alg in ["RS256", "ES256", "HS256"] {
        assert!(algs.iter().any(|a| a == alg), "{alg} not in {algs:?}");
    }

    // Fresh keys: one RSA and one P-256 key, each with a kid, no private parts published.
    let (status, jwks) = get_json(doc["jwks_uri"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let keys = jwks["keys"].as_array().unwrap();
    assert!(
        keys.iter().any(|k| k["kty"] == "RSA" && k["kid"].is_string()),
        "{jwks}"
    );
    assert!(
        keys.iter()
            .any(|k| k["kty"] == "EC" && k["crv"] == "P-256" && k["kid"].is_string()),
        "{jwks}"
    );
    assert!(
        keys.iter().all(|k| k.get("d").is_none()),
        "private key material in the JWKS"
    );

    for id in [
        panva::RP_RS256,
        panva::RP_BASIC,
        panva::RP_ES256,
        panva::RP_HS256,
        panva::RP_M2M,
    ] {
        assert!(provider.client(id).1.is_some(), "{id} has a secret");
    }
    assert_eq!(provider.client(panva::RP_PUBLIC).1, None);
    assert_eq!(
        provider.client(panva::RP_BASIC).1.as_deref(),
        Some("s3cr3t with spaces&+/=%")
    );
}

#[tokio::test]
async fn code_flow_with_client_secret_post() {
    let provider = PanvaProvider::start(PanvaOptions::default()).await;
    let request = AuthRequest::new(panva::RP_RS256);
    let callback = provider.login(&request.url(&provider), "alice").await;
    assert!(matches!(callback, Callback::Redirect(_)), "{callback:?}");
    let code = code_from(&callback, &provider, &request);

    let (status, tokens) = exchange_post(&provider, panva::RP_RS256, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(
        tokens["token_type"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case("bearer")
    );
    let access_token = tokens["access_token"].as_str().expect("access_token");
    let id_token = tokens["id_token"].as_str().expect("id_token");
    assert!(
        tokens.get("refresh_token").is_none(),
        "no offline_access, no refresh token: {tokens}"
    );

    let (header, claims) = verify_id_token(&provider, id_token, panva::RP_RS256).await;
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["nonce"], request.nonce);

    // Userinfo with a Bearer header has the account's claims.
    let response = http()
        .get(provider.url("/me"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    let (status, userinfo) = json(response).await;
    assert_eq!(status, StatusCode::OK, "{userinfo}");
    assert_eq!(userinfo["sub"], "alice");
    assert_eq!(userinfo["email"], "alice@example.com");
    assert_eq!(userinfo["email_verified"], true);
    assert!(userinfo["name"].is_string(), "{userinfo}");

    // A code is single-use.
    let (status, error) = exchange_post(&provider, panva::RP_RS256, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "invalid_grant");
}

#[tokio::test]
async fn public_client_needs_pkce_s256() {
    let provider = PanvaProvider::start(PanvaOptions::default()).await;
    let (verifier, challenge) = pkce_pair();

    // Without a code_challenge the provider refuses the request, back at the redirect URI.
    let request = AuthRequest::new(panva::RP_PUBLIC);
    let refused = provider.login(&request.url(&provider), "bob").await;
    assert_eq!(refused.target(), CALLBACK);
    assert_eq!(
        refused.param("error").as_deref(),
        Some("invalid_request"),
        "{refused:?}"
    );
    assert_eq!(refused.param("iss").as_deref(), Some(provider.issuer()));
    assert_eq!(refused.param("code"), None);

    // `plain` is refused too.
    let request = AuthRequest::new(panva::RP_PUBLIC)
        .with("code_challenge", &verifier)
        .with("code_challenge_method", "plain");
    let refused = provider.login(&request.url(&provider), "bob").await;
    assert_eq!(refused.param("code"), None, "{refused:?}");
    assert!(refused.param("error").is_some(), "{refused:?}");

    let request = AuthRequest::new(panva::RP_PUBLIC)
        .with("code_challenge", &challenge)
        .with("code_challenge_method", "S256");
    let token_url = provider.url("/token");

    // A wrong verifier is refused.
    let callback = provider.login(&request.url(&provider), "bob").await;
    let code = code_from(&callback, &provider, &request);
    let wrong = "wrong-verifier-0123456789-abcdefghijklmnopqrstuvwxyz.~_";
    let (status, error) = post_form(
        &token_url,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", panva::RP_PUBLIC),
            ("code_verifier", wrong),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "invalid_grant");
    assert!(
        provider
            .log()
            .contains("code_verifier does not match code_challenge"),
        "{}",
        provider.log()
    );

    // The right one, with client_id only (token_endpoint_auth_method none), works.
    let callback = provider.login(&request.url(&provider), "bob").await;
    let code = code_from(&callback, &provider, &request);
    let (status, tokens) = post_form(
        &token_url,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", panva::RP_PUBLIC),
            ("code_verifier", &verifier),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["access_token"].is_string());
    let claims =
        jsonwebtoken::dangerous::insecure_decode_claims::<Value>(tokens["id_token"].as_str().unwrap())
            .unwrap();
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["aud"], panva::RP_PUBLIC);
}

#[tokio::test]
async fn basic_credentials_are_form_urlencoded_before_base64() {
    let provider = PanvaProvider::start(PanvaOptions::default()).await;
    let request = AuthRequest::new(panva::RP_BASIC);
    let callback = provider.login(&request.url(&provider), "carol").await;
    let code = code_from(&callback, &provider, &request);
    let secret = provider.secret(panva::RP_BASIC);
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
    ];

    // The naive encoding (no form-urlencoding) is refused: the provider form-decodes the
    // credentials and this secret's lone `%` does not decode. Client authentication fails before
    // the code is looked at, so the code stays usable.
    let naive = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{secret}", panva::RP_BASIC))
    );
    let (status, error) = post_form(&provider.url("/token"), &fields, Some(naive)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"], "invalid_request");

    // Credentials that decode, but to another secret (the literal `+` left as is reads as a
    // space), are an authentication failure.
    let partial = secret.replace('%', "%25").replace(' ', "+");
    let partial = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{partial}", panva::RP_BASIC))
    );
    let (status, error) = post_form(&provider.url("/token"), &fields, Some(partial)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    assert_eq!(error["error"], "invalid_client");

    let (status, tokens) = post_form(
        &provider.url("/token"),
        &fields,
        Some(basic(panva::RP_BASIC, &secret)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["access_token"].is_string());
    let (_, claims) = verify_id_token(&provider, tokens["id_token"].as_str().unwrap(), panva::RP_BASIC).await;
    assert_eq!(claims["sub"], "carol");
}

#[tokio::test]
async fn offline_access_with_consent_yields_a_rotating_refresh_token() {
    let provider = PanvaProvider::start(PanvaOptions::default()).await;
    let client = panva::RP_RS256;
    let secret = provider.secret(client);
    let token_url = provider.url("/token");

    // offline_access without prompt=consent is silently dropped.
    let mut request = AuthRequest::new(client);
    request.scope = "openid offline_access";
    let code = code_from(
        &provider.login(&request.url(&provider), "dave").await,
        &provider,
        &request,
    );
    let (status, tokens) = exchange_post(&provider, client, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");

    let request = request.with("prompt", "consent");
    let code = code_from(
        &provider.login(&request.url(&provider), "dave").await,
        &provider,
        &request,
    );
    let (status, tokens) = exchange_post(&provider, client, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let first = tokens["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();
    let (_, original) = verify_id_token(&provider, tokens["id_token"].as_str().unwrap(), client).await;

    let refresh = |token: String| {
        let (url, secret) = (token_url.clone(), secret.clone());
        async move {
            post_form(
                &url,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &token),
                    ("client_id", client),
                    ("client_secret", &secret),
                ],
                None,
            )
            .await
        }
    };

    let (status, refreshed) = refresh(first.clone()).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let second = refreshed["refresh_token"]
        .as_str()
        .expect("a rotated refresh token")
        .to_owned();
    assert_ne!(second, first, "the refresh token rotates");
    assert_ne!(refreshed["access_token"], tokens["access_token"]);
    let (_, renewed) = verify_id_token(&provider, refreshed["id_token"].as_str().unwrap(), client).await;
    assert_eq!(renewed["sub"], original["sub"]);
    assert_eq!(
        renewed["nonce"], original["nonce"],
        "a refreshed id_token keeps the nonce"
    );

    // Reusing the rotated-out token is refused and revokes the grant: the new one dies too.
    let (status, error) = refresh(first).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "invalid_grant");
    let (status, error) = refresh(second).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"], "invalid_grant");
}

#[tokio::test]
async fn form_post_returns_the_auto_submitted_fields() {
    let provider = PanvaProvider::start(PanvaOptions::default()).await;
    let request = AuthRequest::new(panva::RP_ES256).with("response_mode", "form_post");
    let callback = provider.login(&request.url(&provider), "erin").await;
    let Callback::FormPost { action, body } = &callback else {
        panic!("expected a form_post callback, got {callback:?}");
    };
    assert_eq!(action, CALLBACK);
    assert!(body.contains("code="), "{body}");
    let code = code_from(&callback, &provider, &request);

    let (status, tokens) = exchange_post(&provider, panva::RP_ES256, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (header, claims) =
        verify_id_token(&provider, tokens["id_token"].as_str().unwrap(), panva::RP_ES256).await;
    assert_eq!(header.alg, Algorithm::ES256);
    assert_eq!(claims["sub"], "erin");
}

#[tokio::test]
async fn hs256_id_tokens_are_keyed_with_the_client_secret() {
    let provider = PanvaProvider::start(PanvaOptions::default()).await;
    let request = AuthRequest::new(panva::RP_HS256).with("response_mode", "fragment");
    let callback = provider.login(&request.url(&provider), "frank").await;
    assert!(
        Url::parse(callback.url()).unwrap().query().is_none(),
        "{callback:?}"
    );
    let code = code_from(&callback, &provider, &request);

    let (status, tokens) = exchange_post(&provider, panva::RP_HS256, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (header, claims) =
        verify_id_token(&provider, tokens["id_token"].as_str().unwrap(), panva::RP_HS256).await;
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(header.kid, None);
    assert_eq!(claims["nonce"], request.nonce);
}

#[tokio::test]
async fn session_cookies_give_sso_and_logout_ends_the_session() {
    let provider = PanvaProvider::start(PanvaOptions::default()).await;
    let mut browser = provider.browser();
    let request = AuthRequest::new(panva::RP_RS256);
    let code = code_from(
        &browser.login(&request.url(&provider), "grace").await.unwrap(),
        &provider,
        &request,
    );
    let (status, tokens) = exchange_post(&provider, panva::RP_RS256, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");

    // Single sign-on: the same browser gets a code without a login form.
    let sso = AuthRequest::new(panva::RP_RS256).with("prompt", "none");
    let callback = browser.follow(&sso.url(&provider)).await.unwrap();
    code_from(&callback, &provider, &sso);

    // A fresh browser has no session: prompt=none is answered with login_required.
    let callback = provider.browser().follow(&sso.url(&provider)).await.unwrap();
    assert_eq!(
        callback.param("error").as_deref(),
        Some("login_required"),
        "{callback:?}"
    );

    // RP-initiated logout: the confirmation is accepted and the browser lands on the
    // post_logout_redirect_uri with the state.
    let mut logout = Url::parse(&provider.url("/session/end")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
        .append_pair("post_logout_redirect_uri", CALLBACK)
        .append_pair("state", "logout-state");
    let callback = browser.follow(logout.as_str()).await.unwrap();
    assert_eq!(callback.target(), CALLBACK);
    assert_eq!(callback.param("state").as_deref(), Some("logout-state"));

    let callback = browser.follow(&sso.url(&provider)).await.unwrap();
    assert_eq!(
        callback.param("error").as_deref(),
        Some("login_required"),
        "{callback:?}"
    );
}

#[tokio::test]
async fn mounted_under_oidc_with_authing_shaped_paths_and_short_ttl() {
    let provider = PanvaProvider::start(
        PanvaOptions::default()
            .mount("/oidc")
            .ttl("AccessToken", 2)
            .redirect_uri("http://127.0.0.1:4000/other"),
    )
    .await;
    let app_host = provider.app_host();
    assert_eq!(provider.issuer(), format!("{app_host}/oidc"));

    let (status, doc) = get_json(&format!("{app_host}/oidc/.well-known/openid-configuration")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["issuer"], provider.issuer());
    assert_eq!(doc["authorization_endpoint"], format!("{app_host}/oidc/auth"));
    assert_eq!(doc["token_endpoint"], format!("{app_host}/oidc/token"));
    assert_eq!(doc["userinfo_endpoint"], format!("{app_host}/oidc/me"));
    assert_eq!(doc["jwks_uri"], format!("{app_host}/oidc/.well-known/jwks.json"));
    let (status, _) = get_json(&format!("{app_host}/oidc/.well-known/jwks.json")).await;
    assert_eq!(status, StatusCode::OK);
    let outside = http()
        .get(format!("{app_host}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), StatusCode::NOT_FOUND);

    // The extra redirect URI is registered.
    let mut url = Url::parse(&provider.url("/auth")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", panva::RP_RS256)
        .append_pair("redirect_uri", "http://127.0.0.1:4000/other")
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("state", "s-mounted")
        .append_pair("nonce", "n-mounted");
    let callback = provider.login(url.as_str(), "heidi").await;
    assert_eq!(callback.target(), "http://127.0.0.1:4000/other");
    assert_eq!(callback.param("iss").as_deref(), Some(provider.issuer()));
    let code = callback.param("code").expect("code");
    let secret = provider.secret(panva::RP_RS256);
    let (status, tokens) = post_form(
        &provider.url("/token"),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:4000/other"),
            ("client_id", panva::RP_RS256),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let expires_in = tokens["expires_in"].as_u64().unwrap();
    assert!(
        (1..=2).contains(&expires_in),
        "AccessToken TTL override: {tokens}"
    );
    let access_token = tokens["access_token"].as_str().unwrap();

    let me = || http().get(provider.url("/me")).bearer_auth(access_token).send();
    assert_eq!(me().await.unwrap().status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let expired = me().await.unwrap();
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    let challenge = expired.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("invalid_token"), "{challenge}");
}

#[tokio::test]
async fn machine_client_credentials_introspection_and_revocation() {
    let provider = PanvaProvider::start(PanvaOptions::default()).await;
    let secret = provider.secret(panva::RP_M2M);
    let (status, tokens) = post_form(
        &provider.url("/token"),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "api:read"),
            ("client_id", panva::RP_M2M),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap();
    assert!(tokens.get("id_token").is_none());

    let auth = [("client_id", panva::RP_M2M), ("client_secret", secret.as_str())];
    let introspect = |token: &str| {
        let mut fields = vec![("token", token.to_owned())];
        fields.extend(auth.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let url = provider.url("/token/introspection");
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(&url, &fields, None).await
        }
    };
    let (status, info) = introspect(token).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["active"], true);
    assert_eq!(info["client_id"], panva::RP_M2M);
    assert_eq!(info["scope"], "api:read");

    let (status, info) = introspect("not-a-token").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info, serde_json::json!({"active": false}));

    let response = http()
        .post(provider.url("/token/revocation"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", token), auth[0], auth[1]]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (_, info) = introspect(token).await;
    assert_eq!(info["active"], false);
}

#[tokio::test]
async fn restart_on_the_same_port_with_new_or_saved_keys() {
    async fn kids(provider: &PanvaProvider) -> Vec<String> {
        let (status, jwks) = get_json(&provider.url("/jwks")).await;
        assert_eq!(status, StatusCode::OK);
        let mut kids: Vec<String> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        kids.sort();
        kids
    }

    let dir = std::env::temp_dir().join(format!("panva-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let saved = dir.join("keys.json");

    let first = PanvaProvider::start(PanvaOptions::default().write_keys_file(&saved)).await;
    let (issuer, port) = (first.issuer().to_owned(), first.port());
    let original = kids(&first).await;
    assert_eq!(original.len(), 2);
    first.stop().await;

    // Same port, fresh keys: same issuer, every kid new (a key rotation as a client sees it).
    let rotated = PanvaProvider::start(PanvaOptions::default().port(port)).await;
    assert_eq!(rotated.issuer(), issuer);
    let new = kids(&rotated).await;
    assert!(
        new.iter().all(|k| !original.contains(k)),
        "{original:?} vs {new:?}"
    );
    rotated.stop().await;

    // Same port, saved keys: the same keys again.
    let restored = PanvaProvider::start(PanvaOptions::default().port(port).keys_file(&saved)).await;
    assert_eq!(restored.issuer(), issuer);
    assert_eq!(kids(&restored).await, original);
    restored.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn plugins_change_the_configuration_and_the_built_provider() {
    let provider = PanvaProvider::start(PanvaOptions::default().plugin("plugins/echo.mjs")).await;
    let response = http()
        .get(format!("{}/.well-known/openid-configuration", provider.issuer()))
        .send()
        .await
        .unwrap();
    // setup(): a middleware on the built provider.
    assert_eq!(
        response
            .headers()
            .get("x-harness-plugin")
            .map(|v| v.to_str().unwrap()),
        Some("echo")
    );
    // configure(): the scope list before the provider was built.
    let (_, doc) = json(response).await;
    let scopes = doc["scopes_supported"].as_array().unwrap();
    assert!(scopes.iter().any(|s| s == "plugin:loaded"), "{doc}");

    // Without the plugin, neither change.
    let plain = PanvaProvider::start(PanvaOptions::default()).await;
    let response = http()
        .get(format!("{}/.well-known/openid-configuration", plain.issuer()))
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("x-harness-plugin").is_none());
}
