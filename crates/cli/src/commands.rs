//! What each command does: build the client from the global options, call the
//! SDK, print one JSON document.

use authing_oidc::flow::{Authenticated, CallbackParams, PendingCallback, Unauthorized};
use authing_oidc::{
    AccessSecret, AccessToken, AuthMethod, AuthenticationClient, AuthorizationCode, AuthorizeParams,
    ClientSecret, CodeChallengeMethod, CodeVerifier, ExposeSecret as _, IdToken, LogoutParams, Nonce,
    Protocol, RefreshToken, ResponseMode, SigningAlgorithm, TokenToValidate, ValidateTokenResult,
    VerifyOptions,
};
use serde_json::{Value, json};

use crate::cli::{AuthMethodArg, ChallengeMethodArg, Cli, Command, GlobalOpts, ProtocolArg, ResponseModeArg};
use crate::error::{CliError, Kind};
use crate::grants;
use crate::input::Inputs;
use crate::login;
use crate::output::{self, print};
use crate::session::SessionTarget;
use crate::store::LockedFile;
use crate::verify_access_token;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let mut inputs = Inputs::default();
    let g = &cli.global;
    match cli.command {
        Command::Pkce { length, method } => {
            let verifier = authing_oidc::pkce::generate_code_verifier(length)?;
            let challenge = authing_oidc::pkce::code_challenge(&verifier, method.into())?;
            print(&json!({
                "code_verifier": verifier.expose_secret(),
                "code_challenge": challenge.as_str(),
                "code_challenge_method": CodeChallengeMethod::from(method).as_str(),
            }))
        }
        Command::DevProvider { port } => {
            let mut config = authing_oidc_dev_provider::DevProviderConfig::default();
            config.port = port;
            authing_oidc_dev_provider::serve_until_signal(config).await?;
            Ok(())
        }
        Command::AuthorizeUrl {
            scope,
            response_type,
            response_mode,
            state,
            nonce,
            code_challenge,
            code_challenge_method,
        } => {
            let client = build_client(g, &mut inputs).await?;
            let mut p = AuthorizeParams::new();
            p.scope = scope;
            p.response_type = response_type;
            p.response_mode = response_mode.map(Into::into);
            p.state = state;
            p.nonce = nonce;
            p.code_challenge = code_challenge;
            p.code_challenge_method = code_challenge_method.map(Into::into);
            let (resource, details) = crate::security::request_extras(g)?;
            p.resource = resource;
            p.authorization_details = details;
            let url = if client.uses_par() {
                client.push_authorization_request(p).await?
            } else {
                client.build_authorize_url(p)?
            };
            print(&json!({"url": url.as_str()}))
        }
        Command::Exchange { code, code_verifier } => {
            let code = AuthorizationCode::new(inputs.resolve("--code", &code)?);
            let verifier = inputs
                .resolve_opt("--code-verifier", code_verifier.as_deref())?
                .map(CodeVerifier::new);
            let client = build_client(g, &mut inputs).await?;
            // RFC 8707 / 9396: the global --resource and --authorization-details, with or
            // without DPoP.
            let extras = crate::security::token_extras(g)?;
            let tokens = match one_off_dpop_key(g)? {
                Some(key) => {
                    client
                        .get_access_token_by_code_with_dpop_and(&code, verifier.as_ref(), &extras, &key)
                        .await?
                }
                None => {
                    client
                        .get_access_token_by_code_with(&code, verifier.as_ref(), &extras)
                        .await?
                }
            };
            print(&output::token_set(&tokens))
        }
        Command::Userinfo { access_token } => {
            let token = AccessToken::new(inputs.resolve("--access-token", &access_token)?);
            if g.dpop {
                return Err(CliError::usage(
                    "a DPoP-bound access token works only with its key: use whoami --session",
                ));
            }
            let client = build_client(g, &mut inputs).await?;
            let info = client.get_user_info_by_access_token(&token).await?;
            print(&to_json(&info)?)
        }
        Command::Refresh { refresh_token } => {
            let token = RefreshToken::new(inputs.resolve("--refresh-token", &refresh_token)?);
            let client = build_client(g, &mut inputs).await?;
            let extras = crate::security::token_extras(g)?;
            let tokens = match one_off_dpop_key(g)? {
                Some(key) => {
                    client
                        .get_new_access_token_by_refresh_token_with_dpop_and(&token, &extras, &key)
                        .await?
                }
                None => {
                    client
                        .get_new_access_token_by_refresh_token_with(&token, &extras)
                        .await?
                }
            };
            print(&output::token_set(&tokens))
        }
        Command::Introspect { token } => {
            // The provider tells access and refresh tokens apart itself; the
            // SDK's type only decides what can be sent.
            let token = AccessToken::new(inputs.resolve("--token", &token)?);
            let client = build_client(g, &mut inputs).await?;
            let result = client.introspect_token(&token).await?;
            if result.active {
                print(&to_json(&result)?)
            } else {
                print(&json!({"active": false}))
            }
        }
        Command::Validate {
            id_token,
            access_token,
        } => {
            let id_token = inputs
                .resolve_opt("--id-token", id_token.as_deref())?
                .map(IdToken::new);
            let access_token = inputs
                .resolve_opt("--access-token", access_token.as_deref())?
                .map(AccessToken::new);
            let which = match (&id_token, &access_token) {
                (Some(t), None) => TokenToValidate::IdToken(t),
                (None, Some(t)) => TokenToValidate::AccessToken(t),
                _ => {
                    return Err(CliError::usage(
                        "give exactly one of --id-token and --access-token",
                    ));
                }
            };
            let client = build_client(g, &mut inputs).await?;
            match client.validate_token(which).await? {
                ValidateTokenResult::Valid(claims) => print(&Value::Object(claims)),
                ValidateTokenResult::Invalid { code, message } => Err(CliError::new(
                    Kind::TokenInvalid,
                    format!("the provider says the token is invalid (code {code}: {message})"),
                )),
            }
        }
        Command::Revoke { token } => {
            let token = AccessToken::new(inputs.resolve("--token", &token)?);
            let client = build_client(g, &mut inputs).await?;
            client.revoke_token(&token).await?;
            print(&json!({"revoked": true}))
        }
        Command::LogoutUrl {
            expert,
            post_logout_redirect_uri,
            id_token,
            state,
        } => {
            let id_token = inputs.resolve_opt("--id-token", id_token.as_deref())?;
            let client = build_client(g, &mut inputs).await?;
            let params = if expert {
                let (Some(id_token), Some(uri)) = (id_token, post_logout_redirect_uri) else {
                    return Err(CliError::usage(
                        "--expert needs --id-token and --post-logout-redirect-uri",
                    ));
                };
                let mut p = LogoutParams::expert(IdToken::new(id_token), uri);
                if let Some(s) = state {
                    p = p.with_state(s);
                }
                p
            } else {
                match post_logout_redirect_uri {
                    Some(uri) => LogoutParams::simple_to(uri),
                    None => LogoutParams::simple(),
                }
            };
            let url = client.build_logout_url(params)?;
            print(&json!({"url": url.as_str()}))
        }
        Command::ClientCredentials {
            scope,
            access_key,
            access_secret,
        } => {
            crate::security::refuse_extras(
                g,
                "client-credentials",
                "its request carries only the scope and the access key",
            )?;
            let secret = AccessSecret::new(inputs.resolve("--access-secret", &access_secret)?);
            let client = build_client(g, &mut inputs).await?;
            let tokens = client
                .get_access_token_by_client_credentials(&scope, &access_key, &secret)
                .await?;
            print(&output::token_set(&tokens))
        }
        Command::VerifyIdToken {
            id_token,
            nonce,
            access_token,
        } => {
            let id_token = IdToken::new(inputs.resolve("--id-token", &id_token)?);
            let access_token = inputs
                .resolve_opt("--access-token", access_token.as_deref())?
                .map(AccessToken::new);
            let nonce = nonce.map(Nonce::new);
            let client = build_client(g, &mut inputs).await?;
            let mut opts = VerifyOptions::new();
            if let Some(n) = &nonce {
                opts = opts.nonce(n);
            }
            if let Some(a) = &access_token {
                opts = opts.access_token(a);
            }
            let claims = client.verify_id_token(&id_token, &opts).await?;
            print(&claims.to_json())
        }
        Command::VerifyAccessToken {
            access_token,
            audience,
            scope,
            strict,
        } => {
            let access_token = AccessToken::new(inputs.resolve("--access-token", &access_token)?);
            let client = build_client(g, &mut inputs).await?;
            let request = verify_access_token::Request {
                access_token,
                audiences: audience,
                scopes: scope,
                strict,
            };
            verify_access_token::run(client, request).await
        }
        Command::VerifyLogoutToken { logout_token } => {
            crate::logout_token::run(g, &mut inputs, &logout_token).await
        }
        Command::Begin {
            scope,
            response_mode,
            pending,
        } => {
            let client = build_client(g, &mut inputs).await?;
            let (url, waiting) = start_login(client, g, scope, response_mode).await?;
            let lock = LockedFile::lock(&pending)?;
            lock.write_pending(&waiting.export_with_secrets())?;
            drop(lock);
            print(&json!({"url": url.as_str()}))
        }
        Command::Finish {
            pending,
            callback,
            form_body,
            session,
        } => {
            crate::security::refuse_extras(
                g,
                "finish",
                "the pending login repeats what begin asked for (docs/cli.md)",
            )?;
            let session = session.as_deref().map(SessionTarget::parse).transpose()?;
            if session
                .as_ref()
                .and_then(SessionTarget::file)
                .is_some_and(|s| same_file(s, &pending))
            {
                return Err(CliError::usage("--session must name another file than --pending"));
            }
            let params = match (callback, form_body) {
                (Some(c), None) => CallbackParams::from_url(&inputs.resolve("--callback", &c)?)?,
                (None, Some(b)) => CallbackParams::from_form_post(&inputs.resolve("--form-body", &b)?)?,
                _ => return Err(CliError::usage("give exactly one of --callback and --form-body")),
            };
            let client = build_client(g, &mut inputs).await?;
            let lock = LockedFile::lock_existing(&pending)?;
            let saved = lock.read_pending(&client)?;
            let waiting = PendingCallback::restore_from_trusted_store(client.clone(), saved)?;
            // On failure the pending file stays, as docs/cli.md says.
            let authenticated = waiting.complete(params).await?;
            save_session(session.as_ref(), &authenticated).await?;
            lock.remove_pending()?;
            print(&output::login_result(&authenticated, session.is_none()))
        }
        Command::Login {
            session,
            scope,
            response_mode,
        } => {
            let session = session.as_deref().map(SessionTarget::parse).transpose()?;
            let client = build_client(g, &mut inputs).await?;
            run_login(client, g, session.as_ref(), scope, response_mode).await
        }
        Command::Token {
            session,
            force_refresh,
        } => {
            crate::security::refuse_extras(
                g,
                "token",
                "the session repeats what its login asked for (give them to begin or login)",
            )?;
            let session = SessionTarget::parse(&session)?;
            let client = build_client(g, &mut inputs).await?;
            let (lock, authenticated) = session.open(client.clone()).await?;
            let token = if force_refresh {
                authenticated.force_refresh().await?
            } else {
                authenticated.access_token().await?
            };
            // A refresh has already saved the session (the file through the hook, Redis under
            // its lease).
            drop(lock);
            print(&json!({
                "access_token": token.access_token.expose_secret(),
                "expires_in": token.expires_in.map(|d| d.as_secs()),
            }))
        }
        Command::DeviceLogin { scope, session } => {
            crate::security::refuse_extras(g, "device-login", "the device flow sends only the scope")?;
            let session = session.as_deref().map(SessionTarget::parse).transpose()?;
            grants::device_login(g, &mut inputs, scope, session.as_ref()).await
        }
        Command::CibaLogin {
            login_hint,
            binding_message,
            scope,
            session,
        } => {
            crate::security::refuse_extras(g, "ciba-login", "CIBA sends only the scope and the hint")?;
            let session = session.as_deref().map(SessionTarget::parse).transpose()?;
            grants::ciba_login(
                g,
                &mut inputs,
                login_hint,
                binding_message,
                scope,
                session.as_ref(),
            )
            .await
        }
        Command::TokenExchange {
            subject_token,
            subject_token_type,
            actor_token,
            actor_token_type,
            requested_token_type,
            audience,
            scope,
        } => {
            let exchange = grants::Exchange {
                subject_token,
                subject_token_type,
                actor_token,
                actor_token_type,
                requested_token_type,
                audience,
                // RFC 8707 / 8693 §2.1: the global --resource, as for every token request.
                resource: g.resource.clone(),
                scope,
            };
            grants::token_exchange(g, &mut inputs, exchange).await
        }
        Command::Register { initial_access_token } => {
            grants::register(g, &mut inputs, initial_access_token).await
        }
        Command::Whoami { session } => {
            crate::security::refuse_extras(
                g,
                "whoami",
                "the session repeats what its login asked for (give them to begin or login)",
            )?;
            let session = SessionTarget::parse(&session)?;
            let client = build_client(g, &mut inputs).await?;
            let (lock, authenticated) = session.open(client).await?;
            let info = authenticated.userinfo().await?;
            drop(lock);
            print(&to_json(&info)?)
        }
    }
}

