//! `verify-access-token`: the resource server's local check of a JWT access token (RFC 9068,
//! docs/protocol.md §4.3), the same verifier an API uses, from the command line.

use authing_oidc::access_token::TypPolicy;
use authing_oidc::{AccessToken, AuthenticationClient};

use crate::error::{CliError, Kind};
use crate::output::print;

/// What the command was asked.
pub struct Request {
    /// The token, already read from its argument, file or stdin.
    pub access_token: AccessToken,
    /// The audiences the API accepts (at least one).
    pub audiences: Vec<String>,
    /// Scopes that must all be granted (each argument may hold several, space-separated).
    pub scopes: Vec<String>,
    /// `typ` `at+jwt` (and `client_id`, `jti`) required.
    pub strict: bool,
}

/// Verifies the token and prints its claims; a refused token is `token_invalid`, a valid one
/// without a required scope `insufficient_scope` (both exit 1).
pub async fn run(client: AuthenticationClient, request: Request) -> Result<(), CliError> {
    let policy = if request.strict {
        TypPolicy::Strict
    } else {
        TypPolicy::Authing
    };
    let claims = client
        .access_token_verifier(request.audiences)
        .typ_policy(policy)
        .verify(&request.access_token)
        .await?;
    let missing: Vec<&str> = request
        .scopes
        .iter()
        .flat_map(|s| s.split(' '))
        .filter(|s| !s.is_empty() && !claims.has_scope(s))
        .collect();
    if !missing.is_empty() {
        return Err(CliError::new(
            Kind::InsufficientScope,
            format!("the token does not grant the scope {}", missing.join(" ")),
        ));
    }
    let json = serde_json::to_value(&claims)
        .map_err(|e| CliError::new(Kind::Internal, format!("cannot print the claims: {e}")))?;
    print(&json)
}
