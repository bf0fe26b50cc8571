//! `veil link …`: privacy-preserving record linkage on local files.
//!
//! The pipeline is `gen` (test data with ground truth) → `encode` (CSV → CLKs, clkhash 0.18.3
//! compatible) → optionally `block` (blocklib-style blocks) → `compare` (candidate pairs,
//! anonlink 0.15.3 compatible) → `solve` (greedy matching into groups) → `eval` (quality against
//! ground truth). Each subcommand lives in its own module and only wires the linkage library
//! crates to files: parsing, encoding and matching are the libraries' job.
//!
//! Conventions shared by every subcommand:
//! * Commands whose product is a file (`-o`) write it atomically (temporary file beside it,
//!   then rename) and report what they did on stderr; `eval`, whose product is the report,
//!   prints it on stdout.
//! * Unreadable or malformed input is a [`UsageError`] (exit code 2) naming the file, and the
//!   row, field or feature when the library reports one.
//!
//! `project` is the odd one out: it links through an Entity Service over HTTP instead of local
//! files, so it runs on the async runtime rather than a blocking thread.

mod block;
mod compare;
mod encode;
mod eval;
pub(crate) mod files;
mod gen;
pub mod project;
pub(crate) mod project_results;
mod project_runs;
pub(crate) mod project_upload;
mod solve;

use clap::Subcommand;

use crate::UsageError;

/// `veil link …`
#[derive(Debug, Subcommand)]
pub enum LinkCommand {
    /// Encode a CSV's records into Cryptographic Linkage Keys (CLKs), byte-identical to clkhash 0.18.3.
    Encode(encode::EncodeArgs),
    /// Group CLKs into blocks with lambda-fold Hamming LSH, as blocklib: `clknblocks` output and block statistics.
    Block(block::BlockArgs),
    /// Find candidate pairs across CLK datasets by Sørensen–Dice similarity, as anonlink 0.15.3.
    Compare(compare::CompareArgs),
    /// Solve candidate pairs into matched groups with anonlink's greedy solver.
    Solve(solve::SolveArgs),
    /// Score matched groups against ground truth: precision, recall, F1, threshold advice.
    Eval(eval::EvalArgs),
    /// Generate two FEBRL4-style datasets of person records (a.csv, b.csv) and their truth.csv.
    Gen(gen::GenArgs),
    /// Link through an Anonlink Entity Service: create a project, upload encodings, run, fetch results.
    #[command(subcommand)]
    Project(project::ProjectCommand),
}

/// Runs a `veil link` command: `project` on the async runtime (it waits on the network), the
/// others on a blocking thread (they are CPU or file bound).
pub async fn run(command: LinkCommand) -> anyhow::Result<()> {
    match command {
        LinkCommand::Project(command) => project::run(command).await,
        LinkCommand::Encode(args) => blocking(move || encode::run(args)).await,
        LinkCommand::Block(args) => blocking(move || block::run(args)).await,
        LinkCommand::Compare(args) => blocking(move || compare::run(args)).await,
        LinkCommand::Solve(args) => blocking(move || solve::run(args)).await,
        LinkCommand::Eval(args) => blocking(move || eval::run(args)).await,
        LinkCommand::Gen(args) => blocking(move || gen::run(args)).await,
    }
}

async fn blocking(
    command: impl FnOnce() -> anyhow::Result<()> + Send + 'static,
) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(command).await?
}

/// A usage error (exit code 2) as an `anyhow` error.
pub(crate) fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// Parses a worker thread count (at least 1).
fn parse_threads(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(err) => Err(err.to_string()),
    }
}

/// Worker threads to use: the given count, or one per available core.
fn thread_count(threads: Option<usize>) -> usize {
    threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Records (or pairs) per second, guarding against a zero duration.
fn rate(count: f64, elapsed: std::time::Duration) -> f64 {
    count / elapsed.as_secs_f64().max(1e-9)
}

/// "1 thread", "2 threads".
fn threads_label(threads: usize) -> String {
    if threads == 1 {
        "1 thread".to_string()
    } else {
        format!("{threads} threads")
    }
}
