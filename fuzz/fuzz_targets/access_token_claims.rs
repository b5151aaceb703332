//! The access-token claims parser and claim rules (RFC 9068 §2.2, §4) on any payload, past the
//! signature that keeps the `other_jwts` target from reaching them with most inputs: the one
//! pass that reads every member, refuses a repeated one and checks the registered claims runs
//! on each API request with a new JWT. serde_json's own reading of the same bytes is the
//! reference: an accepted payload is a JSON object without a repeated member whose claims are
//! what serde_json reads there, from the issuer, for the API, live, and of the policy's kind.
//! A refusal never quotes a claim value (the issuer's aside, which `IssuerMismatch` names).
//! The same bytes also go to the JWS header reader, whose plain fast path must read a header as
//! serde_json's visitor does whenever it reads one.
#![no_main]

use std::sync::LazyLock;

use authing_oidc::access_token::{AccessTokenVerifier, TypPolicy};
use authing_oidc::fuzzing::{access_token_claims, jws_header_readers_agree};
use authing_oidc_fuzz::{CLIENT_ID, ISSUER, NOW, authing_client, check_error};
use libfuzzer_sys::fuzz_target;
use serde::de::{self, Deserializer, IgnoredAny};
use serde_json::Value;

/// The Authing-policy verifier, then the strict one.
static VERIFIERS: LazyLock<[AccessTokenVerifier; 2]> = LazyLock::new(|| {
    let client = authing_client(None);
    [TypPolicy::Authing, TypPolicy::Strict]
        .map(|policy| client.access_token_verifier([CLIENT_ID]).typ_policy(policy))
});

/// The members the claims type reads into its own fields.
const REGISTERED: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "client_id",
    "scope",
    "auth_time",
];

/// The default leeway of the fixture client.
const LEEWAY: i64 = 60;

/// The member names of a JSON object, in order, repeats kept (escapes decoded).
struct Names(Vec<String>);

impl<'de> serde::Deserialize<'de> for Names {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Names;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Names, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    names.push(name);
                }
                Ok(Names(names))
            }
        }
        d.deserialize_map(V)
    }
}

fn repeated(names: &[String]) -> bool {
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    sorted.windows(2).any(|w| w[0] == w[1])
}

fuzz_target!(|data: &[u8]| {
    // First byte: the Authing policy (even) or the strict one (odd).
    let Some((&first, payload)) = data.split_first() else {
        return;
    };
    let strict = first & 1 == 1;
    // The same object read as a JWS header: the plain fast path agrees with serde_json's visitor
    // whenever it reads one.
    assert!(
        jws_header_readers_agree(payload),
        "the plain header reader and serde_json read a header differently"
    );
    let result = access_token_claims(&VERIFIERS[usize::from(strict)], payload);
    let names = serde_json::from_slice::<Names>(payload).ok().map(|n| n.0);
    let reference = serde_json::from_slice::<Value>(payload).ok();
    match result {
        Ok(claims) => {
            let (Some(names), Some(Value::Object(object))) = (names, reference) else {
                panic!("a payload serde_json does not read as an object was accepted");
            };
            assert!(!repeated(&names), "a payload with a repeated member was accepted");
            // The one-pass parser read what serde_json reads.
            assert_eq!(
                object.get("iss").and_then(Value::as_str),
                Some(claims.iss.as_str())
            );
            let aud: Vec<&str> = match object.get("aud") {
                Some(Value::String(a)) => vec![a.as_str()],
                Some(Value::Array(a)) => a.iter().map(|v| v.as_str().expect("aud holds strings")).collect(),
                other => panic!("aud accepted as {other:?}"),
            };
            assert_eq!(aud, claims.aud.iter().map(String::as_str).collect::<Vec<_>>());
            let int = |name: &str| object.get(name).and_then(Value::as_i64);
            let text = |name: &str| object.get(name).and_then(Value::as_str);
            assert_eq!(int("exp"), Some(claims.exp));
            assert_eq!(int("iat"), Some(claims.iat));
            assert_eq!(int("nbf"), claims.nbf);
            assert_eq!(int("auth_time"), claims.auth_time);
            assert_eq!(text("sub"), claims.sub.as_deref());
            assert_eq!(text("jti"), claims.jti.as_deref());
            assert_eq!(text("client_id"), claims.client_id.as_deref());
            assert_eq!(text("scope"), claims.scope.as_deref());
            for (name, value) in &object {
                if !REGISTERED.contains(&name.as_str()) {
                    assert_eq!(claims.extra.get(name), Some(value), "{name}");
                }
            }
            assert!(claims.extra.keys().all(|k| !REGISTERED.contains(&k.as_str())));
            // The claim rules held.
            assert_eq!(claims.iss, ISSUER, "from the issuer");
            assert!(claims.aud.iter().any(|a| a == CLIENT_ID), "for the API");
            let now = i64::try_from(NOW).expect("NOW fits");
            assert!(claims.exp.saturating_add(LEEWAY) > now, "not expired");
            assert!(claims.nbf.is_none_or(|nbf| nbf <= now + LEEWAY), "already valid");
            assert!(
                claims.sub.as_deref().is_some_and(|s| !s.is_empty()),
                "with a subject"
            );
            if strict {
                assert!(claims.client_id.as_deref().is_some_and(|c| !c.is_empty()));
                assert!(claims.jti.is_some(), "with a jti");
            } else {
                assert!(claims.scope.is_some(), "with a scope");
                for mark in ["nonce", "at_hash", "c_hash", "events"] {
                    assert!(
                        !claims.extra.contains_key(mark),
                        "an id_token or logout token: {mark}"
                    );
                }
            }
        }
        Err(e) => {
            let object = match &reference {
                Some(Value::Object(object)) => Some(object),
                _ => None,
            };
            let iss = object
                .and_then(|o| o.get("iss"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            // `IssuerMismatch` names the issuer a token claims: the secrets the shared check looks
            // for may be there only when the input put them there.
            if !iss.contains("SECRET") {
                check_error(&e);
            }
            // No other claim value is quoted: values with a character no message has, and that
            // are not part of the issuer's.
            let shown = format!("{e} | {e:?}");
            if let Some(object) = object {
                let quotable =
                    |s: &&str| s.len() >= 4 && s.contains(['~', '#', '|', '^']) && !iss.contains(*s);
                for (name, value) in object.iter().filter(|(name, _)| *name != "iss") {
                    if let Some(s) = value.as_str().filter(quotable) {
                        assert!(!shown.contains(s), "the error quotes the value of {name}");
                    }
                }
            }
        }
    }
});
