//! What the app needs to know before it starts, read from the environment so that the same
//! binary runs against the embedded development provider, an Authing application or any
//! OpenID Provider without a code change.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use authing_oidc::ResponseMode;
use authing_oidc_dev_provider::DevProviderConfig;
use secrecy::SecretString;
use url::Url;

/// The path the provider sends the browser back to. The redirect URI registered at the provider
/// must end with it.
pub const CALLBACK_PATH: &str = "/callback";

/// The scope asked for by default: `offline_access` brings a refresh token, so the session
/// outlives its first access token.
pub const DEFAULT_SCOPE: &str = "openid profile email offline_access";

/// The environment variable naming the Redis server replicas share their sessions in.
pub const REDIS_URL_VARIABLE: &str = "REDIS_URL";

/// The environment variable holding the AES-256-GCM key sessions are encrypted with in Redis:
/// 32 bytes in base64 (`openssl rand -base64 32`), the same on every replica. The CLI reads the
/// same variable for its `redis://` sessions.
pub const SESSION_KEY_VARIABLE: &str = "AUTHING_SESSION_KEY";

/// Where several replicas of the app keep what they share: the web sessions (pending logins,
/// signed-in users) and the tokens with their refresh lease, in one Redis
/// (docs/shared-sessions.md, "Replicas of a web service").
#[derive(Debug, Clone)]
pub struct SharedSessions {
    /// `redis://[user:password@]HOST:PORT[/DB]`.
    pub redis_url: String,
    /// The session encryption key, 32 bytes in base64; checked by [`Config::from_lookup`].
    pub key: SecretString,
}

/// Which OpenID Provider the app logs users in with.
#[derive(Debug, Clone)]
pub enum Provider {
    /// The embedded development provider, started in-process on 127.0.0.1 (any free port),
    /// with its `dev-app` / `dev-app-secret` client; log in as `alice` / `alice-password`.
    Dev(DevProviderConfig),
    /// An Authing application (the SDK's Authing preset: fixed paths under `app_host`).
    Authing {
        /// The application's id.
        app_id: String,
        /// E.g. `https://sample-app.authing.cn`.
        app_host: String,
        /// The application's secret.
        secret: String,
    },
    /// Any OpenID Provider, configured from its issuer by OIDC Discovery.
    Issuer {
        /// The issuer URL, exactly as the provider's discovery document states it.
        issuer: String,
        /// The client id registered there.
        app_id: String,
        /// The client secret.
        secret: String,
    },
}

/// The app's configuration. Build it with [`Config::new`] or [`Config::from_env`].
#[derive(Debug, Clone)]
pub struct Config {
    /// The OpenID Provider.
    pub provider: Provider,
    /// Where browsers reach the app, e.g. `http://127.0.0.1:3000` or `https://app.example.com`.
    /// The redirect URI is this plus [`CALLBACK_PATH`]; session cookies are `Secure` when it
    /// is `https`.
    pub public_url: Url,
    /// How the provider returns the authorization response: `query` (a redirect) or
    /// `form_post` (an auto-submitted POST, see the crate docs for its cookie problem).
    pub response_mode: ResponseMode,
    /// The scope to ask for; default [`DEFAULT_SCOPE`].
    pub scope: String,
    /// Where the provider sends the browser after logout; default the app's home page.
    pub post_logout_redirect_uri: Option<String>,
    /// The audience `/api/me` accepts access tokens for (an Authing access token's `aud` is the
    /// app that asked for it); default the app id.
    pub resource: Option<String>,
    /// Sessions shared with other replicas through Redis; `None`: in this process's memory.
    pub shared_sessions: Option<SharedSessions>,
}

/// A configuration that cannot work, with what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ConfigError(message.into())
    }
}

impl Config {
    /// A configuration for `provider`, reached by browsers at `public_url`, in `query` mode
    /// with the default scope.
    pub fn new(provider: Provider, public_url: Url) -> Self {
        Config {
            provider,
            public_url,
            response_mode: ResponseMode::Query,
            scope: DEFAULT_SCOPE.to_owned(),
            post_logout_redirect_uri: None,
            resource: None,
            shared_sessions: None,
        }
    }

    /// The redirect URI: [`public_url`](Self::public_url) with [`CALLBACK_PATH`].
    pub fn redirect_uri(&self) -> String {
        format!(
            "{}{CALLBACK_PATH}",
            self.public_url.as_str().trim_end_matches('/')
        )
    }

