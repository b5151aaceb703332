//! Logging in without a browser: what a browser would do with the authorization URL, for
//! tests and scripted demos.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{Client, Response, StatusCode, redirect::Policy};
use url::Url;

use crate::Error;
use crate::html::{FORM_POST_ID, LOGIN_FORM_ID};
use crate::params::encode_pairs;
use crate::routes::is_loopback_http;

/// What the provider sends the user agent back to the client with, after the login form.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorizationResponse {
    /// A redirect (`302 Location`) to the redirect URI, with the response in the query
    /// (`response_mode=query`, the default) or in the fragment (`response_mode=fragment`).
    /// Also what an authorization request error looks like.
    Redirect(Url),
    /// `response_mode=form_post`: the page's form would POST `body`
    /// (`application/x-www-form-urlencoded`) to `action`, the redirect URI.
    FormPost {
        /// The redirect URI the form posts to.
        action: Url,
        /// The form body, e.g. `code=…&state=…&iss=…`.
        body: String,
    },
}

impl AuthorizationResponse {
    /// The response parameters, decoded, in order (from the query, the fragment or the form
    /// body). Repeated names appear repeatedly.
    pub fn params(&self) -> Vec<(String, String)> {
        let raw = match self {
            Self::Redirect(url) => match url.fragment() {
                Some(fragment) => fragment.to_owned(),
                None => url.query().unwrap_or_default().to_owned(),
            },
            Self::FormPost { body, .. } => body.clone(),
        };
        url::form_urlencoded::parse(raw.as_bytes()).into_owned().collect()
    }

