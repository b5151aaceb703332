//! id_token verification cost (docs/benchmarks.md, "id_token verification").
//!
//! Side by side in one run:
//! - `rs256_bare_signature`: one RSA-2048 RS256 signature check with
//!   jsonwebtoken's aws-lc verifier on a pre-parsed key: the floor;
//! - `rs256_full_verify`: `IdTokenVerifier::verify` of an RS256 id_token with
//!   a warm JWKS cache (target ≤ 1.3 × the floor);
//! - `hs256_full_verify`: the same for an HS256 id_token (target ≤ 2 µs).
//!
//! The JWKS is served in-process on 127.0.0.1; after the warm-up no request
//! is made.

#[path = "../tests/support/keys.rs"]
mod keys;

use std::hint::black_box;

use authing_oidc::id_token::VerifyOptions;
use authing_oidc::{AccessToken, AuthenticationClient, ExposeSecret as _, IdToken, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey};
use keys::{JwksServer, Signer, keys, rsa_jwk, sign};
use serde_json::json;

const CLIENT_ID: &str = "bench-app";
const SECRET: &str = "bench-client-secret-long-enough-for-hs256";

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let k = keys();
    let server = rt.block_on(JwksServer::start(
        json!({"keys": [rsa_jwk(&k.rsa, Some("rsa-1"))]}),
    ));
    let client = AuthenticationClient::builder()
        .app_id(CLIENT_ID)
        .secret(SECRET)
        .app_host(server.app_host())
        .build()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let access_token = "bench-access-token";
    // A realistic Authing id_token: profile claims, at_hash, nonce.
    let claims = json!({
        "iss": server.issuer(), "sub": "5f8e0d2c1a2b3c4d5e6f7a8b", "aud": CLIENT_ID,
        "exp": now + 3600, "iat": now, "auth_time": now - 5, "nonce": "n-0S6_WzA2Mj",
        "at_hash": keys::at_hash_sha256(access_token),
        "name": "Bench User", "email": "bench@example.com", "email_verified": true,
        "phone_number": null, "picture": "https://files.authing.co/authing-console/default-user-avatar.png",
        "updated_at": "2024-01-01T00:00:00.000Z",
    });
    let rs256 = IdToken::new(sign(Signer::Rsa(&k.rsa), "RS256", Some("rsa-1"), &claims));
    let hs256 = IdToken::new(sign(Signer::Hmac(SECRET.as_bytes()), "HS256", None, &claims));
    let nonce = Nonce::new("n-0S6_WzA2Mj");
    let access_token = AccessToken::new(access_token);
    let opts = VerifyOptions::new().nonce(&nonce).access_token(&access_token);
    let verifier = client.id_token_verifier();
    // Warm the key cache (one JWKS request) and prove both tokens verify.
    rt.block_on(verifier.verify(&rs256, &opts)).unwrap();
    rt.block_on(verifier.verify(&hs256, &opts)).unwrap();
    assert_eq!(server.jwks_hits(), 1);

    // The floor: the same signature, the key parsed once, the verifier built once.
    let components = aws_lc_rs::signature::RsaPublicKeyComponents::<Vec<u8>>::from(
        aws_lc_rs::signature::KeyPair::public_key(&k.rsa),
    );
    let key = DecodingKey::from_rsa_raw_components(&components.n, &components.e);
    let bare =
        (jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.verifier_factory)(&Algorithm::RS256, &key).unwrap();
    let token = rs256.expose_secret();
    let dot = token.rfind('.').unwrap();
    let message = token.as_bytes()[..dot].to_vec();
    let signature = URL_SAFE_NO_PAD.decode(&token[dot + 1..]).unwrap();
    bare.verify(&message, &signature).unwrap();

    // The HMAC floor: aws-lc's HMAC-SHA256 check with the key prepared once.
    let hs_token = hs256.expose_secret();
    let hs_dot = hs_token.rfind('.').unwrap();
    let hs_message = hs_token.as_bytes()[..hs_dot].to_vec();
    let hs_signature = URL_SAFE_NO_PAD.decode(&hs_token[hs_dot + 1..]).unwrap();
    let hs_key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, SECRET.as_bytes());
    aws_lc_rs::hmac::verify(&hs_key, &hs_message, &hs_signature).unwrap();

    let mut group = c.benchmark_group("id_token");
    group.bench_function("rs256_bare_signature", |b| {
        b.iter(|| bare.verify(black_box(&message), black_box(&signature)).unwrap())
    });
    group.bench_function("rs256_full_verify", |b| {
        b.to_async(&rt)
            .iter(|| async { verifier.verify(black_box(&rs256), &opts).await.unwrap() })
    });
    group.bench_function("hs256_bare_hmac", |b| {
        b.iter(|| aws_lc_rs::hmac::verify(&hs_key, black_box(&hs_message), black_box(&hs_signature)).unwrap())
    });
    group.bench_function("hs256_full_verify", |b| {
        b.to_async(&rt)
            .iter(|| async { verifier.verify(black_box(&hs256), &opts).await.unwrap() })
    });
    group.finish();
    assert_eq!(server.jwks_hits(), 1, "the benchmark ran on the warm cache");
}

criterion_group!(benches, bench);
criterion_main!(benches);
