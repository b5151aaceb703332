//! Properties over generated inputs (proptest):
//!
//! - every saved pending login and session restores and exports back to the
//!   same value (docs/protocol.md §6), whatever its states, nonces, URIs,
//!   tokens, claims and times — the redirect URI included, byte for byte;
//! - callback parsing agrees with `application/x-www-form-urlencoded`
//!   decoding (`url::form_urlencoded`) on arbitrary input, except where it
//!   refuses by design: no parameters, a repeated parameter, or more than its
//!   size bounds.

use authing_oidc::callback::{MAX_CALLBACK_BYTES, MAX_CALLBACK_PARAMETERS};
use authing_oidc::flow::{
    Authenticated, CallbackParams, PendingCallback, SavedPendingCallback, SavedSession,
};
use authing_oidc::{AuthenticationClient, Error, ResponseMode};
use proptest::prelude::*;
use serde_json::{Value, json};

const APP_HOST: &str = "https://sample-app.authing.cn";
const ISSUER: &str = "https://sample-app.authing.cn/oidc";
const CLIENT_ID: &str = "app-1";

fn client() -> AuthenticationClient {
    AuthenticationClient::builder()
        .app_id(CLIENT_ID)
        .secret("s")
        .app_host(APP_HOST)
        .build()
        .unwrap()
}

/// Non-empty text from all of Unicode (states and nonces are opaque to the SDK).
fn text() -> impl Strategy<Value = String> {
    "\\PC{1,40}|[\\x00-\\x7f]{1,40}"
}

/// Redirect URIs in the shapes a parser would rewrite: case, dot segments,
/// ports, percent-encoding, bare origins, empty queries.
fn redirect_uri() -> impl Strategy<Value = String> {
    "(https|http|HTTPS|Http)://([A-Za-z0-9][A-Za-z0-9-]{0,8}\\.){0,3}[A-Za-z][A-Za-z0-9]{0,8}(:[0-9]{1,4})?(/(\\.|\\.\\.|[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,8})){0,4}(\\?[A-Za-z0-9._~%&=/?-]{0,12})?"
        .prop_filter("a URL with a host", |s| {
            url::Url::parse(s).is_ok_and(|u| u.host().is_some())
        })
}

fn saved_pending() -> impl Strategy<Value = Value> {
    (
        (text(), text(), "[A-Za-z0-9._~-]{43,128}", redirect_uri()),
        (
            proptest::option::of(prop_oneof![
                Just(ResponseMode::Query),
                Just(ResponseMode::Fragment),
                Just(ResponseMode::FormPost)
            ]),
            proptest::option::of(any::<u64>()),
            any::<u64>(),
            any::<u64>(),
        ),
    )
        .prop_map(
            |((state, nonce, verifier, redirect_uri), (mode, max_age, created_at, pending_max_age))| {
                let mut v = json!({
                    "version": 1, "issuer": ISSUER, "client_id": CLIENT_ID,
                    "redirect_uri": redirect_uri, "created_at": created_at,
                    "pending_max_age_secs": pending_max_age,
                    "state": state, "nonce": nonce, "code_verifier": verifier,
                });
                if let Some(m) = mode {
                    v["response_mode"] = m.as_str().into();
                }
                if let Some(a) = max_age {
                    v["max_age"] = a.into();
                }
                v
            },
        )
}

/// A JSON value that is a string or an integer (what extra claims usually hold).
fn claim_value() -> impl Strategy<Value = Value> {
    prop_oneof![text().prop_map(Value::from), any::<i64>().prop_map(Value::from)]
}

fn claims() -> impl Strategy<Value = Value> {
    (
        (text(), proptest::option::of(text()), any::<i64>(), any::<i64>()),
        (
            proptest::option::of(any::<i64>()),
            proptest::option::of(any::<i64>()),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::collection::btree_map("x_[a-z0-9_]{1,10}", claim_value(), 0..4),
        ),
    )
        .prop_map(
            |((sub, other_aud, exp, iat), (nbf, auth_time, nonce, name, extra))| {
                let mut c = json!({"iss": ISSUER, "sub": sub, "exp": exp, "iat": iat});
                // `aud` is written as a string with one entry, an array otherwise.
                c["aud"] = match other_aud {
                    Some(o) => json!([CLIENT_ID, o]),
                    None => json!(CLIENT_ID),
                };
                let optional = [
                    ("nbf", nbf.map(Value::from)),
                    ("auth_time", auth_time.map(Value::from)),
                    ("nonce", nonce.map(Value::from)),
                    ("name", name.map(Value::from)),
                ];
                for (k, v) in optional {
                    if let Some(v) = v {
                        c[k] = v;
                    }
                }
                for (k, v) in extra {
                    c[k] = v;
                }
                c
            },
        )
}

