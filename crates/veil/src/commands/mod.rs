//! One module per command group.

mod config;
pub mod demo;
pub mod dispatcher;
mod job;
pub mod keygen;
pub mod link;
pub mod login;
pub(crate) mod process;
pub mod selftest;
pub mod synth;
pub mod task;
pub mod user;

use crate::cli::{Cli, Command};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            process,
            listen,
            workers,
            register_k8s,
        } => process::serve(process, listen, workers, register_k8s).await,
        Command::Worker {
            process,
            concurrency,
        } => process::worker(process, concurrency).await,
        Command::Job(command) => job::run(command).await,
        Command::Config(command) => config::run(command).await,
        Command::Link(command) => link::run(command).await,
        Command::Keygen(args) => keygen::run(args),
        Command::Synth(command) => synth::run(command).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Selftest(args) => selftest::run(args).await,
        Command::Dispatcher(args) => dispatcher::run(args).await,
        Command::Task(command) => task::run(command).await,
        Command::User(command) => user::run(command).await,
        Command::Audit(args) => user::audit(args).await,
        Command::Login(args) => login::run(args).await,
    }
}

/// A client for `--server` (with `--token`, when given), with a usage error for a bad URL.
fn client(server: &crate::cli::ServerArgs) -> anyhow::Result<veil_client::VeilClient> {
    let client = plain_client(&server.server)?;
    Ok(match &server.token {
        Some(token) => client.with_token(token.trim()),
        None => client,
    })
}

/// A client for a server URL, without a user token (the Entity Service API and probes).
fn plain_client(server: &str) -> anyhow::Result<veil_client::VeilClient> {
    veil_client::VeilClient::new(server).map_err(|err| crate::UsageError(err.to_string()).into())
}
