//! `authing-oidc`: the command-line tool of the authing-oidc SDK (docs/cli.md).
//!
//! Every SDK operation as a command, the typed login flow with pending and
//! session files, an interactive loopback login, and the embedded development
//! provider. Output is one JSON document on stdout (exit 0); a failure is one
//! JSON object `{"error": {"kind", "message"}}` on stderr, with exit 2 for bad
//! usage or configuration and 1 for everything else. See `docs/cli.md`.

#![forbid(unsafe_code)]

mod cli;
mod commands;
mod error;
mod grants;
mod input;
mod login;
mod logout_token;
mod output;
mod security;
mod session;
mod store;
mod verify_access_token;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use clap::error::ErrorKind;

use crate::error::{CliError, Kind};

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|_| {
        // The payload could quote anything; report the bug without it.
        report(&CliError::new(
            Kind::Internal,
            "internal error (a bug in authing-oidc)",
        ));
    }));
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => return fail(&error::from_clap(&e)),
    };
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            return fail(&CliError::new(
                Kind::Internal,
                format!("cannot start the runtime: {e}"),
            ));
        }
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(commands::run(cli))
    }));
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => fail(&e),
        // The hook has printed the error object.
        Err(_) => ExitCode::from(Kind::Internal.exit_code()),
    }
}

/// Prints the error object on stderr and returns its exit code.
fn fail(e: &CliError) -> ExitCode {
    report(e);
    ExitCode::from(e.exit_code())
}

fn report(e: &CliError) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", e.to_json_line());
    let _ = err.flush();
}

/// `-v`: the SDK's (and this tool's) tracing on stderr. The SDK never logs a
/// secret; other crates' logs are not shown.
fn init_logging(verbose: u8) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let level = match verbose {
        0 => return,
        1 => LevelFilter::INFO,
        2 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let targets = Targets::new()
        .with_target("authing_oidc", level)
        .with_target("authing_oidc_cli", level)
        .with_target("authing_oidc_dev_provider", level);
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false),
        )
        .with(targets)
        .try_init();
}
