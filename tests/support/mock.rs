#![allow(dead_code)] // each test binary uses a part of this support module
//! A recording HTTP server on 127.0.0.1 that answers like Authing would, for
//! wire-level tests: every request is kept so tests can assert its method,
//! path, query, form body and headers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, Response, StatusCode};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The form body, decoded.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body).into_owned().collect()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_owned())
    }
}

/// A canned answer.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Option<Duration>,
    /// Replace `{echo}` in the body and headers with every value the request
    /// carried (form values, query values, the `Authorization` header as sent,
    /// its decoded Basic credentials, the bearer token), as a careless provider
    /// might.
    pub echo: bool,
}

impl Canned {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Canned {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
            delay: None,
            echo: false,
        }
    }

    pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Canned {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
            delay: None,
            echo: false,
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn echoing(mut self) -> Self {
        self.echo = true;
        self
    }

    pub fn delayed(mut self, by: Duration) -> Self {
        self.delay = Some(by);
        self
    }
}

#[derive(Default)]
struct State {
    requests: Mutex<Vec<Recorded>>,
    answers: Mutex<HashMap<String, Canned>>,
}

/// The running server. Dropping it stops nothing (the runtime does at test end).
#[derive(Clone)]
pub struct MockServer {
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl MockServer {
    pub async fn start() -> Self {
        let state = Arc::new(State::default());
        let s = state.clone();
        let app = axum::Router::new().fallback(move |req: Request<Body>| {
            let s = s.clone();
            async move { answer(s, req).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        MockServer { addr, state }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answer requests to `path` (any method) with `canned`.
    pub fn on(&self, path: &str, canned: Canned) {
        self.state.answers.lock().unwrap().insert(path.to_owned(), canned);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The only request received; panics if there were none or several.
    pub fn single(&self) -> Recorded {
        let r = self.requests();
        assert_eq!(r.len(), 1, "expected exactly one request, got {r:?}");
        r.into_iter().next().unwrap()
    }
}

async fn answer(state: Arc<State>, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body: Bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let query = parts
        .uri
        .query()
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    state.requests.lock().unwrap().push(Recorded {
        method: parts.method.clone(),
        path: path.clone(),
        query,
        headers: parts.headers.clone(),
        body: body.to_vec(),
    });
    let canned = state.answers.lock().unwrap().get(&path).cloned();
    let Some(mut canned) = canned else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::from("no answer configured"))
            .unwrap();
    };
    if canned.echo {
        let echo = echo_values(&state.requests.lock().unwrap().last().unwrap().clone());
        canned.body = String::from_utf8_lossy(&canned.body)
            .replace("{echo}", &echo)
            .into_bytes();
        for (_, v) in canned.headers.iter_mut() {
            *v = v.replace("{echo}", &echo);
        }
    }
    if let Some(d) = canned.delay {
        tokio::time::sleep(d).await;
    }
    let mut resp = Response::builder().status(canned.status);
    for (k, v) in &canned.headers {
        resp = resp.header(k, v);
    }
    resp.body(Body::from(canned.body)).unwrap()
}

fn echo_values(r: &Recorded) -> String {
    use base64::Engine as _;
    let mut values: Vec<String> = r.form().into_iter().map(|(_, v)| v).collect();
    values.extend(r.query.iter().map(|(_, v)| v.clone()));
    if let Some(auth) = r.header("authorization") {
        // The header as sent, then what it decodes to.
        values.push(auth.clone());
        if let Some(b) = auth.strip_prefix("Basic ") {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b)
                .unwrap_or_default();
            for part in String::from_utf8_lossy(&raw).split(':') {
                values.extend(
                    url::form_urlencoded::parse(format!("v={part}").as_bytes()).map(|(_, v)| v.into_owned()),
                );
            }
        }
        if let Some(t) = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("DPoP "))
        {
            values.push(t.to_owned());
        }
    }
    // A DPoP proof (RFC 9449) is a credential too.
    if let Some(proof) = r.header("dpop") {
        values.push(proof);
    }
    values.join(" ")
}
