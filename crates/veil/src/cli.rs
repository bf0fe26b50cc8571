//! The command line, as clap types.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Veil: privacy-preserving record linkage and synthetic data.
#[derive(Debug, Parser)]
#[command(name = "veil", version, about, propagate_version = true)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Options shared by the processes that load a config file.
#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// Config file (TOML); embedded defaults when absent.
    #[arg(long, env = "VEIL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format (overrides `log.format`).
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormatArg>,
}

/// How to reach a running server.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Base URL of the Veil server.
    #[arg(long, env = "VEIL_SERVER", default_value = veil_client::DEFAULT_SERVER)]
    pub server: String,
    /// Access token for the native API (`veil login` prints one).
    #[arg(long, env = "VEIL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API and in-process workers.
    Serve {
        #[command(flatten)]
        process: ProcessArgs,
        /// Address to listen on (overrides `server.listen` and VEIL_LISTEN).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// In-process workers (overrides `server.workers`); 0 runs the API alone.
        #[arg(long)]
        workers: Option<u32>,
        /// Register as a Kubernetes Service while serving (see `[registration]`); deregister on shutdown.
        #[arg(long)]
        register_k8s: bool,
    },
    /// Run workers only, against the configured database and blob store.
    Worker {
        #[command(flatten)]
        process: ProcessArgs,
        /// Tasks run at once (overrides `worker.concurrency`).
        #[arg(long)]
        concurrency: Option<u32>,
    },
    /// Inspect and control jobs on a server.
    #[command(subcommand)]
    Job(JobCommand),
    /// Show or check configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Record linkage on local files: encode, block, compare, solve, evaluate, generate test data.
    #[command(subcommand)]
    Link(crate::commands::link::LinkCommand),
    /// Create a root key file for sealing synthetic-data models.
    Keygen(crate::commands::keygen::KeygenArgs),
    /// Synthetic data on local files: train a sealed model, generate rows, analyse them.
    #[command(subcommand)]
    Synth(crate::commands::synth::SynthCommand),
    /// Try Veil in one command: a local server, two generated datasets linked through the Entity
    /// Service API, the matching quality and the job behind it.
    Demo(crate::commands::demo::DemoArgs),
    /// Run a secure environment's dispatcher: take its tasks from the broker (`queue.url`), read the
    /// private sources configured here, write results to the shared object store.
    Dispatcher(crate::commands::dispatcher::DispatcherArgs),
    /// Smoke-test a running server end to end: link two small generated datasets through the
    /// Entity Service API, check the groups, delete the project (what `helm test` runs).
    Selftest(crate::commands::selftest::SelftestArgs),
    /// Run one stored task here (what a Kubernetes task Job runs).
    #[command(subcommand)]
    Task(crate::commands::task::TaskCommand),
    /// Manage the native API's users in the configured database.
    #[command(subcommand)]
    User(crate::commands::user::UserCommand),
    /// Read the audit log: logins, failed logins, rejected tokens, user changes, deletions.
    Audit(crate::commands::user::AuditArgs),
    /// Sign in to a server and print an access token (for VEIL_TOKEN).
    Login(crate::commands::login::LoginArgs),
}

/// `veil job …`
#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// List jobs, newest first.
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// Only jobs in this state.
        #[arg(long)]
        state: Option<String>,
        /// Only jobs of this kind.
        #[arg(long)]
        kind: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show a job: state, times, event log and tasks.
    Describe {
        #[command(flatten)]
        server: ServerArgs,
        /// The job id.
        id: String,
        /// Print JSON instead of a report.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a job that has not finished.
    Cancel {
        #[command(flatten)]
        server: ServerArgs,
        /// The job id.
        id: String,
    },
    /// Submit a job of a given kind.
    Submit {
        #[command(flatten)]
        server: ServerArgs,
        /// The job kind (e.g. `sleep`, `echo`).
        kind: String,
        /// Parameters as a JSON object.
        #[arg(long, default_value = "{}")]
        params: String,
        /// Wait until the job finishes and print its final state.
        #[arg(long)]
        wait: bool,
    },
}

/// `veil config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a server's effective configuration, secrets redacted.
    Show {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Validate a config file (and the VEIL_* environment) locally and print the effective result.
    Check {
        /// Config file (TOML); embedded defaults when absent.
        #[arg(long, env = "VEIL_CONFIG")]
        config: Option<PathBuf>,
    },
}
