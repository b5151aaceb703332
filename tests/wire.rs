//! Every operation of the stateless client, on the wire: the exact method,
//! path, query, form body and `Authorization` header Authing expects
//! (docs/protocol.md §2), against a recording server on 127.0.0.1.

#[path = "support/mock.rs"]
mod mock;

use std::collections::HashMap;

use authing_oidc::{
    AccessSecret, AccessToken, AuthMethod, AuthenticationClient, AuthenticationClientBuilder,
    AuthorizationCode, AuthorizeParams, CodeChallengeMethod, CodeVerifier, ExposeSecret, IdToken,
    LogoutParams, Protocol, RefreshToken, ResponseMode, TokenToValidate, ValidateTokenResult,
};
use base64::Engine as _;
use mock::{Canned, MockServer};
use serde_json::json;

const APP_ID: &str = "5f17a529f64fb009b794a2ff";
const SECRET: &str = "app-secret";
const REDIRECT: &str = "https://example.com/callback?x=1";

fn builder(server: &MockServer) -> AuthenticationClientBuilder {
    AuthenticationClient::builder()
        .app_id(APP_ID)
        .secret(SECRET)
        .app_host(server.url())
        .redirect_uri(REDIRECT)
}

fn token_body() -> serde_json::Value {
    json!({"access_token": "at-1", "expires_in": 3600, "id_token": "it-1", "refresh_token": "rt-1",
           "scope": "openid profile", "token_type": "Bearer"})
}

fn map(pairs: &[(String, String)]) -> HashMap<String, String> {
    let m: HashMap<_, _> = pairs.iter().cloned().collect();
    assert_eq!(m.len(), pairs.len(), "a parameter is repeated: {pairs:?}");
    m
}

fn query_of(url: &url::Url) -> HashMap<String, String> {
    map(&url.query_pairs().into_owned().collect::<Vec<_>>())
}

fn basic_credentials(header: &str) -> (String, String) {
    let b64 = header.strip_prefix("Basic ").expect("Basic scheme");
    let raw = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).unwrap()).unwrap();
    let (id, secret) = raw.split_once(':').unwrap();
    let dec = |s: &str| {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned()
    };
    (dec(id), dec(secret))
}

// ---------------------------------------------------------------- authorize

