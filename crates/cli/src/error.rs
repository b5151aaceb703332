//! The CLI's one error type, its stable `kind` names and exit codes, and the
//! one JSON object it is printed as on stderr.
//!
//! Messages come from the SDK's `Display` (which never quotes a token, secret,
//! code or verifier) or are written here without any value the user passed as
//! a token or secret.

use std::fmt;

/// A failure: a stable snake_case kind, a message, and the exit code.
#[derive(Debug, Clone)]
pub struct CliError {
    kind: Kind,
    message: String,
}

/// Every error kind the CLI reports. `docs/cli.md` lists them with their exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad arguments (exit 2).
    Usage,
    /// Bad or missing configuration (exit 2).
    Config,
    /// A pending or session file unreadable, malformed, unwritable, or made for
    /// another issuer or client (exit 2).
    File,
    /// The callback is not a well-formed authorization response (exit 2).
    MalformedCallback,
    /// The callback's state is not the pending login's (exit 1).
    StateMismatch,
    /// The callback's iss is not the issuer (exit 1).
    IssMismatch,
    /// The provider sent the user back with an error (exit 1).
    AuthorizationError,
    /// The pending login is older than its limit (exit 1).
    PendingExpired,
    /// An id_token failed verification (exit 1).
    IdTokenInvalid,
    /// Userinfo's sub differs from the id_token's (exit 1).
    SubMismatch,
    /// Authing's validate_token says the token is invalid, or a local
    /// access-token check refused it (exit 1).
    TokenInvalid,
    /// A valid access token that lacks a required scope (exit 1).
    InsufficientScope,
    /// A logout token failed verification (exit 1).
    LogoutTokenInvalid,
    /// The provider answered with an error (exit 1).
    OpError,
    /// The provider's answer is not what the protocol says (exit 1).
    InvalidResponse,
    /// The provider's answer exceeds the size cap (exit 1).
    ResponseTooLarge,
    /// The request could not be sent or the answer not received (exit 1).
    Transport,
    /// A request, or `login`'s wait for the callback, timed out (exit 1).
    Timeout,
    /// The session cannot continue; log in again (exit 1).
    ReauthenticationRequired,
    /// A device login or CIBA request expired before the user answered (exit 1).
    AuthorizationExpired,
    /// A registered client's secret is past its client_secret_expires_at (exit 1).
    ClientSecretExpired,
    /// A local I/O failure other than a pending or session file, e.g. the
    /// `login` listener's port is taken (exit 1).
    Io,
    /// Anything else; a bug (exit 1).
    Internal,
}

impl Kind {
    /// The stable name printed as `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Usage => "usage",
            Kind::Config => "config",
            Kind::File => "file",
            Kind::MalformedCallback => "malformed_callback",
            Kind::StateMismatch => "state_mismatch",
            Kind::IssMismatch => "iss_mismatch",
            Kind::AuthorizationError => "authorization_error",
            Kind::PendingExpired => "pending_expired",
            Kind::IdTokenInvalid => "id_token_invalid",
            Kind::SubMismatch => "sub_mismatch",
            Kind::TokenInvalid => "token_invalid",
            Kind::InsufficientScope => "insufficient_scope",
            Kind::LogoutTokenInvalid => "logout_token_invalid",
            Kind::OpError => "op_error",
            Kind::InvalidResponse => "invalid_response",
            Kind::ResponseTooLarge => "response_too_large",
            Kind::Transport => "transport",
            Kind::Timeout => "timeout",
            Kind::ReauthenticationRequired => "reauthentication_required",
            Kind::AuthorizationExpired => "authorization_expired",
            Kind::ClientSecretExpired => "client_secret_expired",
            Kind::Io => "io",
            Kind::Internal => "internal",
        }
    }

    /// 2 for bad usage or configuration, 1 for a refusal or a remote, protocol
    /// or verification error.
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Usage | Kind::Config | Kind::File | Kind::MalformedCallback => 2,
            _ => 1,
        }
    }
}

