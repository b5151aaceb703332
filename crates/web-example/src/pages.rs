//! The HTML the app serves: askama templates in `templates/` (`layout.html` and one file per
//! page), compiled with the crate. Every `{{ value }}` in them is HTML-escaped (askama's
//! default for `.html` files), so a value from a user or a provider cannot add markup.

use askama::Template;
use authing_oidc::userinfo::UserInfo;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use authing_oidc_axum::User;

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

/// The user as the home page shows them.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub(crate) sub: String,
    pub(crate) name: Option<String>,
    pub(crate) email: Option<String>,
}

impl Profile {
    /// From the userinfo answer at login when the provider gave one, else from the id_token
    /// (many providers put profile claims only in userinfo).
    pub(crate) fn of(user: &User) -> Profile {
        let claims = user.claims();
        let standard = user
            .userinfo_at_login()
            .map(|i| &i.standard)
            .unwrap_or(&claims.standard);
        Profile {
            sub: claims.sub.clone(),
            name: standard
                .name
                .clone()
                .or_else(|| standard.preferred_username.clone()),
            email: standard.email.clone(),
        }
    }

    /// The name, or the subject when the provider gave none.
    pub(crate) fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.sub)
    }
}

#[cfg(test)]
#[path = "../../../tests/support/escaping.rs"]
mod escaping;

#[cfg(test)]
mod tests {
    use super::*;

    use super::escaping::{ESCAPED, HOSTILE, text};

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
}
