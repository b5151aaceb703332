//! The authorization request: the URL the browser is sent to for login
//! (`build_authorize_url`).

use url::Url;

use crate::authorization_details::{AuthorizationDetail, check_list, check_resource, to_parameter};
use crate::config::Protocol;
use crate::error::{Error, Result};
use crate::pkce::{CodeChallengeMethod, check_verifier_form};
use crate::redirect_uri::RedirectUri;
use crate::secret::{Nonce, State};

/// Default scope under OpenID Connect.
pub const DEFAULT_OIDC_SCOPE: &str = "openid profile email phone address";
/// Default scope under plain OAuth 2.0.
pub const DEFAULT_OAUTH_SCOPE: &str = "user";

/// Checks that a scope a grant sends as configured contains `openid`, for the
/// grants that end in a verified id_token (the device login, CIBA). The
/// scope is never rewritten (what the user configures goes on the wire byte
/// for byte): without `openid` the grant is refused before any request, with
/// an error that says how to fix it (docs/protocol.md §2.8, §2.9).
pub(crate) fn require_openid(scope: &str, grant: &str) -> Result<()> {
    if scope.split(' ').any(|s| s == "openid") {
        Ok(())
    } else {
        Err(Error::input(format!(
            "the {grant} scope must contain openid (it ends in a verified id_token); \
             the scope is sent as given, so add openid to it"
        )))
    }
}

/// How the provider returns the authorization response (OAuth 2.0 Multiple
/// Response Type Encoding Practices; Form Post Response Mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// In the redirect URI's query string.
    Query,
    /// In the redirect URI's fragment.
    Fragment,
    /// As an auto-submitted HTML form POST to the redirect URI.
    FormPost,
}

impl ResponseMode {
    /// `query`, `fragment` or `form_post`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Query => "query",
            ResponseMode::Fragment => "fragment",
            ResponseMode::FormPost => "form_post",
        }
    }
}

impl std::str::FromStr for ResponseMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "query" => Ok(ResponseMode::Query),
            "fragment" => Ok(ResponseMode::Fragment),
            "form_post" => Ok(ResponseMode::FormPost),
            other => Err(Error::input(format!(
                "unknown response_mode {other:?} (query, fragment or form_post)"
            ))),
        }
    }
}

/// The response types the seed documents for OpenID Connect.
const OIDC_RESPONSE_TYPES: [&str; 7] = [
    "code",
    "code id_token token",
    "code id_token",
    "code token",
    "id_token token",
    "id_token",
    "none",
];

/// Parameters the URL builder sets itself; not accepted as extras.
const RESERVED: [&str; 15] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "response_mode",
    "prompt",
    "code_challenge",
    "code_challenge_method",
    "max_age",
    "resource",
    "authorization_details",
    "request",
    "request_uri",
];

/// Optional parameters of `build_authorize_url`. Everything left unset takes
/// the Python SDK's default (fixed where the Python SDK was unsafe: state and
/// nonce come from the OS CSPRNG).
///
/// ```
/// use authing_oidc::{AuthorizeParams, ResponseMode};
/// let params = AuthorizeParams::new()
///     .scope("openid profile offline_access")
///     .response_mode(ResponseMode::FormPost);
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AuthorizeParams {
    /// Callback URL; defaults to the configured `redirect_uri`. Validated
    /// like the configured one and sent exactly as given ([`RedirectUri`]).
    pub redirect_uri: Option<String>,
    /// Defaults to `code`.
    pub response_type: Option<String>,
    /// Omitted unless given.
    pub response_mode: Option<ResponseMode>,
    /// Generated when not given.
    pub state: Option<String>,
    /// Generated when not given (OIDC only).
    pub nonce: Option<String>,
    /// Defaults to `openid profile email phone address` (OIDC) or `user` (OAuth).
    pub scope: Option<String>,
    /// `consent` is added when the scope holds `offline_access` and no prompt is set.
    pub prompt: Option<String>,
    /// A PKCE challenge; see [`crate::pkce`].
    pub code_challenge: Option<String>,
    /// The challenge's method; `S256` when a challenge is given without one.
    pub code_challenge_method: Option<CodeChallengeMethod>,
    /// `max_age` in seconds (OIDC Core §3.1.2.1).
    pub max_age: Option<u64>,
    /// Resource indicators (RFC 8707 §2): absolute URIs without fragment,
    /// one `resource` parameter each, sent as given.
    pub resource: Vec<String>,
    /// Rich authorization request (RFC 9396 §2), sent as a JSON array.
    pub authorization_details: Option<Vec<AuthorizationDetail>>,
    /// Further parameters, appended as given (e.g. `login_hint`, `ui_locales`).
    pub extra: Vec<(String, String)>,
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: $ty:ty) => {
        $(#[$doc])*
        pub fn $name(mut self, value: impl Into<$ty>) -> Self {
            self.$name = Some(value.into());
            self
        }
    };
}

