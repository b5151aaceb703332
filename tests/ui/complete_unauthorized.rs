// An `Unauthorized` login has no callback to complete: it must be started first.
use authing_oidc::AuthenticationClient;
use authing_oidc::flow::{CallbackParams, Unauthorized};

async fn misuse(client: AuthenticationClient, callback: CallbackParams) {
    let _ = Unauthorized::new(client).complete(callback).await;
}

fn main() {}
