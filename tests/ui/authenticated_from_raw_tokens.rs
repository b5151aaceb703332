// `Authenticated` cannot be built from unverified tokens except by a method whose name says so:
// no constructor, no public fields, no Deserialize.
use authing_oidc::flow::Authenticated;
use authing_oidc::{AuthenticationClient, TokenSet};

fn misuse(client: AuthenticationClient, tokens: TokenSet) {
    let _ = Authenticated::new(client, tokens);
    let _: Authenticated = serde_json::from_str("{}").unwrap();
}

fn main() {}
