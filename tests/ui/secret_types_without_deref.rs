// No secret type implements Deref: a secret that derefs to `str` can be passed to any `&str` API, including `format!` and loggers. Each type is checked on its own, so
// one that gains the trait removes its error below and fails this case.
use authing_oidc::{
    AccessSecret, AccessToken, AuthorizationCode, ClientSecret, CodeVerifier, IdToken, Nonce, RefreshToken,
    State,
};

fn needs<T: std::ops::Deref<Target = str>>() {}

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