#[tokio::test]
async fn authorize_url_code_mode_matches_the_seed() {
    // The seed's test_oidc_build_authorize_url_authorization_code_mode.
    let server = MockServer::start().await;
    let client = builder(&server)
        .token_endpoint_auth_method(AuthMethod::ClientSecretBasic)
        .build()
        .unwrap();
    let login = client
        .build_authorize_url(AuthorizeParams::new().response_mode(ResponseMode::FormPost))
        .unwrap();
    assert_eq!(login.url.path(), "/oidc/auth");
    let q = query_of(&login.url);
    assert_eq!(q["client_id"], APP_ID);
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["response_mode"], "form_post");
    assert_eq!(q["scope"], "openid profile email phone address");
    assert!(!q.contains_key("prompt"));
    // Generated state and nonce: >= 128 bits, URL-safe, returned to the caller.
    for name in ["state", "nonce"] {
        assert!(q[name].len() >= 22, "{name} too short: {}", q[name].len());
        assert!(
            q[name]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
    assert_eq!(login.state.as_ref().unwrap().expose_secret(), q["state"]);
    assert_eq!(login.nonce.as_ref().unwrap().expose_secret(), q["nonce"]);
    assert_ne!(q["state"], q["nonce"]);
    // Nothing was sent: building a URL is offline.
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn authorize_url_generates_fresh_state_and_nonce_each_time() {
    let server = MockServer::start().await;
    let client = builder(&server).build().unwrap();
    let a = query_of(&client.build_authorize_url(AuthorizeParams::new()).unwrap().url);
    let b = query_of(&client.build_authorize_url(AuthorizeParams::new()).unwrap().url);
    assert_ne!(a["state"], b["state"]);
    assert_ne!(a["nonce"], b["nonce"]);
}

#[tokio::test]
async fn authorize_url_implicit_mode_matches_the_seed() {
    let server = MockServer::start().await;
    let client = builder(&server).build().unwrap();
    let login = client
        .build_authorize_url(AuthorizeParams::new().response_type("id_token token"))
        .unwrap();
    assert_eq!(query_of(&login.url)["response_type"], "id_token token");
    // An undocumented response type is refused.
    assert!(
        client
            .build_authorize_url(AuthorizeParams::new().response_type("code banana"))
            .is_err()
    );
}

#[tokio::test]
async fn authorize_url_offline_access_adds_prompt_consent() {
    let server = MockServer::start().await;
    let client = builder(&server).build().unwrap();
    let login = client
        .build_authorize_url(AuthorizeParams::new().scope("openid profile offline_access"))
        .unwrap();
    let q = query_of(&login.url);
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["scope"], "openid profile offline_access");
    // A prompt the caller set wins.
    let login = client
        .build_authorize_url(
            AuthorizeParams::new()
                .scope("openid offline_access")
                .prompt("login"),
        )
        .unwrap();
    assert_eq!(query_of(&login.url)["prompt"], "login");
}

#[tokio::test]
async fn authorize_url_pkce_s256_matches_the_seed() {
    let server = MockServer::start().await;
    let client = builder(&server).build().unwrap();
    let verifier = client.generate_code_challenge(43).unwrap();
    let challenge = client
        .generate_code_challenge_digest(&verifier, CodeChallengeMethod::S256)
        .unwrap();
    let login = client
        .build_authorize_url(
            AuthorizeParams::new()
                .code_challenge(challenge.as_str())
                .code_challenge_method(CodeChallengeMethod::S256),
        )
        .unwrap();
    let q = query_of(&login.url);
    assert_eq!(q["code_challenge"], challenge.as_str());
    assert_eq!(q["code_challenge_method"], "S256");
    assert_ne!(q["code_challenge"], verifier.expose_secret());
}

#[tokio::test]
async fn authorize_url_pkce_plain_matches_the_seed() {
    let server = MockServer::start().await;
    let client = builder(&server).build().unwrap();
    let verifier = client.generate_code_challenge(43).unwrap();
    let challenge = client
        .generate_code_challenge_digest(&verifier, CodeChallengeMethod::Plain)
        .unwrap();
    let login = client
        .build_authorize_url(
            AuthorizeParams::new()
                .code_challenge(challenge.as_str())
                .code_challenge_method(CodeChallengeMethod::Plain)
                .scope("openid profile offline_access"),
        )
        .unwrap();
    let q = query_of(&login.url);
    assert_eq!(q["code_challenge"], challenge.as_str());
    assert_eq!(q["code_challenge_method"], "plain");
    assert_eq!(q["prompt"], "consent");
}

#[test]
fn pkce_rfc7636_appendix_b_vector() {
    let client = AuthenticationClient::builder()
        .app_id("a")
        .secret("s")
        .app_host("https://sample-app.authing.cn")
        .build()
        .unwrap();
    let v = CodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    let c = client
        .generate_code_challenge_digest(&v, CodeChallengeMethod::S256)
        .unwrap();
    assert_eq!(c.as_str(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    assert!(client.generate_code_challenge(42).is_err());
    assert!(client.generate_code_challenge(129).is_err());
    assert_eq!(
        client.generate_code_challenge(128).unwrap().expose_secret().len(),
        128
    );
}

#[tokio::test]
async fn authorize_url_refuses_malformed_challenge_and_missing_redirect() {
    let server = MockServer::start().await;
    let client = builder(&server).build().unwrap();
    let e = client
        .build_authorize_url(AuthorizeParams::new().code_challenge("short"))
        .unwrap_err();
    assert!(matches!(e, authing_oidc::Error::InvalidInput(_)), "{e:?}");
    let no_redirect = AuthenticationClient::builder()
        .app_id(APP_ID)
        .secret(SECRET)
        .app_host(server.url());
    let e = no_redirect
        .build()
        .unwrap()
        .build_authorize_url(AuthorizeParams::new())
        .unwrap_err();
    assert!(matches!(e, authing_oidc::Error::Config(_)), "{e:?}");
}

#[tokio::test]
async fn authorize_url_encodes_every_value() {
    let server = MockServer::start().await;
    let client = builder(&server).build().unwrap();
    let login = client
        .build_authorize_url(
            AuthorizeParams::new()
                .state("a b&c=d")
                .nonce("n+1/2")
                .extra("login_hint", "x y"),
        )
        .unwrap();
    let raw = login.url.query().unwrap();
    assert!(raw.contains("state=a+b%26c%3Dd"), "{raw}");
    let q = query_of(&login.url);
    assert_eq!(q["state"], "a b&c=d");
    assert_eq!(q["nonce"], "n+1/2");
    assert_eq!(q["login_hint"], "x y");
}

#[tokio::test]
async fn authorize_urls_for_oauth_saml_cas() {
    let server = MockServer::start().await;
    let oauth = builder(&server).protocol(Protocol::Oauth).build().unwrap();
    let login = oauth.build_authorize_url(AuthorizeParams::new()).unwrap();
    assert_eq!(login.url.path(), "/oauth/auth");
    let q = query_of(&login.url);
    assert_eq!(q["scope"], "user");
    assert_eq!(q["response_type"], "code");
    assert!(!q.contains_key("nonce"));
    assert!(q.contains_key("state"));
    assert!(
        oauth
            .build_authorize_url(AuthorizeParams::new().response_type("token"))
            .is_ok()
    );
    assert!(
        oauth
            .build_authorize_url(AuthorizeParams::new().response_type("id_token"))
            .is_err()
    );

    let saml = builder(&server).protocol(Protocol::Saml).build().unwrap();
    assert_eq!(
        saml.build_authorize_url(AuthorizeParams::new()).unwrap().as_str(),
        format!("{}/api/v2/saml-idp/{APP_ID}", server.url())
    );
    let cas = builder(&server).protocol(Protocol::Cas).build().unwrap();
    let url = cas.build_authorize_url(AuthorizeParams::new()).unwrap().url;
    assert_eq!(url.path(), format!("/cas-idp/{APP_ID}"));
    assert_eq!(query_of(&url)["service"], REDIRECT);
    // Server calls under saml and cas are configuration errors, with no request sent.
    let e = saml
        .get_user_info_by_access_token(&AccessToken::new("t"))
        .await
        .unwrap_err();
    assert!(matches!(e, authing_oidc::Error::Config(_)), "{e:?}");
    assert!(server.requests().is_empty());
}

// ---------------------------------------------------------------- token endpoint

#[tokio::test]
async fn code_exchange_client_secret_post() {
    let server = MockServer::start().await;
    server.on("/oidc/token", Canned::json(200, token_body()));
    let client = builder(&server).build().unwrap();
    let verifier = CodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    let tokens = client
        .get_access_token_by_code(&AuthorizationCode::new("the-code"), Some(&verifier))
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose_secret(), "at-1");
    assert_eq!(tokens.refresh_token.as_ref().unwrap().expose_secret(), "rt-1");
    assert_eq!(tokens.id_token.as_ref().unwrap().expose_secret(), "it-1");
    assert_eq!(tokens.expires_in, Some(3600));
    let r = server.single();
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/oidc/token");
    assert!(r.query.is_empty());
    assert_eq!(
        r.header("content-type").unwrap(),
        "application/x-www-form-urlencoded"
    );
    assert!(r.header("authorization").is_none());
    let form = map(&r.form());
    assert_eq!(form.len(), 6, "{form:?}");
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "the-code");
    assert_eq!(form["redirect_uri"], REDIRECT);
    assert_eq!(
        form["code_verifier"],
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    );
    assert_eq!(form["client_id"], APP_ID);
    assert_eq!(form["client_secret"], SECRET);
}

#[tokio::test]
async fn code_exchange_client_secret_basic_encodes_before_base64() {
    let server = MockServer::start().await;
    server.on("/oidc/token", Canned::json(200, token_body()));
    let secret = "s3cr3t with spaces&+/=%:é";
    let client = builder(&server)
        .secret(secret)
        .token_endpoint_auth_method(AuthMethod::ClientSecretBasic)
        .build()
        .unwrap();
    client
        .get_access_token_by_code(&AuthorizationCode::new("c"), None)
        .await
        .unwrap();
    let r = server.single();
    let header = r.header("authorization").unwrap();
    // RFC 6749 §2.3.1: each part form-urlencoded, then joined by ':' and base64-encoded.
    let raw = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(header.strip_prefix("Basic ").unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        raw,
        format!("{APP_ID}:s3cr3t+with+spaces%26%2B%2F%3D%25%3A%C3%A9")
    );
    assert_eq!(basic_credentials(&header), (APP_ID.to_owned(), secret.to_owned()));
    let form = map(&r.form());
    assert!(
        !form.contains_key("client_id") && !form.contains_key("client_secret"),
        "{form:?}"
    );
    assert_eq!(form["grant_type"], "authorization_code");
    assert!(!form.contains_key("code_verifier"));
}

#[tokio::test]
async fn code_exchange_public_client_sends_client_id_only() {
    let server = MockServer::start().await;
    server.on("/oidc/token", Canned::json(200, token_body()));
    let client = AuthenticationClient::builder()
        .app_id(APP_ID)
        .app_host(server.url())
        .redirect_uri(REDIRECT)
        .token_endpoint_auth_method(AuthMethod::None)
        .introspection_endpoint_auth_method(AuthMethod::None)
        .revocation_endpoint_auth_method(AuthMethod::None)
        .build()
        .unwrap();
    let v = client.generate_code_challenge(64).unwrap();
    client
        .get_access_token_by_code(&AuthorizationCode::new("c"), Some(&v))
        .await
        .unwrap();
    let r = server.single();
    assert!(r.header("authorization").is_none());
    let form = map(&r.form());
    assert_eq!(form["client_id"], APP_ID);
    assert!(!form.contains_key("client_secret"));
    assert_eq!(form["code_verifier"], v.expose_secret());
}

#[tokio::test]
async fn refresh_token_grant() {
    let server = MockServer::start().await;
    server.on("/oidc/token", Canned::json(200, token_body()));
    let client = builder(&server).build().unwrap();
    client
        .get_new_access_token_by_refresh_token(&RefreshToken::new("rt-0"))
        .await
        .unwrap();
    let r = server.single();
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/oidc/token"));
    let form = map(&r.form());
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], "rt-0");
    assert_eq!(form["client_id"], APP_ID);
    assert_eq!(form["client_secret"], SECRET);
    assert_eq!(form.len(), 4);
}

