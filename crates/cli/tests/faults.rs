//! The refusals of docs/cli.md, exit 1, provoked with the dev provider's fault
//! switches or by editing saved files.

mod support;

use authing_oidc_dev_provider::{AuthorizationResponse, CallbackFault, IdTokenFault, TokenResponseFault};
use serde_json::Value;
use support::*;

/// begin; the provider's login answer, as a callback URL.
async fn begun(env: &Env, pending: &std::path::Path) -> String {
    let url = env.run(&["begin", "--pending", s(pending)]).await.ok()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    match alice_logs_in(&url).await {
        AuthorizationResponse::Redirect(u) => u.to_string(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_and_id_token_refusals() {
    let env = Env::start().await;
    let faults = env.provider.faults();
    let pending = env.path("p");

    faults.set_callback_fault(Some(CallbackFault::WrongIssuer));
    let cb = begun(&env, &pending).await;
    let r = env
        .run(&["finish", "--pending", s(&pending), "--callback", &cb])
        .await;
    assert_eq!(r.err(1), "iss_mismatch");
    faults.clear();

    faults.set_id_token_fault(Some(IdTokenFault::WrongNonce));
    let cb = begun(&env, &pending).await;
    let r = env
        .run(&["finish", "--pending", s(&pending), "--callback", &cb])
        .await;
    assert_eq!(r.err(1), "id_token_invalid");
    assert!(r.stderr.contains("nonce"), "{}", r.stderr);
    faults.clear();

    // A pending login older than its limit.
    let cb = begun(&env, &pending).await;
    let mut file: Value = serde_json::from_str(&std::fs::read_to_string(&pending).unwrap()).unwrap();
    file["saved"]["created_at"] = Value::from(1u64);
    std::fs::write(&pending, file.to_string()).unwrap();
    let r = env
        .run(&["finish", "--pending", s(&pending), "--callback", &cb])
        .await;
    assert_eq!(r.err(1), "pending_expired");
    assert!(pending.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_refusals() {
    let env = Env::start().await;
    let faults = env.provider.faults();
    let pending = env.path("p");

    faults.set_token_response_fault(Some(TokenResponseFault::TokenTypeMac));
    let cb = begun(&env, &pending).await;
    let r = env
        .run(&["finish", "--pending", s(&pending), "--callback", &cb])
        .await;
    assert_eq!(r.err(1), "invalid_response");
    faults.clear();

    let session = env.logged_in_session("s").await;
    faults.set_oversized_responses(true);
    assert_eq!(
        env.run(&["whoami", "--session", s(&session)]).await.err(1),
        "response_too_large"
    );
    faults.clear();

    // A transient failure keeps the still-valid token (docs/protocol.md §5), and the file as it was.
    let before = std::fs::read_to_string(&session).unwrap();
    faults.fail_token_requests(1);
    let out = env
        .run(&["token", "--session", s(&session), "--force-refresh"])
        .await
        .ok();
    assert_eq!(out["access_token"], saved_session(&session)["access_token"]);
    assert_eq!(std::fs::read_to_string(&session).unwrap(), before);

    faults.set_token_response_fault(Some(TokenResponseFault::RefreshInvalidGrant));
    let r = env
        .run(&["token", "--session", s(&session), "--force-refresh"])
        .await;
    assert_eq!(r.err(1), "reauthentication_required");
    faults.clear();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_of_another_subject_is_refused() {
    let env = Env::start().await;
    let session = env.logged_in_session("s").await;
    // The session file claims another user than the access token's.
    let mut file: Value = serde_json::from_str(&std::fs::read_to_string(&session).unwrap()).unwrap();
    file["saved"]["claims"]["sub"] = Value::from("someone-else");
    std::fs::write(&session, file.to_string()).unwrap();
    assert_eq!(
        env.run(&["whoami", "--session", s(&session)]).await.err(1),
        "sub_mismatch"
    );
}
