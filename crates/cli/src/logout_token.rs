//! `verify-logout-token`: OpenID Back-Channel Logout 1.0 §2.6 on the command
//! line (docs/cli.md).

use authing_oidc::LogoutToken;
use serde_json::json;

use crate::cli::GlobalOpts;
use crate::commands::build_client;
use crate::error::CliError;
use crate::input::Inputs;
use crate::output::print;

/// Verifies the token (with the client's keys, issuer and client id) and
/// prints who and which session it logs out. A refusal is exit 1, kind
/// `logout_token_invalid`. The jti memory lives only as long as this process,
/// so a replay across two invocations is not caught here.
pub async fn run(g: &GlobalOpts, inputs: &mut Inputs, raw: &str) -> Result<(), CliError> {
    let token = LogoutToken::new(inputs.resolve("--logout-token", raw)?);
    let client = build_client(g, inputs).await?;
    let claims = client.verify_logout_token(&token).await?;
    print(&json!({
        "iss": claims.iss,
        "sub": claims.sub,
        "sid": claims.sid,
        "jti": claims.jti,
    }))
}
