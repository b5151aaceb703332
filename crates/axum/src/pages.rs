//! The two pages the crate serves itself: the form_post relay and the error page. Askama
//! templates in `templates/`; every `{{ value }}` is HTML-escaped.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// Renders `page` with `status`; a page that fails to render becomes a bare 500.
fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            let headers = response.headers_mut();
            // Per-user pages, some holding one-time values (the relay's code).
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            response
        }
        Err(error) => {
            tracing::error!(%error, "rendering a page failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "relay.html")]
struct Relay<'a> {
    action: &'a str,
    fields: &'a [(String, String)],
    nonce: &'a str,
}

/// Re-posts a form_post callback's fields, unchanged, to `action` from our own site (see
/// [`crate::routes`]).
pub(crate) fn relay(action: &str, fields: &[(String, String)]) -> Response {
    let nonce = crate::session::random_token();
    let mut response = render(
        StatusCode::OK,
        &Relay {
            action,
            fields,
            nonce: &nonce,
        },
    );
    if let Ok(csp) = HeaderValue::from_str(&format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

#[derive(Template)]
#[template(path = "problem.html")]
struct Problem<'a> {
    title: &'a str,
    message: &'a str,
    login_path: &'a str,
}

/// An error page in plain words, with a way to log in again.
pub(crate) fn problem(status: StatusCode, title: &str, message: &str, login_path: &str) -> Response {
    let mut response = render(
        status,
        &Problem {
            title,
            message,
            login_path,
        },
    );
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    );
    response
}
