//! A JWKS endpoint on 127.0.0.1 at the Authing path, counting its requests so
//! the benchmarks can prove they ran on a warm key cache.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::Value;

struct Shared {
    body: String,
    hits: AtomicUsize,
}

/// Serves `GET /oidc/.well-known/jwks.json`, the Authing preset's `jwks_uri`.
pub struct JwksServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl JwksServer {
    /// Binds a free port on 127.0.0.1 and serves `jwks` until the runtime stops.
    pub async fn start(jwks: &Value) -> std::io::Result<JwksServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            body: jwks.to_string(),
            hits: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .route("/oidc/.well-known/jwks.json", get(serve_jwks))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(JwksServer { addr, shared })
    }

    /// `http://127.0.0.1:PORT`, the app host.
    pub fn app_host(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/oidc`, the issuer.
    pub fn issuer(&self) -> String {
        format!("http://{}/oidc", self.addr)
    }

    /// JWKS requests served so far.
    pub fn hits(&self) -> usize {
        self.shared.hits.load(Ordering::SeqCst)
    }
}

async fn serve_jwks(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    shared.hits.fetch_add(1, Ordering::SeqCst);
    ([(header::CONTENT_TYPE, "application/json")], shared.body.clone())
}
