//! `veil`: one binary for the whole platform.
//!
//! `veil serve` runs the HTTP API with in-process workers on embedded defaults; `veil worker` runs
//! workers only, against the same database and blob store; `veil job …` and `veil config …` are the
//! operator's CLI, talking to a server over HTTP. Errors end the process with a one-line message:
//! exit code 2 for bad input (configuration, arguments), 1 for everything else.

mod access;
mod cli;
mod commands;
mod dispatch;
mod kube;
mod logging;
mod platform;

use std::process::ExitCode;

use clap::Parser;

/// An error caused by the user's input (config, arguments, files): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let usage = err.downcast_ref::<UsageError>().is_some()
                || err.downcast_ref::<veil_config::ConfigError>().is_some();
            eprintln!("error: {err:#}");
            if usage {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
