//! The few HTML pages a browser sees: the login form, the form_post auto-submit page, and the
//! error page for requests that cannot be redirected.
//!
//! [`crate::login`] reads these pages back, so the markers it looks for (`id` attributes and
//! attribute order) are part of this module's contract.
//!
//! The pages are askama templates in `templates/` (`layout.html` and one file per page),
//! checked and compiled with the crate. Every `{{ value }}` in them is HTML-escaped (askama's
//! default for `.html` files), in element content and in double-quoted attributes alike.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `id` of the form on the form_post page.
pub(crate) const FORM_POST_ID: &str = "authorization-response";
/// `id` of the form on the login page.
pub(crate) const LOGIN_FORM_ID: &str = "login";

/// Renders `template` as an HTML response that no cache keeps.
fn page(status: StatusCode, template: &impl Template) -> Response {
    let html = match template.render() {
        Ok(html) => html,
        // Only a failing `Display` impl can fail a render, and every value here is a `&str`;
        // still, a page is not worth a panic.
        Err(error) => {
            tracing::error!(%error, "rendering a page failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Pages carry one-time values (uid, code); never cache them.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    action: &'a str,
    client_id: &'a str,
    error: Option<&'a str>,
}

/// The login form for pending request `uid`, optionally with an error message.
pub(crate) fn login_page(status: StatusCode, action: &str, client_id: &str, error: Option<&str>) -> Response {
    page(
        status,
        &LoginPage {
            action,
            client_id,
            error,
        },
    )
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostPage<'a> {
    action: &'a str,
    params: &'a [(String, String)],
}

/// The form_post response: a form that posts `params` to `action` as soon as it loads, with a
/// button for browsers without JavaScript (OAuth 2.0 Form Post Response Mode §2).
pub(crate) fn form_post_page(action: &str, params: &[(String, String)]) -> Response {
    page(StatusCode::OK, &FormPostPage { action, params })
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    error: &'a str,
    description: &'a str,
}

/// A page for errors that must not be redirected (unknown client, unregistered redirect URI).
pub(crate) fn error_page(status: StatusCode, error: &str, description: &str) -> Response {
    page(status, &ErrorPage { error, description })
}

#[cfg(test)]
#[path = "../../../tests/support/escaping.rs"]
mod escaping;

#[cfg(test)]
mod tests {
    use super::*;

    use super::escaping::{ESCAPED, HOSTILE, text};

    #[tokio::test]
    async fn the_login_page_escapes_client_action_and_error() {
        let response = login_page(StatusCode::UNAUTHORIZED, HOSTILE, HOSTILE, Some(HOSTILE));
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let page = text(response).await;
        assert!(
            page.contains(&format!("<h1>Log in to {ESCAPED}</h1>\n")),
            "{page}"
        );
        assert!(page.contains(&format!("<p role=\"alert\" id=\"error\">{ESCAPED}</p>\n")));
        assert!(page.contains(&format!(
            "<form id=\"login\" method=\"post\" action=\"{ESCAPED}\">\n"
        )));
        assert!(!page.contains("<script"));
    }

    #[tokio::test]
    async fn the_login_page_without_error_has_no_alert() {
        let page = text(login_page(StatusCode::OK, "/oidc/interaction/u", "app", None)).await;
        assert!(
            page.contains("<h1>Log in to app</h1>\n<form id=\"login\""),
            "{page}"
        );
        assert!(!page.contains("role=\"alert\""));
    }

    #[tokio::test]
    async fn the_form_post_page_escapes_hidden_inputs_and_action() {
        let params = vec![
            (HOSTILE.to_owned(), HOSTILE.to_owned()),
            ("state".to_owned(), "a&b".to_owned()),
        ];
        let response = form_post_page(HOSTILE, &params);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let page = text(response).await;
        let expected = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>Submitting the login response</title></head>\n<body>\n\
             <form id=\"authorization-response\" method=\"post\" action=\"{ESCAPED}\">\n\
             <input type=\"hidden\" name=\"{ESCAPED}\" value=\"{ESCAPED}\">\n\
             <input type=\"hidden\" name=\"state\" value=\"a&#38;b\">\n\
             <noscript><button type=\"submit\">Continue</button></noscript>\n</form>\n\
             <script>document.getElementById(\"authorization-response\").submit();</script>\n\
             <p><small>authing-oidc development provider: for tests and demos only, \
             not a production identity provider.</small></p>\n</body></html>"
        );
        assert_eq!(page, expected);
    }

    #[tokio::test]
    async fn the_error_page_escapes_code_and_description() {
        let response = error_page(StatusCode::BAD_REQUEST, HOSTILE, HOSTILE);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let page = text(response).await;
        assert!(page.contains(&format!(
            "<title>Authorization error</title></head>\n<body>\n<h1>{ESCAPED}</h1>\n\
             <p id=\"error_description\">{ESCAPED}</p>\n<p><small>"
        )));
    }
}
