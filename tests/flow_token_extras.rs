//! What the typed flow's token requests repeat of the login (docs/protocol.md
//! §2.3.4): RFC 8707 `resource` and RFC 9396 `authorization_details` on the
//! code exchange and on automatic refreshes, across a saved pending login and
//! a saved session (§6, version 3), against a recording server on 127.0.0.1.
//! The request bodies are compared byte for byte.

#[path = "support/mock.rs"]
mod mock;

#[path = "support/keys.rs"]
mod keys;

use std::time::{SystemTime, UNIX_EPOCH};

use authing_oidc::authorization_details::{AuthorizationDetail, TokenResource};
use authing_oidc::flow::{
    Authenticated, CallbackParams, PendingCallback, SavedPendingCallback, SavedSession, Unauthorized,
};
use authing_oidc::{AuthMethod, AuthenticationClient, Error};
use mock::{Canned, MockServer};
use serde_json::{Value, json};

const APP_ID: &str = "extras-app";
const SECRET: &str = "extras-secret";
const REDIRECT: &str = "https://rp.example/callback";
const API: &str = "https://api.example/v1";
const OTHER_API: &str = "urn:example:ledger";
const KID: &str = "k1";

const DETAILS: &str = r#"[{"type":"payment_initiation","actions":["initiate"],"instructedAmount":{"amount":"1.00","currency":"EUR"}}]"#;

fn details() -> Vec<AuthorizationDetail> {
    AuthorizationDetail::parse_list(DETAILS).unwrap()
}

/// What the provider grants: the request's entry, enriched with the account the user chose.
fn granted() -> Value {
    json!([{"type": "payment_initiation", "actions": ["initiate"], "locations": ["https://bank.example/"],
            "instructedAmount": {"amount": "1.00", "currency": "EUR"}, "debtorAccount": {"iban": "DE02"}}])
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    server.on(
        "/oidc/.well-known/jwks.json",
        Canned::json(
            200,
            json!({"keys": [keys::rsa_jwk(&keys::keys().rsa, Some(KID))]}),
        ),
    );
    server
}

fn client(server: &MockServer) -> AuthenticationClient {
    AuthenticationClient::builder()
        .app_id(APP_ID)
        .secret(SECRET)
        .app_host(server.url())
        .redirect_uri(REDIRECT)
        .token_endpoint_auth_method(AuthMethod::ClientSecretPost)
        .build()
        .unwrap()
}

/// A token answer with an id_token for `nonce`, signed with the key the JWKS serves.
fn token_answer(server: &MockServer, nonce: Option<&str>, at: &str, rt: &str) -> Canned {
    let t = now();
    let mut claims = json!({"iss": format!("{}/oidc", server.url()), "sub": "user-1", "aud": APP_ID,
                            "exp": t + 600, "iat": t});
    if let Some(n) = nonce {
        claims["nonce"] = n.into();
    }
    let id_token = keys::sign(keys::Signer::Rsa(&keys::keys().rsa), "RS256", Some(KID), &claims);
    Canned::json(
        200,
        json!({"access_token": at, "token_type": "Bearer", "expires_in": 3600, "refresh_token": rt,
               "id_token": id_token, "authorization_details": granted()}),
    )
}

fn param(url: &url::Url, name: &str) -> String {
    url.query_pairs().find(|(k, _)| k == name).unwrap().1.into_owned()
}

/// The exact form body a token request must carry: these pairs, form-encoded, in this order.
fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn token_bodies(server: &MockServer) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/oidc/token")
        .map(|r| String::from_utf8(r.body).unwrap())
        .collect()
}

/// Starts `login`, takes the pending login through a JSON store and back, completes it with
/// a code; the session and the code verifier the exchange must carry.
async fn log_in(server: &MockServer, login: Unauthorized) -> (Authenticated, String, Value) {
    let client = client(server);
    let (url, pending) = login.start().unwrap();
    let saved = serde_json::to_value(pending.export_with_secrets()).unwrap();
    let verifier = saved["code_verifier"].as_str().unwrap().to_owned();
    let back: SavedPendingCallback = serde_json::from_value(saved.clone()).unwrap();
    let pending = PendingCallback::restore_from_trusted_store(client, back).unwrap();
    server.on(
        "/oidc/token",
        token_answer(server, Some(&param(&url, "nonce")), "at-1", "rt-1"),
    );
    let state = param(&url, "state");
    let callback = CallbackParams::from_query(&format!("code=the-code&state={state}")).unwrap();
    let session = pending.complete(callback).await.unwrap();
    (session, verifier, saved)
}

