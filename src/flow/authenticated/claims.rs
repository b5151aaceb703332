//! How a session keeps its verified id_token claims: when they are the
//! payload of the id_token the session holds anyway (after a login or a
//! refresh, always), they are not stored a second time but read again from
//! that token when asked for. A live session then costs its token strings
//! plus a few hundred bytes (docs/benchmarks.md, "Memory per session").

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Map;

use crate::id_token::IdTokenClaims;
use crate::secret::{ExposeSecret as _, IdToken};

/// The verified claims of a session, next to its id_token.
pub(super) enum StoredClaims {
    /// Exactly what the session's id_token says: nothing stored twice.
    InIdToken,
    /// Claims that are not the id_token's payload as it reads (a restored
    /// session whose store saved them apart from its token): kept, boxed
    /// because this is the rare case and the claims are large.
    Kept(Box<IdTokenClaims>),
}

impl StoredClaims {
    /// Keeps `claims` for a session holding `id_token`. The claims were
    /// verified (or restored from a trusted store) by the caller; this only
    /// decides where they live.
    pub(super) fn new(id_token: &IdToken, claims: IdTokenClaims) -> Self {
        match read_payload(id_token) {
            Some(read) if read == claims => StoredClaims::InIdToken,
            _ => StoredClaims::Kept(Box::new(claims)),
        }
    }

    /// The claims, given the session's id_token (the one `new` was given:
    /// a session replaces both together).
    pub(super) fn get(&self, id_token: &IdToken) -> IdTokenClaims {
        match self {
            StoredClaims::Kept(claims) => IdTokenClaims::clone(claims),
            // `new` read this same immutable token successfully, and reading is deterministic.
            StoredClaims::InIdToken => read_payload(id_token).unwrap_or_else(|| {
                tracing::error!("a session's id_token no longer reads as its claims");
                unreadable()
            }),
        }
    }
}

/// The payload of an id_token as [`IdTokenClaims`], read without any check.
pub(super) fn read_payload(id_token: &IdToken) -> Option<IdTokenClaims> {
    let payload = id_token.expose_secret().split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Empty claims for the case `get` rules out; never handed out in practice.
fn unreadable() -> IdTokenClaims {
    IdTokenClaims {
        iss: String::new(),
        sub: String::new(),
        aud: Vec::new(),
        exp: 0,
        iat: 0,
        nbf: None,
        auth_time: None,
        nonce: None,
        azp: None,
        at_hash: None,
        standard: Default::default(),
        extra: Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(claims: &serde_json::Value) -> IdToken {
        IdToken::new(format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
            URL_SAFE_NO_PAD.encode(claims.to_string())
        ))
    }

    #[test]
    fn claims_that_are_the_payload_are_not_stored_twice() {
        let json = serde_json::json!({
            "iss": "https://op", "sub": "u1", "aud": "app", "exp": 2, "iat": 1,
            "name": "Jane", "updated_at": "2024-01-01T00:00:00Z", "tenant": "t1"
        });
        let id_token = token(&json);
        let claims: IdTokenClaims = serde_json::from_value(json).unwrap();
        let stored = StoredClaims::new(&id_token, claims.clone());
        assert!(matches!(stored, StoredClaims::InIdToken));
        assert_eq!(stored.get(&id_token), claims);
    }

    #[test]
    fn claims_saved_apart_from_the_token_are_kept() {
        let json = serde_json::json!({"iss": "https://op", "sub": "u1", "aud": "app", "exp": 2, "iat": 1});
        let id_token = token(&json);
        let mut other: IdTokenClaims = serde_json::from_value(json).unwrap();
        other.sub = "u2".to_owned();
        let stored = StoredClaims::new(&id_token, other.clone());
        assert!(matches!(stored, StoredClaims::Kept(_)));
        assert_eq!(stored.get(&id_token).sub, "u2");
        let unreadable = IdToken::new("not-a-jwt");
        assert!(matches!(
            StoredClaims::new(&unreadable, other.clone()),
            StoredClaims::Kept(_)
        ));
    }
}
