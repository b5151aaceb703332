//! Hostile providers (docs/protocol.md §7): each test stands up a server on
//! 127.0.0.1 that answers the way an attacker — or a badly broken provider —
//! would, and each must end in a typed error or a correct result, in bounded
//! time, without a panic or a stack overflow.
//!
//! Time bounds here are generous ceilings, many times the expected duration,
//! so a loaded machine does not fail them; what they catch is a stall (a
//! timeout that does not hold) or quadratic work, which would take minutes.

#[path = "support/keys.rs"]
mod keys;
#[path = "support/mock.rs"]
mod mock;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use authing_oidc::clock::ManualClock;
use authing_oidc::id_token::VerifyOptions;
use authing_oidc::{
    AccessToken, AuthenticationClient, AuthorizationCode, Error, IdToken, IdTokenError, Nonce,
};
use keys::{JwksServer, Signer, keys, rsa_jwk, sign};
use mock::{Canned, MockServer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const CLIENT_ID: &str = "app-1";
const NONCE: &str = "nonce-hostile";

fn client_for(app_host: &str) -> authing_oidc::AuthenticationClientBuilder {
    AuthenticationClient::builder()
        .app_id(CLIENT_ID)
        .secret("client-secret")
        .app_host(app_host)
        .redirect_uri("http://127.0.0.1:3000/callback")
}

// ------------------------------------------------------------ slow trickle

/// A server that sends its status line and headers at once, then one byte of
/// body a second (`chunked` is false: a `Content-Length` promising 100 bytes),
/// or, with `trickle_head`, drips the headers themselves.
async fn trickling_server(trickle_head: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n";
                let (at_once, dripped): (&[u8], Vec<u8>) = if trickle_head {
                    (b"", head.bytes().chain(std::iter::repeat_n(b' ', 100)).collect())
                } else {
                    (head.as_bytes(), vec![b' '; 100])
                };
                if socket.write_all(at_once).await.is_err() {
                    return;
                }
                for b in dripped {
                    if socket.write_all(&[b]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_trickling_response_hits_the_total_timeout() {
    for trickle_head in [false, true] {
        let host = trickling_server(trickle_head).await;
        let timeout = Duration::from_millis(1500);
        let client = client_for(&host).timeout(timeout).build().unwrap();
        let started = Instant::now();
        let e = client
            .get_user_info_by_access_token(&AccessToken::new("at"))
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert!(e.is_timeout(), "trickle_head={trickle_head}: {e:?}");
        // The body alone would take 100 s; the timeout covers the whole exchange.
        assert!(took >= timeout, "{took:?}");
        assert!(
            took < Duration::from_secs(30),
            "the timeout did not hold: {took:?}"
        );

        let e = client
            .get_access_token_by_code(&AuthorizationCode::new("c"), None)
            .await
            .unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
    }
}

// ------------------------------------------------------------ huge inputs

struct Verifier {
    server: JwksServer,
    clock: Arc<ManualClock>,
    client: AuthenticationClient,
}

impl Verifier {
    async fn new(jwks: Value, max_response_bytes: Option<usize>) -> Verifier {
        let server = JwksServer::start(jwks).await;
        let clock = Arc::new(ManualClock::new(SystemTime::now()));
        let mut b = client_for(&server.app_host()).clock(clock.clone());
        if let Some(cap) = max_response_bytes {
            b = b.max_response_bytes(cap);
        }
        Verifier {
            client: b.build().unwrap(),
            server,
            clock,
        }
    }

    fn claims(&self, extra: Value) -> Value {
        use authing_oidc::clock::Clock as _;
        let now = self.clock.unix_now();
        let mut c = json!({
            "iss": self.server.issuer(), "sub": "user-1", "aud": CLIENT_ID,
            "exp": now + 600, "iat": now, "nonce": NONCE,
        });
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    async fn verify(&self, token: &str) -> Result<authing_oidc::IdTokenClaims, Error> {
        let nonce = Nonce::new(NONCE);
        self.client
            .id_token_verifier()
            .verify(&IdToken::new(token), &VerifyOptions::new().nonce(&nonce))
            .await
    }
}

/// 10,000 copies of the test key, each under its own kid.
fn ten_thousand_keys() -> Value {
    let one = rsa_jwk(&keys().rsa, None);
    let keys: Vec<Value> = (0..10_000)
        .map(|i| {
            let mut k = one.clone();
            k["kid"] = format!("k{i}").into();
            k
        })
        .collect();
    json!({ "keys": keys })
}

#[tokio::test]
async fn a_jwks_with_ten_thousand_keys_is_bounded() {
    let jwks = ten_thousand_keys();
    let size = jwks.to_string().len();
    assert!(size > 1024 * 1024, "the document is {size} bytes");

    // Under the default 1 MiB cap the document is refused, typed.
    let capped = Verifier::new(jwks.clone(), None).await;
    let token = sign(
        Signer::Rsa(&keys().rsa),
        "RS256",
        Some("k9999"),
        &capped.claims(json!({})),
    );
    let e = capped.verify(&token).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::ResponseTooLarge { .. } | Error::IdToken(IdTokenError::Jwks(_))
        ),
        "{e:?}"
    );

    // With a cap that admits it, the last key is found, the set is fetched once for
    // many verifications, and an unknown kid costs exactly one re-fetch.
    let v = Verifier::new(jwks, Some(16 * 1024 * 1024)).await;
    let started = Instant::now();
    for i in [9999, 0, 5000, 9999] {
        let token = sign(
            Signer::Rsa(&keys().rsa),
            "RS256",
            Some(&format!("k{i}")),
            &v.claims(json!({})),
        );
        let claims = v.verify(&token).await.unwrap();
        assert_eq!(claims.sub, "user-1");
    }
    assert_eq!(v.server.jwks_hits(), 1);
    // Past the minimum interval between kid-triggered re-fetches.
    v.clock.advance(Duration::from_secs(11));
    let unknown = sign(
        Signer::Rsa(&keys().rsa),
        "RS256",
        Some("k10000"),
        &v.claims(json!({})),
    );
    let e = v.verify(&unknown).await.unwrap_err();
    assert!(matches!(e, Error::IdToken(IdTokenError::UnknownKid(_))), "{e:?}");
    assert_eq!(
        v.server.jwks_hits(),
        2,
        "one re-fetch for an unknown kid, no more"
    );
    // A kid-less token among 10,000 keys is refused without trying them all
    // (trying each would be 10,000 RSA verifications).
    let kidless = sign(Signer::Rsa(&keys().rsa), "RS256", None, &v.claims(json!({})));
    assert!(v.verify(&kidless).await.is_err());
    let took = started.elapsed();
    assert!(took < Duration::from_secs(60), "10,000 keys took {took:?}");
}

#[tokio::test]
async fn a_one_mib_id_token_is_bounded() {
    let v = Verifier::new(json!({"keys": [rsa_jwk(&keys().rsa, Some("rsa-1"))]}), None).await;
    let pad = "x".repeat(1024 * 1024);
    let started = Instant::now();

    // Validly signed, with 1 MiB of claims: accepted, the extra claim kept.
    let big = sign(
        Signer::Rsa(&keys().rsa),
        "RS256",
        Some("rsa-1"),
        &v.claims(json!({"pad": pad})),
    );
    assert!(big.len() > 1024 * 1024);
    let claims = v.verify(&big).await.unwrap();
    assert_eq!(claims.extra["pad"].as_str().map(str::len), Some(pad.len()));

    // The same with one flipped signature byte, a 1 MiB header, 1 MiB of
    // segments, 1 MiB of garbage: typed rejections.
    let mut forged = big.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let header = keys::sign_with_header(
        Signer::Rsa(&keys().rsa),
        &json!({"alg": "RS256", "kid": "rsa-1", "pad": pad}),
        &v.claims(json!({})),
    );
    let dots = ".".repeat(1024 * 1024);
    let garbage = "%".repeat(1024 * 1024);
    for (what, token) in [
        ("forged", forged.as_str()),
        ("huge header", header.as_str()),
        ("dots", dots.as_str()),
        ("garbage", garbage.as_str()),
    ] {
        match v.verify(token).await {
            Err(Error::IdToken(_)) => {}
            // A 1 MiB header is well-formed; accepting it is correct too.
            Ok(_) if what == "huge header" => {}
            other => panic!("{what}: {other:?}"),
        }
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(60), "1 MiB tokens took {took:?}");
}

// ------------------------------------------------------------ deep nesting

/// `[[[[…]]]]` nested `depth` deep.
fn nested(depth: usize) -> String {
    let mut s = String::with_capacity(depth * 2);
    s.push_str(&"[".repeat(depth));
    s.push_str(&"]".repeat(depth));
    s
}

#[tokio::test]
async fn json_nested_100000_deep_is_a_typed_error_everywhere() {
    let deep = nested(100_000);
    let server = MockServer::start().await;
    let client = client_for(&server.url()).build().unwrap();
    let as_json = |body: String| Canned::raw(200, "application/json", body);

    // Token response: the whole body, and one member.
    for body in [
        deep.clone(),
        format!(r#"{{"access_token":"at","token_type":"Bearer","x":{deep}}}"#),
    ] {
        server.on("/oidc/token", as_json(body));
        let e = client
            .get_access_token_by_code(&AuthorizationCode::new("c"), None)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidResponse { .. }), "token: {e:?}");
    }
    // An error body nested deep is still a typed error.
    server.on("/oidc/token", Canned::raw(400, "application/json", deep.clone()));
    let e = client
        .get_access_token_by_code(&AuthorizationCode::new("c"), None)
        .await
        .unwrap_err();
    assert!(!matches!(e, Error::Transport { .. }), "token error body: {e:?}");

    // Userinfo.
    for body in [deep.clone(), format!(r#"{{"sub":"s","x":{deep}}}"#)] {
        server.on("/oidc/me", as_json(body));
        let e = client
            .get_user_info_by_access_token(&AccessToken::new("at"))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidResponse { .. }), "userinfo: {e:?}");
    }

    // JWKS: the document, and one key.
    for body in [
        deep.clone(),
        format!(r#"{{"keys":{deep}}}"#),
        format!(r#"{{"keys":[{deep}]}}"#),
    ] {
        server.on("/oidc/.well-known/jwks.json", as_json(body));
        let fresh = client_for(&server.url()).build().unwrap();
        let token = sign(Signer::Rsa(&keys().rsa), "RS256", Some("k"), &json!({"sub": "s"}));
        let e = fresh
            .id_token_verifier()
            .verify(&IdToken::new(token), &VerifyOptions::new())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::IdToken(_)), "jwks: {e:?}");
    }

    // Discovery.
    server.on(
        "/.well-known/openid-configuration",
        as_json(format!(r#"{{"issuer":{deep}}}"#)),
    );
    let e = AuthenticationClient::builder()
        .app_id(CLIENT_ID)
        .secret("s")
        .discover(&server.url())
        .await
        .unwrap_err();
    assert!(
        !matches!(e, Error::Transport { .. } | Error::Timeout { .. }),
        "discovery: {e:?}"
    );
}

#[tokio::test]
async fn id_token_claims_nested_100000_deep_are_a_typed_error() {
    let v = Verifier::new(json!({"keys": [rsa_jwk(&keys().rsa, Some("rsa-1"))]}), None).await;
    // Signed over raw bytes: serde_json could not even build this claim set as a Value.
    let claims = format!(
        r#"{{"iss":"{}","sub":"s","aud":"{CLIENT_ID}","exp":9999999999,"iat":1,"nonce":"{NONCE}","x":{}}}"#,
        v.server.issuer(),
        nested(100_000)
    );
    let token = sign_raw(r#"{"alg":"RS256","kid":"rsa-1"}"#, &claims);
    let e = v.verify(&token).await.unwrap_err();
    assert!(matches!(e, Error::IdToken(_)), "{e:?}");
    let token = sign_raw(&format!(r#"{{"alg":"RS256","x":{}}}"#, nested(100_000)), &claims);
    let e = v.verify(&token).await.unwrap_err();
    assert!(matches!(e, Error::IdToken(_)), "{e:?}");
}

/// A compact RS256 JWS over the given header and payload text.
fn sign_raw(header: &str, payload: &str) -> String {
    use aws_lc_rs::signature::RSA_PKCS1_SHA256;
    let input = format!("{}.{}", keys::b64(header), keys::b64(payload));
    let key = &keys().rsa;
    let mut sig = vec![0; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{input}.{}", keys::b64(sig))
}

// ------------------------------------------------------------ cache lifetime

#[tokio::test]
async fn an_absurd_jwks_max_age_is_clamped_without_overflow() {
    for max_age in [
        "100000000000000000000",
        "18446744073709551615",
        "18446744073709551616",
    ] {
        let v = Verifier::new(json!({"keys": [rsa_jwk(&keys().rsa, Some("rsa-1"))]}), None).await;
        v.server.set_cache_control(&format!("public, max-age={max_age}"));
        let token = || {
            sign(
                Signer::Rsa(&keys().rsa),
                "RS256",
                Some("rsa-1"),
                &v.claims(json!({})),
            )
        };
        v.verify(&token()).await.unwrap();
        assert_eq!(v.server.jwks_hits(), 1);
        // Far beyond the default lifetime (an hour), within the ceiling (a day):
        // still cached, so the huge value was read as "long", not dropped.
        v.clock.advance(Duration::from_secs(23 * 3600));
        v.verify(&token()).await.unwrap();
        assert_eq!(
            v.server.jwks_hits(),
            1,
            "max-age={max_age} was not clamped to the ceiling"
        );
        // Past the ceiling the keys are fetched again: the lifetime did not overflow
        // into "forever" or into the past.
        v.clock.advance(Duration::from_secs(2 * 3600));
        v.verify(&token()).await.unwrap();
        assert_eq!(v.server.jwks_hits(), 2, "max-age={max_age}");
        assert_eq!(
            authing_oidc::jwks::MAX_MAX_AGE,
            Duration::from_secs(24 * 3600),
            "this test assumes a one-day ceiling"
        );
    }
}
