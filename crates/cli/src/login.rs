//! `login`: a listener on the 127.0.0.1 redirect URI that receives the
//! authorization response from the browser, by `GET` (query) or `POST`
//! (form_post), and answers it with a small HTML page.
//!
//! It speaks just enough HTTP/1.1 for a browser: one request per connection,
//! bounded header and body sizes, a read timeout per connection. Connections
//! are served concurrently, so a browser's speculative pre-connection cannot
//! hold up the real callback.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use askama::Template;
use authing_oidc::flow::CallbackParams;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use url::Url;

use crate::error::{CliError, Kind};

/// How long `login` waits for the browser to come back.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);
/// How long one connection may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;

/// The port and path of a `http://127.0.0.1:PORT/…` redirect URI; anything
/// else is a configuration error (exit 2).
pub fn loopback_target(redirect_uri: Option<&Url>) -> Result<(u16, String), CliError> {
    let url = redirect_uri.ok_or_else(|| {
        CliError::config("login needs a redirect URI http://127.0.0.1:PORT/… (--redirect-uri)")
    })?;
    let loopback = url.scheme() == "http" && url.host() == Some(url::Host::Ipv4(Ipv4Addr::LOCALHOST));
    match url.port_or_known_default() {
        Some(port) if loopback && port != 0 => Ok((port, url.path().to_owned())),
        _ => Err(CliError::config(format!(
            "login listens on the redirect URI, which must be http://127.0.0.1:PORT/…, not {url}"
        ))),
    }
}

/// Binds 127.0.0.1:`port` only.
pub async fn bind(port: u16) -> Result<TcpListener, CliError> {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .map_err(|e| CliError::new(Kind::Io, format!("cannot listen on 127.0.0.1:{port}: {e}")))
}

/// A callback that reached the redirect path, with the connection to answer on.
pub struct Arrived {
    /// The parsed response, or why it is malformed.
    pub params: Result<CallbackParams, authing_oidc::Error>,
    stream: TcpStream,
}

impl Arrived {
    /// Answers the browser with a page and closes the connection.
    pub async fn answer(mut self, ok: bool, message: &str) {
        let (status, title) = if ok {
            ("200 OK", "Logged in")
        } else {
            ("400 Bad Request", "Login failed")
        };
        let body = page(title, message);
        respond(&mut self.stream, status, &body).await;
    }
}

/// Accepts connections until a request with parameters reaches `path`.
/// Other paths get 404; the redirect path without parameters gets 400; both
/// keep the listener waiting.
pub async fn wait_for_callback(listener: TcpListener, path: String) -> Result<Arrived, CliError> {
    let (tx, mut rx) = mpsc::channel::<Arrived>(1);
    let accept = async {
        loop {
            let (stream, _) = listener
                .accept()
                .await
                .map_err(|e| CliError::new(Kind::Io, format!("accepting a connection failed: {e}")))?;
            let tx = tx.clone();
            let path = path.clone();
            tokio::spawn(async move {
                if let Some(arrived) = serve(stream, &path).await {
                    let _ = tx.send(arrived).await;
                }
            });
        }
    };
    tokio::select! {
        result = accept => result,
        Some(arrived) = rx.recv() => Ok(arrived),
    }
}

/// Reads one request; answers it unless it is the callback.
async fn serve(mut stream: TcpStream, path: &str) -> Option<Arrived> {
    let request = match tokio::time::timeout(REQUEST_TIMEOUT, read_request(&mut stream)).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            respond(
                &mut stream,
                "400 Bad Request",
                &page("Bad request", "Malformed request."),
            )
            .await;
            return None;
        }
        Err(_) => return None,
    };
    let (req_path, query) = match request.target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (request.target.as_str(), None),
    };
    if req_path != path {
        respond(
            &mut stream,
            "404 Not Found",
            &page("Not found", "This is the login callback listener."),
        )
        .await;
        return None;
    }
    let params = match request.method.as_str() {
        "GET" => match query.filter(|q| !q.is_empty()) {
            Some(q) => CallbackParams::from_query(q),
            None => {
                let msg = "This address waits for the provider's answer; it carries none.";
                respond(&mut stream, "400 Bad Request", &page("No login response", msg)).await;
                return None;
            }
        },
        "POST" => match std::str::from_utf8(&request.body) {
            Ok(body) => CallbackParams::from_form_post(body),
            Err(_) => Err(authing_oidc::Error::MalformedCallback(
                "the form_post body is not UTF-8".to_owned(),
            )),
        },
        _ => {
            respond(
                &mut stream,
                "405 Method Not Allowed",
                &page("Not allowed", "GET or POST only."),
            )
            .await;
            return None;
        }
    };
    Some(Arrived { params, stream })
}

struct Request {
    method: String,
    /// Origin-form: path and query.
    target: String,
    body: Vec<u8>,
}

/// Reads the request line, headers and a `Content-Length` body; `None` when
/// the request is malformed or too large.
async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let mut target = first.next()?.to_owned();
    // An absolute-form target (RFC 9112 §3.2.2): keep its path and query.
    if let Some(rest) = target.strip_prefix("http://") {
        target = rest
            .find('/')
            .map(|i| rest[i..].to_owned())
            .unwrap_or_else(|| "/".to_owned());
    }
    let mut length = 0usize;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        if name.trim().eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().ok()?;
        }
    }
    if length > MAX_BODY {
        return None;
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some(Request { method, target, body })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nX-Content-Type-Options: nosniff\r\n\
         Content-Security-Policy: default-src 'none'\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The page the browser shows after the redirect, `templates/loopback.html`; its values are
/// HTML-escaped by askama, so a provider's error text cannot add markup.
#[derive(Template)]
#[template(path = "loopback.html")]
struct LoopbackPage<'a> {
    title: &'a str,
    message: &'a str,
}

fn page(title: &str, message: &str) -> String {
    LoopbackPage { title, message }.render().unwrap_or_else(|error| {
        // Only a failing `Display` impl can fail a render, and both values are `&str`; an
        // empty page still carries the status line.
        tracing::error!(%error, "rendering the loopback page failed");
        String::new()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_127_0_0_1_with_a_port() {
        let ok = Url::parse("http://127.0.0.1:3000/callback").unwrap();
        assert_eq!(
            loopback_target(Some(&ok)).unwrap(),
            (3000, "/callback".to_owned())
        );
        for bad in [
            "https://127.0.0.1:3000/callback",
            "http://localhost:3000/callback",
            "http://example.com:3000/callback",
            "http://127.0.0.1:0/callback",
        ] {
            let url = Url::parse(bad).unwrap();
            assert_eq!(loopback_target(Some(&url)).unwrap_err().exit_code(), 2, "{bad}");
        }
        assert!(loopback_target(None).is_err());
    }

    #[test]
    fn the_page_escapes_title_and_message() {
        // Markup, both quotes and an ampersand, as a provider's error text could carry.
        let hostile = r#"<script>alert("x" & 'y')</script>"#;
        let escaped = "&#60;script&#62;alert(&#34;x&#34; &#38; &#39;y&#39;)&#60;/script&#62;";
        assert_eq!(
            page(hostile, hostile),
            format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>{escaped}</title></head>\
                 <body><h1>{escaped}</h1><p>{escaped}</p>\
                 <p>You can close this tab and return to the terminal.</p></body></html>"
            )
        );
    }
}