impl CliError {
    /// An error of this kind.
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        CliError {
            kind,
            message: message.into(),
        }
    }

    /// A usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    /// A configuration error.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Kind::Config, message)
    }

    /// A pending or session file error.
    pub fn file(message: impl Into<String>) -> Self {
        Self::new(Kind::File, message)
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }

    /// `{"error": {"kind": …, "message": …}}` on one line.
    pub fn to_json_line(&self) -> String {
        serde_json::json!({"error": {"kind": self.kind.as_str(), "message": self.message}}).to_string()
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

/// The one mapping of every SDK error to a kind. The SDK's messages never
/// carry a secret, so they are used as they are.
impl From<authing_oidc::Error> for CliError {
    fn from(e: authing_oidc::Error) -> Self {
        use authing_oidc::Error as E;
        let kind = match &e {
            E::Config(_) => Kind::Config,
            // A setting against the FAPI 2.0 preset is a configuration error.
            E::ProfileConflict { .. } => Kind::Config,
            E::InvalidInput(_) => Kind::Usage,
            E::Transport { .. } => Kind::Transport,
            E::Timeout { .. } => Kind::Timeout,
            E::Op(_) => Kind::OpError,
            E::InvalidResponse { .. } => Kind::InvalidResponse,
            // A token that is not bound to the key the request proved: a refused answer.
            E::DpopNotBound { .. } => Kind::InvalidResponse,
            E::ResponseTooLarge { .. } => Kind::ResponseTooLarge,
            E::Authorization(_) => Kind::AuthorizationError,
            E::StateMismatch => Kind::StateMismatch,
            E::IssMismatch(_) => Kind::IssMismatch,
            E::MalformedCallback(_) => Kind::MalformedCallback,
            E::PendingExpired { .. } => Kind::PendingExpired,
            E::IdToken(_) => Kind::IdTokenInvalid,
            E::AccessToken(_) => Kind::TokenInvalid,
            E::LogoutToken(_) => Kind::LogoutTokenInvalid,
            // A signed answer that fails its checks, or an unsigned one where a signed one was
            // registered, is not what the protocol says.
            E::SignedResponse { .. } | E::UnsignedResponse { .. } => Kind::InvalidResponse,
            E::SubMismatch => Kind::SubMismatch,
            E::ReauthenticationRequired(_) => Kind::ReauthenticationRequired,
            E::AuthorizationExpired { .. } => Kind::AuthorizationExpired,
            E::ClientSecretExpired { .. } => Kind::ClientSecretExpired,
            // A saved login or session that cannot be taken back is a bad file.
            E::Restore(_) => Kind::File,
            // Our persistence hook writes the session file; its failure is a file error.
            E::Persist(_) => Kind::File,
            // A Redis session (`--session redis://`): a stored value that cannot be used is a bad
            // file; an unreachable server or a lease not obtained in time is transient.
            E::Store(s) if s.kind == authing_oidc::StoreErrorKind::Invalid => Kind::File,
            E::Store(_) => Kind::Transport,
            _ => Kind::Internal,
        };
        CliError::new(kind, e.to_string())
    }
}

#[cfg(feature = "dev-provider")]
impl From<authing_oidc_dev_provider::Error> for CliError {
    fn from(e: authing_oidc_dev_provider::Error) -> Self {
        use authing_oidc_dev_provider::Error as E;
        let kind = match &e {
            E::Config(_) => Kind::Config,
            E::Io(_) => Kind::Io,
            _ => Kind::Internal,
        };
        CliError::new(kind, e.to_string())
    }
}

/// Renders a clap error as a usage error without echoing any value the user
/// typed (it could be a token pasted in the wrong place): only option names,
/// clap's kind of error, and its suggestions.
pub fn from_clap(e: &clap::Error) -> CliError {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => Some(option_name(s)),
        Some(ContextValue::Strings(v)) => {
            Some(v.iter().map(|s| option_name(s)).collect::<Vec<_>>().join(", "))
        }
        _ => None,
    };
    let arg = arg.unwrap_or_default();
    let message = match e.kind() {
        ErrorKind::InvalidValue => {
            let valid = match e.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(v)) => format!(" (expected one of: {})", v.join(", ")),
                _ => String::new(),
            };
            format!("invalid value for {arg}{valid}")
        }
        ErrorKind::UnknownArgument => {
            let tip = match e.get(ContextKind::SuggestedArg) {
                Some(ContextValue::String(s)) => format!("; did you mean {s}?"),
                _ => String::new(),
            };
            if arg.starts_with('\'') {
                format!("unexpected argument {arg}{tip}")
            } else {
                "unexpected positional argument (not shown: it could be a secret); see --help".to_owned()
            }
        }
        ErrorKind::InvalidSubcommand => {
            let tip = match e.get(ContextKind::SuggestedSubcommand) {
                Some(ContextValue::Strings(v)) if !v.is_empty() => {
                    format!("; did you mean {}?", v.join(", "))
                }
                _ => String::new(),
            };
            format!("unknown command{tip}; see --help")
        }
        ErrorKind::NoEquals => format!("{arg} needs a value with ="),
        ErrorKind::ValueValidation => format!("invalid value for {arg}"),
        ErrorKind::TooManyValues | ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => {
            format!("wrong number of values for {arg}")
        }
        ErrorKind::ArgumentConflict => {
            let other = match e.get(ContextKind::PriorArg) {
                Some(ContextValue::String(s)) => option_name(s),
                Some(ContextValue::Strings(v)) => {
                    v.iter().map(|s| option_name(s)).collect::<Vec<_>>().join(", ")
                }
                _ => "another option".to_owned(),
            };
            format!("{arg} cannot be used with {other}")
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::Strings(v)) => {
                    v.iter().map(|s| option_name(s)).collect::<Vec<_>>().join(", ")
                }
                _ => arg,
            };
            format!("missing required argument {missing}")
        }
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "a command is required; see --help".to_owned()
        }
        ErrorKind::InvalidUtf8 => "an argument is not valid UTF-8".to_owned(),
        _ => format!(
            "invalid arguments{}; see --help",
            if arg.is_empty() {
                String::new()
            } else {
                format!(" ({arg})")
            }
        ),
    };
    CliError::usage(message)
}