fn saved_session() -> impl Strategy<Value = Value> {
    (
        (
            text(),
            text(),
            proptest::option::of(text()),
            proptest::option::of(text()),
        ),
        (
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u64>()),
            any::<u64>(),
            claims(),
        ),
    )
        .prop_map(
            |((access, id_token, refresh, scope), (expires_at, lifetime, refresh_count, claims))| {
                let mut v = json!({
                    "version": 1, "issuer": ISSUER, "client_id": CLIENT_ID,
                    "access_token": access, "id_token": id_token, "claims": claims,
                    "refresh_count": refresh_count,
                });
                let optional = [
                    ("expires_at", expires_at.map(Value::from)),
                    ("lifetime_secs", lifetime.map(Value::from)),
                    ("refresh_token", refresh.map(Value::from)),
                    ("scope", scope.map(Value::from)),
                ];
                for (k, val) in optional {
                    if let Some(val) = val {
                        v[k] = val;
                    }
                }
                v
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_pending_login_round_trips_unchanged(saved in saved_pending()) {
        let client = client();
        let parsed: SavedPendingCallback = serde_json::from_value(saved.clone()).unwrap();
        let pending = PendingCallback::restore_from_trusted_store(client.clone(), parsed).unwrap();
        prop_assert_eq!(pending.redirect_uri(), saved["redirect_uri"].as_str().unwrap());
        let exported = serde_json::to_value(pending.export_with_secrets()).unwrap();
        prop_assert_eq!(&exported, &saved);
        // And once more through text, as a store keeps it.
        let text = serde_json::to_string(&exported).unwrap();
        let again = PendingCallback::restore_from_trusted_store(client, serde_json::from_str(&text).unwrap())
            .unwrap();
        prop_assert_eq!(serde_json::to_value(again.export_with_secrets()).unwrap(), saved);
    }

    #[test]
    fn a_session_round_trips_unchanged(saved in saved_session()) {
        let client = client();
        let parsed: SavedSession = serde_json::from_value(saved.clone()).unwrap();
        let session = Authenticated::restore_from_trusted_store(client.clone(), parsed).unwrap();
        let exported = serde_json::to_value(session.export_with_secrets()).unwrap();
        prop_assert_eq!(&exported, &saved);
        let text = serde_json::to_string(&exported).unwrap();
        let again = Authenticated::restore_from_trusted_store(client, serde_json::from_str(&text).unwrap())
            .unwrap();
        prop_assert_eq!(serde_json::to_value(again.export_with_secrets()).unwrap(), saved);
    }

    #[test]
    fn callback_parsing_agrees_with_form_decoding(input in callback_input()) {
        for mode in [ResponseMode::Query, ResponseMode::Fragment, ResponseMode::FormPost] {
            check_callback(mode, &input)?;
        }
    }
}

/// Arbitrary text, and text built from encoded pairs (so that well-formed
/// callbacks, `+`, `%`-escapes and repeated names are common).
fn callback_input() -> impl Strategy<Value = String> {
    let pair = ("[a-z_%+]{0,6}|\\PC{0,6}", "\\PC{0,12}|[%+=&0-9A-Fa-f]{0,12}");
    prop_oneof![
        "\\PC{0,200}",
        "[a-z=&%+0-9A-F?#]{0,200}",
        proptest::collection::vec(pair, 0..12).prop_map(|pairs| {
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
        }),
        proptest::collection::vec(("[a-c]", "[a-z%+]{0,4}"), 0..8).prop_map(|pairs| pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")),
    ]
}

fn check_callback(mode: ResponseMode, input: &str) -> Result<(), TestCaseError> {
    let (parsed, encoded) = match mode {
        ResponseMode::Query => (
            CallbackParams::from_query(input),
            input.strip_prefix('?').unwrap_or(input),
        ),
        ResponseMode::Fragment => (
            CallbackParams::from_fragment(input),
            input.strip_prefix('#').unwrap_or(input),
        ),
        _ => (CallbackParams::from_form_post(input), input),
    };
    let decoded: Vec<(String, String)> = url::form_urlencoded::parse(encoded.as_bytes())
        .into_owned()
        .collect();
    let mut names = std::collections::HashSet::new();
    let repeated = !decoded.iter().all(|(k, _)| names.insert(k.as_str()));
    let too_large = encoded.split('&').filter(|p| !p.is_empty()).count() > MAX_CALLBACK_PARAMETERS
        || encoded.len() > MAX_CALLBACK_BYTES;
    match parsed {
        Ok(params) => {
            prop_assert!(
                !decoded.is_empty() && !repeated && !too_large,
                "{input:?} accepted"
            );
            prop_assert_eq!(params.mode(), mode);
            for (k, v) in &decoded {
                prop_assert_eq!(params.get(k), Some(v.as_str()), "{:?} in {:?}", k, input);
            }
        }
        Err(Error::MalformedCallback(_)) => prop_assert!(decoded.is_empty() || repeated, "{input:?} refused"),
        Err(Error::CallbackTooLarge(_)) => prop_assert!(too_large, "{input:?} refused as too large"),
        Err(other) => prop_assert!(false, "{input:?}: unexpected {other:?}"),
    }
    Ok(())
}

#[test]
fn the_callback_bounds_are_what_the_property_assumes() {
    // Empty pairs (`&&`) do not count towards the parameter bound, as the property assumes.
    let at_limit: String = (0..MAX_CALLBACK_PARAMETERS)
        .map(|i| format!("p{i}=v&&"))
        .collect();
    assert!(CallbackParams::from_query(&at_limit).is_ok());
    assert!(matches!(
        CallbackParams::from_query(&format!("{at_limit}x=1")),
        Err(Error::CallbackTooLarge(_))
    ));
    assert!(matches!(
        CallbackParams::from_query(""),
        Err(Error::MalformedCallback(_))
    ));
}
