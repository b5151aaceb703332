//! The commands of the grants beyond the login flow (docs/cli.md):
//! `device-login`, `ciba-login`, `token-exchange`, `register`.

use std::io::Write as _;

use authing_oidc::ciba::UserHint;
use authing_oidc::flow::{BackchannelLogin, DeviceLogin};
use authing_oidc::registration::{ClientMetadata, Registrar};
use authing_oidc::token_exchange::{TokenExchangeRequest, TokenExchangeResponse, TokenType};
use authing_oidc::{
    ActorToken, AuthMethod, AuthenticationClient, ExposeSecret as _, InitialAccessToken, SubjectToken,
};
use serde_json::{Map, Value, json};

use crate::cli::GlobalOpts;
use crate::commands::{build_client, save_session};
use crate::error::CliError;
use crate::input::Inputs;
use crate::output::{self, print};
use crate::session::SessionTarget;

/// `device-login`: the user-facing part on stderr at once, then the wait.
pub async fn device_login(
    g: &GlobalOpts,
    inputs: &mut Inputs,
    scope: Option<String>,
    session: Option<&SessionTarget>,
) -> Result<(), CliError> {
    let client = build_client(g, inputs).await?;
    let mut login = DeviceLogin::new(client);
    if let Some(s) = &scope {
        login = login.scope(s);
    }
    let device = login.start().await?;
    let show = json!({
        "user_code": device.user_code(),
        "verification_uri": device.verification_uri(),
        "verification_uri_complete": device.verification_uri_complete(),
        "expires_in": device.expires_in().as_secs(),
    });
    {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{show}");
        let _ = err.flush();
    }
    let authenticated = device.wait().await?;
    save_session(session, &authenticated).await?;
    print(&output::login_result(&authenticated, session.is_none()))
}

/// `ciba-login`.
pub async fn ciba_login(
    g: &GlobalOpts,
    inputs: &mut Inputs,
    login_hint: String,
    binding_message: Option<String>,
    scope: Option<String>,
    session: Option<&SessionTarget>,
) -> Result<(), CliError> {
    let client = build_client(g, inputs).await?;
    let mut login = BackchannelLogin::new(client, UserHint::LoginHint(login_hint));
    if let Some(s) = &scope {
        login = login.scope(s);
    }
    if let Some(m) = binding_message {
        login = login.binding_message(m);
    }
    let authenticated = login.start().await?.wait().await?;
    save_session(session, &authenticated).await?;
    print(&output::login_result(&authenticated, session.is_none()))
}

/// What `token-exchange` was asked, before the tokens are read.
pub struct Exchange {
    pub subject_token: String,
    pub subject_token_type: String,
    pub actor_token: Option<String>,
    pub actor_token_type: Option<String>,
    pub requested_token_type: Option<String>,
    pub audience: Vec<String>,
    pub resource: Vec<String>,
    pub scope: Option<String>,
}

/// `token-exchange`.
pub async fn token_exchange(g: &GlobalOpts, inputs: &mut Inputs, x: Exchange) -> Result<(), CliError> {
    let subject = SubjectToken::new(inputs.resolve("--subject-token", &x.subject_token)?);
    let mut request = TokenExchangeRequest::new(subject, x.subject_token_type.parse::<TokenType>()?);
    match (x.actor_token, x.actor_token_type) {
        (Some(token), Some(kind)) => {
            let token = ActorToken::new(inputs.resolve("--actor-token", &token)?);
            request = request.actor(token, kind.parse::<TokenType>()?);
        }
        (None, None) => {}
        _ => {
            return Err(CliError::usage(
                "--actor-token and --actor-token-type go together",
            ));
        }
    }
    if let Some(t) = x.requested_token_type {
        request = request.requested_token_type(t.parse::<TokenType>()?);
    }
    for a in x.audience {
        request = request.audience(a);
    }
    for r in x.resource {
        request = request.resource(r);
    }
    if let Some(s) = x.scope {
        request = request.scope(s);
    }
    let client = build_client(g, inputs).await?;
    let answer = client.exchange_token(&request).await?;
    print(&exchange_json(&answer))
}

/// The exchange's answer in full (its job is to return the token).
fn exchange_json(a: &TokenExchangeResponse) -> Value {
    let mut m: Map<String, Value> = a.extra.clone();
    m.insert("access_token".into(), json!(a.access_token.expose_secret()));
    m.insert("issued_token_type".into(), json!(a.issued_token_type.as_str()));
    m.insert("token_type".into(), json!(a.token_type));
    if let Some(e) = a.expires_in {
        m.insert("expires_in".into(), json!(e));
    }
    if let Some(s) = &a.scope {
        m.insert("scope".into(), json!(s));
    }
    if let Some(r) = &a.refresh_token {
        m.insert("refresh_token".into(), json!(r.expose_secret()));
    }
    Value::Object(m)
}

/// `register`: needs the provider (`--issuer`, or `--app-host` whose issuer
/// is `{app_host}/oidc`) and the global `--redirect-uri`; no client id yet.
pub async fn register(
    g: &GlobalOpts,
    inputs: &mut Inputs,
    initial_access_token: Option<String>,
) -> Result<(), CliError> {
    let initial = inputs
        .resolve_opt("--initial-access-token", initial_access_token.as_deref())?
        .map(InitialAccessToken::new);
    let redirect_uri = g
        .redirect_uri
        .as_deref()
        .ok_or_else(|| CliError::usage("register needs --redirect-uri (or AUTHING_APP_REDIRECT_URI)"))?;
    let issuer = match (&g.app_host, &g.issuer) {
        (Some(host), None) => format!("{}/oidc", host.trim_end_matches('/')),
        (None, Some(issuer)) => issuer.clone(),
        (Some(_), Some(_)) => return Err(CliError::usage("--app-host and --issuer exclude each other")),
        (None, None) => {
            return Err(CliError::config(
                "--app-host (AUTHING_APP_HOST) or --issuer (AUTHING_ISSUER) is required",
            ));
        }
    };
    let mut metadata = ClientMetadata::new().redirect_uris([redirect_uri]);
    if let Some(m) = g.token_endpoint_auth_method {
        metadata = metadata.token_endpoint_auth_method(AuthMethod::from(m).as_str());
    }
    let registrar = Registrar::discover(AuthenticationClient::builder(), &issuer).await?;
    let registered = registrar.register(&metadata, initial.as_ref()).await?;
    print(&registered.to_json_with_secrets())
}