/// The option part of what clap reports as the offending argument: `--name
/// <VALUE>` stays (a placeholder, not a value), `--name=value` loses its value,
/// and anything not starting with `-` (a stray positional, maybe a token) is
/// not quoted at all.
fn option_name(s: &str) -> String {
    if s.starts_with('-') {
        let name = s.split('=').next().unwrap_or(s);
        if name.len() <= 64 {
            return format!("'{name}'");
        }
        return "an over-long option".to_owned();
    }
    if s.starts_with('<')
        || s.chars()
            .all(|c| c.is_ascii_uppercase() || c == '_' || c == '<' || c == '>')
    {
        return format!("'{s}'");
    }
    "a positional argument".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(Kind::Usage.exit_code(), 2);
        assert_eq!(Kind::MalformedCallback.exit_code(), 2);
        assert_eq!(Kind::File.exit_code(), 2);
        assert_eq!(Kind::StateMismatch.exit_code(), 1);
        assert_eq!(Kind::TokenInvalid.exit_code(), 1);
    }

    #[test]
    fn option_names_never_carry_values() {
        assert_eq!(option_name("--token=abc"), "'--token'");
        assert_eq!(option_name("--length <N>"), "'--length <N>'");
        assert_eq!(option_name("eyJhbGciOi.secret"), "a positional argument");
    }

    #[test]
    fn sdk_errors_map_to_kinds() {
        let e: CliError = authing_oidc::Error::StateMismatch.into();
        assert_eq!(e.kind(), Kind::StateMismatch);
        let e: CliError = authing_oidc::Error::Restore("x".into()).into();
        assert_eq!(e.exit_code(), 2);
        let json: serde_json::Value = serde_json::from_str(&e.to_json_line()).unwrap();
        assert_eq!(json["error"]["kind"], "file");
    }
}
