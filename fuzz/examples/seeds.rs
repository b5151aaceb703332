//! Writes the seed corpora in `fuzz/seeds/<target>/` (and, the first time,
//! the fixture keys and JWKS in `fuzz/fixtures/`): `cargo run --example seeds`
//! from `fuzz/`, after changing a test vector or a fixture.
//!
//! The seeds are the test suite's vectors, in two ways: the JSON bodies and
//! callback strings written as raw literals in `tests/*.rs` and `src/` are
//! harvested from the sources and sorted to the targets they fit; the vectors
//! the tests build with `json!` (the wire tests' bodies, the conformance
//! tests' tokens) are rebuilt below, signed with the fixture keys so that they
//! reach past the signature check.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use authing_oidc::flow::{Authenticated, Unauthorized};
use authing_oidc::fuzzing::{Response, token_response};
use authing_oidc::id_token::VerifyOptions;
use authing_oidc::{AccessToken, IdToken, Nonce};
use authing_oidc_fuzz::*;
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
    KeyPair as _, RsaKeyPair, RsaPublicKeyComponents,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::Digest as _;

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

struct Keys {
    rsa: RsaKeyPair,
    p256: EcdsaKeyPair,
    p384: EcdsaKeyPair,
    ed: Ed25519KeyPair,
}

/// The fixture keys: read from `fixtures/keys.json`, generated once when missing.
fn keys(dir: &Path) -> Keys {
    let path = dir.join("fixtures/keys.json");
    if !path.exists() {
        let rng = SystemRandom::new();
        let rsa = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let doc = json!({
            "_": "Test-only private keys of the fuzz fixtures (PKCS#8, base64). They sign seeds, nothing else.",
            "rsa": STANDARD.encode(rsa.as_der().unwrap().as_ref()),
            "p256": STANDARD.encode(EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap().as_ref()),
            "p384": STANDARD.encode(EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &rng).unwrap().as_ref()),
            "ed25519": STANDARD.encode(Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref()),
        });
        fs::write(&path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
    }
    let doc: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    let der = |name: &str| STANDARD.decode(doc[name].as_str().unwrap()).unwrap();
    Keys {
        rsa: RsaKeyPair::from_pkcs8(&der("rsa")).unwrap(),
        p256: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der("p256")).unwrap(),
        p384: EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &der("p384")).unwrap(),
        ed: Ed25519KeyPair::from_pkcs8(&der("ed25519")).unwrap(),
    }
}

fn jwks(k: &Keys) -> Value {
    let rsa = RsaPublicKeyComponents::<Vec<u8>>::from(k.rsa.public_key());
    let p256 = k.p256.public_key().as_ref();
    let p384 = k.p384.public_key().as_ref();
    json!({"keys": [
        {"kty": "RSA", "use": "sig", "kid": "rsa-1", "n": b64(&rsa.n), "e": b64(&rsa.e)},
        {"kty": "EC", "crv": "P-256", "kid": "ec-1", "x": b64(&p256[1..33]), "y": b64(&p256[33..65])},
        {"kty": "EC", "crv": "P-384", "kid": "ec-2", "x": b64(&p384[1..49]), "y": b64(&p384[49..97])},
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": b64(k.ed.public_key().as_ref())},
    ]})
}

/// A compact JWS of `claims` under `header`, signed for `header.alg`.
fn sign(k: &Keys, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let rng = SystemRandom::new();
    let rsa = |alg: &'static dyn signature::RsaEncoding| {
        let mut sig = vec![0; k.rsa.public_modulus_len()];
        k.rsa.sign(alg, &rng, input.as_bytes(), &mut sig).unwrap();
        sig
    };
    let hmac = |alg| {
        aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(alg, CLIENT_SECRET.as_bytes()),
            input.as_bytes(),
        )
        .as_ref()
        .to_vec()
    };
    let sig = match header["alg"].as_str().unwrap_or("") {
        "RS256" => rsa(&signature::RSA_PKCS1_SHA256),
        "PS256" => rsa(&signature::RSA_PSS_SHA256),
        "ES256" => k.p256.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        "ES384" => k.p384.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        "EdDSA" => k.ed.sign(input.as_bytes()).as_ref().to_vec(),
        "HS256" => hmac(aws_lc_rs::hmac::HMAC_SHA256),
        "HS512" => hmac(aws_lc_rs::hmac::HMAC_SHA512),
        _ => Vec::new(),
    };
    format!("{input}.{}", b64(sig))
}

