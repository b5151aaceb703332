//! Error answers become typed errors with the status and the provider's
//! fields; hostile or broken servers (HTML, non-JSON, oversized, silent) are
//! handled without panics or unbounded memory.

#[path = "support/mock.rs"]
mod mock;

use std::time::{Duration, Instant};

use authing_oidc::{AccessToken, AuthenticationClient, AuthorizationCode, Error, RefreshToken};
use mock::{Canned, MockServer};
use serde_json::json;

fn client(server: &MockServer) -> AuthenticationClient {
    AuthenticationClient::builder()
        .app_id("app")
        .secret("secret")
        .app_host(server.url())
        .redirect_uri("https://example.com/cb")
        .build()
        .unwrap()
}

#[tokio::test]
async fn oauth_error_body_becomes_an_op_error() {
    let server = MockServer::start().await;
    server.on(
        "/oidc/token",
        Canned::json(
            400,
            json!({"error": "invalid_grant", "error_description": "grant request is invalid"}),
        ),
    );
    let e = client(&server)
        .get_access_token_by_code(&AuthorizationCode::new("c"), None)
        .await
        .unwrap_err();
    let op = e.op_error().expect("an OP error");
    assert_eq!(op.status, 400);
    assert_eq!(op.error.as_deref(), Some("invalid_grant"));
    assert_eq!(op.error_description.as_deref(), Some("grant request is invalid"));
    assert_eq!(e.oauth_error(), Some("invalid_grant"));
    assert!(!e.is_transient());
    assert!(e.to_string().contains("invalid_grant"), "{e}");
}

#[tokio::test]
async fn authing_code_message_body_becomes_an_op_error() {
    let server = MockServer::start().await;
    server.on(
        "/oidc/token/revocation",
        Canned::json(403, json!({"code": 2001, "message": "no permission"})),
    );
    let e = client(&server)
        .revoke_token(&RefreshToken::new("r"))
        .await
        .unwrap_err();
    let op = e.op_error().unwrap();
    assert_eq!(op.status, 403);
    assert_eq!(op.code.as_deref(), Some("2001"));
    assert_eq!(op.message.as_deref(), Some("no permission"));
}

#[tokio::test]
async fn www_authenticate_bearer_error_on_401() {
    let server = MockServer::start().await;
    server.on(
        "/oidc/me",
        Canned::raw(401, "text/plain", "").with_header(
            "www-authenticate",
            r#"Bearer realm="x", error="invalid_token", error_description="expired""#,
        ),
    );
    let e = client(&server)
        .get_user_info_by_access_token(&AccessToken::new("t"))
        .await
        .unwrap_err();
    let op = e.op_error().unwrap();
    assert_eq!(op.status, 401);
    assert_eq!(op.error.as_deref(), Some("invalid_token"));
    assert_eq!(op.error_description.as_deref(), Some("expired"));
}

#[tokio::test]
async fn html_500_is_excerpted_only_where_bodies_cannot_hold_tokens() {
    let server = MockServer::start().await;
    let html = "<html><body><h1>Internal Server Error</h1></body></html>";
    server.on("/oidc/token/revocation", Canned::raw(500, "text/html", html));
    server.on("/oidc/token", Canned::raw(500, "text/html", html));
    let c = client(&server);
    let e = c.revoke_token(&AccessToken::new("t")).await.unwrap_err();
    assert_eq!(e.op_error().unwrap().status, 500);
    assert!(e.is_transient());
    assert!(e.to_string().contains("Internal Server Error"), "{e}");
    let e = c
        .get_new_access_token_by_refresh_token(&RefreshToken::new("r"))
        .await
        .unwrap_err();
    assert_eq!(e.op_error().unwrap().status, 500);
    assert!(e.op_error().unwrap().excerpt.is_none());
    assert!(
        !e.to_string().contains("Internal Server Error"),
        "token bodies are never excerpted: {e}"
    );
}

#[tokio::test]
async fn non_json_200_is_an_invalid_response_without_the_body() {
    let server = MockServer::start().await;
    server.on(
        "/oidc/token",
        Canned::raw(200, "text/plain", "access_token=leaked-canary&token_type=bearer"),
    );
    let e = client(&server)
        .get_access_token_by_code(&AuthorizationCode::new("c"), None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidResponse { .. }), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("leaked-canary"));
}