    /// Whether session cookies carry `Secure`: when the app is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// Reads the configuration from the process environment (see [`Config::from_lookup`]).
    ///
    /// # Errors
    ///
    /// As [`Config::from_lookup`].
    pub fn from_env(listen: SocketAddr) -> Result<Self, ConfigError> {
        Self::from_lookup(listen, |name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads the configuration through `var`, which returns an environment variable's value:
    ///
    /// - `AUTHING_ISSUER` with `AUTHING_APP_ID`, `AUTHING_APP_SECRET` and
    ///   `AUTHING_APP_REDIRECT_URI`: any OpenID Provider, by discovery;
    /// - else `AUTHING_APP_ID`, `AUTHING_APP_HOST`, `AUTHING_APP_SECRET` and
    ///   `AUTHING_APP_REDIRECT_URI`: an Authing application;
    /// - else none of them: the embedded development provider.
    ///
    /// `RESPONSE_MODE` is `query` (default) or `form_post`; `PUBLIC_URL` is where browsers reach
    /// the app (default: the origin of `AUTHING_APP_REDIRECT_URI`, else `http://{listen}`);
    /// `POST_LOGOUT_REDIRECT_URI` defaults to the public URL's home page; `RESOURCE`, the
    /// audience `/api/me` accepts, to the app id.
    ///
    /// `REDIS_URL` (`redis://HOST:PORT[/DB]`) with `AUTHING_SESSION_KEY` (32 bytes in base64)
    /// keeps the sessions in Redis, shared by every replica started with the same two values
    /// and the same provider settings; without them, sessions live in this process's memory.
    ///
    /// # Errors
    ///
    /// A half-configured provider (some of the variables set, not all), `AUTHING_APP_HOST`
    /// together with `AUTHING_ISSUER`, a redirect URI whose path is not [`CALLBACK_PATH`], or an
    /// unknown response mode; `REDIS_URL` without `AUTHING_SESSION_KEY` or the other way
    /// round, a `REDIS_URL` that is not `redis://HOST…`, a key that is not 32 bytes in base64
    /// (the message never quotes it).
    pub fn from_lookup(
        listen: SocketAddr,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let issuer = var("AUTHING_ISSUER");
        let app_id = var("AUTHING_APP_ID");
        let app_host = var("AUTHING_APP_HOST");
        let secret = var("AUTHING_APP_SECRET");
        let redirect_uri = var("AUTHING_APP_REDIRECT_URI");
        let missing = |names: &[(&str, bool)]| -> Option<ConfigError> {
            let absent: Vec<&str> = names.iter().filter(|(_, set)| !set).map(|(n, _)| *n).collect();
            (!absent.is_empty()).then(|| ConfigError::new(format!("{} must be set too", absent.join(", "))))
        };
        let (provider, redirect_uri) = match (issuer, app_id, app_host, secret, redirect_uri) {
            (Some(_), _, Some(_), _, _) => {
                return Err(ConfigError::new(
                    "AUTHING_ISSUER and AUTHING_APP_HOST exclude each other: use one",
                ));
            }
            (Some(issuer), Some(app_id), None, Some(secret), Some(redirect)) => (
                Provider::Issuer {
                    issuer,
                    app_id,
                    secret,
                },
                Some(redirect),
            ),
            (Some(_), app_id, None, secret, redirect) => {
                let names = [
                    ("AUTHING_APP_ID", app_id.is_some()),
                    ("AUTHING_APP_SECRET", secret.is_some()),
                    ("AUTHING_APP_REDIRECT_URI", redirect.is_some()),
                ];
                return Err(missing(&names).unwrap_or_else(|| ConfigError::new("incomplete issuer")));
            }
            (None, Some(app_id), Some(app_host), Some(secret), Some(redirect)) => (
                Provider::Authing {
                    app_id,
                    app_host,
                    secret,
                },
                Some(redirect),
            ),
            (None, None, None, None, None) => (Provider::Dev(DevProviderConfig::default()), None),
            (None, app_id, app_host, secret, redirect) => {
                let names = [
                    ("AUTHING_APP_ID", app_id.is_some()),
                    ("AUTHING_APP_HOST", app_host.is_some()),
                    ("AUTHING_APP_SECRET", secret.is_some()),
                    ("AUTHING_APP_REDIRECT_URI", redirect.is_some()),
                ];
                return Err(missing(&names).unwrap_or_else(|| ConfigError::new("incomplete Authing app")));
            }
        };

        let public_url = match (var("PUBLIC_URL"), redirect_uri) {
            (Some(public), redirect) => {
                let public = parse_url("PUBLIC_URL", &public)?;
                if let Some(redirect) = redirect {
                    let expected = format!("{}{CALLBACK_PATH}", public.as_str().trim_end_matches('/'));
                    if redirect != expected {
                        return Err(ConfigError::new(format!(
                            "AUTHING_APP_REDIRECT_URI must be {expected} (PUBLIC_URL + {CALLBACK_PATH})"
                        )));
                    }
                }
                public
            }
            (None, Some(redirect)) => {
                let redirect = parse_url("AUTHING_APP_REDIRECT_URI", &redirect)?;
                if redirect.path() != CALLBACK_PATH || redirect.query().is_some() {
                    return Err(ConfigError::new(format!(
                        "AUTHING_APP_REDIRECT_URI must end with {CALLBACK_PATH} (this app's callback route), \
                         e.g. http://127.0.0.1:3000{CALLBACK_PATH}"
                    )));
                }
                let mut origin = redirect;
                origin.set_path("/");
                origin
            }
            (None, None) => {
                // 0.0.0.0 accepts connections, but a browser cannot be sent there.
                let ip = match listen.ip() {
                    ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
                    ip => ip,
                };
                parse_url(
                    "--listen",
                    &format!("http://{}", SocketAddr::new(ip, listen.port())),
                )?
            }
        };

        let mut config = Config::new(provider, public_url);
        config.response_mode = match var("RESPONSE_MODE").as_deref() {
            None | Some("query") => ResponseMode::Query,
            Some("form_post") => ResponseMode::FormPost,
            Some(other) => {
                return Err(ConfigError::new(format!(
                    "RESPONSE_MODE {other:?} is not supported: use query or form_post \
                     (fragment needs a page script to reach the server)"
                )));
            }
        };
        config.post_logout_redirect_uri = var("POST_LOGOUT_REDIRECT_URI");
        config.resource = var("RESOURCE");
        config.shared_sessions = shared_sessions(&var)?;
        Ok(config)
    }
}

fn shared_sessions(var: &impl Fn(&str) -> Option<String>) -> Result<Option<SharedSessions>, ConfigError> {
    let (redis_url, key) = match (var(REDIS_URL_VARIABLE), var(SESSION_KEY_VARIABLE)) {
        (None, None) => return Ok(None),
        (Some(url), Some(key)) => (url, SecretString::from(key)),
        (Some(_), None) => {
            return Err(ConfigError::new(format!(
                "{REDIS_URL_VARIABLE} needs {SESSION_KEY_VARIABLE} too: 32 bytes in base64 \
                 (openssl rand -base64 32), the same on every replica"
            )));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(format!(
                "{SESSION_KEY_VARIABLE} is set but {REDIS_URL_VARIABLE} is not: \
                 the key only encrypts sessions kept in Redis"
            )));
        }
    };
    let parsed = Url::parse(&redis_url)
        .map_err(|e| ConfigError::new(format!("{REDIS_URL_VARIABLE} {redis_url:?} is not a URL: {e}")))?;
    if parsed.scheme() != "redis" || parsed.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::new(format!(
            "{REDIS_URL_VARIABLE} must be redis://HOST:PORT[/DB] (plain TCP: this build has no TLS to Redis)"
        )));
    }
    authing_oidc_redis::SessionKey::from_base64(crate::SESSION_KEY_ID, &key)
        .map_err(|e| ConfigError::new(format!("{SESSION_KEY_VARIABLE}: {e}")))?;
    Ok(Some(SharedSessions { redis_url, key }))
}

