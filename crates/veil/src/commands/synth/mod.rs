//! `veil synth …`: synthetic data from a private CSV, on local files.
//!
//! `train` fits a model (rare values generalised first) and seals it with the root key;
//! `generate` opens a sealed model and samples rows as CSV; `analyse` compares a synthetic CSV
//! with the private one (fidelity, utility, privacy) as self-contained HTML and JSON. The
//! modelling is `veil-synth`'s, the encryption `veil-seal`'s: these modules only wire them to
//! files and flags.
//!
//! With `--server URL` each command runs instead as a job on a Veil hub (see [`remote`]): the
//! private data is then read inside a secure environment, never by the CLI.
//!
//! Conventions, as for `veil link`: outputs are written atomically (temporary file beside the
//! target, then rename), summaries go to stderr, and bad input (a missing file, a malformed
//! CSV, a wrong key, a corrupt or unsealed model) is a [`UsageError`] (exit code 2) naming the
//! file. Nothing printed names a private value: summaries give counts, never values.

mod analyse;
mod generate;
mod remote;
mod train;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use veil_seal::{KeyRing, SealError, ROOT_KEY_ENV, ROOT_KEY_FILE_ENV};
use veil_synth::{read_raw_csv, RawTable, SynthError};

use crate::commands::link::files::open_input;
use crate::UsageError;

/// The seal context of a model: a file sealed for another purpose does not open as a model.
const MODEL_CONTEXT: &str = "model";

/// `veil synth …`
#[derive(Debug, Subcommand)]
pub enum SynthCommand {
    /// Fit a model on a private CSV and write it sealed with the root key.
    Train(train::TrainArgs),
    /// Sample synthetic rows from a sealed model into a CSV.
    Generate(generate::GenerateArgs),
    /// Compare a synthetic CSV with the private one: HTML (and JSON) report of fidelity, utility
    /// and privacy.
    Analyse(analyse::AnalyseArgs),
}

/// Runs a `veil synth` command: as a hub job with `--server`, else on a blocking thread (the
/// local commands are CPU and file bound).
pub async fn run(command: SynthCommand) -> anyhow::Result<()> {
    match command {
        SynthCommand::Train(args) if args.remote.server.is_some() => train::run_remote(args).await,
        SynthCommand::Generate(args) if args.remote.server.is_some() => {
            generate::run_remote(args).await
        }
        SynthCommand::Analyse(args) if args.remote.server.is_some() => {
            analyse::run_remote(args).await
        }
        command => {
            tokio::task::spawn_blocking(move || match command {
                SynthCommand::Train(args) => train::run(args),
                SynthCommand::Generate(args) => generate::run(args),
                SynthCommand::Analyse(args) => analyse::run(args),
            })
            .await?
        }
    }
}

/// Where the root key comes from.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Root key file (from `veil keygen`); else the file named by VEIL_ROOT_KEY_FILE, else the
    /// key in VEIL_ROOT_KEY. Further lines of a key file are older keys, used only to open.
    #[arg(long, value_name = "FILE")]
    pub root_key_file: Option<PathBuf>,
}

impl KeyArgs {
    /// Loads the key ring: `--root-key-file`, else `VEIL_ROOT_KEY_FILE`, else `VEIL_ROOT_KEY`
    /// (empty variables count as unset). No key at all is a usage error saying how to make one.
    pub fn ring(&self) -> anyhow::Result<KeyRing> {
        let env = key_env();
        let file = self
            .root_key_file
            .clone()
            .or_else(|| env.get(ROOT_KEY_FILE_ENV).map(PathBuf::from));
        let ring = match file {
            Some(path) => KeyRing::from_sources(None, Some(&path), &[]),
            None => KeyRing::from_sources(env.get(ROOT_KEY_ENV).map(String::as_str), None, &[]),
        };
        ring.map_err(seal_error)
    }

    /// Whether any root key source is given (a flag or a non-empty variable).
    pub fn configured(&self) -> bool {
        self.root_key_file.is_some() || !key_env().is_empty()
    }
}

/// The root key variables that are set and not empty.
fn key_env() -> HashMap<&'static str, String> {
    [ROOT_KEY_FILE_ENV, ROOT_KEY_ENV]
        .into_iter()
        .filter_map(|name| Some((name, std::env::var(name).ok()?)))
        .filter(|(_, value)| !value.is_empty())
        .collect()
}

/// A `veil-seal` error as an `anyhow` error: a usage error (exit code 2) unless the operating
/// system failed to give random bytes.
fn seal_error(error: SealError) -> anyhow::Error {
    match error {
        SealError::Randomness(_) => anyhow::Error::new(error),
        other => UsageError(other.to_string()).into(),
    }
}

/// A `veil-seal` error about `path`, naming it unless the message already does.
fn seal_error_in(path: &Path, error: SealError) -> anyhow::Error {
    match error {
        SealError::Randomness(_) | SealError::Io { .. } => seal_error(error),
        other => UsageError(format!("{}: {other}", path.display())).into(),
    }
}

/// A `veil-synth` error about the input `path`, as a usage error naming the file.
fn synth_input_error(path: &Path, error: SynthError) -> anyhow::Error {
    UsageError(format!("{}: {error}", path.display())).into()
}

/// Reads a CSV file with a header row; errors name the file (and the row when known).
fn read_csv_file(path: &Path) -> anyhow::Result<RawTable> {
    let file = open_input(path)?;
    read_raw_csv(std::io::BufReader::new(file)).map_err(|error| synth_input_error(path, error))
}

/// Fails with a usage error unless `path`'s directory exists, so a long computation is not
/// wasted on an output that cannot be written.
fn check_output_directory(path: &Path) -> anyhow::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if path.is_dir() {
        return Err(UsageError(format!("{}: is a directory", path.display())).into());
    }
    if !parent.is_dir() {
        return Err(UsageError(format!(
            "{}: cannot create the output file: directory {} does not exist",
            path.display(),
            parent.display()
        ))
        .into());
    }
    Ok(())
}

/// Fails with a usage error when `output` is one of the `inputs` (the same file under any
/// name), so an input such as the private data or the model is never replaced by an output.
fn check_distinct(output: &Path, inputs: &[&Path]) -> anyhow::Result<()> {
    let Ok(target) = output.canonicalize() else {
        return Ok(()); // The output does not exist yet, so it is no input.
    };
    for input in inputs {
        if input.canonicalize().is_ok_and(|input| input == target) {
            return Err(UsageError(format!(
                "{}: the output would replace the input {}; choose another output path",
                output.display(),
                input.display()
            ))
            .into());
        }
    }
    Ok(())
}

/// "1 row", "2 rows".
fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
