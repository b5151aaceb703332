//! Instruction counts of one verification, for callgrind (docs/benchmarks.md,
//! "Where the time goes"): instructions do not move with the machine's load,
//! so a change to the hot path can be measured on a busy machine.
//!
//! ```sh
//! cargo build --profile bench -p authing-oidc-peers --bin instructions
//! valgrind --tool=callgrind --callgrind-out-file=cg.out --toggle-collect='*timed_*' \
//!     target/release/instructions HS256 10000
//! callgrind_annotate cg.out | head -40   # total / (2 × 10000): see the printed split
//! ```
//!
//! Runs `N` verifications of the `ALG` token with the library (`timed_authing_oidc`)
//! and `N` bare signature checks (`timed_floor`); callgrind's `--toggle-collect`
//! counts only inside those two functions, and `callgrind_annotate --inclusive=yes`
//! gives each one's share.

use std::hint::black_box;

use authing_oidc::id_token::IdTokenVerifier;
use authing_oidc::id_token::VerifyOptions;
use authing_oidc::{AccessToken, IdToken, Nonce};
use authing_oidc_peers::contestants::Floor;
use authing_oidc_peers::{ACCESS_TOKEN, Alg, Fixture, NONCE};

#[inline(never)]
fn timed_floor(floor: &Floor, n: usize) {
    for _ in 0..n {
        assert!(black_box(floor).verify());
    }
}

#[inline(never)]
fn timed_authing_oidc(
    rt: &tokio::runtime::Runtime,
    verifier: &IdTokenVerifier,
    token: &IdToken,
    opts: &VerifyOptions<'_>,
    n: usize,
) {
    rt.block_on(async {
        for _ in 0..n {
            let claims = verifier.verify(black_box(token), opts).await;
            assert!(black_box(claims).is_ok());
        }
    });
}

fn main() {
    let mut args = std::env::args().skip(1);
    let alg_name = args.next().unwrap_or_else(|| "HS256".to_owned());
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let Some(alg) = Alg::ALL.into_iter().find(|a| a.name() == alg_name) else {
        eprintln!("usage: instructions [RS256|PS256|ES256|EdDSA|HS256] [N]");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let fx = rt.block_on(Fixture::new()).expect("fixture");
    let nonce = Nonce::new(NONCE);
    let access_token = AccessToken::new(ACCESS_TOKEN);
    let opts = VerifyOptions::new().nonce(&nonce).access_token(&access_token);
    let token = IdToken::new(fx.token(alg));
    let client = fx.client(alg).expect("client");
    let verifier = client.id_token_verifier();
    // Warms the key cache (one JWKS request at most) outside the counted functions.
    rt.block_on(verifier.verify(&token, &opts))
        .expect("the token verifies");
    let floor = Floor::new(&fx.keys, alg, fx.token(alg));
    timed_floor(&floor, n);
    timed_authing_oidc(&rt, &verifier, &token, &opts, n);
    println!("{} × {n} verifications and floors done", alg.name());
}