fn parse_url(what: &str, text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|e| ConfigError::new(format!("{what} {text:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError::new(format!(
            "{what} {text:?} must be an http(s) URL"
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    fn listen() -> SocketAddr {
        "0.0.0.0:3000".parse().unwrap()
    }

    #[test]
    fn nothing_set_is_the_dev_provider_on_the_listen_address() {
        let c = Config::from_lookup(listen(), lookup(&[])).unwrap();
        assert!(matches!(c.provider, Provider::Dev(_)));
        assert_eq!(c.redirect_uri(), "http://127.0.0.1:3000/callback");
        assert_eq!(c.response_mode, ResponseMode::Query);
        assert!(!c.secure_cookies());
        assert_eq!(c.resource, None);
        let c = Config::from_lookup(listen(), lookup(&[("RESOURCE", "https://api.example")])).unwrap();
        assert_eq!(c.resource.as_deref(), Some("https://api.example"));
    }

    #[test]
    fn an_authing_app_takes_its_public_url_from_the_redirect_uri() {
        let c = Config::from_lookup(
            listen(),
            lookup(&[
                ("AUTHING_APP_ID", "id"),
                ("AUTHING_APP_HOST", "https://x.authing.cn"),
                ("AUTHING_APP_SECRET", "s"),
                ("AUTHING_APP_REDIRECT_URI", "https://app.example.com/callback"),
                ("RESPONSE_MODE", "form_post"),
            ]),
        )
        .unwrap();
        assert!(matches!(c.provider, Provider::Authing { .. }));
        assert_eq!(c.redirect_uri(), "https://app.example.com/callback");
        assert_eq!(c.response_mode, ResponseMode::FormPost);
        assert!(c.secure_cookies());
    }

    #[test]
    fn an_issuer_by_discovery() {
        let c = Config::from_lookup(
            listen(),
            lookup(&[
                ("AUTHING_ISSUER", "https://op.example.com"),
                ("AUTHING_APP_ID", "id"),
                ("AUTHING_APP_SECRET", "s"),
                ("AUTHING_APP_REDIRECT_URI", "http://localhost:8080/callback"),
            ]),
        )
        .unwrap();
        assert!(matches!(c.provider, Provider::Issuer { .. }));
        assert_eq!(c.public_url.as_str(), "http://localhost:8080/");
    }

    #[test]
    fn half_configurations_are_refused() {
        let e = Config::from_lookup(listen(), lookup(&[("AUTHING_APP_ID", "id")])).unwrap_err();
        assert!(e.to_string().contains("AUTHING_APP_HOST"), "{e}");
        let e = Config::from_lookup(listen(), lookup(&[("AUTHING_ISSUER", "https://op")])).unwrap_err();
        assert!(e.to_string().contains("AUTHING_APP_SECRET"), "{e}");
        let both = lookup(&[
            ("AUTHING_ISSUER", "https://op"),
            ("AUTHING_APP_HOST", "https://h"),
        ]);
        assert!(Config::from_lookup(listen(), both).is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        let redirect = lookup(&[
            ("AUTHING_ISSUER", "https://op"),
            ("AUTHING_APP_ID", "id"),
            ("AUTHING_APP_SECRET", "s"),
            ("AUTHING_APP_REDIRECT_URI", "http://localhost:8080/auth/cb"),
        ]);
        assert!(Config::from_lookup(listen(), redirect).is_err());
        let mode = lookup(&[("RESPONSE_MODE", "fragment")]);
        assert!(Config::from_lookup(listen(), mode).is_err());
        let public = lookup(&[("PUBLIC_URL", "ftp://x")]);
        assert!(Config::from_lookup(listen(), public).is_err());
    }

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes

    #[test]
    fn redis_and_its_key_share_the_sessions() {
        let c = Config::from_lookup(
            listen(),
            lookup(&[
                ("REDIS_URL", "redis://127.0.0.1:6379/2"),
                ("AUTHING_SESSION_KEY", KEY),
            ]),
        )
        .unwrap();
        let shared = c.shared_sessions.unwrap();
        assert_eq!(shared.redis_url, "redis://127.0.0.1:6379/2");
        assert!(!format!("{shared:?}").contains(KEY));
        assert!(
            Config::from_lookup(listen(), lookup(&[]))
                .unwrap()
                .shared_sessions
                .is_none()
        );
    }

    #[test]
    fn redis_settings_that_cannot_work_are_refused() {
        let e = Config::from_lookup(listen(), lookup(&[("REDIS_URL", "redis://h:6379")])).unwrap_err();
        assert!(e.to_string().contains("AUTHING_SESSION_KEY"), "{e}");
        let e = Config::from_lookup(listen(), lookup(&[("AUTHING_SESSION_KEY", KEY)])).unwrap_err();
        assert!(e.to_string().contains("REDIS_URL"), "{e}");
        for url in ["rediss://h:6379", "http://h", "redis://", "not a url"] {
            let vars = lookup(&[("REDIS_URL", url), ("AUTHING_SESSION_KEY", KEY)]);
            assert!(Config::from_lookup(listen(), vars).is_err(), "{url}");
        }
        let short = "c2hvcnQta2V5LW5vdC0zMi1ieXRlcw==";
        let e = Config::from_lookup(
            listen(),
            lookup(&[("REDIS_URL", "redis://h:6379"), ("AUTHING_SESSION_KEY", short)]),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("32 bytes") && !e.to_string().contains(short),
            "{e}"
        );
    }
}
