//! The bearer layer's cost (docs/benchmarks.md, "Bearer layer"), side by side in one run:
//!
//! - `rs256_bare_signature`: one RSA-2048 RS256 signature check with an aws-lc-rs
//!   `ParsedPublicKey` (the key parsed once): the floor;
//! - `layer_unseen_jwt`: a request through `BearerService::call` whose JWT access token the
//!   layer has not seen (tokens cycle through 2,000 distinct ones and the cache is bounded to 16
//!   entries, so each call digests, misses, verifies, parses, checks and inserts with eviction);
//!   target ≤ 1.2 × the floor;
//! - `layer_seen_jwt` vs `inner_service_only`: the same request with a token seen before, and the
//!   inner service called directly with that request; the difference is the layer's overhead on
//!   a cache hit (target < 1 µs);
//! - `request_only`: building and dropping the request alone, which every `layer_*` variant pays
//!   too (not the layer's work; shown so that the unseen ratio can be read both ways).
//!
//! The JWKS is served in-process on 127.0.0.1 and fetched once during warm-up; no request is made
//! afterwards. Each iteration builds its request (the same for every variant).

#[path = "../../../tests/support/keys.rs"]
mod keys;

use std::convert::Infallible;
use std::hint::black_box;

use authing_oidc::AuthenticationClient;
use authing_oidc::access_token::TypPolicy;
use authing_oidc_axum::BearerLayer;
use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use keys::{JwksServer, Signer, keys, rsa_jwk, sign_with_header};
use serde_json::json;
use tower::{Layer as _, Service as _, ServiceExt as _};

const API: &str = "https://api.example.com";
const DISTINCT: usize = 2_000;

fn request(token: &str) -> Request<Body> {
    Request::get("/api/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

async fn inner(_: Request<Body>) -> Result<Response<Body>, Infallible> {
    Ok(Response::new(Body::empty()))
}

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
        .app_id("bench-app")
        .secret("bench-client-secret-long-enough")
        .app_host(server.app_host())
        .build()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = json!({"alg": "RS256", "kid": "rsa-1", "typ": "at+jwt"});
    // Realistic RFC 9068 tokens, distinct by jti.
    let tokens: Vec<String> = (0..DISTINCT)
        .map(|i| {
            let claims = json!({
                "iss": server.issuer(), "sub": "5f8e0d2c1a2b3c4d5e6f7a8b", "aud": API,
                "exp": now + 24 * 3600, "iat": now, "jti": format!("at-{i:08}"),
                "client_id": "bench-app", "scope": "openid profile orders:read orders:write",
            });
            sign_with_header(Signer::Rsa(&k.rsa), &header, &claims)
        })
        .collect();

    let unseen = BearerLayer::new(
        client
            .bearer_verifier([API])
            .typ_policy(TypPolicy::Strict)
            .max_entries(16)
            .build()
            .unwrap(),
    )
    .layer(tower::service_fn(inner));
    let seen = BearerLayer::new(
        client
            .bearer_verifier([API])
            .typ_policy(TypPolicy::Strict)
            .build()
            .unwrap(),
    )
    .layer(tower::service_fn(inner));
    // Warm-up: the JWKS fetch, and the seen token cached; every variant answers 200.
    rt.block_on(async {
        for svc in [unseen.clone(), seen.clone()] {
            let response = svc.oneshot(request(&tokens[0])).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
    });

    // The floor: the RSA check of one of these tokens with the key parsed once.
    let jwk = rsa_jwk(&k.rsa, Some("rsa-1"));
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap();
    let key: ParsedPublicKey = RsaPublicKeyComponents { n: &n, e: &e }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .unwrap();
    let (input, signature) = tokens[0].rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    key.verify_sig(input.as_bytes(), &signature).unwrap();

    let mut group = c.benchmark_group("bearer_layer");
    group.bench_function("rs256_bare_signature", |b| {
        b.iter(|| {
            key.verify_sig(black_box(input.as_bytes()), black_box(&signature))
                .unwrap()
        })
    });
    let mut i = 0usize;
    group.bench_function("layer_unseen_jwt", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 1) % DISTINCT;
            let mut svc = unseen.clone();
            let request = request(&tokens[i]);
            async move {
                let response = svc.call(request).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
            }
        })
    });
    group.bench_function("layer_seen_jwt", |b| {
        b.to_async(&rt).iter(|| {
            let mut svc = seen.clone();
            let request = request(&tokens[0]);
            async move {
                let response = svc.call(request).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
            }
        })
    });
    group.bench_function("request_only", |b| {
        b.iter(|| drop(black_box(request(&tokens[0]))))
    });
    group.bench_function("inner_service_only", |b| {
        b.to_async(&rt).iter(|| {
            let mut svc = tower::service_fn(inner);
            let request = request(&tokens[0]);
            async move {
                let response = svc.call(request).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
