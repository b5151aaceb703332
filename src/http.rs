//! The HTTP layer: sends one request, reads a capped body, turns error answers
//! into [`OpError`]. It knows nothing of flows or tokens' meaning.

use std::time::{Duration, Instant};

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{Error, OpError, Result, truncate};

mod redact;
use redact::Redactions;

/// Whether a response body may be quoted in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body {
    /// Token, introspection and userinfo bodies may hold tokens or personal
    /// data: never excerpted.
    Sensitive,
    /// Anything else: a short excerpt helps debugging.
    Quotable,
}

/// The shared HTTP client with this SDK's limits.
#[derive(Clone, Debug)]
pub(crate) struct Http {
    client: reqwest::Client,
    timeout: Duration,
    max_body: usize,
}

/// A received response with its body read.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) endpoint: String,
    /// What the request sent that must not be echoed into an error.
    secrets: Redactions,
}

/// The endpoint as it may appear in errors and logs: without query or
/// fragment (a query can carry a token, e.g. `validate_token?id_token=`).
pub(crate) fn endpoint_label(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_password(None);
    let _ = u.set_username("");
    u.to_string()
}

/// The default client: rustls, no redirects (a redirect on a token endpoint is
/// never legitimate and could leak credentials), the request timeout.
pub(crate) fn default_client(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .user_agent(concat!("authing-oidc-rust/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::config(format!("cannot build the HTTP client: {}", e.without_url())))
}

impl Http {
    /// The timeout of every request.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn new(client: reqwest::Client, timeout: Duration, max_body: usize) -> Self {
        Http {
            client,
            timeout,
            max_body,
        }
    }

    /// `GET url`, optionally with a bearer token in the `Authorization` header.
    pub(crate) async fn get(&self, operation: &'static str, url: Url, bearer: Option<&str>) -> Result<Reply> {
        let mut credentials = Credentials::default();
        if let Some(token) = bearer {
            credentials.insert(header::AUTHORIZATION, "Bearer ", token)?;
        }
        self.get_with(operation, url, credentials).await
    }

    /// `GET url` with credential headers (`Authorization`, a DPoP proof).
    pub(crate) async fn get_with(
        &self,
        operation: &'static str,
        url: Url,
        credentials: Credentials,
    ) -> Result<Reply> {
        let Credentials { headers, mut secrets } = credentials;
        // A token in the query (validate_token) is also never echoed.
        for (_, v) in url.query_pairs() {
            secrets.value(&v);
        }
        let mut reply = self.send(operation, Method::GET, url, headers, None).await?;
        reply.secrets = secrets;
        Ok(reply)
    }

    /// `POST url` with an `application/x-www-form-urlencoded` body.
    pub(crate) async fn post_form(
        &self,
        operation: &'static str,
        url: Url,
        form: &Form,
        authorization: Option<HeaderValue>,
    ) -> Result<Reply> {
        self.post_form_full(
            operation,
            url,
            form,
            authorization,
            "application/json",
            Credentials::default(),
        )
        .await
    }

    /// [`post_form`](Self::post_form) asking for another media type than
    /// JSON (e.g. RFC 9701's JWT introspection answer).
    pub(crate) async fn post_form_accepting(
        &self,
        operation: &'static str,
        url: Url,
        form: &Form,
        authorization: Option<HeaderValue>,
        accept: &'static str,
    ) -> Result<Reply> {
        self.post_form_full(
            operation,
            url,
            form,
            authorization,
            accept,
            Credentials::default(),
        )
        .await
    }

    /// [`post_form`](Self::post_form) with more credential headers (a DPoP proof).
    pub(crate) async fn post_form_with(
        &self,
        operation: &'static str,
        url: Url,
        form: &Form,
        authorization: Option<HeaderValue>,
        credentials: Credentials,
    ) -> Result<Reply> {
        self.post_form_full(
            operation,
            url,
            form,
            authorization,
            "application/json",
            credentials,
        )
        .await
    }

    async fn post_form_full(
        &self,
        operation: &'static str,
        url: Url,
        form: &Form,
        authorization: Option<HeaderValue>,
        accept: &'static str,
        credentials: Credentials,
    ) -> Result<Reply> {
        let Credentials {
            mut headers,
            mut secrets,
        } = credentials;
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
        if let Some(a) = authorization {
            headers.insert(header::AUTHORIZATION, a);
        }
        let mut reply = self
            .send(operation, Method::POST, url, headers, Some(form.encode()))
            .await?;
        secrets.extend(&form.secrets);
        reply.secrets = secrets;
        Ok(reply)
    }

    /// A JSON request (dynamic client registration, RFC 7591 / 7592): `method`
    /// with an optional `application/json` body and an optional bearer token.
    /// `body_secrets` are values in the body that must never be echoed into an
    /// error (a client secret sent back on update).
    pub(crate) async fn json_request(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        bearer: Option<&str>,
        body_secrets: &[&str],
    ) -> Result<Reply> {
        let mut headers = HeaderMap::new();
        let mut secrets = Redactions::default();
        if let Some(token) = bearer {
            headers.insert(
                header::AUTHORIZATION,
                sensitive_header(&format!("Bearer {token}"))?,
            );
            secrets.value(token);
        }
        for s in body_secrets {
            secrets.value(s);
        }
        let body = match body {
            Some(value) => {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                Some(value.to_string())
            }
            None => None,
        };
        let mut reply = self.send(operation, method, url, headers, body).await?;
        reply.secrets = secrets;
        Ok(reply)
    }

    async fn send(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        mut headers: HeaderMap,
        body: Option<String>,
    ) -> Result<Reply> {
        let endpoint = endpoint_label(&url);
        let span = tracing::info_span!(
            "authing_oidc.request",
            operation,
            endpoint = %endpoint,
            status = tracing::field::Empty,
            elapsed_ms = tracing::field::Empty,
        );
        let _enter = span.enter();
        let started = Instant::now();
        headers
            .entry(header::ACCEPT)
            .or_insert(HeaderValue::from_static("application/json"));
        let mut request = self
            .client
            .request(method, url)
            .headers(headers)
            .timeout(self.timeout);
        if let Some(body) = body {
            request = request.body(body);
        }
        drop(_enter);
        let result = self.receive(request, &endpoint).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        span.record("elapsed_ms", elapsed_ms);
        match &result {
            Ok(reply) => {
                span.record("status", reply.status.as_u16());
                span.in_scope(|| tracing::debug!(status = reply.status.as_u16(), elapsed_ms, "response"));
            }
            Err(e) => span.in_scope(|| tracing::debug!(error = %e, elapsed_ms, "request failed")),
        }
        result
    }

    async fn receive(&self, request: reqwest::RequestBuilder, endpoint: &str) -> Result<Reply> {
        let mut response = request.send().await.map_err(|e| transport(e, endpoint))?;
        let status = response.status();
        if let Some(len) = response.content_length()
            && len > self.max_body as u64
        {
            return Err(Error::ResponseTooLarge {
                endpoint: endpoint.to_owned(),
                limit: self.max_body,
            });
        }
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| transport(e, endpoint))? {
            if body.len() + chunk.len() > self.max_body {
                return Err(Error::ResponseTooLarge {
                    endpoint: endpoint.to_owned(),
                    limit: self.max_body,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply {
            status,
            headers,
            body,
            endpoint: endpoint.to_owned(),
            secrets: Redactions::default(),
        })
    }
}

pub(crate) fn transport(e: reqwest::Error, endpoint: &str) -> Error {
    if e.is_timeout() {
        return Error::Timeout {
            endpoint: endpoint.to_owned(),
        };
    }
    // The URL is dropped: it may carry a token in its query.
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    Error::Transport {
        endpoint: endpoint.to_owned(),
        message,
    }
}

fn sensitive_header(value: &str) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        Error::input("a token or credential contains characters not allowed in an HTTP header")
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// Request headers that carry credentials (`Authorization`, a DPoP proof),
/// each marked sensitive and registered, exactly as sent, for scrubbing.
#[derive(Default)]
pub(crate) struct Credentials {
    headers: HeaderMap,
    secrets: Redactions,
}

impl Credentials {
    /// Sets `name: {scheme}{credential}`; the credential is registered as a secret.
    pub(crate) fn insert(&mut self, name: header::HeaderName, scheme: &str, credential: &str) -> Result<()> {
        self.headers
            .insert(name, sensitive_header(&format!("{scheme}{credential}"))?);
        self.secrets.value(credential);
        Ok(())
    }

    /// The headers, for a request this layer does not send.
    pub(crate) fn into_headers(self) -> HeaderMap {
        self.headers
    }
}

/// A form body under construction, with the secrets the request carries (in
/// the body or in a header) registered for scrubbing. Values are
/// form-urlencoded when encoded (space becomes `+`).
#[derive(Default, Clone)]
pub(crate) struct Form {
    pairs: Vec<(std::borrow::Cow<'static, str>, String)>,
    secrets: Redactions,
}

impl Form {
    pub(crate) fn new() -> Self {
        Form::default()
    }

    pub(crate) fn push(&mut self, name: &'static str, value: impl Into<String>) -> &mut Self {
        self.pairs.push((name.into(), value.into()));
        self
    }

    /// Adds a parameter whose name is not known in advance (the parameters
    /// of a pushed authorization request, RFC 9126 §2.1).
    pub(crate) fn push_owned(&mut self, name: String, value: String) -> &mut Self {
        self.pairs.push((name.into(), value));
        self
    }

    /// Adds a value that must never appear in an error, even if the provider
    /// echoes it back.
    /// A client assertion (RFC 7523) goes here too.
    pub(crate) fn push_secret(&mut self, name: &'static str, value: &str) -> &mut Self {
        self.secrets.value(value);
        self.push(name, value)
    }

    /// A header value that carries a credential (`Basic …`, a DPoP proof):
    /// marked sensitive, and the credential registered exactly as sent, so an
    /// echoed header cannot put it into an error.
    pub(crate) fn credential_header(&mut self, scheme: &str, credential: String) -> Result<HeaderValue> {
        let value = sensitive_header(&format!("{scheme}{credential}"))?;
        self.secrets.exact(credential);
        Ok(value)
    }

    /// `Authorization: Basic` for client_secret_basic: the id and the secret
    /// are form-urlencoded before base64 (RFC 6749 §2.3.1). The secret is
    /// registered raw, as the encoded `id:secret` pair and as the base64 value.
    pub(crate) fn basic_authorization(&mut self, client_id: &str, secret: &str) -> Result<HeaderValue> {
        use base64::Engine as _;
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let credentials = format!("{}:{}", enc(client_id), enc(secret));
        self.secrets.value(secret);
        self.secrets.exact(credentials.clone());
        let basic = base64::engine::general_purpose::STANDARD.encode(credentials);
        self.credential_header("Basic ", basic)
    }

    fn encode(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            s.append_pair(k, v);
        }
        s.finish()
    }
}

impl Reply {
    /// A reply that did not come over the wire: the fuzz targets hand the
    /// parsers their bytes this way (`crate::fuzzing`).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn from_parts(
        status: StatusCode,
        headers: HeaderMap,
        body: Vec<u8>,
        secrets: Vec<String>,
    ) -> Reply {
        Reply {
            status,
            headers,
            body,
            endpoint: "https://fuzz.example/endpoint".to_owned(),
            secrets: {
                let mut r = Redactions::default();
                for s in &secrets {
                    r.value(s);
                }
                r
            },
        }
    }

    /// Turns a non-2xx answer into an [`Error::Op`].
    pub(crate) fn error_for_status(self, body: Body) -> Result<Reply> {
        if self.status.is_success() {
            return Ok(self);
        }
        Err(Error::Op(Box::new(self.op_error(body))))
    }

    /// The provider error this answer carries, read from an OAuth error body,
    /// Authing's `{code, message}`, or a `WWW-Authenticate: Bearer` header.
    pub(crate) fn op_error(&self, body: Body) -> OpError {
        let mut op = OpError {
            endpoint: self.endpoint.clone(),
            status: self.status.as_u16(),
            error: None,
            error_description: None,
            code: None,
            message: None,
            excerpt: None,
        };
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(&self.body) {
            let field = |name: &str| map.get(name).and_then(json_text).map(|t| self.provider_text(&t));
            op.error = field("error");
            op.error_description = field("error_description");
            op.code = field("code");
            op.message = field("message");
        }
        if op.error.is_none()
            && let Some((error, description)) = self.www_authenticate_error()
        {
            op.error = Some(self.provider_text(&error));
            op.error_description = op
                .error_description
                .or(description.map(|d| self.provider_text(&d)));
        }
        if op.error.is_none() && op.code.is_none() && body == Body::Quotable {
            op.excerpt = Some(self.excerpt());
        }
        op
    }

    /// Text the provider wrote, fit for an error: what we sent as a secret is
    /// taken out first (a provider may echo it), then it is shortened.
    pub(crate) fn provider_text(&self, raw: &str) -> String {
        let mut text = raw.to_owned();
        self.scrub(&mut text);
        truncate(&text, 300)
    }

    /// A short, printable excerpt of a body that cannot hold a token, with
    /// every secret we sent taken out before it is shortened.
    fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let flat: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let mut flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
        self.scrub(&mut flat);
        if flat.is_empty() {
            "(empty body)".to_owned()
        } else {
            truncate(&flat, 200)
        }
    }

    fn scrub(&self, text: &mut String) {
        self.secrets.apply(text);
    }

    /// The error of an RFC 6750 `Bearer` or RFC 9449 `DPoP` challenge.
    fn www_authenticate_error(&self) -> Option<(String, Option<String>)> {
        self.headers
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| challenge_params(v, "Bearer").or_else(|| challenge_params(v, "DPoP")))
            .find_map(|params| {
                let error = params
                    .iter()
                    .find(|(k, _)| k == "error")
                    .map(|(_, v)| v.clone())?;
                let description = params
                    .iter()
                    .find(|(k, _)| k == "error_description")
                    .map(|(_, v)| v.clone());
                Some((error, description))
            })
    }

    /// Parses a 2xx JSON body.
    pub(crate) fn json<T: DeserializeOwned>(&self, body: Body) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let reason = match body {
                // serde's message can quote the offending value: keep only where it failed.
                Body::Sensitive => format!(
                    "the body is not the expected JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
                Body::Quotable => {
                    let mut text =
                        format!("the body is not the expected JSON: {e}; body: {}", self.excerpt());
                    self.scrub(&mut text);
                    text
                }
            };
            Error::InvalidResponse {
                endpoint: self.endpoint.clone(),
                reason,
            }
        })
    }
}