/// Saves a new session to `--session`, when one was named.
pub(crate) async fn save_session(
    session: Option<&SessionTarget>,
    authenticated: &Authenticated,
) -> Result<(), CliError> {
    if let Some(session) = session {
        session.save(authenticated).await?;
    }
    Ok(())
}

async fn run_login(
    client: AuthenticationClient,
    g: &GlobalOpts,
    session: Option<&SessionTarget>,
    scope: Option<String>,
    response_mode: Option<ResponseModeArg>,
) -> Result<(), CliError> {
    let (port, path) = login::loopback_target(client.redirect_uri().map(authing_oidc::RedirectUri::url))?;
    if response_mode == Some(ResponseModeArg::Fragment) {
        return Err(CliError::usage(
            "login receives query or form_post responses; a fragment never reaches the listener",
        ));
    }
    let listener = login::bind(port).await?;
    let (url, waiting) = start_login(client.clone(), g, scope, response_mode).await?;
    {
        use std::io::Write as _;
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "Open this URL in a browser to log in (waiting up to {} s):\n{url}",
            login::LOGIN_TIMEOUT.as_secs()
        );
        let _ = err.flush();
    }
    let arrived = tokio::time::timeout(login::LOGIN_TIMEOUT, login::wait_for_callback(listener, path))
        .await
        .map_err(|_| {
            CliError::new(
                Kind::Timeout,
                format!(
                    "no login response reached the listener within {} s",
                    login::LOGIN_TIMEOUT.as_secs()
                ),
            )
        })??;
    let outcome: Result<Authenticated, CliError> = async {
        let params = arrived.params.clone()?;
        let authenticated = waiting.complete(params).await?;
        save_session(session, &authenticated).await?;
        Ok(authenticated)
    }
    .await;
    match outcome {
        Ok(authenticated) => {
            arrived.answer(true, "You are logged in.").await;
            print(&output::login_result(&authenticated, session.is_none()))
        }
        Err(e) => {
            arrived
                .answer(false, &format!("The login failed ({}).", e.kind().as_str()))
                .await;
            Err(e)
        }
    }
}