#[tokio::test]
async fn oauth_protocol_uses_oauth_paths() {
    let server = MockServer::start().await;
    server.on("/oauth/token", Canned::json(200, token_body()));
    server.on("/oauth/me", Canned::json(200, json!({"sub": "u1"})));
    let client = builder(&server).protocol(Protocol::Oauth).build().unwrap();
    client
        .get_new_access_token_by_refresh_token(&RefreshToken::new("rt"))
        .await
        .unwrap();
    client
        .get_user_info_by_access_token(&AccessToken::new("at"))
        .await
        .unwrap();
    let paths: Vec<_> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/oauth/token", "/oauth/me"]);
}

#[tokio::test]
async fn client_credentials_uses_the_access_key_pair() {
    let server = MockServer::start().await;
    server.on(
        "/oidc/token",
        Canned::json(
            200,
            json!({"access_token": "m2m", "expires_in": 3600,
        "scope": "email openid", "token_type": "Bearer"}),
        ),
    );
    let client = builder(&server)
        .token_endpoint_auth_method(AuthMethod::ClientSecretBasic)
        .build()
        .unwrap();
    let t = client
        .get_access_token_by_client_credentials("email openid", "AK 1", &AccessSecret::new("SK&2"))
        .await
        .unwrap();
    assert_eq!(t.access_token.expose_secret(), "m2m");
    assert!(t.id_token.is_none());
    let r = server.single();
    assert!(
        r.header("authorization").is_none(),
        "the app's own credentials are not used"
    );
    let form = map(&r.form());
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["scope"], "email openid");
    assert_eq!(form["client_id"], "AK 1");
    assert_eq!(form["client_secret"], "SK&2");
    assert_eq!(form.len(), 4);
    // An empty scope is refused before anything is sent.
    let e = client
        .get_access_token_by_client_credentials("  ", "AK", &AccessSecret::new("SK"))
        .await;
    assert!(matches!(e, Err(authing_oidc::Error::InvalidInput(_))));
    assert_eq!(server.requests().len(), 1);
}