fn at_hash(alg: &str) -> String {
    let d: Vec<u8> = match alg {
        "ES384" => sha2::Sha384::digest(ACCESS_TOKEN).to_vec(),
        "HS512" | "EdDSA" => sha2::Sha512::digest(ACCESS_TOKEN).to_vec(),
        _ => sha2::Sha256::digest(ACCESS_TOKEN).to_vec(),
    };
    b64(&d[..d.len() / 2])
}

/// Seeds by target name.
#[derive(Default)]
struct Seeds(BTreeMap<&'static str, Vec<Vec<u8>>>);

impl Seeds {
    fn add(&mut self, target: &'static str, seed: impl Into<Vec<u8>>) {
        let seed = seed.into();
        let list = self.0.entry(target).or_default();
        if !list.contains(&seed) {
            list.push(seed);
        }
    }

    /// A body for a response target, with a status and an optional header.
    fn answer(&mut self, target: &'static str, status: u16, header: Option<&str>, body: &str) {
        self.add(target, unframe(status, false, header, body.as_bytes()));
    }
}

/// The `grant_answers` seeds: for each answer the target's first byte picks
/// (0 device authorization, 1 CIBA, 2 token exchange, 3 registration, 4 a
/// registration read, 5 PAR), the wire tests' accepted answer (tests/grants.rs,
/// tests/interop_fapi2.rs), each with one rule broken, and an error answer
/// that echoes a canary secret.
fn grant_answers(seeds: &mut Seeds) {
    let op = "https://op.fuzz.example";
    let registered = json!({"client_id": "fuzz-registered", "client_secret": "new-secret",
        "client_secret_expires_at": 0, "registration_access_token": "rat-1",
        "registration_client_uri": format!("{op}/reg/fuzz-registered"),
        "redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "client_secret_basic"});
    let broken = |value: &Value, name: &str, to: Value| {
        let mut v = value.clone();
        if to.is_null() {
            v.as_object_mut().unwrap().remove(name);
        } else {
            v[name] = to;
        }
        v
    };
    let device = json!({"device_code": "dc-1", "user_code": "ABCD-EFGH",
        "verification_uri": format!("{op}/device"),
        "verification_uri_complete": format!("{op}/device?user_code=ABCD-EFGH"),
        "expires_in": 30, "interval": 1});
    let ciba = json!({"auth_req_id": "arid-1", "expires_in": 60, "interval": 1});
    let exchange = json!({"access_token": "issued", "expires_in": 60, "token_type": "N_A",
        "issued_token_type": "urn:ietf:params:oauth:token-type:id_token"});
    let par = json!({"request_uri": "urn:ietf:params:oauth:request_uri:fuzz-1", "expires_in": 60});
    let cases: Vec<(u8, u16, Value)> = vec![
        (0, 200, device.clone()),
        (0, 200, broken(&device, "device_code", Value::Null)),
        (
            0,
            200,
            broken(
                &device,
                "verification_uri",
                json!("http://op.fuzz.example/device"),
            ),
        ),
        (
            0,
            200,
            broken(
                &device,
                "verification_uri_complete",
                json!("https://op/SECRET-code-Zq9x#x"),
            ),
        ),
        (0, 200, broken(&device, "expires_in", json!("30"))),
        (1, 200, ciba.clone()),
        (1, 200, broken(&ciba, "expires_in", json!(0))),
        (1, 200, broken(&ciba, "auth_req_id", json!(""))),
        (2, 200, exchange.clone()),
        (
            2,
            200,
            broken(
                &exchange,
                "issued_token_type",
                json!("urn:ietf:params:oauth:token-type:access_token"),
            ),
        ),
        (
            2,
            200,
            broken(&exchange, "token_type", json!("SECRET-verifier-Xw7y")),
        ),
        (3, 201, registered.clone()),
        (
            3,
            201,
            broken(&registered, "client_secret_expires_at", Value::Null),
        ),
        (
            3,
            201,
            broken(
                &registered,
                "registration_client_uri",
                json!("ftp://SECRET client+secret/="),
            ),
        ),
        (
            4,
            200,
            broken(&registered, "registration_access_token", Value::Null),
        ),
        (4, 200, broken(&registered, "client_id", json!("another-client"))),
        (5, 201, par.clone()),
        (5, 201, broken(&par, "request_uri", json!(""))),
    ];
    for (selector, status, body) in cases {
        let mut seed = vec![selector];
        seed.extend(unframe(status, false, None, body.to_string().as_bytes()));
        seeds.add("grant_answers", seed);
    }
    let echo = json!({"error": "invalid_request", "error_description": "SECRET-code-Zq9x was wrong"});
    for selector in 0..6u8 {
        let mut seed = vec![selector];
        seed.extend(unframe(400, false, None, echo.to_string().as_bytes()));
        seeds.add("grant_answers", seed);
    }
}

/// The `other_jwts` seeds: valid logout tokens and access tokens (the target's
/// first byte picks the verifier), and each with one rule broken.
fn other_jwts(k: &Keys, seeds: &mut Seeds) {
    let logout = json!({"iss": ISSUER, "aud": CLIENT_ID, "iat": NOW, "exp": NOW + 120,
        "jti": "fuzz-logout-1", "sid": "sid-1", "sub": "user-1",
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}}});
    let access = json!({"iss": ISSUER, "aud": CLIENT_ID, "iat": NOW, "exp": NOW + 600,
        "jti": "fuzz-at-1", "sub": "user-1", "client_id": CLIENT_ID, "scope": "openid orders:read"});
    let broken = |mut claims: Value, name: &str, value: Value| {
        claims[name] = value;
        claims
    };
    let cases = [
        (0u8, "logout+jwt", logout.clone()),
        (0, "logout+jwt", broken(logout.clone(), "nonce", json!("n"))),
        (0, "JWT", broken(logout.clone(), "events", json!({}))),
        (1, "JWT", access.clone()),
        (1, "JWT", broken(access.clone(), "nonce", json!("n"))),
        (2, "at+jwt", access.clone()),
        (2, "at+jwt", broken(access, "aud", json!("another-api"))),
    ];
    for (selector, typ, claims) in cases {
        for (alg, kid) in [("RS256", Some("rsa-1")), ("ES256", Some("ec-1")), ("HS256", None)] {
            let mut header = json!({"alg": alg, "typ": typ});
            if let Some(kid) = kid {
                header["kid"] = kid.into();
            }
            let token = sign(k, &header, &claims);
            seeds.add("other_jwts", [&[selector][..], token.as_bytes()].concat());
        }
    }
}

/// The `access_token_claims` seeds (first byte: the Authing policy when even, strict when odd):
/// a valid payload for each policy, and payloads breaking one rule each (an id_token's mark, a
/// repeated member, spelled plainly or escaped, a lapsed `exp`, another audience, a `null`
/// `jti`, a float `iat`, not an object).
fn access_token_claims(seeds: &mut Seeds) {
    let base = r#"{"iss":"https://fuzz-app.authing.cn/oidc","aud":"fuzz-client","iat":1800000000,"exp":1800000600,"jti":"fuzz-at-1","sub":"user-1","client_id":"fuzz-client","scope":"openid orders:read""#;
    let at = |selector: u8, payload: String| [&[selector][..], payload.as_bytes()].concat();
    let cases = [
        (0, format!("{base}}}")),
        (1, format!("{base}}}")),
        (0, format!(r#"{base},"nonce":"n"}}"#)),
        (
            1,
            format!(r#"{base},"x":{{"y":[1,2.5,null,true]}},"cnf":{{"jkt":"abc"}}}}"#),
        ),
        (0, format!(r#"{base},"iss":"{ISSUER}"}}"#)),
        (1, format!(r#"{base},"i\u0073s":"{ISSUER}"}}"#)),
        (0, format!(r#"{base},"x":1,"x":2}}"#)),
        (
            1,
            format!(
                r#"{{"iss":"{ISSUER}","aud":["other","{CLIENT_ID}"],"iat":{NOW},"exp":{},"nbf":{},"auth_time":{},"jti":"j","sub":"s","client_id":"c"}}"#,
                NOW + 60,
                NOW - 10,
                NOW - 100
            ),
        ),
        (
            0,
            format!("{}}}", base.replace("\"exp\":1800000600", "\"exp\":1799999400")),
        ),
        (
            0,
            format!(
                "{}}}",
                base.replace("\"sub\":\"user-1\"", "\"sub\":\"v~secret#1\"")
                    .replace("fuzz-client\",\"iat", "another-api\",\"iat")
            ),
        ),
        (
            1,
            format!("{}}}", base.replace("\"jti\":\"fuzz-at-1\"", "\"jti\":null")),
        ),
        (
            0,
            format!("{}}}", base.replace("\"iat\":1800000000", "\"iat\":1.8e9")),
        ),
        (1, "[]".to_owned()),
        (0, "{}".to_owned()),
        // JWS headers: the target reads the same bytes as a header too (the plain reader's
        // differential check), which needs objects with an `alg` to start from.
        (0, r#"{"alg":"RS256","kid":"rsa-1","typ":"at+jwt"}"#.to_owned()),
        (1, r#"{"typ":"JWT","alg":"ES256","x5t":"abc","n":[1,"b"],"z":null}"#.to_owned()),
        (0, r#"{"alg":"EdDSA","kid":"k","crit":["b64"],"b64":false}"#.to_owned()),
    ];
    for (selector, payload) in cases {
        seeds.add("access_token_claims", at(selector, payload));
    }
}

/// The id_token seeds: the conformance tests' cases, for each client the target picks.
fn id_tokens(k: &Keys, seeds: &mut Seeds) -> String {
    let base = original_claims();
    let with = |changes: Value| {
        let mut c = base.clone();
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                c.as_object_mut().unwrap().remove(name);
            } else {
                c[name] = value.clone();
            }
        }
        c
    };
    // (selector byte, alg, kid, issuer): the target's clients in order, then the refresh.
    let clients: [(u8, &str, Option<&str>, &str); 10] = [
        (0, "RS256", Some("rsa-1"), ISSUER),
        (1, "RS256", None, ISSUER),
        (2, "PS256", Some("rsa-1"), ISSUER),
        (3, "ES256", Some("ec-1"), ISSUER),
        (4, "ES384", Some("ec-2"), ISSUER),
        (5, "EdDSA", Some("ed-1"), ISSUER),
        (6, "HS256", None, ISSUER),
        (7, "HS512", Some("rsa-1"), ISSUER),
        (8, "ES256", Some("ec-1"), DISCOVERED_ISSUER),
        (9, "RS256", Some("rsa-1"), ISSUER),
    ];
    let mut valid_rs256 = String::new();
    for (selector, alg, kid, iss) in clients {
        let mut header = json!({"alg": alg, "typ": "JWT"});
        if let Some(kid) = kid {
            header["kid"] = kid.into();
        }
        let mut token = |header: &Value, claims: Value, max_age: bool| {
            let t = sign(k, header, &claims);
            let mut seed = vec![selector | if max_age { 0x80 } else { 0 }];
            seed.extend_from_slice(t.as_bytes());
            seeds.add("id_token", seed);
            t
        };
        let valid = with(json!({"iss": iss, "at_hash": at_hash(alg)}));
        let t = token(&header, valid.clone(), false);
        check_valid(selector, &t);
        if selector == 0 {
            valid_rs256 = t;
        }
        token(&header, valid.clone(), true);
        if selector != 0 && selector != 8 {
            continue;
        }
        // The conformance tests' rejections, each once.
        for changes in [
            json!({"exp": NOW - 3600}),
            json!({"nbf": NOW + 3600}),
            json!({"iss": "https://evil.example/oidc"}),
            json!({"aud": [CLIENT_ID, "other"]}),
            json!({"aud": [CLIENT_ID, "other"], "azp": CLIENT_ID}),
            json!({"azp": "other"}),
            json!({"sub": ""}),
            json!({"sub": null}),
            json!({"iat": null}),
            json!({"nonce": "other"}),
            json!({"nonce": null}),
            json!({"at_hash": "wrong"}),
            json!({"auth_time": NOW - 100_000}),
            json!({"auth_time": null}),
            json!({"exp": "soon"}),
            json!({"aud": []}),
            json!({"email": "a@b.example", "email_verified": "true"}),
        ] {
            token(&header, with(changes), true);
        }
        let mut crit = header.clone();
        crit["crit"] = json!(["exp"]);
        token(&crit, valid.clone(), false);
        let mut unknown = header.clone();
        unknown["kid"] = "unknown-kid".into();
        token(&unknown, valid.clone(), false);
        token(&json!({"alg": "none"}), valid.clone(), false);
        token(&json!({"alg": "HS256", "kid": "rsa-1"}), valid.clone(), false);
        seeds.add("id_token", [&[selector][..], b"a.b.c.d.e"].concat());
        seeds.add(
            "id_token",
            [&[selector][..], b"eyJhbGciOiJSUzI1NiJ9..sig"].concat(),
        );
    }
    valid_rs256
}

/// The valid seeds must verify, or the target never gets past the signature:
/// checked when the fixture JWKS compiled into the fuzz crate is this run's.
fn check_valid(selector: u8, token: &str) {
    if !JWKS_IS_CURRENT.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let clients = id_token_clients();
    let (client, refresh) = match clients.get(usize::from(selector)) {
        Some(c) => (c.clone(), false),
        None => (clients[0].clone(), true),
    };
    let (nonce, access_token) = (Nonce::new(NONCE), AccessToken::new(ACCESS_TOKEN));
    let token = IdToken::new(token);
    let verifier = client.id_token_verifier();
    let result = if refresh {
        let original = serde_json::from_value(original_claims()).unwrap();
        authing_oidc::fuzzing::run_now(verifier.verify_refreshed(&token, &original, Some(&access_token)))
    } else {
        let opts = VerifyOptions::new().nonce(&nonce).access_token(&access_token);
        authing_oidc::fuzzing::run_now(verifier.verify(&token, &opts))
    };
    if let Err(e) = result.unwrap() {
        panic!("the valid id_token seed for client {selector} does not verify: {e}");
    }
}

static JWKS_IS_CURRENT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn curated(k: &Keys, seeds: &mut Seeds) {
    let id_token = id_tokens(k, seeds);
    other_jwts(k, seeds);
    access_token_claims(seeds);
    grant_answers(seeds);

    // The wire tests' token bodies.
    let token_body = json!({"access_token": ACCESS_TOKEN, "expires_in": 3600, "id_token": id_token,
        "refresh_token": "rt-1", "scope": "openid profile offline_access", "token_type": "Bearer"});
    for body in [
        token_body.to_string(),
        json!({"access_token": "m2m", "expires_in": "3600", "token_type": "bearer", "scope": "s"})
            .to_string(),
        json!({"access_token": "at", "token_type": "mac"}).to_string(),
        json!({"access_token": "at"}).to_string(),
        json!({"token_type": "Bearer"}).to_string(),
        json!({"access_token": "at", "token_type": "Bearer", "expires_in": -1}).to_string(),
        json!({"access_token": "at", "token_type": "Bearer", "expires_in": 1e30}).to_string(),
    ] {
        seeds.answer("token_response", 200, None, &body);
    }
    // The errors tests' answers, for every target that reads a status.
    let errors = [
        (
            400,
            None,
            json!({"error": "invalid_grant", "error_description": "code SECRET-code-Zq9x expired"})
                .to_string(),
        ),
        (
            400,
            None,
            json!({"error": "invalid_client", "error_description": "SECRET+client%2Bsecret%2F%3D"})
                .to_string(),
        ),
        (
            401,
            Some(r#"Bearer realm="x", error="invalid_token", error_description="The \"token\" expired""#),
            String::new(),
        ),
        (
            401,
            Some("Bearer error=invalid_token, error_description=SECRET-verifier-Xw7y"),
            "{}".to_owned(),
        ),
        (
            403,
            None,
            json!({"code": 2001, "message": "SECRET client+secret/= 不合法"}).to_string(),
        ),
        (
            500,
            None,
            "<html>\n<body>Internal error SECRET-code-Zq9x</body></html>".to_owned(),
        ),
        (502, None, String::new()),
        (
            429,
            None,
            json!({"error": 7, "error_description": ["x"]}).to_string(),
        ),
        (302, None, "moved".to_owned()),
    ];
    for target in [
        "token_response",
        "userinfo_response",
        "introspection_response",
        "validate_token_response",
        "error_response",
    ] {
        for (status, header, body) in &errors {
            seeds.answer(target, *status, *header, body);
        }
    }
    for (status, header, body) in &errors {
        seeds.add("error_response", unframe(*status, true, *header, body.as_bytes()));
    }
    seeds.answer("error_response", 200, None, "");

    // Userinfo, introspection and validate_token bodies of the wire tests.
    for body in [
        json!({"sub": "603f184cec4505e2868431fc", "name": "Ada", "email": "ada@example.com",
            "email_verified": true, "phone_number_verified": null, "address": {"country": "CN"},
            "updated_at": "2021-03-03T06:17:12.000Z"}),
        json!({"sub": "u1"}),
        json!({"sub": "s", "email_verified": "true"}),
        json!({"sub": "s", "email_verified": "yes"}),
        json!({"name": "no sub"}),
    ] {
        seeds.answer("userinfo_response", 200, None, &body.to_string());
    }
    for body in [
        json!({"active": true, "sub": "u", "client_id": CLIENT_ID, "exp": NOW + 60, "scope": "openid", "token_type": "access_token"}),
        json!({"active": false}),
        json!({"active": "true"}),
        json!({}),
    ] {
        seeds.answer("introspection_response", 200, None, &body.to_string());
    }
    for (status, body) in [
        (
            200,
            json!({"sub": "5f64", "aud": CLIENT_ID, "iss": ISSUER, "exp": NOW + 60}),
        ),
        (200, json!({"code": 400, "message": "id_token 不合法"})),
        (401, json!({"code": "2206", "message": "expired"})),
        (200, json!({"aud": "x"})),
        (200, json!({"sub": 7})),
    ] {
        seeds.answer("validate_token_response", status, None, &body.to_string());
    }

    // Discovery: the fixture document and the discovery tests' refusals.
    let doc: Value = serde_json::from_str(&discovery_document()).unwrap();
    seeds.answer("discovery", 200, None, &doc.to_string());
    for (name, value) in [
        ("issuer", json!("https://op.fuzz.example/")),
        ("jwks_uri", json!("http://op.fuzz.example/jwks")),
        ("token_endpoint", json!("not a url")),
        ("end_session_endpoint", json!(null)),
        ("id_token_signing_alg_values_supported", json!([])),
        ("authorization_endpoint", json!(42)),
    ] {
        let mut d = doc.clone();
        d[name] = value;
        seeds.answer("discovery", 200, None, &d.to_string());
    }
    seeds.answer("discovery", 404, None, "<html>not found</html>");

    // JWKS: the fixture set, the cache headers the jwks tests send, the keys they skip.
    let set = jwks(k).to_string();
    for header in [
        None,
        Some("max-age=300"),
        Some("no-store"),
        Some("public, max-age=\"60\""),
        Some("max-age=100000000000000000000"),
    ] {
        seeds.answer("jwks", 200, header, &set);
    }
    for key in [
        json!({"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"}),
        json!({"kty": "oct", "k": "c2VjcmV0"}),
        json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}),
        json!({"kty": "RSA", "n": "!!", "e": "AQAB", "key_ops": ["verify"]}),
        json!({"kty": "OKP", "crv": "X25519", "x": "AA"}),
        json!({"kty": "RSA", "alg": "RS256", "kid": "a"}),
    ] {
        seeds.answer("jwks", 200, None, &json!({"keys": [key]}).to_string());
    }
    seeds.answer("jwks", 200, None, r#"{"keys": {}}"#);

    // Callbacks: the flow tests' callbacks, in each form.
    for q in [
        format!("code=SECRET-code-Zq9x&state={STATE}"),
        format!(
            "?code=c&state={STATE}&iss={}",
            ISSUER.replace(':', "%3A").replace('/', "%2F")
        ),
        format!("code=c&state={STATE}&iss=https%3A%2F%2Fevil.example"),
        format!("error=access_denied&error_description=The+user+said+no&state={STATE}"),
        format!("code=a&state={STATE}&code=b"),
        format!("#code=c&state={STATE}"),
        format!("{REDIRECT_URI}?code=c&state={STATE}"),
        format!("{REDIRECT_URI}#code=c&state={STATE}"),
        format!("{REDIRECT_URI}?code=c#state={STATE}"),
        "state=wrong&code=c".to_owned(),
        "code=&state=%ZZ%F0%9F%92%A9+".to_owned(),
    ] {
        seeds.add("callback", q);
    }

    // Saved states, exported by the SDK itself; and the CLI's files around them.
    let (_, pending) = Unauthorized::new(authing_client(None)).start().unwrap();
    let pending = serde_json::to_value(pending.export_with_secrets()).unwrap();
    let tokens = token_response(Response {
        status: 200,
        www_authenticate: None,
        cache_control: None,
        body: token_body.to_string().as_bytes(),
        secrets: &[],
    })
    .unwrap();
    let session = Authenticated::insecure_from_unverified_tokens(authing_client(None), tokens).unwrap();
    let session = serde_json::to_value(session.export_with_secrets()).unwrap();
    let fixed_pending = serde_json::to_value(pending_fixture_export()).unwrap();
    for saved in [&pending, &fixed_pending, &session] {
        seeds.add("saved_state", saved.to_string());
    }
    let mut other = session.clone();
    other["client_id"] = "other".into();
    seeds.add("saved_state", other.to_string());
    let mut old = pending.clone();
    old["version"] = 2.into();
    seeds.add("saved_state", old.to_string());
    for (format, saved) in [
        ("authing-oidc-cli/pending", &pending),
        ("authing-oidc-cli/session", &session),
    ] {
        let envelope =
            json!({"format": format, "version": 1, "issuer": ISSUER, "client_id": CLIENT_ID, "saved": saved});
        seeds.add("cli_files", serde_json::to_string_pretty(&envelope).unwrap());
        let mut wrong = envelope.clone();
        wrong["issuer"] = "https://other.example/oidc".into();
        seeds.add("cli_files", wrong.to_string());
    }
    seeds.add(
        "cli_files",
        r#"{"format": "authing-oidc-cli/session", "version": 1}"#,
    );
}

fn pending_fixture_export() -> authing_oidc::flow::SavedPendingCallback {
    pending(Some("form_post")).export_with_secrets()
}

/// Raw string literals (`r#"…"#`) in the tests and sources that hold JSON or
/// callback parameters, sent to the targets whose input they look like.
fn harvest(root: &Path, seeds: &mut Seeds) -> usize {
    let mut files = Vec::new();
    for dir in ["tests", "src", "crates/cli/tests", "crates/cli/src"] {
        collect(&root.join(dir), &mut files);
    }
    let mut found = 0;
    for file in files {
        let text = fs::read_to_string(&file).unwrap_or_default();
        for literal in text
            .split("r#\"")
            .skip(1)
            .filter_map(|rest| rest.split("\"#").next())
        {
            found += 1;
            let l = literal.trim();
            if l.starts_with("Bearer") {
                seeds.answer("error_response", 401, Some(l), "");
                continue;
            }
            if l.contains("code=") || l.contains("state=") || l.contains("error=") {
                seeds.add("callback", l);
                continue;
            }
            let Ok(v) = serde_json::from_str::<Value>(l) else {
                continue;
            };
            let has = |name: &str| v.get(name).is_some();
            let targets: &[&'static str] = if has("keys") {
                &["jwks"]
            } else if has("authorization_endpoint") {
                &["discovery"]
            } else if has("format") {
                &["cli_files"]
            } else if has("code_verifier") || has("claims") {
                &["saved_state"]
            } else if has("access_token") {
                &["token_response"]
            } else if has("active") {
                &["introspection_response"]
            } else if has("error") || has("code") {
                &["error_response", "validate_token_response"]
            } else if has("sub") {
                &["userinfo_response", "validate_token_response"]
            } else {
                &[]
            };
            for target in targets {
                seeds.answer(target, 200, None, l);
            }
        }
    }
    found
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
}

fn main() {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let k = keys(&fuzz);
    let set = jwks(&k).to_string() + "\n";
    if set == JWKS {
        JWKS_IS_CURRENT.store(true, std::sync::atomic::Ordering::Relaxed);
    } else {
        println!("new fixture keys: run this again to check the id_token seeds verify");
    }
    fs::write(fuzz.join("fixtures/jwks.json"), set).unwrap();
    let mut seeds = Seeds::default();
    curated(&k, &mut seeds);
    let literals = harvest(fuzz.parent().unwrap(), &mut seeds);
    let out = fuzz.join("seeds");
    let _ = fs::remove_dir_all(&out);
    for (target, list) in &seeds.0 {
        let dir = out.join(target);
        fs::create_dir_all(&dir).unwrap();
        for (i, seed) in list.iter().enumerate() {
            fs::write(dir.join(format!("{i:03}")), seed).unwrap();
        }
        println!("{target}: {} seeds", list.len());
    }
    println!("({literals} raw literals read from the tests and sources)");
}
