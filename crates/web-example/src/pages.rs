//! The HTML the app serves: askama templates in `templates/` (`layout.html` and one file per
//! page), compiled with the crate. Every `{{ value }}` in them is HTML-escaped (askama's
//! default for `.html` files), so a value from a user or a provider cannot add markup.

use askama::Template;
use authing_oidc::userinfo::UserInfo;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::session::Profile;

/// Renders `page` with `status`; a page that fails to render becomes a bare 500.
fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        // Only a failing `Display` impl can fail a render; every value here is a string or a
        // number. Still not worth a panic.
        Err(error) => {
            tracing::error!(%error, "rendering a page failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "home_anonymous.html")]
struct HomeAnonymous;

/// The home page of a visitor who is not signed in.
pub(crate) fn home_anonymous() -> Response {
    render(StatusCode::OK, &HomeAnonymous)
}

#[derive(Template)]
#[template(path = "home_signed_in.html")]
struct HomeSignedIn<'a> {
    name: &'a str,
    email: Option<&'a str>,
}

/// The home page of a signed-in user.
pub(crate) fn home_signed_in(profile: &Profile) -> Response {
    let page = HomeSignedIn {
        name: profile.display_name(),
        email: profile.email.as_deref(),
    };
    render(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "me.html")]
struct Me<'a> {
    /// (label, element id, value) of each claim the provider returned.
    claims: Vec<(&'static str, &'static str, &'a str)>,
    expires_in: Option<u64>,
    refreshes: u64,
}

/// What the provider says about the user, with the session's token status.
pub(crate) fn me(info: &UserInfo, expires_in: Option<u64>, refreshes: u64) -> Response {
    let s = &info.standard;
    let claims = [
        ("sub", "sub", Some(&info.sub)),
        ("name", "user-name", s.name.as_ref()),
        ("email", "user-email", s.email.as_ref()),
        (
            "preferred_username",
            "user-username",
            s.preferred_username.as_ref(),
        ),
        ("phone_number", "user-phone", s.phone_number.as_ref()),
    ]
    .into_iter()
    .filter_map(|(label, id, value)| Some((label, id, value?.as_str())))
    .collect();
    let page = Me {
        claims,
        expires_in,
        refreshes,
    };
    render(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "logout_confirm.html")]
struct LogoutConfirm;

/// `GET /logout`: a button, because logging out is a POST.
pub(crate) fn logout_confirm() -> Response {
    render(StatusCode::OK, &LogoutConfirm)
}

#[derive(Template)]
#[template(path = "relay.html")]
struct Relay<'a> {
    action: &'a str,
    fields: &'a [(String, String)],
    nonce: &'a str,
}

/// The same-site re-submission of a `form_post` callback that arrived without the session
/// cookie (see [`crate::routes`]): the provider's fields, unchanged, posted to `action` by a
/// script as soon as the page loads, or by a button without JavaScript.
pub(crate) fn relay(action: &str, fields: &[(String, String)]) -> Response {
    // A fresh nonce per response: the only script this page may run is the template's.
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
}

/// An error page: what happened in words a user understands, and the way back.
pub(crate) fn problem(status: StatusCode, title: &str, message: &str) -> Response {
    render(status, &Problem { title, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Markup, both quotes and an ampersand: what a hostile claim, provider error or form
    /// field could carry.
    const HOSTILE: &str = r#"<script>alert("x" & 'y')</script>"#;
    const ESCAPED: &str = "&#60;script&#62;alert(&#34;x&#34; &#38; &#39;y&#39;)&#60;/script&#62;";

    async fn text(response: Response) -> String {
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(body.to_vec()).unwrap()
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
    async fn the_home_page_escapes_name_and_email() {
        let profile = Profile {
            sub: "sub-1".to_owned(),
            name: Some(HOSTILE.to_owned()),
            email: Some(HOSTILE.to_owned()),
        };
        let page = text(home_signed_in(&profile)).await;
        assert!(page.contains(&format!(
            "<p>Signed in as <strong id=\"name\">{ESCAPED}</strong> \
             &lt;<span id=\"email\">{ESCAPED}</span>&gt;</p>\n"
        )));
        assert!(!page.contains("<script"));

        let no_email = Profile {
            email: None,
            ..profile
        };
        let page = text(home_signed_in(&no_email)).await;
        assert!(page.contains(&format!("<strong id=\"name\">{ESCAPED}</strong></p>\n")));
    }

    #[tokio::test]
    async fn the_profile_page_escapes_every_claim() {
        let info: UserInfo = serde_json::from_value(serde_json::json!({
            "sub": HOSTILE,
            "name": HOSTILE,
            "email": null,
            "preferred_username": "a&b",
            "phone_number": HOSTILE,
        }))
        .unwrap();
        let page = text(me(&info, Some(30), 2)).await;
        let expected = format!(
            "<dl>\n<dt>sub</dt><dd id=\"sub\">{ESCAPED}</dd>\n\
             <dt>name</dt><dd id=\"user-name\">{ESCAPED}</dd>\n\
             <dt>preferred_username</dt><dd id=\"user-username\">a&#38;b</dd>\n\
             <dt>phone_number</dt><dd id=\"user-phone\">{ESCAPED}</dd>\n</dl>\n\
             <h2>Session</h2>\n<dl><dt>access token expires in</dt>\
             <dd><span id=\"expires-in\">30</span> s</dd>\n\
             <dt>token refreshes</dt><dd id=\"refreshes\">2</dd></dl>"
        );
        assert!(page.contains(&expected), "{page}");
        assert!(!page.contains("<script"));
        let unknown = text(me(&info, None, 0)).await;
        assert!(unknown.contains("<dt>access token expires in</dt><dd>unknown</dd>"));
    }

    #[tokio::test]
    async fn the_problem_page_escapes_title_and_message() {
        let response = problem(StatusCode::BAD_GATEWAY, HOSTILE, HOSTILE);
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let page = text(response).await;
        assert!(page.contains(&format!("<title>{ESCAPED}</title>")));
        assert!(page.contains(&format!(
            "<h1 id=\"problem-title\">{ESCAPED}</h1>\n<p class=\"error\" id=\"problem\">{ESCAPED}</p>\n"
        )));
        assert!(!page.contains("<script"));
    }
}