// ---------------------------------------------------------------- userinfo, introspection, revocation

#[tokio::test]
async fn userinfo_uses_the_bearer_header_never_the_query() {
    let server = MockServer::start().await;
    server.on(
        "/oidc/me",
        Canned::json(
            200,
            json!({"sub": "603f184cec4505e2868431fc",
        "email": "test1@authing.cn", "email_verified": false, "name": null, "custom": 7}),
        ),
    );
    let client = builder(&server).build().unwrap();
    let u = client
        .get_user_info_by_access_token(&AccessToken::new("at-9"))
        .await
        .unwrap();
    assert_eq!(u.sub, "603f184cec4505e2868431fc");
    assert_eq!(u.standard.email.as_deref(), Some("test1@authing.cn"));
    assert_eq!(u.standard.name, None);
    assert_eq!(u.extra["custom"], 7);
    let r = server.single();
    assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/oidc/me"));
    assert!(r.query.is_empty());
    assert_eq!(r.header("authorization").unwrap(), "Bearer at-9");
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn introspection_uses_its_own_auth_method() {
    let server = MockServer::start().await;
    server.on(
        "/oidc/token/introspection",
        Canned::json(
            200,
            json!({"active": true, "sub": "u",
        "client_id": APP_ID, "exp": 1612445888, "scope": "openid", "token_type": "Bearer"}),
        ),
    );
    let client = builder(&server)
        .introspection_endpoint_auth_method(AuthMethod::ClientSecretBasic)
        .build()
        .unwrap();
    let i = client.introspect_token(&RefreshToken::new("rt-5")).await.unwrap();
    assert!(i.active);
    assert_eq!(i.sub.as_deref(), Some("u"));
    assert_eq!(i.exp, Some(1612445888));
    let r = server.single();
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/oidc/token/introspection")
    );
    assert_eq!(
        basic_credentials(&r.header("authorization").unwrap()),
        (APP_ID.into(), SECRET.into())
    );
    assert_eq!(r.form(), vec![("token".to_owned(), "rt-5".to_owned())]);
}

