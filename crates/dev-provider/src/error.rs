//! The crate's one error type.

/// Everything that can go wrong when starting the provider or driving a login without a
/// browser. Nothing here carries a password, secret or token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is inconsistent (duplicate client, missing secret, bad URI).
    #[error("invalid dev-provider configuration: {0}")]
    Config(String),
    /// Binding or serving on 127.0.0.1 failed.
    #[error("dev-provider I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Generating or using a signing key failed.
    #[error("signing key error: {0}")]
    Key(String),
    /// A URL given to a helper could not be parsed or is not a loopback http URL.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// An HTTP request made by a login helper failed.
    #[error("HTTP request failed: {0}")]
    Http(String),
    /// The provider answered a login helper in a way a browser could not follow.
    #[error("unexpected response from the provider: {0}")]
    UnexpectedResponse(String),
    /// A record the provider itself created went missing: a bug in the provider.
    #[error("dev-provider internal error: {0}")]
    Internal(String),
    /// The login page refused the username or password.
    #[error("the login page refused the username or password")]
    LoginRejected,
}

impl From<reqwest::Error> for Error {
    fn from(e: reqwest::Error) -> Self {
        // The URL may hold state and nonce; they are not secrets, but keep messages short.
        Error::Http(e.without_url().to_string())
    }
}

impl From<jsonwebtoken::errors::Error> for Error {
    fn from(e: jsonwebtoken::errors::Error) -> Self {
        Error::Key(e.to_string())
    }
}
