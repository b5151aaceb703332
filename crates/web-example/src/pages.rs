//! The HTML the app serves. Every value that comes from a user or a provider is escaped.

use authing_oidc::userinfo::UserInfo;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::session::Profile;

/// Escapes text for element content and double-quoted attribute values.
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

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;\
color:#1d2330;background:#f6f7fb}main{background:#fff;border-radius:12px;padding:1.5rem 2rem;\
box-shadow:0 1px 4px #0002}h1{font-size:1.4rem;margin-top:0}.button,button{display:inline-block;\
background:#215ae5;color:#fff;border:0;border-radius:6px;padding:.55rem 1.2rem;font-size:1rem;\
text-decoration:none;cursor:pointer;font-family:inherit}.secondary{background:#e6e9f2;color:#1d2330}nav{display:flex;\
gap:.75rem;align-items:center;margin-top:1.5rem}nav form{margin:0}dl{display:grid;\
grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{color:#5b6375}dd{margin:0}\
.error{border-left:4px solid #d33;padding-left:1rem}footer{margin-top:1rem;color:#7a8194;\
font-size:.8rem}";

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head>\n<body><main>\n{body}\n</main>\
         <footer>authing-oidc web example</footer></body></html>\n",
        title = escape(title),
    )
}

/// The home page of a visitor who is not signed in.
pub(crate) fn home_anonymous() -> Response {
    let body = "<h1>Welcome</h1>\n<p>You are not signed in.</p>\n\
                <nav><a id=\"login\" class=\"button\" href=\"/login\">Log in</a></nav>";
    Html(layout("Welcome", body)).into_response()
}

/// The home page of a signed-in user.
pub(crate) fn home_signed_in(profile: &Profile) -> Response {
    let email = profile
        .email
        .as_deref()
        .map(|e| format!(" &lt;<span id=\"email\">{}</span>&gt;", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Welcome back</h1>\n<p>Signed in as <strong id=\"name\">{name}</strong>{email}</p>\n\
         <nav><a id=\"me\" class=\"button\" href=\"/me\">Your profile</a>\n{logout}</nav>",
        name = escape(profile.display_name()),
        logout = logout_button(),
    );
    Html(layout("Welcome back", &body)).into_response()
}

fn logout_button() -> &'static str {
    // A POST: with a SameSite=Lax cookie, another site cannot log the user out.
    "<form method=\"post\" action=\"/logout\"><button id=\"logout\" class=\"secondary\" \
     type=\"submit\">Log out</button></form>"
}

/// What the provider says about the user, with the session's token status.
pub(crate) fn me(info: &UserInfo, expires_in: Option<u64>, refreshes: u64) -> Response {
    let s = &info.standard;
    let mut rows = vec![("sub", "sub", Some(info.sub.clone()))];
    rows.push(("name", "user-name", s.name.clone()));
    rows.push(("email", "user-email", s.email.clone()));
    rows.push((
        "preferred_username",
        "user-username",
        s.preferred_username.clone(),
    ));
    rows.push(("phone_number", "user-phone", s.phone_number.clone()));
    let claims: String = rows
        .into_iter()
        .filter_map(|(label, id, value)| value.map(|v| (label, id, v)))
        .map(|(label, id, value)| format!("<dt>{label}</dt><dd id=\"{id}\">{}</dd>\n", escape(&value)))
        .collect();
    let expiry = match expires_in {
        Some(secs) => format!("<span id=\"expires-in\">{secs}</span> s"),
        None => "unknown".to_owned(),
    };
    let body = format!(
        "<h1>Your profile</h1>\n<p>From the provider's userinfo endpoint, called with the session's \
         access token.</p>\n<dl>\n{claims}</dl>\n<h2>Session</h2>\n<dl>\
         <dt>access token expires in</dt><dd>{expiry}</dd>\n\
         <dt>token refreshes</dt><dd id=\"refreshes\">{refreshes}</dd></dl>\n\
         <nav><a class=\"button secondary\" href=\"/\">Home</a>\n{logout}</nav>",
        logout = logout_button(),
    );
    Html(layout("Your profile", &body)).into_response()
}

/// `GET /logout`: a button, because logging out is a POST.
pub(crate) fn logout_confirm() -> Response {
    let body = format!(
        "<h1>Log out</h1>\n<p>End your session?</p>\n<nav>{}</nav>",
        logout_button()
    );
    Html(layout("Log out", &body)).into_response()
}

/// The same-site re-submission of a `form_post` callback that arrived without the session
/// cookie (see [`crate::routes`]): the provider's fields, unchanged, posted to `action` by a
/// script as soon as the page loads, or by a button without JavaScript.
pub(crate) fn relay(action: &str, fields: &[(String, String)]) -> Response {
    let inputs: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                escape(name),
                escape(value)
            )
        })
        .collect();
    // A fresh nonce per response: the only script this page may run is the one below.
    let nonce = crate::session::random_token();
    let body = format!(
        "<h1>Signing you in…</h1>\n<form id=\"relay\" method=\"post\" action=\"{action}\">\n{inputs}\
         <noscript><p>JavaScript is off: press the button to finish signing in.</p>\
         <button type=\"submit\">Continue</button></noscript>\n</form>\n\
         <script nonce=\"{nonce}\">document.getElementById(\"relay\").submit();</script>",
        action = escape(action),
    );
    let mut response = Html(layout("Signing you in", &body)).into_response();
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

/// An error page: what happened in words a user understands, and the way back.
pub(crate) fn problem(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<h1 id=\"problem-title\">{title}</h1>\n<p class=\"error\" id=\"problem\">{message}</p>\n\
         <nav><a id=\"home\" class=\"button\" href=\"/\">Back to the home page</a></nav>",
        title = escape(title),
        message = escape(message),
    );
    (status, Html(layout(title, &body))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

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
        assert!(page.contains(r#"value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;""#));
        assert_eq!(page.matches("<script").count(), 1);
        assert!(page.contains(r#"action="/callback?relayed=1""#));
        let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap();
        assert!(page.contains(&format!("<script nonce=\"{nonce}\">")));
        assert!(csp.contains("form-action 'self'"));
    }
}
