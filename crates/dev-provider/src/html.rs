//! The few HTML pages a browser sees: the login form, the form_post auto-submit page, and the
//! error page for requests that cannot be redirected.
//!
//! [`crate::login`] reads these pages back, so the markers it looks for (`id` attributes and
//! attribute order) are part of this module's contract.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `id` of the form on the form_post page.
pub(crate) const FORM_POST_ID: &str = "authorization-response";
/// `id` of the form on the login page.
pub(crate) const LOGIN_FORM_ID: &str = "login";

/// Escapes text for HTML element content and double-quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Reverses [`escape`].
pub(crate) fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title}</title></head>\n<body>\n{body}\n\
         <p><small>authing-oidc development provider: for tests and demos only, \
         not a production identity provider.</small></p>\n</body></html>\n",
        title = escape(title),
    );
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

/// The login form for pending request `uid`, optionally with an error message.
pub(crate) fn login_page(status: StatusCode, action: &str, client_id: &str, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p role=\"alert\" id=\"error\">{}</p>\n", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Log in to {client}</h1>\n{error}\
         <form id=\"{LOGIN_FORM_ID}\" method=\"post\" action=\"{action}\">\n\
         <p><label>Username <input name=\"username\" autocomplete=\"username\" required></label></p>\n\
         <p><label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label></p>\n\
         <p><button type=\"submit\" name=\"login\" value=\"1\">Log in</button>\n\
         <button type=\"submit\" name=\"cancel\" value=\"1\" formnovalidate>Cancel</button></p>\n\
         </form>",
        client = escape(client_id),
        action = escape(action),
    );
    page(status, "Log in", &body)
}

/// The form_post response: a form that posts `params` to `action` as soon as it loads, with a
/// button for browsers without JavaScript (OAuth 2.0 Form Post Response Mode §2).
pub(crate) fn form_post_page(action: &str, params: &[(String, String)]) -> Response {
    let inputs: String = params
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                escape(name),
                escape(value)
            )
        })
        .collect();
    let body = format!(
        "<form id=\"{FORM_POST_ID}\" method=\"post\" action=\"{action}\">\n{inputs}\
         <noscript><button type=\"submit\">Continue</button></noscript>\n</form>\n\
         <script>document.getElementById(\"{FORM_POST_ID}\").submit();</script>",
        action = escape(action),
    );
    page(StatusCode::OK, "Submitting the login response", &body)
}

/// A page for errors that must not be redirected (unknown client, unregistered redirect URI).
pub(crate) fn error_page(status: StatusCode, error: &str, description: &str) -> Response {
    let body = format!(
        "<h1>{error}</h1>\n<p id=\"error_description\">{}</p>",
        escape(description),
        error = escape(error),
    );
    page(status, "Authorization error", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_round_trips() {
        let text = r#"a&b<c>"d"'e'&amp;"#;
        assert_eq!(unescape(&escape(text)), text);
        assert!(!escape(text).contains('<'));
    }
}
