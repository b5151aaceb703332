//! Rich authorization requests (RFC 9396) and resource indicators (RFC 8707)
//! against panva's oidc-provider with its `richAuthorizationRequests` feature
//! (plugin `tests/interop/plugins/rar.mjs`): `authorization_details` pushed
//! with the login (PAR), the granted details typed in the session and kept
//! across a refresh and a save, and the login's one `resource` repeated on the
//! code exchange and the refresh so the access token is for that resource
//! (docs/protocol.md §2.3.4).

#[path = "support/panva.rs"]
#[allow(dead_code)]
mod panva;

use authing_oidc::AuthenticationClient;
use authing_oidc::authorization_details::AuthorizationDetail;
use authing_oidc::flow::{Authenticated, CallbackParams, SavedSession, Unauthorized};
use panva::{CALLBACK, Callback, PanvaOptions, PanvaProvider};
use serde_json::{Value, json};

const CLIENT: &str = "rp-rar";
const PAYMENTS: &str = "https://payments.example/";
const DETAILS: &str = r#"[{"type":"payment_initiation","actions":["initiate"],"instructedAmount":{"amount":"123.50","currency":"EUR"}}]"#;

async fn provider() -> PanvaProvider {
    PanvaProvider::start(PanvaOptions::default().plugin("plugins/rar.mjs")).await
}

async fn client(provider: &PanvaProvider) -> AuthenticationClient {
    AuthenticationClient::builder()
        .app_id(CLIENT)
        .secret(provider.secret(CLIENT))
        .redirect_uri(CALLBACK)
        .pushed_authorization_requests(true)
        .discover(provider.issuer())
        .await
        .unwrap()
}

async fn provider_json(op: &PanvaProvider, path: &str) -> Value {
    let r = reqwest::Client::new().get(op.url(path)).send().await.unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

fn callback_params(callback: &Callback) -> CallbackParams {
    match callback {
        Callback::Redirect(url) => CallbackParams::from_url(url),
        Callback::FormPost { body, .. } => CallbackParams::from_form_post(body),
    }
    .unwrap()
}

/// The granted entry as the provider's policy makes it: the request's, with the account the
/// user chose and the grant type of the token it came with.
fn assert_granted(details: &[AuthorizationDetail], issued_by: &str) {
    assert_eq!(details.len(), 1, "{details:?}");
    let d = &details[0];
    assert_eq!(d.r#type, "payment_initiation");
    assert_eq!(d.actions.as_deref(), Some(&["initiate".to_owned()][..]));
    assert_eq!(
        d.extra["instructedAmount"],
        json!({"amount": "123.50", "currency": "EUR"})
    );
    assert_eq!(d.extra["debtorAccount"]["iban"], "DE02100100109307118603");
    assert_eq!(d.extra["issuedBy"], issued_by, "{d:?}");
}

async fn sign_in(provider: &PanvaProvider) -> Authenticated {
    let client = client(provider).await;
    let (url, pending) = Unauthorized::new(client)
        .scope("openid offline_access payments")
        .prompt("consent")
        .resource(PAYMENTS)
        .authorization_details(AuthorizationDetail::parse_list(DETAILS).unwrap())
        .begin()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", provider.log()));
    let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(q.len(), 2, "the details travelled in the pushed request: {q:?}");
    let callback = provider.login(url.as_str(), "alice").await;
    pending
        .complete(callback_params(&callback))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", provider.log()))
}

/// The whole RAR login: pushed details, granted details typed, the token for the resource,
/// the details in the refresh answer and in the saved session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_details_are_granted_typed_and_kept_across_refresh() {
    let provider = provider().await;
    let session = sign_in(&provider).await;
    assert_granted(
        &session.authorization_details().expect("granted details"),
        "authorization_code",
    );
    // The login's one resource was repeated: the access token is for it, not for userinfo.
    let at = session.introspect().await.unwrap();
    assert!(at.active);
    assert_eq!(at.aud, Some(json!(PAYMENTS)), "{at:?}");
    assert_eq!(at.extra["authorization_details"][0]["type"], "payment_initiation");

    session
        .force_refresh()
        .await
        .unwrap_or_else(|e| panic!("refresh: {e}\n{}", provider.log()));
    // The refresh answer carried the details again (stamped by the refresh grant).
    assert_granted(&session.authorization_details().unwrap(), "refresh_token");
    let at = session.introspect().await.unwrap();
    assert_eq!(
        at.aud,
        Some(json!(PAYMENTS)),
        "the refresh repeated the resource too"
    );

    // What the provider received on its token endpoint.
    let requests = provider_json(&provider, "/__rar/token-requests").await;
    assert_eq!(
        requests,
        json!([
            {"grant_type": "authorization_code", "resource": PAYMENTS, "authorization_details": null},
            {"grant_type": "refresh_token", "resource": PAYMENTS, "authorization_details": null},
        ])
    );

    // A saved session keeps the details and what its refreshes repeat.
    let saved = serde_json::to_value(session.export_with_secrets()).unwrap();
    assert_eq!(saved["version"], 3);
    let back: SavedSession = serde_json::from_value(saved).unwrap();
    let restored = Authenticated::restore_from_trusted_store(client(&provider).await, back).unwrap();
    assert_granted(&restored.authorization_details().unwrap(), "refresh_token");
    restored.force_refresh().await.unwrap();
    assert_eq!(restored.introspect().await.unwrap().aud, Some(json!(PAYMENTS)));
}

/// A detail the provider's policy refuses is refused at the push, before any browser
/// redirect: `invalid_authorization_details` as an OP error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_detail_fails_the_push() {
    let provider = provider().await;
    let client = client(&provider).await;
    let bad =
        AuthorizationDetail::parse_list(r#"[{"type":"payment_initiation","actions":["initiate"]}]"#).unwrap();
    match Unauthorized::new(client)
        .resource(PAYMENTS)
        .authorization_details(bad)
        .begin()
        .await
    {
        Err(authing_oidc::Error::Op(op)) => {
            assert_eq!(op.error.as_deref(), Some("invalid_authorization_details"), "{op}")
        }
        other => panic!("expected invalid_authorization_details, got {other:?}"),
    }
}
