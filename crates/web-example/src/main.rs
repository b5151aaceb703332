//! `authing-oidc-web-example [--listen ADDR]`: serves the example app (see the library docs
//! for the environment it reads).

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::process::ExitCode;

use authing_oidc_web_example::{Config, Provider, app};

const USAGE: &str = "usage: authing-oidc-web-example [--listen ADDR]

Serves the authing-oidc web example (default address 127.0.0.1:3000, or LISTEN).

Environment:
  (nothing)                  the embedded development provider; log in as alice / alice-password
  AUTHING_APP_ID, AUTHING_APP_HOST, AUTHING_APP_SECRET, AUTHING_APP_REDIRECT_URI
                             an Authing application (the redirect URI must end with /callback)
  AUTHING_ISSUER, AUTHING_APP_ID, AUTHING_APP_SECRET, AUTHING_APP_REDIRECT_URI
                             any OpenID Provider, by discovery
  RESPONSE_MODE              query (default) or form_post
  PUBLIC_URL                 where browsers reach the app (https makes cookies Secure)
  POST_LOGOUT_REDIRECT_URI   where the provider sends the browser after logout
  RESOURCE                   the audience GET /api/me accepts access tokens for, Bearer or DPoP (default: the app id)
  REDIS_URL, AUTHING_SESSION_KEY
                             replicas: web sessions and tokens in this Redis (redis://HOST:PORT[/DB]),
                             encrypted with this key (32 bytes in base64, the same on every replica);
                             each login is refreshed once per expiry between all replicas";

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("authing-oidc-web-example: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<(), String> {
    let listen = listen_address()?;
    let config = Config::from_env(listen).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let app = app(config).await.map_err(|e| e.to_string())?;
    let home = app.config().public_url.clone();
    match app.dev_provider() {
        Some(dev) => eprintln!(
            "open {home} and log in as alice / alice-password (development provider at {})",
            dev.issuer()
        ),
        None if matches!(app.config().provider, Provider::Dev(_)) => {}
        None => eprintln!("open {home} (provider {})", app.client().issuer()),
    }
    app.serve(listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| format!("server error: {e}"))
}

fn listen_address() -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    let mut listen = std::env::var("LISTEN").ok().filter(|v| !v.is_empty());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = Some(args.next().ok_or("--listen needs an address")?),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let text = listen.unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    text.parse()
        .map_err(|e| format!("--listen {text:?} is not an address like 127.0.0.1:3000: {e}"))
}