#[tokio::test]
async fn token_response_without_access_token_or_with_another_type_is_refused() {
    let server = MockServer::start().await;
    let c = client(&server);
    server.on(
        "/oidc/token",
        Canned::json(200, json!({"token_type": "Bearer", "id_token": "x"})),
    );
    let e = c
        .get_new_access_token_by_refresh_token(&RefreshToken::new("r"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidResponse { reason, .. } if reason.contains("access_token")),
        "{e:?}"
    );
    server.on(
        "/oidc/token",
        Canned::json(200, json!({"access_token": "a", "token_type": "mac"})),
    );
    let e = c
        .get_new_access_token_by_refresh_token(&RefreshToken::new("r"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidResponse { reason, .. } if reason.contains("mac")),
        "{e:?}"
    );
    // Lenient where providers differ harmlessly.
    server.on(
        "/oidc/token",
        Canned::json(
            200,
            json!({"access_token": "a", "token_type": "BEARER",
        "expires_in": "7200"}),
        ),
    );
    let t = c
        .get_new_access_token_by_refresh_token(&RefreshToken::new("r"))
        .await
        .unwrap();
    assert_eq!(t.expires_in, Some(7200));
    assert!(t.scope.is_none());
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let server = MockServer::start().await;
    let big = format!("{{\"sub\":\"u\",\"pad\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    server.on("/oidc/me", Canned::raw(200, "application/json", big.clone()));
    let e = client(&server)
        .get_user_info_by_access_token(&AccessToken::new("t"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::ResponseTooLarge { limit: 1048576, .. }),
        "{e:?}"
    );
    // The same body under a raised cap passes.
    let small = AuthenticationClient::builder()
        .app_id("app")
        .secret("secret")
        .app_host(server.url())
        .max_response_bytes(4 * 1024 * 1024)
        .build()
        .unwrap();
    assert_eq!(
        small
            .get_user_info_by_access_token(&AccessToken::new("t"))
            .await
            .unwrap()
            .sub,
        "u"
    );
}

/// A server on 127.0.0.1 that answers every connection with `head` and then
/// `body` as written (no framing added), keeping the connection open.
async fn raw_server(head: String, body: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (head, body) = (head.clone(), body.clone());
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
                // Hold the connection: the client decides when it has had enough.
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
        }
    });
    format!("http://{addr}")
}

fn capped_client(url: String) -> AuthenticationClient {
    AuthenticationClient::builder()
        .app_id("app")
        .secret("secret")
        .app_host(url)
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap()
}

/// A chunked body carries no Content-Length: only counting the bytes as they
/// arrive can stop it. The body is valid JSON, so without the count it would
/// be accepted.
#[tokio::test]
async fn a_chunked_body_over_the_cap_is_refused_while_it_is_read() {
    let json = format!("{{\"sub\":\"u\",\"pad\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let mut body = Vec::new();
    for chunk in json.as_bytes().chunks(64 * 1024) {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    let url = raw_server(head.to_owned(), body).await;
    let e = capped_client(url)
        .get_user_info_by_access_token(&AccessToken::new("t"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::ResponseTooLarge { limit: 1048576, .. }),
        "{e:?}"
    );
}

/// A declared Content-Length over the cap is refused at once, before a byte
/// of the body is read: this server announces 16 MiB and sends nothing, so a
/// client that waited for the body would only time out.
#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused_before_reading() {
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        16 * 1024 * 1024
    );
    let url = raw_server(head, Vec::new()).await;
    let started = Instant::now();
    let e = capped_client(url)
        .get_user_info_by_access_token(&AccessToken::new("t"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::ResponseTooLarge { limit: 1048576, .. }),
        "{e:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = MockServer::start().await;
    server.on(
        "/oidc/me",
        Canned::json(200, json!({"sub": "u"})).delayed(Duration::from_secs(30)),
    );
    let c = AuthenticationClient::builder()
        .app_id("app")
        .secret("secret")
        .app_host(server.url())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let e = c
        .get_user_info_by_access_token(&AccessToken::new("t"))
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
    assert!(e.is_transient());
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn the_timeout_also_applies_to_a_caller_provided_http_client() {
    let server = MockServer::start().await;
    server.on(
        "/oidc/me",
        Canned::json(200, json!({"sub": "u"})).delayed(Duration::from_secs(30)),
    );
    let c = AuthenticationClient::builder()
        .app_id("app")
        .secret("secret")
        .app_host(server.url())
        .http_client(reqwest::Client::new())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    assert!(
        c.get_user_info_by_access_token(&AccessToken::new("t"))
            .await
            .unwrap_err()
            .is_timeout()
    );
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    // Bind then drop, so the port is (very likely) closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = AuthenticationClient::builder()
        .app_id("app")
        .secret("secret")
        .app_host(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    let e = c
        .get_user_info_by_access_token(&AccessToken::new("t"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    assert!(e.is_transient());
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = MockServer::start().await;
    server.on(
        "/oidc/token",
        Canned::raw(302, "text/plain", "").with_header("location", "http://127.0.0.1:1/x"),
    );
    let e = client(&server)
        .get_new_access_token_by_refresh_token(&RefreshToken::new("r"))
        .await
        .unwrap_err();
    assert_eq!(e.op_error().map(|o| o.status), Some(302), "{e:?}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn an_absurd_expires_in_does_not_overflow() {
    use base64::Engine as _;
    let server = MockServer::start().await;
    let c = client(&server);
    let b64 = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let id_token = format!(
        "{}.{}.",
        b64(json!({"alg": "RS256"})),
        b64(json!({"iss": c.issuer(), "aud": "app", "sub": "u", "exp": 4_000_000_000u64, "iat": 1}))
    );
    server.on(
        "/oidc/token",
        Canned::json(
            200,
            json!({"access_token": "a", "token_type": "Bearer", "id_token": id_token,
            "expires_in": u64::MAX}),
        ),
    );
    let tokens = c
        .get_new_access_token_by_refresh_token(&RefreshToken::new("r"))
        .await
        .unwrap();
    assert_eq!(tokens.expires_in, Some(u64::MAX));
    let session = authing_oidc::flow::Authenticated::insecure_from_unverified_tokens(c, tokens).unwrap();
    let t = session.access_token().await.unwrap();
    assert!(t.expires_in.unwrap() > Duration::from_secs(1 << 40));
}
