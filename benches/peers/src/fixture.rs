//! One Authing-shaped id_token per algorithm, the same claims for every
//! contestant, and the JWKS server that publishes the keys.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use authing_oidc::{AuthenticationClient, SigningAlgorithm};
use serde_json::{Value, json};

use crate::jwks_server::JwksServer;
use crate::keys::{Alg, Keys, at_hash};

/// The application's client id (the token's `aud`).
pub const CLIENT_ID: &str = "5f8e0d2c1a2b3c4d5e6f7a80";
/// The client secret: the HS256 key.
pub const SECRET: &str = "bench-client-secret-long-enough-for-hs256";
/// The nonce sent in the authorization request.
pub const NONCE: &str = "n-0S6_WzA2Mj";
/// The access token issued with the id_token; `at_hash` binds it.
pub const ACCESS_TOKEN: &str =
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.bench-access-token-of-a-realistic-length";

/// Keys, the JWKS server and the signed tokens.
pub struct Fixture {
    /// The signing keys.
    pub keys: Keys,
    /// The JWKS the server publishes.
    pub jwks: Value,
    /// The JWKS endpoint on 127.0.0.1.
    pub server: JwksServer,
    /// The issuer (`iss`).
    pub issuer: String,
    tokens: HashMap<&'static str, String>,
}

impl Fixture {
    /// Generates the keys, starts the JWKS server (on the current tokio
    /// runtime) and signs one token per algorithm.
    pub async fn new() -> std::io::Result<Fixture> {
        let keys = Keys::generate(SECRET);
        let jwks = keys.jwks();
        let server = JwksServer::start(&jwks).await?;
        let issuer = server.issuer();
        let tokens = Alg::ALL
            .iter()
            .map(|&alg| (alg.name(), keys.sign(alg, &authing_claims(&issuer, alg))))
            .collect();
        Ok(Fixture {
            keys,
            jwks,
            server,
            issuer,
            tokens,
        })
    }

    /// The id_token signed with `alg`.
    pub fn token(&self, alg: Alg) -> &str {
        &self.tokens[alg.name()]
    }

    /// The claims of the `alg` token.
    pub fn claims(&self, alg: Alg) -> Value {
        authing_claims(&self.issuer, alg)
    }

    /// An authing-oidc client for this provider that expects `alg` id_tokens.
    pub fn client(&self, alg: Alg) -> authing_oidc::Result<AuthenticationClient> {
        client_for(&self.server.app_host(), alg)
    }
}

/// An authing-oidc client (Authing preset at `app_host`) that expects `alg` id_tokens.
pub fn client_for(app_host: &str, alg: Alg) -> authing_oidc::Result<AuthenticationClient> {
    let alg = match alg {
        Alg::Rs256 => SigningAlgorithm::RS256,
        Alg::Ps256 => SigningAlgorithm::PS256,
        Alg::Es256 => SigningAlgorithm::ES256,
        Alg::EdDsa => SigningAlgorithm::EdDSA,
        Alg::Hs256 => SigningAlgorithm::HS256,
    };
    AuthenticationClient::builder()
        .app_id(CLIENT_ID)
        .secret(SECRET)
        .app_host(app_host)
        .id_token_signed_response_alg(alg)
        .build()
}

/// The claims of an Authing id_token for scope `openid profile email phone`,
/// as Authing sends them: unknown profile fields `null`, `updated_at` an
/// RFC 3339 string, `at_hash` (for `alg`), `nonce` and `auth_time`.
pub fn authing_claims(issuer: &str, alg: Alg) -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    json!({
        "sub": "5f8e0d2c1a2b3c4d5e6f7a8b",
        "birthdate": null, "family_name": null, "gender": "U", "given_name": null,
        "locale": null, "middle_name": null, "name": "Bench User", "nickname": null,
        "picture": "https://files.authing.co/authing-console/default-user-avatar.png",
        "preferred_username": "bench", "profile": null,
        "updated_at": "2024-01-01T00:00:00.000Z", "website": null, "zoneinfo": null,
        "email": "bench@example.com", "email_verified": true,
        "phone_number": null, "phone_number_verified": false,
        "nonce": NONCE, "at_hash": at_hash(alg, ACCESS_TOKEN),
        "aud": CLIENT_ID, "exp": now + 3600, "iat": now, "auth_time": now - 5,
        "iss": issuer,
    })
}
