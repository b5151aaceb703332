//! Delivering an authorization response (a code or an error) to the client's redirect URI in
//! the requested response mode, with `iss` per [RFC 9207](https://www.rfc-editor.org/rfc/rfc9207).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::faults::CallbackFault;
use crate::html;
use crate::params::encode_pairs;
use crate::provider::Provider;
use crate::store::{ResponseMode, random_string};
use crate::tokens::ATTACKER_ISSUER;

/// What the client is told.
pub(super) enum Outcome<'a> {
    Code(&'a str),
    Error { error: &'a str, description: &'a str },
}

/// Where and how to answer.
pub(super) struct Destination<'a> {
    pub(super) redirect_uri: &'a str,
    pub(super) mode: ResponseMode,
    pub(super) state: Option<&'a str>,
}

/// Sends `outcome` to the redirect URI. `with_faults` applies the callback faults: only
/// answers to the login form get them, so request validation stays trustworthy.
pub(super) fn deliver(
    provider: &Provider,
    to: &Destination<'_>,
    outcome: Outcome<'_>,
    with_faults: bool,
) -> Response {
    let mut params: Vec<(String, String)> = Vec::new();
    let fault = if with_faults {
        provider.faults.callback()
    } else {
        None
    };
    match (outcome, fault) {
        (Outcome::Code(_), Some(CallbackFault::AccessDenied)) => {
            params.push(("error".into(), "access_denied".into()));
            params.push(("error_description".into(), "injected fault: access denied".into()));
        }
        (Outcome::Code(code), _) => params.push(("code".into(), code.into())),
        (Outcome::Error { error, description }, _) => {
            params.push(("error".into(), error.into()));
            params.push(("error_description".into(), description.into()));
        }
    }
    match (fault, to.state) {
        (Some(CallbackFault::WrongState), _) => {
            params.push(("state".into(), "not-the-state-you-sent".into()));
        }
        (_, Some(state)) => params.push(("state".into(), state.into())),
        (_, None) => {}
    }
    match fault {
        Some(CallbackFault::MissingIssuer) => {}
        Some(CallbackFault::WrongIssuer) => params.push(("iss".into(), ATTACKER_ISSUER.into())),
        _ => params.push(("iss".into(), provider.issuer.clone())),
    }
    if fault == Some(CallbackFault::DuplicatedParameter) {
        // A second, different value: a client reading only the first or only the last
        // occurrence passes unless it refuses repetition outright.
        let name = if params.iter().any(|(n, _)| n == "code") {
            "code"
        } else {
            "iss"
        };
        params.push((name.into(), random_string(16)));
    }

    let Ok(mut url) = Url::parse(to.redirect_uri) else {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is not a URL",
        );
    };
    match to.mode {
        ResponseMode::Query => {
            url.query_pairs_mut()
                .extend_pairs(params.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            redirect(url.as_str())
        }
        ResponseMode::Fragment => {
            let fragment = encode_pairs(params.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            url.set_fragment(Some(&fragment));
            redirect(url.as_str())
        }
        ResponseMode::FormPost => html::form_post_page(to.redirect_uri, &params),
    }
}

/// A `302 Found` to `location`, never cached: it carries a one-time code.
pub(crate) fn redirect(location: &str) -> Response {
    let Ok(value) = HeaderValue::from_str(location) else {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect target is not a valid header value",
        );
    };
    let mut response = StatusCode::FOUND.into_response();
    response.headers_mut().insert(header::LOCATION, value);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