fn code_exchange(verifier: &str, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", "the-code"),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ];
    pairs.extend_from_slice(extra);
    pairs.extend_from_slice(&[("client_id", APP_ID), ("client_secret", SECRET)]);
    form(&pairs)
}

fn refresh(rt: &str, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![("grant_type", "refresh_token"), ("refresh_token", rt)];
    pairs.extend_from_slice(extra);
    pairs.extend_from_slice(&[("client_id", APP_ID), ("client_secret", SECRET)]);
    form(&pairs)
}

/// The default: a login that asked for one resource repeats it on the code exchange and on
/// every refresh, also after the pending login and the session went through a store; its
/// authorization_details are not repeated (RFC 9396 §7: the provider assigns the granted ones),
/// and the granted ones are typed on the session and kept in its saved form.
#[tokio::test]
async fn one_resource_is_repeated_on_the_exchange_and_every_refresh_across_saves() {
    let server = server().await;
    let login = Unauthorized::new(client(&server))
        .resource(API)
        .authorization_details(details());
    let (session, verifier, saved_pending) = log_in(&server, login).await;
    assert_eq!(saved_pending["version"], 3, "{saved_pending}");
    assert_eq!(saved_pending["token_resource"], json!([API]));
    assert!(saved_pending.get("token_authorization_details").is_none());

    let granted_details = session.authorization_details().expect("granted details");
    assert_eq!(granted_details[0].r#type, "payment_initiation");
    assert_eq!(
        granted_details[0].locations.as_deref(),
        Some(&["https://bank.example/".to_owned()][..])
    );
    assert_eq!(granted_details[0].extra["debtorAccount"]["iban"], "DE02");

    // An automatic refresh, then one from the restored session.
    server.on("/oidc/token", token_answer(&server, None, "at-2", "rt-2"));
    session.force_refresh().await.unwrap();
    let saved = serde_json::to_value(session.export_with_secrets()).unwrap();
    assert_eq!(saved["version"], 3, "{saved}");
    assert_eq!(saved["token_resource"], json!([API]));
    assert_eq!(saved["authorization_details"], granted());
    let back: SavedSession = serde_json::from_value(saved).unwrap();
    let restored = Authenticated::restore_from_trusted_store(client(&server), back).unwrap();
    assert_eq!(restored.authorization_details(), session.authorization_details());
    server.on("/oidc/token", token_answer(&server, None, "at-3", "rt-3"));
    restored.force_refresh().await.unwrap();

    let bodies = token_bodies(&server);
    assert_eq!(
        bodies,
        [
            code_exchange(&verifier, &[("resource", API)]),
            refresh("rt-1", &[("resource", API)]),
            refresh("rt-2", &[("resource", API)]),
        ]
    );
}

/// Several resources: none is repeated by default (most providers issue a token for one
/// audience and refuse several); `All`, `Only` and `Omit` choose otherwise, and
/// `repeat_authorization_details` sends the login's details, byte for byte, on the exchange
/// and on refreshes.
#[tokio::test]
async fn the_choice_of_what_token_requests_repeat_is_the_callers() {
    type Case = (Option<TokenResource>, bool, Vec<(&'static str, &'static str)>);
    let cases: Vec<Case> = vec![
        (None, false, vec![]),
        (
            Some(TokenResource::All),
            false,
            vec![("resource", API), ("resource", OTHER_API)],
        ),
        (
            Some(TokenResource::Only(OTHER_API.to_owned())),
            true,
            vec![("resource", OTHER_API), ("authorization_details", DETAILS)],
        ),
        (
            Some(TokenResource::Omit),
            true,
            vec![("authorization_details", DETAILS)],
        ),
    ];
    for (which, repeat, expected) in cases {
        let server = server().await;
        let mut login = Unauthorized::new(client(&server))
            .resource(API)
            .resource(OTHER_API)
            .authorization_details(details())
            .repeat_authorization_details(repeat);
        if let Some(w) = which.clone() {
            login = login.token_resource(w);
        }
        let (session, verifier, saved) = log_in(&server, login).await;
        assert_eq!(
            saved["version"],
            if expected.is_empty() { 1 } else { 3 },
            "{which:?}: {saved}"
        );
        server.on("/oidc/token", token_answer(&server, None, "at-2", "rt-2"));
        session.force_refresh().await.unwrap();
        let bodies = token_bodies(&server);
        assert_eq!(
            bodies,
            [code_exchange(&verifier, &expected), refresh("rt-1", &expected)],
            "{which:?} repeat={repeat}"
        );
    }
}

/// A choice the login cannot back is refused before anything is sent.
#[tokio::test]
async fn a_token_resource_the_login_did_not_ask_for_is_refused() {
    let server = server().await;
    let e = Unauthorized::new(client(&server))
        .resource(API)
        .token_resource(TokenResource::Only(OTHER_API.to_owned()))
        .start()
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
    assert!(server.requests().is_empty());
}

/// Saves of the earlier versions read as before; one that claims an older version but
/// carries token request parameters is refused rather than read without them, and so is a
/// saved resource that could not go on the wire.
#[tokio::test]
async fn saved_versions_are_checked() {
    let server = server().await;
    let client = client(&server);
    let t = now();
    let session = json!({
        "version": 1, "issuer": client.issuer(), "client_id": APP_ID,
        "access_token": "at", "expires_at": t + 3600, "id_token": "h.p.s",
        "claims": {"iss": client.issuer(), "sub": "user-1", "aud": [APP_ID], "exp": t + 3600, "iat": t},
    });
    let restore = |v: Value| {
        Authenticated::restore_from_trusted_store(client.clone(), serde_json::from_value(v).unwrap())
    };
    let old = restore(session.clone()).unwrap();
    assert!(old.token_extras().is_empty());
    assert_eq!(old.authorization_details(), None);

    let mut v3 = session.clone();
    v3["version"] = 3.into();
    v3["token_resource"] = json!([API]);
    assert_eq!(restore(v3.clone()).unwrap().token_extras().resource, [API]);

    for (version, member, value) in [
        (1, "token_resource", json!([API])),
        (2, "token_resource", json!([API])),
        (1, "authorization_details", granted()),
        (1, "token_authorization_details", json!([{"type": "x"}])),
        (3, "token_resource", json!(["https://api.example/#fragment"])),
        (3, "token_authorization_details", json!([{"type": ""}])),
    ] {
        let mut bad = session.clone();
        bad["version"] = version.into();
        bad[member] = value;
        let e = restore(bad).unwrap_err();
        assert!(matches!(e, Error::Restore(_)), "{version} {member}: {e:?}");
    }
    let mut v4 = v3;
    v4["version"] = 4.into();
    assert!(matches!(restore(v4).unwrap_err(), Error::Restore(_)));
}

/// Debug shows what a pending login repeats, and still none of its secrets.
#[tokio::test]
async fn debug_of_a_pending_login_with_extras_shows_no_secret() {
    let server = server().await;
    let (_url, pending) = Unauthorized::new(client(&server)).resource(API).start().unwrap();
    let saved = pending.export_with_secrets();
    let shown = format!("{pending:?} {saved:?}");
    let value = serde_json::to_value(&saved).unwrap();
    for secret in ["state", "nonce", "code_verifier"] {
        let s = value[secret].as_str().unwrap();
        assert!(!shown.contains(s), "{secret} in {shown}");
    }
    assert!(shown.contains(API), "the repeated resource is shown: {shown}");
}

/// Members deliberately not in alphabetical order, nested objects, spaces and a line break:
/// what the caller gave, and so what every request must carry.
const UNSORTED: &str = "[{\"type\": \"payment\", \"currency\": \"EUR\", \"amount\": \"1\",\n  \
     \"creditor\": {\"name\": \"Z\", \"account\": {\"iban\": \"DE02\", \"bic\": \"X\"}}}, {\"type\": \"account_information\", \"actions\": [\"read\"]}]";

/// The caller's text goes on the authorize URL, the code exchange and every refresh exactly
/// as given, also after the pending login and the session went through a JSON store; a save
/// that main wrote (the array only) still reads and sends what it holds.
#[tokio::test]
async fn repeated_details_go_out_as_the_text_given_across_saves() {
    let server = server().await;
    let login = Unauthorized::new(client(&server))
        .authorization_details(AuthorizationDetail::parse_list(UNSORTED).unwrap())
        .repeat_authorization_details(true)
        .token_resource(TokenResource::Omit);
    let (url, _) = login.clone().start().unwrap();
    assert_eq!(param(&url, "authorization_details"), UNSORTED);
    let (session, verifier, saved_pending) = log_in(&server, login).await;
    assert_eq!(saved_pending["token_authorization_details_json"], UNSORTED);
    // What older versions read is still there.
    assert_eq!(
        saved_pending["token_authorization_details"][0]["creditor"]["account"]["bic"],
        "X"
    );
    server.on("/oidc/token", token_answer(&server, None, "at-2", "rt-2"));
    session.force_refresh().await.unwrap();
    let saved = serde_json::to_string(&session.export_with_secrets()).unwrap();
    let back: SavedSession = serde_json::from_str(&saved).unwrap();
    let restored = Authenticated::restore_from_trusted_store(client(&server), back).unwrap();
    server.on("/oidc/token", token_answer(&server, None, "at-3", "rt-3"));
    restored.force_refresh().await.unwrap();
    let expected = [("authorization_details", UNSORTED)];
    assert_eq!(
        token_bodies(&server),
        [
            code_exchange(&verifier, &expected),
            refresh("rt-1", &expected),
            refresh("rt-2", &expected),
        ]
    );

    // A save as main wrote it: the array only, serde_json's order.
    let mut old: Value = serde_json::from_str(&saved).unwrap();
    old.as_object_mut()
        .unwrap()
        .remove("token_authorization_details_json");
    let as_main_wrote = r#"[{"type":"payment","amount":"1","creditor":{"account":{"bic":"X","iban":"DE02"},"name":"Z"},"currency":"EUR"},{"type":"account_information","actions":["read"]}]"#;
    let restored = Authenticated::restore_from_trusted_store(
        client(&server),
        serde_json::from_value(old.clone()).unwrap(),
    )
    .unwrap();
    server.on("/oidc/token", token_answer(&server, None, "at-4", "rt-4"));
    restored.force_refresh().await.unwrap();
    assert_eq!(
        token_bodies(&server)[3..],
        [refresh("rt-2", &[("authorization_details", as_main_wrote)])]
    );

    // A text that disagrees with the array, or is no list, is refused.
    for text in [r#"[{"type": "other"}]"#, "[", r#"[{"actions": []}]"#] {
        let mut bad = old.clone();
        bad["token_authorization_details_json"] = text.into();
        let e =
            Authenticated::restore_from_trusted_store(client(&server), serde_json::from_value(bad).unwrap())
                .unwrap_err();
        assert!(matches!(e, Error::Restore(_)), "{text}: {e:?}");
    }
}

/// Text that is not a list of typed objects is refused, with an error that names the place
/// and not the value.
#[test]
fn details_that_are_not_a_list_of_typed_objects_are_refused() {
    for text in [
        r#"[{"type": "payment", "pin": "s3cr3t-pin""#,
        r#"{"type": "payment", "pin": "s3cr3t-pin"}"#,
        r#"[{"pin": "s3cr3t-pin"}]"#,
        r#"["s3cr3t-pin"]"#,
    ] {
        let e = AuthorizationDetail::parse_list(text).unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)), "{text}: {e:?}");
        assert!(!format!("{e} {e:?}").contains("s3cr3t"), "{text}: {e:?}");
    }
}
