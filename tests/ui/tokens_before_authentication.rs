// Neither a pending login nor an unstarted one hands out tokens.
use authing_oidc::AuthenticationClient;
use authing_oidc::flow::{PendingCallback, Unauthorized};

async fn misuse(client: AuthenticationClient, pending: PendingCallback) {
    let _ = pending.access_token().await;
    let _ = Unauthorized::new(client).access_token().await;
}

fn main() {}