#[tokio::test]
async fn inactive_token_is_a_result() {
    let server = MockServer::start().await;
    server.on(
        "/oidc/token/introspection",
        Canned::json(200, json!({"active": false})),
    );
    let client = builder(&server).build().unwrap();
    let i = client.introspect_token(&AccessToken::new("gone")).await.unwrap();
    assert!(!i.active);
    let form = map(&server.single().form());
    assert_eq!(form["token"], "gone");
    assert_eq!(form["client_id"], APP_ID);
    assert_eq!(form["client_secret"], SECRET);
}

#[tokio::test]
async fn revocation_succeeds_on_200_with_any_or_no_body() {
    let server = MockServer::start().await;
    let client = builder(&server)
        .revocation_endpoint_auth_method(AuthMethod::ClientSecretBasic)
        .build()
        .unwrap();
    for canned in [
        Canned::raw(200, "text/plain", ""),
        Canned::json(200, json!({})),
        Canned::raw(200, "text/html", "<html>ok</html>"),
    ] {
        server.on("/oidc/token/revocation", canned);
        client.revoke_token(&AccessToken::new("at-r")).await.unwrap();
    }
    for r in server.requests() {
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/oidc/token/revocation")
        );
        assert_eq!(r.form(), vec![("token".to_owned(), "at-r".to_owned())]);
        assert!(r.header("authorization").unwrap().starts_with("Basic "));
    }
    server.on(
        "/oidc/token/revocation",
        Canned::json(400, json!({"error": "unsupported_token_type"})),
    );
    let e = client.revoke_token(&RefreshToken::new("x")).await.unwrap_err();
    assert_eq!(e.oauth_error(), Some("unsupported_token_type"));
}

