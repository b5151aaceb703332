//! The command line, as docs/cli.md defines it: global options (each with its
//! environment variable where docs/cli.md names one) and one subcommand.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// `authing-oidc`: every operation of the authing-oidc SDK, for debugging an
/// application and for black-box tests. Prints one JSON document on stdout;
/// on failure, one JSON error object on stderr (exit 1 or 2).
///
/// Options that take a token or a secret also accept `@PATH` (read from that
/// file) or `-` (read from standard input).
// No `Debug` on the argument types: they hold the secret, the client key and tokens as plain
// strings (clap parses them before they become secrecy types), and a stray `{:?}` must not be
// able to print them.
#[derive(Parser)]
#[command(name = "authing-oidc", version, max_term_width = 100)]
pub struct Cli {
    /// Provider and client configuration.
    #[command(flatten)]
    pub global: GlobalOpts,

    /// Log what the SDK does to stderr (-v info, -vv debug, -vvv trace). Never
    /// logs a token or secret.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The client configuration shared by every command that talks to a provider.
#[derive(Args)]
pub struct GlobalOpts {
    /// The Authing application's address, e.g. `https://sample-app.authing.cn`
    /// (the Authing preset; excludes --issuer).
    #[arg(
        long,
        env = "AUTHING_APP_HOST",
        global = true,
        value_name = "URL",
        conflicts_with = "issuer"
    )]
    pub app_host: Option<String>,

    /// The client id.
    #[arg(long, env = "AUTHING_APP_ID", global = true, value_name = "ID")]
    pub app_id: Option<String>,

    /// The client secret (or @PATH, or - for stdin).
    #[arg(
        long,
        env = "AUTHING_APP_SECRET",
        global = true,
        value_name = "SECRET",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub secret: Option<String>,

    /// The callback URL registered for the application.
    #[arg(long, env = "AUTHING_APP_REDIRECT_URI", global = true, value_name = "URL")]
    pub redirect_uri: Option<String>,

    /// The application's protocol.
    #[arg(long, env = "AUTHING_APP_PROTOCOL", global = true, value_enum)]
    pub protocol: Option<ProtocolArg>,

    /// Client authentication at the token endpoint [default: client_secret_post].
    #[arg(long, global = true, value_enum, value_name = "METHOD")]
    pub token_endpoint_auth_method: Option<AuthMethodArg>,

    /// Client authentication at the introspection endpoint [default: client_secret_post].
    #[arg(long, global = true, value_enum, value_name = "METHOD")]
    pub introspection_endpoint_auth_method: Option<AuthMethodArg>,

    /// Client authentication at the revocation endpoint [default: client_secret_post].
    #[arg(long, global = true, value_enum, value_name = "METHOD")]
    pub revocation_endpoint_auth_method: Option<AuthMethodArg>,

    /// The one algorithm the application's id_tokens are signed with (unset:
    /// RS256 and HS256 for Authing, the advertised ones with --issuer).
    #[arg(long, global = true, value_name = "ALG")]
    pub id_token_signed_response_alg: Option<String>,

    /// A generic OpenID Provider, configured by discovery from this issuer
    /// (excludes --app-host).
    #[arg(long, env = "AUTHING_ISSUER", global = true, value_name = "URL")]
    pub issuer: Option<String>,

    /// The client's private key for private_key_jwt and request objects:
    /// PKCS#8 PEM or a private JWK (or @PATH, or - for stdin).
    #[arg(
        long,
        env = "AUTHING_CLIENT_KEY",
        global = true,
        value_name = "KEY",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub client_key: Option<String>,

    /// The `kid` the provider knows the client key by (a JWK's own `kid` otherwise).
    #[arg(long, global = true, value_name = "KID")]
    pub client_key_id: Option<String>,

    /// Push authorization requests first (PAR, RFC 9126).
    #[arg(long, global = true)]
    pub par: bool,

    /// Send authorization requests as signed request objects (JAR, RFC 9101).
    #[arg(long, global = true)]
    pub jar: bool,

    /// A resource indicator (RFC 8707) for the login (begin, login,
    /// authorize-url), exchange, refresh and token-exchange; repeatable. A
    /// session's code exchange and refreshes repeat its login's when it is the
    /// only one.
    #[arg(long, global = true, value_name = "URI")]
    pub resource: Vec<String>,

    /// `authorization_details` (RFC 9396) as a JSON array, for the login
    /// (begin, login, authorize-url), exchange and refresh.
    #[arg(long, global = true, value_name = "JSON")]
    pub authorization_details: Option<String>,

    /// The FAPI 2.0 Security Profile preset (private_key_jwt, PAR, PKCE S256,
    /// iss required, PS256/ES256/EdDSA only).
    #[arg(long, global = true)]
    pub fapi2: bool,
    /// DPoP (RFC 9449): tokens bound to a key pair made for the login. A
    /// session made with it keeps its key in the session file, and `token`,
    /// `whoami` and `refresh` use it; `exchange` and `refresh --refresh-token`
    /// prove a one-off key they do not keep.
    #[arg(long, global = true)]
    pub dpop: bool,
}

