// The PKCE verifier and the nonce cannot be read as plain strings: the pending login keeps them
// private, and the secret types neither deref to str nor implement Display.
use authing_oidc::flow::PendingCallback;
use authing_oidc::{CodeVerifier, Nonce};

fn misuse(pending: PendingCallback, nonce: Nonce, verifier: CodeVerifier) {
    let _ = pending.secrets;
    let _: String = nonce;
    let _: &str = &verifier;
    let _ = format!("{}", nonce);
}

fn main() {}
