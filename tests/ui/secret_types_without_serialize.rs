// No secret type implements Serialize: a secret serialized into a response, a cookie or a log record leaves the process in clear. Each type is checked on its own, so
// one that gains the trait removes its error below and fails this case.
use authing_oidc::{
    AccessSecret, AccessToken, AuthorizationCode, ClientSecret, CodeVerifier, IdToken, Nonce, RefreshToken,
    State,
};

fn needs<T: serde::Serialize>() {}

fn main() {
    needs::<ClientSecret>();
    needs::<AccessToken>();
    needs::<RefreshToken>();
    needs::<IdToken>();
    needs::<AuthorizationCode>();
    needs::<CodeVerifier>();
    needs::<State>();
    needs::<Nonce>();
    needs::<AccessSecret>();
}