/// The client the global options describe: the Authing preset with
/// `--app-host`, discovery with `--issuer`.
pub(crate) async fn build_client(
    g: &GlobalOpts,
    inputs: &mut Inputs,
) -> Result<AuthenticationClient, CliError> {
    let app_id = g
        .app_id
        .as_deref()
        .ok_or_else(|| CliError::config("--app-id (or AUTHING_APP_ID) is required"))?;
    let mut b = AuthenticationClient::builder().app_id(app_id);
    if let Some(secret) = inputs.resolve_opt("--secret", g.secret.as_deref())? {
        b = b.secret(ClientSecret::new(secret));
    }
    if let Some(r) = &g.redirect_uri {
        b = b.redirect_uri(r);
    }
    if let Some(p) = g.protocol {
        b = b.protocol(p.into());
    }
    if let Some(m) = g.token_endpoint_auth_method {
        b = b.token_endpoint_auth_method(m.into());
    }
    if let Some(m) = g.introspection_endpoint_auth_method {
        b = b.introspection_endpoint_auth_method(m.into());
    }
    if let Some(m) = g.revocation_endpoint_auth_method {
        b = b.revocation_endpoint_auth_method(m.into());
    }
    if let Some(alg) = &g.id_token_signed_response_alg {
        b = b.id_token_signed_response_alg(alg.parse::<SigningAlgorithm>()?);
    }
    b = crate::security::configure(b, g, inputs)?;
    if g.dpop {
        b = b.dpop(SigningAlgorithm::ES256);
    }
    let client = match (&g.app_host, &g.issuer) {
        (Some(host), None) => b.app_host(host).build()?,
        (None, Some(issuer)) => b.discover(issuer).await?,
        (Some(_), Some(_)) => return Err(CliError::usage("--app-host and --issuer exclude each other")),
        (None, None) => {
            return Err(CliError::config(
                "--app-host (AUTHING_APP_HOST) or --issuer (AUTHING_ISSUER) is required",
            ));
        }
    };
    tracing::debug!(issuer = %client.issuer(), client_id = %client.app_id(), "client configured");
    Ok(client)
}