fn json_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The parameters of a `WWW-Authenticate` value when its scheme is `scheme`
/// (compared case-insensitively, RFC 7235 §2.1).
pub(crate) fn challenge_params(value: &str, scheme: &str) -> Option<Vec<(String, String)>> {
    let value = value.trim_start();
    let (name, rest) = value.split_at_checked(scheme.len())?;
    if !name.eq_ignore_ascii_case(scheme) || !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    Some(parse_auth_params(rest.trim_start()))
}

/// `key=value, key="quoted value"` pairs of an RFC 7235 challenge.
fn parse_auth_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(c) if *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() || chars.next() != Some('=') {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ','))
                .collect::<String>()
                .trim()
                .to_owned();
        }
        out.push((key.trim().to_ascii_lowercase(), value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_drops_query_and_credentials() {
        let u = Url::parse("https://u:p@a.example/api?id_token=secret#f").unwrap();
        assert_eq!(endpoint_label(&u), "https://a.example/api");
    }

    #[test]
    fn auth_params() {
        let p = parse_auth_params(
            r#"realm="x", error="invalid_token", error_description="The \"token\" expired""#,
        );
        assert_eq!(p[1], ("error".into(), "invalid_token".into()));
        assert_eq!(p[2].1, "The \"token\" expired");
        let p = parse_auth_params("error=invalid_token");
        assert_eq!(p, vec![("error".into(), "invalid_token".into())]);
    }

    #[test]
    fn basic_credentials_are_form_encoded_first() {
        use base64::Engine as _;
        let v = Form::new()
            .basic_authorization("app id", "s3cr3t with spaces&+/=%")
            .unwrap();
        let b64 = v.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let raw = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
        assert_eq!(
            String::from_utf8(raw).unwrap(),
            "app+id:s3cr3t+with+spaces%26%2B%2F%3D%25"
        );
        assert!(v.is_sensitive());
    }

    #[test]
    fn excerpt_is_short_and_flat_and_scrubbed_before_it_is_cut() {
        let secret = format!("tok{}", "y".repeat(600));
        let body = format!("<html>\n<body>{} {secret}</body></html>", "x".repeat(10));
        let reply = Reply {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            headers: HeaderMap::new(),
            body: body.into_bytes(),
            endpoint: "https://op.example/revoke".into(),
            secrets: {
                let mut r = Redactions::default();
                r.value(&secret);
                r
            },
        };
        let e = reply.excerpt();
        assert!(e.chars().count() <= 201);
        assert!(!e.contains('\n'));
        assert!(!e.contains("tokyyyy"), "{e}");
        assert!(e.contains("[REDACTED]"));
        assert!(
            !reply
                .provider_text(&format!("bad token {secret}"))
                .contains("tokyyyy")
        );
    }
}
