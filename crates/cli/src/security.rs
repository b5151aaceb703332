//! The global options of the high-security profile (docs/cli.md, "Client
//! keys, PAR, JAR, RAR"): the client key, PAR, JAR, resource indicators,
//! `authorization_details` and the FAPI 2.0 preset.

use authing_oidc::authorization_details::{AuthorizationDetail, TokenRequestExtras};
use authing_oidc::{AuthenticationClientBuilder, ClientKey};

use crate::cli::GlobalOpts;
use crate::error::CliError;
use crate::input::Inputs;

/// Applies `--client-key`, `--client-key-id`, `--par`, `--jar` and `--fapi2`.
pub fn configure(
    mut b: AuthenticationClientBuilder,
    g: &GlobalOpts,
    inputs: &mut Inputs,
) -> Result<AuthenticationClientBuilder, CliError> {
    if let Some(text) = inputs.resolve_opt("--client-key", g.client_key.as_deref())? {
        let mut key = ClientKey::parse(&text)?;
        if let Some(kid) = &g.client_key_id {
            key = key.with_kid(kid);
        }
        b = b.client_key(key);
    } else if g.client_key_id.is_some() {
        return Err(CliError::usage("--client-key-id needs --client-key"));
    }
    if g.par {
        b = b.pushed_authorization_requests(true);
    }
    if g.jar {
        b = b.request_objects(true);
    }
    if g.fapi2 {
        b = b.fapi2();
    }
    Ok(b)
}

/// `--resource` and `--authorization-details`, checked.
pub fn request_extras(g: &GlobalOpts) -> Result<(Vec<String>, Option<Vec<AuthorizationDetail>>), CliError> {
    let details = match &g.authorization_details {
        Some(json) => Some(AuthorizationDetail::parse_list(json)?),
        None => None,
    };
    Ok((g.resource.clone(), details))
}

/// The same, for a code exchange or a refresh.
pub fn token_extras(g: &GlobalOpts) -> Result<TokenRequestExtras, CliError> {
    let (resource, details) = request_extras(g)?;
    let mut extras = TokenRequestExtras::new();
    for r in resource {
        extras = extras.resource(r);
    }
    if let Some(d) = details {
        extras = extras.authorization_details(d);
    }
    Ok(extras)
}

/// Refuses `--resource` and `--authorization-details` on a command whose token
/// requests do not take them from the command line, instead of dropping them:
/// `why` says where they go instead.
pub fn refuse_extras(g: &GlobalOpts, command: &str, why: &str) -> Result<(), CliError> {
    if g.resource.is_empty() && g.authorization_details.is_none() {
        return Ok(());
    }
    Err(CliError::usage(format!(
        "{command} takes no --resource or --authorization-details: {why}"
    )))
}