    /// The first value of parameter `name`, e.g. `code` or `state`.
    pub fn param(&self, name: &str) -> Option<String> {
        self.params().into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// Opens `authorize_url`, fills in the login form with `username` and `password`, and
/// returns where the browser would be sent: the callback to the client's redirect URI.
///
/// Only loopback `http` URLs are accepted: this helper posts a password.
///
/// # Errors
///
/// [`Error::LoginRejected`] when the form refuses the credentials,
/// [`Error::InvalidUrl`], [`Error::Http`], or [`Error::UnexpectedResponse`] when the pages are
/// not what the development provider serves.
///
/// ```no_run
/// # async fn demo(authorize_url: &str) -> Result<(), authing_oidc_dev_provider::Error> {
/// use authing_oidc_dev_provider::login_without_browser;
///
/// let callback = login_without_browser(authorize_url, "alice", "alice-password").await?;
/// let code = callback.param("code");
/// # Ok(()) }
/// ```
pub async fn login_without_browser(
    authorize_url: &str,
    username: &str,
    password: &str,
) -> Result<AuthorizationResponse, Error> {
    submit_login_form(
        authorize_url,
        &[("username", username), ("password", password), ("login", "1")],
    )
    .await
}

/// Opens `authorize_url` and presses "Cancel" on the login form; the result is normally an
/// `error=access_denied` callback.
///
/// # Errors
///
/// As [`login_without_browser`].
pub async fn cancel_without_browser(authorize_url: &str) -> Result<AuthorizationResponse, Error> {
    submit_login_form(authorize_url, &[("cancel", "1")]).await
}

async fn submit_login_form(
    authorize_url: &str,
    fields: &[(&str, &str)],
) -> Result<AuthorizationResponse, Error> {
    let url = Url::parse(authorize_url).map_err(|e| Error::InvalidUrl(e.to_string()))?;
    if !is_loopback_http(&url) {
        return Err(Error::InvalidUrl(
            "only loopback http URLs (the development provider) are accepted".into(),
        ));
    }
    let client = Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?;

    let response = client.get(url.clone()).send().await?;
    // An invalid request is answered with an error redirect straight away.
    if let Some(location) = location(&response, &url)? {
        return Ok(AuthorizationResponse::Redirect(location));
    }
    let status = response.status();
    let page = response.text().await?;
    if status != StatusCode::OK {
        return Err(Error::UnexpectedResponse(format!(
            "authorization endpoint answered {status}"
        )));
    }
    let action = form_action(&page, LOGIN_FORM_ID)
        .ok_or_else(|| Error::UnexpectedResponse("no login form on the page".into()))?;
    let action = url
        .join(&action)
        .map_err(|e| Error::UnexpectedResponse(format!("login form action: {e}")))?;

    let response = client
        .post(action.clone())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(encode_pairs(fields.iter().copied()))
        .send()
        .await?;
    if let Some(location) = location(&response, &action)? {
        return Ok(AuthorizationResponse::Redirect(location));
    }
    let status = response.status();
    let page = response.text().await?;
    if let Some(target) = form_action(&page, FORM_POST_ID) {
        let action =
            Url::parse(&target).map_err(|e| Error::UnexpectedResponse(format!("form_post action: {e}")))?;
        let fields = hidden_inputs(&page);
        let body = encode_pairs(fields.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        return Ok(AuthorizationResponse::FormPost { action, body });
    }
    if form_action(&page, LOGIN_FORM_ID).is_some() {
        return Err(Error::LoginRejected);
    }
    Err(Error::UnexpectedResponse(format!(
        "login form submission answered {status}"
    )))
}

/// The resolved `Location` of a redirect response, `None` for other responses.
fn location(response: &Response, base: &Url) -> Result<Option<Url>, Error> {
    if !response.status().is_redirection() {
        return Ok(None);
    }
    let value = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::UnexpectedResponse("redirect without Location".into()))?;
    base.join(value)
        .map(Some)
        .map_err(|e| Error::UnexpectedResponse(format!("bad Location: {e}")))
}

/// The `action` of `<form id="{id}" method="post" action="…">`, as the html module writes it.
fn form_action(page: &str, id: &str) -> Option<String> {
    let marker = format!("<form id=\"{id}\" method=\"post\" action=\"");
    let start = page.find(&marker)? + marker.len();
    let end = page[start..].find('"')? + start;
    Some(unescape(&page[start..end]))
}

/// Every `<input type="hidden" name="…" value="…">`, decoded.
fn hidden_inputs(page: &str) -> Vec<(String, String)> {
    const NAME: &str = "<input type=\"hidden\" name=\"";
    const VALUE: &str = "\" value=\"";
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find(NAME) {
        rest = &rest[start + NAME.len()..];
        let Some(name_end) = rest.find(VALUE) else {
            break;
        };
        let name = &rest[..name_end];
        rest = &rest[name_end + VALUE.len()..];
        let Some(value_end) = rest.find('"') else {
            break;
        };
        out.push((unescape(name), unescape(&rest[..value_end])));
        rest = &rest[value_end..];
    }
    out
}

/// Decodes the character references a template's escaping writes (`&amp;`, `&lt;`, `&gt;`,
/// `&quot;`, and numeric ones such as `&#34;`) in one pass, so `&amp;lt;` stays `&lt;`.
/// Anything else is kept as written.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').and_then(|semi| {
            let c = match &rest[1..semi] {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                numeric => {
                    let digits = numeric.strip_prefix('#')?;
                    let code = match digits.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => digits.parse().ok()?,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, semi + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_the_form_post_page() {
        let params = vec![
            ("code".to_owned(), "a&b\"c<'>".to_owned()),
            ("state".to_owned(), "s".to_owned()),
        ];
        let response = crate::html::form_post_page("http://127.0.0.1:1/cb?x=1&y=2", &params);
        let body = futures_body(response);
        assert_eq!(
            form_action(&body, FORM_POST_ID).as_deref(),
            Some("http://127.0.0.1:1/cb?x=1&y=2")
        );
        assert_eq!(hidden_inputs(&body), params);
    }

    #[test]
    fn unescape_decodes_each_reference_once() {
        assert_eq!(
            unescape("&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#x27;"),
            "<a href=\"x\">'&'"
        );
        assert_eq!(unescape("&amp;lt; &lt;&gt;&quot;"), "&lt; <>\"");
        // Not a reference this decoder knows: kept as written.
        assert_eq!(
            unescape("a & b &nbsp; &#xZZ; &#1114112; &"),
            "a & b &nbsp; &#xZZ; &#1114112; &"
        );
    }

    #[test]
    fn reads_back_the_login_page() {
        let response = crate::html::login_page(StatusCode::OK, "/oidc/interaction/a&b", "app", None);
        let body = futures_body(response);
        assert_eq!(
            form_action(&body, LOGIN_FORM_ID).as_deref(),
            Some("/oidc/interaction/a&b")
        );
        assert_eq!(form_action(&body, FORM_POST_ID), None);
    }

    fn futures_body(response: axum::response::Response) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let bytes = runtime
            .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
