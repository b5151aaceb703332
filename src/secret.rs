//! Secret values: tokens, the client secret, the authorization code, the PKCE
//! verifier, state and nonce.
//!
//! Each is a distinct type wrapping [`secrecy::SecretString`], so a refresh token
//! cannot be passed where an access token is expected, and none of them prints
//! its value through `Debug` (there is no `Display`). The value is reachable
//! only through [`ExposeSecret::expose_secret`], a call that is easy to find in
//! review.

pub use secrecy::ExposeSecret;
use secrecy::SecretString;
use subtle::ConstantTimeEq;

/// Compares two strings in constant time (for equal lengths; the length of a
/// nonce, state or hash is not secret).
pub(crate) fn ct_eq_str(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// [`ct_eq_str`] for bytes (the bearer cache's digests).
pub(crate) fn ct_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            /// Wraps a value. The value is kept in memory that is zeroed on drop
            /// and never printed.
            pub fn new(value: impl Into<String>) -> Self {
                Self(SecretString::from(value.into()))
            }

            /// Compares with another value of the same kind in constant time
            /// (the time taken does not depend on where the two differ).
            pub fn ct_eq(&self, other: &str) -> bool {
                ct_eq_str(self.0.expose_secret(), other)
            }
        }

        impl ExposeSecret<str> for $name {
            fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([REDACTED])"))
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map(Self::new)
            }
        }
    };
}

secret_type!(
    /// The application's client secret (`secret` in the Python SDK).
    ClientSecret
);
secret_type!(
    /// An OAuth 2.0 access token.
    AccessToken
);
secret_type!(
    /// An OAuth 2.0 refresh token.
    RefreshToken
);
secret_type!(
    /// A raw, compact-serialized id_token (a JWT). Holding one says nothing about
    /// whether it was verified; see [`crate::id_token`].
    IdToken
);
secret_type!(
    /// A raw logout token (OpenID Back-Channel Logout 1.0 §2.4) as the
    /// provider posted it; see [`crate::logout_token`].
    LogoutToken
);
secret_type!(
    /// An authorization code from the callback. Single use.
    AuthorizationCode
);
secret_type!(
    /// A PKCE code verifier (RFC 7636 §4.1): the secret half of the proof.
    CodeVerifier
);
secret_type!(
    /// The `state` value that binds a callback to the login that started it.
    State
);
secret_type!(
    /// The `nonce` value that binds an id_token to the login that asked for it.
    Nonce
);
secret_type!(
    /// The secret half of a machine-to-machine (programmatic access) credential.
    AccessSecret
);

secret_type!(
    /// An RFC 8628 device code: what the device polls the token endpoint with
    /// while the user approves on another screen.
    DeviceCode
);
secret_type!(
    /// A CIBA `auth_req_id` (OpenID CIBA Core §7.3): what the client polls the
    /// token endpoint with while the user approves on their device.
    AuthReqId
);
secret_type!(
    /// The token an RFC 8693 token exchange acts on (`subject_token`).
    SubjectToken
);
secret_type!(
    /// The token of the party acting for the subject in an RFC 8693 token
    /// exchange (`actor_token`).
    ActorToken
);
secret_type!(
    /// The token an RFC 8693 token exchange issued, of the type its
    /// `issued_token_type` names (an access token, an id_token, a SAML
    /// assertion, …).
    IssuedToken
);
secret_type!(
    /// The token that reads, updates and deletes a dynamically registered
    /// client (RFC 7592 §1.1).
    RegistrationAccessToken
);
secret_type!(
    /// The token some providers require to register a client at all
    /// (RFC 7591 §3, "initial access token").
    InitialAccessToken
);

/// A token that can be introspected or revoked: an access token or a refresh token.
///
/// Sealed: implemented by [`AccessToken`] and [`RefreshToken`] only.
pub trait OAuthToken: ExposeSecret<str> + sealed::Sealed {}
impl OAuthToken for AccessToken {}
impl OAuthToken for RefreshToken {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::AccessToken {}
    impl Sealed for super::RefreshToken {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value() {
        let t = AccessToken::new("canary-access-token");
        assert_eq!(format!("{t:?}"), "AccessToken([REDACTED])");
        assert_eq!(t.expose_secret(), "canary-access-token");
    }

    /// Every `.rs` file under `src/`, with its path relative to `src/`.
    fn sources() -> Vec<(String, String)> {
        fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<(String, String)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let name = path.strip_prefix(root).unwrap().display().to_string();
                    out.push((name, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut out = Vec::new();
        walk(&root, &root, &mut out);
        assert!(out.len() > 10, "the sources were found");
        out
    }

    /// "Constant time" is a property of the primitive, not of timing runs:
    /// `subtle` is used in this one helper only, no exposed secret is compared
    /// with `==`, and a file whose comments promise a constant-time comparison
    /// makes one (through this helper, or aws-lc's `hmac::verify`).
    #[test]
    fn secret_comparisons_go_through_the_constant_time_primitive() {
        let sources = sources();
        // Split so that this test's own lines do not match.
        let exposed = concat!("expose_secret", "()");
        let mut wrong = Vec::new();
        for (name, text) in &sources {
            let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
            for line in code {
                if line.contains(exposed) && (line.contains("==") || line.contains("!=")) {
                    wrong.push(format!("{name}: `==` on an exposed secret: {line}"));
                }
                if name != "secret.rs" && (line.contains("subtle") || line.contains("ConstantTimeEq")) {
                    wrong.push(format!("{name}: a second constant-time helper: {line}"));
                }
            }
            let promises = text.lines().any(|l| {
                let l = l.trim_start();
                l.starts_with("//") && (l.contains("constant time") || l.contains("constant-time"))
            });
            // A module's doc may summarise what its sibling files do.
            let dir = |n: &str| n.rsplit_once('/').map(|(d, _)| d.to_owned()).unwrap_or_default();
            let compares = sources.iter().filter(|(n, _)| dir(n) == dir(name)).any(|(_, t)| {
                ["ct_eq(", "ct_eq_str(", "ct_eq_bytes(", "hmac::verify("]
                    .iter()
                    .any(|call| t.contains(call))
            });
            if promises && !compares {
                wrong.push(format!(
                    "{name} promises a constant-time comparison and makes none"
                ));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
        // The helper itself is subtle's comparison.
        let helper = include_str!("secret.rs");
        assert!(helper.contains("bool::from(a.as_bytes().ct_eq(b.as_bytes()))"));
    }

    #[test]
    fn constant_time_equality() {
        let s = State::new("abc");
        assert!(s.ct_eq("abc"));
        assert!(!s.ct_eq("abd"));
        assert!(!s.ct_eq("ab"));
        assert!(!s.ct_eq(""));
    }
}
