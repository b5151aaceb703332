//! Verification time against a JWKS of 1, 10 and 1,000 keys (docs/benchmarks.md,
//! "JWKS size"): the key is looked up by `kid`, so the time should not grow.
//!
//! The fillers are distinct P-256 keys with their own `kid`s; the signing key
//! is the last one in the set. ES256 tokens make the fillers the same key type
//! as the signing key (only the `kid` tells them apart); RS256 tokens are
//! measured against the same sets.
//!
//! `cargo bench -p authing-oidc-peers --bench jwks_size`

use std::hint::black_box;

use authing_oidc::id_token::VerifyOptions;
use authing_oidc::{AccessToken, IdToken, Nonce};
use authing_oidc_peers::fixture::{authing_claims, client_for};
use authing_oidc_peers::jwks_server::JwksServer;
use authing_oidc_peers::keys::{Keys, ec_jwk};
use authing_oidc_peers::{ACCESS_TOKEN, Alg, NONCE, SECRET};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

fn jwks_of(size: usize, keys: &Keys, fillers: &[Value], alg: Alg) -> Value {
    let mut set: Vec<Value> = fillers[..size - 1].to_vec();
    set.push(match alg {
        Alg::Rs256 => keys.rsa_jwk("rsa-1"),
        _ => ec_jwk(&keys.ec, "ec-1"),
    });
    json!({ "keys": set })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let keys = Keys::generate(SECRET);
    let fillers: Vec<Value> = (0..999)
        .map(|i| {
            let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 key");
            ec_jwk(&key, &format!("filler-{i:04}"))
        })
        .collect();
    let nonce = Nonce::new(NONCE);
    let access_token = AccessToken::new(ACCESS_TOKEN);
    let opts = VerifyOptions::new().nonce(&nonce).access_token(&access_token);

    let mut g = c.benchmark_group("jwks_size");
    for alg in [Alg::Es256, Alg::Rs256] {
        for size in [1, 10, 1000] {
            let server = rt
                .block_on(JwksServer::start(&jwks_of(size, &keys, &fillers, alg)))
                .expect("JWKS server");
            let token = IdToken::new(keys.sign(alg, &authing_claims(&server.issuer(), alg)));
            let verifier = client_for(&server.app_host(), alg)
                .expect("client")
                .id_token_verifier();
            rt.block_on(verifier.verify(&token, &opts))
                .expect("the token verifies");
            assert_eq!(server.hits(), 1);
            g.bench_function(BenchmarkId::new(alg.name(), size), |b| {
                b.to_async(&rt)
                    .iter(|| async { verifier.verify(black_box(&token), &opts).await.unwrap() })
            });
            assert_eq!(server.hits(), 1, "the benchmark ran on the warm cache");
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
