//! One module per command group.

mod config;
pub mod demo;
pub mod dispatcher;
mod job;
pub mod keygen;
pub mod link;
mod process;
pub mod selftest;
pub mod synth;
pub mod task;

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
    }
}

/// A client for `--server`, with a usage error for a bad URL.
fn client(server: &str) -> anyhow::Result<veil_client::VeilClient> {
    veil_client::VeilClient::new(server).map_err(|err| crate::UsageError(err.to_string()).into())
}