// ---------------------------------------------------------------- validate_token

#[tokio::test]
async fn validate_token_sends_exactly_one_token_in_the_query() {
    let server = MockServer::start().await;
    server.on(
        "/api/v2/oidc/validate_token",
        Canned::json(
            200,
            json!({"sub": "5f64", "aud": APP_ID,
        "iss": "https://oidc1.authing.cn/oidc", "exp": 1601460494}),
        ),
    );
    let client = builder(&server).build().unwrap();
    let id = IdToken::new("id.tok.en");
    let v = client
        .validate_token(TokenToValidate::IdToken(&id))
        .await
        .unwrap();
    assert!(v.is_valid());
    assert_eq!(v.sub(), Some("5f64"));
    let at = AccessToken::new("acc+ess");
    assert!(
        client
            .validate_token(TokenToValidate::AccessToken(&at))
            .await
            .unwrap()
            .is_valid()
    );
    let r = server.requests();
    assert_eq!(
        (r[0].method.as_str(), r[0].path.as_str()),
        ("GET", "/api/v2/oidc/validate_token")
    );
    assert_eq!(r[0].query, vec![("id_token".to_owned(), "id.tok.en".to_owned())]);
    assert_eq!(
        r[1].query,
        vec![("access_token".to_owned(), "acc+ess".to_owned())]
    );
}

