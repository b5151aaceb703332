// No secret type implements Display: a secret printed with `{}` would land in logs and error messages. Each type is checked on its own, so
// one that gains the trait removes its error below and fails this case.
use authing_oidc::{
    AccessSecret, AccessToken, AuthorizationCode, ClientSecret, CodeVerifier, IdToken, Nonce, RefreshToken,
    State,
};

fn needs<T: std::fmt::Display>() {}

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