impl AuthorizeParams {
    /// All defaults.
    pub fn new() -> Self {
        Self::default()
    }
    setter!(/// Sets `redirect_uri`.
        redirect_uri: String);
    setter!(/// Sets `response_type`.
        response_type: String);
    setter!(/// Sets `response_mode`.
        response_mode: ResponseMode);
    setter!(/// Sets `state`.
        state: String);
    setter!(/// Sets `nonce`.
        nonce: String);
    setter!(/// Sets `scope`.
        scope: String);
    setter!(/// Sets `prompt`.
        prompt: String);
    setter!(/// Sets `code_challenge`.
        code_challenge: String);
    setter!(/// Sets `code_challenge_method`.
        code_challenge_method: CodeChallengeMethod);
    setter!(/// Sets `max_age`.
        max_age: u64);

    /// Adds a resource indicator (RFC 8707).
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource.push(resource.into());
        self
    }

    /// Sets `authorization_details` (RFC 9396).
    pub fn authorization_details(mut self, details: Vec<AuthorizationDetail>) -> Self {
        self.authorization_details = Some(details);
        self
    }

    /// Adds a further parameter.
    pub fn extra(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }
}

/// A built authorization URL with the state and nonce it carries (generated
/// ones included), so the callback can be checked against them.
#[derive(Clone)]
#[non_exhaustive]
pub struct AuthorizeUrl {
    /// The URL to send the browser to.
    pub url: Url,
    /// The `state` in the URL (SAML and CAS URLs carry none).
    pub state: Option<State>,
    /// The `nonce` in the URL (OIDC only).
    pub nonce: Option<Nonce>,
    /// The redirect URI the URL carries (for the typed flow's code exchange).
    pub(crate) redirect_uri: Option<RedirectUri>,
}

impl AuthorizeUrl {
    /// The URL as a string.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }
}

impl std::fmt::Debug for AuthorizeUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The query holds state and nonce; show where it points only.
        f.debug_struct("AuthorizeUrl")
            .field("endpoint", &crate::http::endpoint_label(&self.url))
            .finish_non_exhaustive()
    }
}

/// What the URL builder needs from the client's configuration.
pub(crate) struct AuthorizeContext<'a> {
    pub(crate) protocol: Protocol,
    pub(crate) app_id: &'a str,
    pub(crate) endpoint: Url,
    /// Already validated: the one passed, else the configured one.
    pub(crate) redirect_uri: RedirectUri,
}

/// An authorization request's parameters, in the order they go on the
/// wire, with what the callback is checked against.
pub(crate) struct Prepared {
    /// The authorization endpoint, as configured or discovered.
    pub(crate) endpoint: Url,
    pub(crate) params: Vec<(String, String)>,
    state: String,
    nonce: Option<String>,
    redirect_uri: RedirectUri,
}

impl Prepared {
    /// The [`AuthorizeUrl`] for `url`, which carries these parameters one
    /// way or another (in its query, a request object, a `request_uri`).
    pub(crate) fn into_url(self, url: Url) -> AuthorizeUrl {
        AuthorizeUrl {
            url,
            state: Some(State::new(self.state)),
            nonce: self.nonce.map(Nonce::new),
            redirect_uri: Some(self.redirect_uri),
        }
    }
}

