//! `veil keygen`: creates the root key that seals synthetic-data models.

use std::path::PathBuf;

use clap::Args;
use veil_seal::{write_root_key_file, RootKey, SealError};

use crate::UsageError;

/// Arguments of `veil keygen`.
#[derive(Debug, Args)]
#[command(after_help = "\
The key file holds one line, `veil-root-key-v1:` and the base64 of 32 random bytes, and is \
readable by its owner only. An existing file is never replaced. Keep the key safe: without it \
no model sealed with it can be opened. Give it to other commands with --root-key-file, \
VEIL_ROOT_KEY_FILE or VEIL_ROOT_KEY (the line itself).")]
pub struct KeygenArgs {
    /// Where to create the key file; it must not exist yet.
    #[arg(short = 'o', long = "output", value_name = "ROOT.key")]
    pub output: PathBuf,
}

/// Runs `veil keygen`: writes a new random root key and prints its id on stdout.
pub fn run(args: KeygenArgs) -> anyhow::Result<()> {
    if args.output.exists() {
        return Err(UsageError(format!(
            "{}: already exists; a root key file is never overwritten (choose another path)",
            args.output.display()
        ))
        .into());
    }
    let key = RootKey::generate()?;
    write_root_key_file(&args.output, &key).map_err(|error| match error {
        SealError::Io { .. } => anyhow::Error::new(UsageError(error.to_string())),
        other => anyhow::Error::new(other),
    })?;
    eprintln!(
        "created root key {} in {} (readable by its owner only)",
        key.id(),
        args.output.display()
    );
    println!("{}", key.id());
    Ok(())
}
