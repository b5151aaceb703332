// A pending callback is consumed by completing it: a second completion does not compile.
use authing_oidc::flow::{CallbackParams, PendingCallback};

async fn misuse(pending: PendingCallback, first: CallbackParams, second: CallbackParams) {
    let _ = pending.complete(first).await;
    let _ = pending.complete(second).await;
}

fn main() {}