/// Builds an OIDC or OAuth authorization URL. (SAML and CAS URLs are built by
/// the client: they carry no protocol parameters.)
pub(crate) fn build(ctx: AuthorizeContext<'_>, p: AuthorizeParams) -> Result<AuthorizeUrl> {
    let prepared = prepare(ctx, p)?;
    let mut url = prepared.endpoint.clone();
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in &prepared.params {
            q.append_pair(k, v);
        }
    }
    Ok(prepared.into_url(url))
}

/// Checks `p` and lays out the parameters of the authorization request.
pub(crate) fn prepare(ctx: AuthorizeContext<'_>, p: AuthorizeParams) -> Result<Prepared> {
    let oidc = ctx.protocol == Protocol::Oidc;
    let redirect_uri = ctx.redirect_uri;
    let response_type = p.response_type.clone().unwrap_or_else(|| "code".to_owned());
    let allowed = if oidc {
        &OIDC_RESPONSE_TYPES[..]
    } else {
        &["code", "token"][..]
    };
    if !allowed.contains(&response_type.as_str()) {
        return Err(Error::input(format!(
            "response_type {response_type:?} is not one of {allowed:?}"
        )));
    }
    let scope = p.scope.clone().unwrap_or_else(|| {
        if oidc {
            DEFAULT_OIDC_SCOPE
        } else {
            DEFAULT_OAUTH_SCOPE
        }
        .to_owned()
    });
    if scope.split_whitespace().next().is_none() {
        return Err(Error::input("scope is empty"));
    }
    let state = match p.state {
        Some(s) if s.is_empty() => return Err(Error::input("state is empty")),
        Some(s) => s,
        None => crate::random::url_safe_token()?,
    };
    let nonce = if oidc {
        Some(match p.nonce {
            Some(n) if n.is_empty() => return Err(Error::input("nonce is empty")),
            Some(n) => n,
            None => crate::random::url_safe_token()?,
        })
    } else {
        None
    };
    let prompt = p.prompt.clone().or_else(|| {
        scope
            .split_whitespace()
            .any(|s| s == "offline_access")
            .then(|| "consent".to_owned())
    });
    let challenge = match (&p.code_challenge, p.code_challenge_method) {
        (Some(c), method) => {
            check_verifier_form("code_challenge", c)?;
            Some((c.clone(), method.unwrap_or_default()))
        }
        (None, Some(_)) => return Err(Error::input("code_challenge_method given without code_challenge")),
        (None, None) => None,
    };

    // A second copy of a parameter the SDK sets would let a provider that reads the last
    // value bind the login to a state, nonce or challenge the SDK does not hold.
    if let Some((name, _)) = p.extra.iter().find(|(k, _)| RESERVED.contains(&k.as_str())) {
        return Err(Error::input(format!(
            "{name} cannot be an extra parameter; use its own setter"
        )));
    }
    for r in &p.resource {
        check_resource(r)?;
    }
    if let Some(d) = &p.authorization_details {
        check_list(d)?;
    }
    let mut q: Vec<(String, String)> = Vec::new();
    let mut push = |k: &str, v: &str| q.push((k.to_owned(), v.to_owned()));
    push("client_id", ctx.app_id);
    push("redirect_uri", redirect_uri.as_str());
    push("response_type", &response_type);
    push("scope", &scope);
    push("state", &state);
    if let Some(n) = &nonce {
        push("nonce", n);
    }
    if let Some(m) = p.response_mode {
        push("response_mode", m.as_str());
    }
    if let Some(pr) = &prompt {
        push("prompt", pr);
    }
    if let Some((c, m)) = &challenge {
        push("code_challenge", c);
        push("code_challenge_method", m.as_str());
    }
    if let Some(max_age) = p.max_age {
        push("max_age", &max_age.to_string());
    }
    for r in &p.resource {
        push("resource", r);
    }
    if let Some(d) = &p.authorization_details {
        push("authorization_details", &to_parameter(d)?);
    }
    for (k, v) in &p.extra {
        push(k, v);
    }
    Ok(Prepared {
        endpoint: ctx.endpoint,
        params: q,
        state,
        nonce,
        redirect_uri,
    })
}
