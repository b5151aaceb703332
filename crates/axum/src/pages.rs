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

#[cfg(test)]
#[path = "../../../tests/support/escaping.rs"]
mod escaping;

#[cfg(test)]
mod tests {
    use super::*;

    use super::escaping::{ESCAPED, HOSTILE, text};

    #[tokio::test]
    async fn the_relay_reposts_fields_escaped_and_runs_only_its_own_script() {
        let fields = vec![
            ("code".to_owned(), r#""><script>alert(1)</script>"#.to_owned()),
            ("state".to_owned(), "s".to_owned()),
        ];
        let response = relay("/callback?relayed=1", &fields);
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let page = String::from_utf8(body.to_vec()).unwrap();
        assert!(page.contains(r#"value="&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;""#));
        assert_eq!(page.matches("<script").count(), 1);
        assert!(page.contains(r#"action="/callback?relayed=1""#));
        let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap();
        assert!(page.contains(&format!("<script nonce=\"{nonce}\">")));
        assert!(csp.contains("form-action 'self'"));
    }

    #[tokio::test]
    async fn the_relay_escapes_names_values_and_action_in_attributes() {
        let fields = vec![
            (HOSTILE.to_owned(), HOSTILE.to_owned()),
            ("state".to_owned(), "a&b".to_owned()),
        ];
        let response = relay(HOSTILE, &fields);
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap()
            .to_owned();
        let page = text(response).await;
        let expected = format!(
            "<h1>Signing you in…</h1>\n<form id=\"relay\" method=\"post\" action=\"{ESCAPED}\">\n\
             <input type=\"hidden\" name=\"{ESCAPED}\" value=\"{ESCAPED}\">\n\
             <input type=\"hidden\" name=\"state\" value=\"a&#38;b\">\n\
             <noscript><p>JavaScript is off: press the button to finish signing in.</p>\
             <button type=\"submit\">Continue</button></noscript>\n</form>\n\
             <script nonce=\"{nonce}\">document.getElementById(\"relay\").submit();</script>\n</main>"
        );
        assert!(page.contains(&expected), "{page}");
        assert_eq!(page.matches("<script").count(), 1);
    }

    #[tokio::test]
    async fn the_problem_page_escapes_title_and_message() {
        let response = problem(StatusCode::BAD_GATEWAY, HOSTILE, HOSTILE, HOSTILE);
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let page = text(response).await;
        assert!(page.contains(&format!("<title>{ESCAPED}</title>")));
        assert!(page.contains(&format!(
            "<h1 id=\"problem-title\">{ESCAPED}</h1>\n<p id=\"problem\">{ESCAPED}</p>\n\
             <nav><a id=\"login-again\" href=\"{ESCAPED}\">Log in again</a>"
        )));
        assert!(!page.contains("<script"));
    }
}