#[tokio::test]
async fn validate_token_invalid_is_a_typed_result_whatever_the_status() {
    let server = MockServer::start().await;
    let client = builder(&server).build().unwrap();
    let id = IdToken::new("bad");
    for status in [200, 400] {
        server.on(
            "/api/v2/oidc/validate_token",
            Canned::json(status, json!({"code": 400, "message": "id_token 不合法"})),
        );
        match client
            .validate_token(TokenToValidate::IdToken(&id))
            .await
            .unwrap()
        {
            ValidateTokenResult::Invalid { code, message } => {
                assert_eq!(code, "400");
                assert_eq!(message, "id_token 不合法");
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }
    // A 2xx body with neither sub nor code is not taken as valid.
    server.on(
        "/api/v2/oidc/validate_token",
        Canned::json(200, json!({"aud": "x"})),
    );
    let e = client
        .validate_token(TokenToValidate::IdToken(&id))
        .await
        .unwrap_err();
    assert!(matches!(e, authing_oidc::Error::InvalidResponse { .. }), "{e:?}");
}

// ---------------------------------------------------------------- logout

#[tokio::test]
async fn logout_urls() {
    let server = MockServer::start().await;
    let client = builder(&server).build().unwrap();
    let url = client
        .build_logout_url(LogoutParams::simple_to("https://authing.cn/a b"))
        .unwrap();
    assert_eq!(url.path(), "/login/profile/logout");
    assert_eq!(query_of(&url)["redirect_uri"], "https://authing.cn/a b");
    assert_eq!(
        query_of(&client.build_logout_url(LogoutParams::simple()).unwrap())["redirect_uri"],
        REDIRECT
    );

    let url = client
        .build_logout_url(
            LogoutParams::expert(IdToken::new("e.y.j"), "http://localhost:3000/?a=1").with_state("st"),
        )
        .unwrap();
    assert_eq!(url.path(), "/oidc/session/end");
    let q = query_of(&url);
    assert_eq!(q["id_token_hint"], "e.y.j");
    assert_eq!(q["post_logout_redirect_uri"], "http://localhost:3000/?a=1");
    assert_eq!(q["state"], "st");
    assert!(!url.as_str().contains("None"));

    let cas = builder(&server).protocol(Protocol::Cas).build().unwrap();
    let url = cas
        .build_logout_url(LogoutParams::simple_to("https://x.example/"))
        .unwrap();
    assert_eq!(url.path(), "/cas-idp/logout");
    assert_eq!(query_of(&url)["url"], "https://x.example/");

    let oauth = builder(&server).protocol(Protocol::Oauth).build().unwrap();
    assert_eq!(
        oauth.build_logout_url(LogoutParams::simple()).unwrap().path(),
        "/login/profile/logout"
    );
    assert!(
        oauth
            .build_logout_url(LogoutParams::expert(IdToken::new("t"), "https://x"))
            .is_err()
    );
    assert!(server.requests().is_empty());
}

// ---------------------------------------------------------------- configuration

#[test]
fn configuration_errors_are_found_at_build_time() {
    use authing_oidc::Error::Config;
    let ok = || {
        AuthenticationClient::builder()
            .app_id("a")
            .secret("s")
            .app_host("https://x.authing.cn")
    };
    assert!(ok().build().is_ok());
    assert!(
        ok().app_host("https://x.authing.cn/").build().is_ok(),
        "a trailing slash is tolerated"
    );
    assert!(matches!(
        AuthenticationClient::builder()
            .secret("s")
            .app_host("https://x")
            .build(),
        Err(Config(_))
    ));
    assert!(matches!(
        AuthenticationClient::builder().app_id("a").secret("s").build(),
        Err(Config(_))
    ));
    assert!(matches!(ok().app_host("x.authing.cn").build(), Err(Config(_))));
    assert!(matches!(
        ok().app_host("http://x.authing.cn").build(),
        Err(Config(_))
    ));
    assert!(
        ok().app_host("http://x.authing.cn")
            .insecure_allow_http()
            .build()
            .is_ok()
    );
    assert!(ok().app_host("http://127.0.0.1:8080").build().is_ok());
    assert!(matches!(ok().redirect_uri("not a url").build(), Err(Config(_))));
    // The default auth method is client_secret_post: it needs the secret.
    let no_secret = AuthenticationClient::builder()
        .app_id("a")
        .app_host("https://x.authing.cn");
    let e = no_secret.build().unwrap_err();
    assert!(matches!(e, Config(_)) && e.to_string().contains("secret"), "{e}");
    assert_eq!(ok().build().unwrap().issuer(), "https://x.authing.cn/oidc");
    // An empty secret would make HS256 id_tokens forgeable.
    assert!(matches!(ok().secret("").build(), Err(Config(_))));
    assert!(matches!(ok().secret("  ").build(), Err(Config(_))));
}

#[tokio::test]
async fn extra_parameters_cannot_shadow_the_ones_the_sdk_sets() {
    let server = MockServer::start().await;
    let client = builder(&server).build().unwrap();
    for name in ["state", "nonce", "code_challenge", "redirect_uri", "client_id"] {
        let e = client
            .build_authorize_url(AuthorizeParams::new().extra(name, "x"))
            .unwrap_err();
        assert!(matches!(e, authing_oidc::Error::InvalidInput(_)), "{name}: {e:?}");
    }
}

#[tokio::test]
async fn the_client_is_cheap_to_clone_and_shared() {
    let server = MockServer::start().await;
    server.on("/oidc/me", Canned::json(200, json!({"sub": "u"})));
    let client = builder(&server).build().unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.get_user_info_by_access_token(&AccessToken::new("t")).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().sub, "u");
    }
    assert_eq!(server.requests().len(), 8);
}
