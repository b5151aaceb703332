//! The JSON documents the commands print. Token values appear only in the
//! documents of commands whose job is to return them.

use std::io::Write as _;

use authing_oidc::flow::Authenticated;
use authing_oidc::{ExposeSecret as _, TokenSet};
use serde_json::{Map, Value, json};

use crate::error::{CliError, Kind};

/// Prints one JSON document on stdout. A closed stdout is reported, not a panic.
pub fn print(value: &Value) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{value}")
        .and_then(|()| out.flush())
        .map_err(|e| CliError::new(Kind::Io, format!("cannot write to stdout: {e}")))
}

/// A token set in full, as the token endpoint sent it (extra members included).
pub fn token_set(t: &TokenSet) -> Value {
    let mut m: Map<String, Value> = t.extra.clone();
    m.insert("access_token".into(), json!(t.access_token.expose_secret()));
    m.insert("token_type".into(), json!(t.token_type));
    if let Some(e) = t.expires_in {
        m.insert("expires_in".into(), json!(e));
    }
    if let Some(r) = &t.refresh_token {
        m.insert("refresh_token".into(), json!(r.expose_secret()));
    }
    if let Some(i) = &t.id_token {
        m.insert("id_token".into(), json!(i.expose_secret()));
    }
    if let Some(s) = &t.scope {
        m.insert("scope".into(), json!(s));
    }
    if let Some(d) = &t.authorization_details {
        m.insert("authorization_details".into(), json!(d));
    }
    Value::Object(m)
}

/// What `finish` and `login` print: `{"token_set", "claims"}`. With
/// `include_tokens` false (the session was saved to a file) the token values
/// are left out and `has_refresh_token` says whether there is one.
pub fn login_result(session: &Authenticated, include_tokens: bool) -> Value {
    let mut ts = Map::new();
    let current = session.current_access_token();
    if include_tokens {
        ts.insert("access_token".into(), json!(current.access_token.expose_secret()));
    }
    // A DPoP session's tokens are bound to its key (RFC 9449 §5); the flow refused any other.
    let token_type = if session.dpop_thumbprint().is_some() {
        "DPoP"
    } else {
        "Bearer"
    };
    ts.insert("token_type".into(), json!(token_type));
    if let Some(left) = current.expires_in {
        ts.insert("expires_in".into(), json!(left.as_secs()));
    }
    match (include_tokens, session.refresh_token()) {
        (true, Some(rt)) => {
            ts.insert("refresh_token".into(), json!(rt.expose_secret()));
        }
        (false, rt) => {
            ts.insert("has_refresh_token".into(), json!(rt.is_some()));
        }
        (true, None) => {}
    }
    if include_tokens {
        ts.insert("id_token".into(), json!(session.id_token().expose_secret()));
    }
    if let Some(s) = session.scope() {
        ts.insert("scope".into(), json!(s));
    }
    // RFC 9396 §7: what the provider granted, as the token answer said.
    if let Some(d) = session.authorization_details() {
        ts.insert("authorization_details".into(), json!(d));
    }
    json!({"token_set": Value::Object(ts), "claims": session.claims().to_json()})
}