/// With `--dpop`, a key for a command that keeps no session: the tokens it
/// gets are bound to a key that ends with the command.
fn one_off_dpop_key(g: &GlobalOpts) -> Result<Option<authing_oidc::dpop::DpopKey>, CliError> {
    if !g.dpop {
        return Ok(None);
    }
    Ok(Some(authing_oidc::dpop::DpopKey::generate(
        SigningAlgorithm::ES256,
    )?))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, CliError> {
    serde_json::to_value(value).map_err(|_| CliError::new(Kind::Internal, "cannot render the result as JSON"))
}

impl From<ProtocolArg> for Protocol {
    fn from(p: ProtocolArg) -> Self {
        match p {
            ProtocolArg::Oidc => Protocol::Oidc,
            ProtocolArg::Oauth => Protocol::Oauth,
            ProtocolArg::Saml => Protocol::Saml,
            ProtocolArg::Cas => Protocol::Cas,
        }
    }
}

impl From<AuthMethodArg> for AuthMethod {
    fn from(m: AuthMethodArg) -> Self {
        match m {
            AuthMethodArg::ClientSecretPost => AuthMethod::ClientSecretPost,
            AuthMethodArg::ClientSecretBasic => AuthMethod::ClientSecretBasic,
            AuthMethodArg::None => AuthMethod::None,
            AuthMethodArg::ClientSecretJwt => AuthMethod::ClientSecretJwt,
            AuthMethodArg::PrivateKeyJwt => AuthMethod::PrivateKeyJwt,
        }
    }
}

impl From<ResponseModeArg> for ResponseMode {
    fn from(m: ResponseModeArg) -> Self {
        match m {
            ResponseModeArg::Query => ResponseMode::Query,
            ResponseModeArg::Fragment => ResponseMode::Fragment,
            ResponseModeArg::FormPost => ResponseMode::FormPost,
        }
    }
}

impl From<ChallengeMethodArg> for CodeChallengeMethod {
    fn from(m: ChallengeMethodArg) -> Self {
        match m {
            ChallengeMethodArg::S256 => CodeChallengeMethod::S256,
            ChallengeMethodArg::Plain => CodeChallengeMethod::Plain,
        }
    }
}

/// Whether two paths name the same file, however they are spelled (`p.json`,
/// `./p.json`, a symlinked directory); the second may not exist yet.
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    fn resolve(p: &std::path::Path) -> Option<std::path::PathBuf> {
        if let Ok(full) = p.canonicalize() {
            return Some(full);
        }
        let parent = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.canonicalize().ok()?,
            _ => std::env::current_dir().ok()?,
        };
        Some(parent.join(p.file_name()?))
    }
    a == b || matches!((resolve(a), resolve(b)), (Some(x), Some(y)) if x == y)
}

/// The typed flow's start, as `begin` and `login` both ask for it.
async fn start_login(
    client: AuthenticationClient,
    g: &GlobalOpts,
    scope: Option<String>,
    response_mode: Option<ResponseModeArg>,
) -> Result<(url::Url, PendingCallback), CliError> {
    let mut login = Unauthorized::new(client);
    if let Some(s) = scope {
        login = login.scope(s);
    }
    if let Some(m) = response_mode {
        login = login.response_mode(m.into());
    }
    let (resource, details) = crate::security::request_extras(g)?;
    for r in resource {
        login = login.resource(r);
    }
    if let Some(d) = details {
        login = login.authorization_details(d);
    }
    // Pushes the request first when the client uses PAR (RFC 9126).
    Ok(login.begin().await?)
}