/// `--protocol`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProtocolArg {
    /// OpenID Connect (the default).
    Oidc,
    /// Plain OAuth 2.0.
    Oauth,
    /// SAML: only the login and logout URLs.
    Saml,
    /// CAS: only the login and logout URLs.
    Cas,
}

/// `--*-endpoint-auth-method`.
#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum AuthMethodArg {
    /// client_id and client_secret in the form body.
    ClientSecretPost,
    /// HTTP Basic with the form-urlencoded id and secret.
    ClientSecretBasic,
    /// A public client: client_id only.
    None,
    /// A JWT signed HS256 with the client secret (RFC 7523).
    ClientSecretJwt,
    /// A JWT signed with the client's private key (RFC 7523); needs --client-key.
    PrivateKeyJwt,
}

/// `--response-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum ResponseModeArg {
    /// In the redirect URI's query string.
    Query,
    /// In the redirect URI's fragment.
    Fragment,
    /// As a form POST to the redirect URI.
    FormPost,
}

/// `--method` / `--code-challenge-method`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ChallengeMethodArg {
    /// BASE64URL(SHA256(verifier)).
    #[value(name = "S256")]
    S256,
    /// The verifier itself.
    #[value(name = "plain")]
    Plain,
}

/// The commands of docs/cli.md.
#[derive(Subcommand)]
pub enum Command {
    /// Print the login URL: {"url"}.
    AuthorizeUrl {
        /// The scope [default: openid profile email phone address; user for oauth].
        #[arg(long)]
        scope: Option<String>,
        /// The response type [default: code].
        #[arg(long)]
        response_type: Option<String>,
        /// How the provider returns the response [default: omitted].
        #[arg(long, value_enum)]
        response_mode: Option<ResponseModeArg>,
        /// The state [default: generated].
        #[arg(long, allow_hyphen_values = true)]
        state: Option<String>,
        /// The nonce [default: generated].
        #[arg(long, allow_hyphen_values = true)]
        nonce: Option<String>,
        /// A PKCE code challenge (see `pkce`).
        #[arg(long, allow_hyphen_values = true)]
        code_challenge: Option<String>,
        /// The challenge's method [default: S256].
        #[arg(long, value_enum, requires = "code_challenge")]
        code_challenge_method: Option<ChallengeMethodArg>,
    },
    /// Exchange an authorization code for tokens; prints the token set.
    Exchange {
        /// The code from the callback (or @PATH, or -).
        #[arg(long, allow_hyphen_values = true)]
        code: String,
        /// The PKCE code verifier the login used (or @PATH, or -).
        #[arg(long, allow_hyphen_values = true)]
        code_verifier: Option<String>,
    },
    /// Fetch the user's claims with an access token.
    Userinfo {
        /// The access token (or @PATH, or -).
        #[arg(long, allow_hyphen_values = true)]
        access_token: String,
    },
    /// Get new tokens with a refresh token; prints the token set.
    Refresh {
        /// The refresh token (or @PATH, or -).
        #[arg(long, allow_hyphen_values = true)]
        refresh_token: String,
    },
    /// Ask the provider whether a token is active ({"active": false} when not).
    Introspect {
        /// The access or refresh token (or @PATH, or -).
        #[arg(long, allow_hyphen_values = true)]
        token: String,
    },
    /// Authing's online check of an id_token or access token; prints its claims,
    /// exit 1 (kind token_invalid) when invalid.
    #[command(group(ArgGroup::new("which").required(true).args(["id_token", "access_token"])))]
    Validate {
        /// The id_token to check (or @PATH, or -).
        #[arg(long, allow_hyphen_values = true)]
        id_token: Option<String>,
        /// The access token to check (or @PATH, or -).
        #[arg(long, allow_hyphen_values = true)]
        access_token: Option<String>,
    },
    /// Revoke an access or refresh token: {"revoked": true}.
    Revoke {
        /// The access or refresh token (or @PATH, or -).
        #[arg(long, allow_hyphen_values = true)]
        token: String,
    },
    /// Print a logout URL: {"url"}.
    LogoutUrl {
        /// RP-initiated logout at the OIDC end-session endpoint (needs --id-token
        /// and --post-logout-redirect-uri).
        #[arg(long, requires_all = ["id_token", "post_logout_redirect_uri"])]
        expert: bool,
        /// Where the provider sends the browser after logout [default: the
        /// redirect URI, for the simple form].
        #[arg(long)]
        post_logout_redirect_uri: Option<String>,
        /// The id_token hint, with --expert (or @PATH, or -).
        #[arg(long, allow_hyphen_values = true, requires = "expert")]
        id_token: Option<String>,
        /// A state echoed back after logout, with --expert.
        #[arg(long, allow_hyphen_values = true, requires = "expert")]
        state: Option<String>,
    },
    /// Get a machine-to-machine token with a programmatic access account.
    ClientCredentials {
        /// The scope to ask for (not empty).
        #[arg(long)]
        scope: String,
        /// The access key.
        #[arg(long)]
        access_key: String,
        /// The access secret (or @PATH, or -).
        #[arg(long, allow_hyphen_values = true)]
        access_secret: String,
    },
    /// Generate a PKCE code verifier and its challenge (no configuration needed).
    Pkce {
        /// The verifier's length, 43 to 128.
        #[arg(long, default_value_t = 43)]
        length: usize,
        /// The challenge method.
        #[arg(long, value_enum, default_value = "S256")]
        method: ChallengeMethodArg,
    },
    /// Verify an id_token locally (signature and claims); prints its claims.
    VerifyIdToken {
        /// The id_token (or @PATH, or -).
        #[arg(long, allow_hyphen_values = true)]
        id_token: String,
        /// The nonce the login sent (then required in the token).
        #[arg(long, allow_hyphen_values = true)]
        nonce: Option<String>,
        /// The access token issued with it, to check at_hash (or @PATH, or -).
        #[arg(long, allow_hyphen_values = true)]
        access_token: Option<String>,
    },
    /// Verify a JWT access token locally (RFC 9068); prints its claims.
    VerifyAccessToken {
        /// The access token (or @PATH, or -).
        #[arg(long, allow_hyphen_values = true)]
        access_token: String,
        /// An audience the API accepts (repeatable; the token's aud must hold one).
        #[arg(long, required = true)]
        audience: Vec<String>,
        /// A scope the token must grant (repeatable, or several separated by spaces).
        #[arg(long)]
        scope: Vec<String>,
        /// Require typ at+jwt, client_id and jti (RFC 9068 strictly), instead of Authing's shape.
        #[arg(long)]
        strict: bool,
    },
    /// Verify a back-channel logout token (OpenID Back-Channel Logout 1.0
    /// §2.6); prints {"iss", "sub", "sid", "jti"}.
    VerifyLogoutToken {
        /// The logout token (or @PATH, or -).
        #[arg(long, allow_hyphen_values = true)]
        logout_token: String,
    },
    /// Start the typed login flow: prints {"url"}, saves the pending login to FILE.
    Begin {
        /// The scope (openid is always added) [default: openid profile email phone address].
        #[arg(long)]
        scope: Option<String>,
        /// How the provider returns the response [default: query].
        #[arg(long, value_enum)]
        response_mode: Option<ResponseModeArg>,
        /// Where to save the pending login (created 0600).
        #[arg(long, value_name = "FILE")]
        pending: PathBuf,
    },
    /// Complete the typed login flow from the callback; prints {"token_set", "claims"}.
    #[command(group(ArgGroup::new("response").required(true).args(["callback", "form_body"])))]
    Finish {
        /// The pending login saved by `begin` (deleted on success).
        #[arg(long, value_name = "FILE")]
        pending: PathBuf,
        /// The callback URL the browser was sent to (query or fragment) (or @PATH, or -).
        #[arg(long, allow_hyphen_values = true, value_name = "URL")]
        callback: Option<String>,
        /// The form_post body the browser posted (or @PATH, or -).
        #[arg(long, allow_hyphen_values = true, value_name = "BODY")]
        form_body: Option<String>,
        /// Save the session to FILE2 (created 0600) or redis://HOST:PORT/KEY;
        /// token values are then left out of the output.
        #[arg(long, value_name = "FILE2")]
        session: Option<PathBuf>,
    },
    /// Log in interactively through a listener on the 127.0.0.1 redirect URI.
    Login {
        /// Save the session to FILE (created 0600) or redis://HOST:PORT/KEY;
        /// token values are then left out of the output.
        #[arg(long, value_name = "FILE")]
        session: Option<PathBuf>,
        /// The scope (openid is always added); add offline_access for a refresh
        /// token [default: openid profile email phone address].
        #[arg(long)]
        scope: Option<String>,
        /// How the provider returns the response: query or form_post [default: query].
        #[arg(long, value_enum)]
        response_mode: Option<ResponseModeArg>,
    },
    /// An access token of a saved session, refreshed first when needed:
    /// {"access_token", "expires_in"}.
    Token {
        /// The session file (or redis://HOST:PORT/KEY) written by `finish` or `login`.
        #[arg(long, value_name = "FILE")]
        session: PathBuf,
        /// Refresh now, whatever the access token's lifetime.
        #[arg(long)]
        force_refresh: bool,
    },
    /// The user info of a saved session (sub checked against the id_token's).
    Whoami {
        /// The session file (or redis://HOST:PORT/KEY) written by `finish` or `login`.
        #[arg(long, value_name = "FILE")]
        session: PathBuf,
    },
    /// Log in on another device (RFC 8628): writes {"user_code", "verification_uri",
    /// "verification_uri_complete", "expires_in"} on stderr at once, polls, then prints
    /// what `finish` prints.
    DeviceLogin {
        /// The scope, sent as given; it must contain openid [default: openid].
        #[arg(long)]
        scope: Option<String>,
        /// Save the session to FILE (created 0600) or redis://HOST:PORT/KEY;
        /// token values are then left out of the output.
        #[arg(long, value_name = "FILE")]
        session: Option<PathBuf>,
    },
    /// Log a user in on their own device (OpenID CIBA, poll mode); prints what
    /// `finish` prints.
    CibaLogin {
        /// Who is to log in (the provider's login_hint: an e-mail, a user name…).
        #[arg(long)]
        login_hint: String,
        /// A short message shown on both devices.
        #[arg(long)]
        binding_message: Option<String>,
        /// The scope, sent as given; it must contain openid [default: openid].
        #[arg(long)]
        scope: Option<String>,
        /// Save the session to FILE (created 0600) or redis://HOST:PORT/KEY;
        /// token values are then left out of the output.
        #[arg(long, value_name = "FILE")]
        session: Option<PathBuf>,
    },
    /// Exchange a token for another (RFC 8693); prints the answer with
    /// issued_token_type. The global --resource (repeatable) names the
    /// resources the token is for.
    TokenExchange {
        /// The token to exchange (or @PATH, or -).
        #[arg(long, allow_hyphen_values = true)]
        subject_token: String,
        /// Its type, e.g. urn:ietf:params:oauth:token-type:access_token.
        #[arg(long, value_name = "URN")]
        subject_token_type: String,
        /// The acting party's token (or @PATH, or -), with --actor-token-type.
        #[arg(long, allow_hyphen_values = true, requires = "actor_token_type")]
        actor_token: Option<String>,
        /// The acting party's token type, with --actor-token.
        #[arg(long, value_name = "URN", requires = "actor_token")]
        actor_token_type: Option<String>,
        /// The type of token wanted.
        #[arg(long, value_name = "URN")]
        requested_token_type: Option<String>,
        /// A service the token is for (repeatable).
        #[arg(long)]
        audience: Vec<String>,
        /// The scope wanted.
        #[arg(long)]
        scope: Option<String>,
    },
    /// Register a client (RFC 7591) with the global --redirect-uri and
    /// --token-endpoint-auth-method; needs no --app-id. Prints the client
    /// metadata, secret and registration access token included.
    Register {
        /// The initial access token the provider requires, if any (or @PATH, or -).
        #[arg(long, allow_hyphen_values = true)]
        initial_access_token: Option<String>,
    },
    /// Run the embedded development provider on 127.0.0.1 until SIGINT/SIGTERM.
    DevProvider {
        /// The port (0 = any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
