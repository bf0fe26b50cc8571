//! `veil link encode`: CSV records → CLKs with a clkhash linkage schema and a secret.

use std::cell::Cell;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use veil_linkage_encoding::{
    encode_csv, ClkWriter, EncodeError, EncodeOptions, Encoder, OutputFormat, Schema,
};

use super::files::{bad_input, open_input, write_atomically};
use super::{parse_threads, rate, thread_count, threads_label, usage};

/// Environment variable holding the secret itself (when `--secret-file` is not given).
const SECRET_ENV: &str = "VEIL_LINK_SECRET";

/// Output format of `veil link encode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClkFormatArg {
    /// clkhash's JSON: `{"clks": ["<base64>", …]}`.
    Json,
    /// The CLKs' raw bytes concatenated in row order (`l / 8` bytes each).
    Binary,
}

/// Arguments of `veil link encode`.
#[derive(Debug, Args)]
#[command(after_help = "\
The secret is read from --secret-file, or else from the VEIL_LINK_SECRET environment variable \
(never from a command-line argument, which other users could see). A secret file is used as \
its UTF-8 bytes with trailing line breaks (\\n or \\r\\n) removed, so a one-line file written \
by an editor or `echo` works as is.

The CSV needs a header row naming the schema's features in order. Encoding stops at the first \
invalid row; the output is written to a temporary file beside -o and renamed at the end, so a \
failure leaves no partial output and an existing file untouched.")]
pub struct EncodeArgs {
    /// The records: CSV with a header row matching the schema's feature identifiers.
    pub data: PathBuf,
    /// The linkage schema (clkhash version 3 JSON).
    pub schema: PathBuf,
    /// File holding the secret (default: the VEIL_LINK_SECRET environment variable).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// Where to write the CLKs.
    #[arg(short = 'o', long = "output", value_name = "CLKS")]
    pub output: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: ClkFormatArg,
    /// Worker threads (default: one per available core).
    #[arg(long, value_parser = parse_threads)]
    pub threads: Option<usize>,
}

/// Runs `veil link encode`.
pub fn run(args: EncodeArgs) -> anyhow::Result<()> {
    let secret = read_secret(args.secret_file.as_deref())?;
    let schema = Schema::from_reader(std::io::BufReader::new(open_input(&args.schema)?))
        .map_err(|err| bad_input(&args.schema, err))?;
    let encoder = Encoder::new(&schema, &secret).map_err(|err| bad_input(&args.schema, err))?;
    let data = open_input(&args.data)?;
    let data_bytes = data.metadata().map(|meta| meta.len()).unwrap_or(0);
    let threads = thread_count(args.threads);
    let options = EncodeOptions {
        threads,
        chunk_rows: 10_000,
    };
    let format = match args.format {
        ClkFormatArg::Json => OutputFormat::Json,
        ClkFormatArg::Binary => OutputFormat::Binary,
    };

    let progress = progress_bar(data_bytes);
    let started = Instant::now();
    let records = write_atomically(&args.output, |out| {
        let write_failed = Cell::new(false);
        let mut writer =
            ClkWriter::new(out, format).map_err(|err| write_error(&args.output, err))?;
        let summary = encode_csv(
            progress.wrap_read(data),
            &encoder,
            &options,
            |done| progress.set_message(format!("{done} records")),
            |_row, clk| writer.write(&clk).inspect_err(|_| write_failed.set(true)),
        )
        .map_err(|err| encode_error(err, write_failed.get(), &args.data, &args.output))?;
        writer
            .finish()
            .map_err(|err| write_error(&args.output, err))?;
        Ok(summary.records)
    });
    progress.finish_and_clear();
    let records = records?;
    eprintln!(
        "{}",
        summary_line(records, started.elapsed(), threads, &args.output)
    );
    Ok(())
}

/// The final report: records, rate, threads and where the CLKs went.
fn summary_line(records: u64, elapsed: Duration, threads: usize, output: &Path) -> String {
    format!(
        "encoded {records} records in {:.2} s ({:.0} records/s, {}) into {}",
        elapsed.as_secs_f64(),
        rate(records as f64, elapsed),
        threads_label(threads),
        output.display()
    )
}

/// The secret's bytes, from `--secret-file` or else `VEIL_LINK_SECRET`.
fn read_secret(secret_file: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    let (text, source) = match secret_file {
        Some(path) => {
            let bytes = std::fs::read(path)
                .map_err(|err| usage(format!("--secret-file {}: {err}", path.display())))?;
            let text = String::from_utf8(bytes).map_err(|_| {
                usage(format!(
                    "--secret-file {}: the secret is not valid UTF-8",
                    path.display()
                ))
            })?;
            (text, format!("--secret-file {}", path.display()))
        }
        None => match std::env::var(SECRET_ENV) {
            Ok(text) => (text, SECRET_ENV.to_string()),
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(usage(format!(
                    "{SECRET_ENV}: the secret is not valid UTF-8"
                )))
            }
            Err(std::env::VarError::NotPresent) => {
                return Err(usage(format!(
                    "no secret: pass --secret-file FILE or set {SECRET_ENV}"
                )))
            }
        },
    };
    let secret = text.trim_end_matches(['\n', '\r']);
    if secret.is_empty() {
        return Err(usage(format!("{source}: the secret is empty")));
    }
    Ok(secret.as_bytes().to_vec())
}

/// A progress bar over the input's bytes, on stderr, hidden when stderr is not a terminal.
fn progress_bar(total_bytes: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "encoding {bar:40} {bytes}/{total_bytes} {msg} ({elapsed}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

fn write_error(output: &Path, err: std::io::Error) -> anyhow::Error {
    anyhow::anyhow!("{}: cannot write: {err}", output.display())
}

/// Maps an encoding failure: input problems are usage errors naming the CSV (and row and
/// column), a failing sink is a write error on the output.
fn encode_error(err: EncodeError, write_failed: bool, data: &Path, output: &Path) -> anyhow::Error {
    match err {
        EncodeError::Io(err) if write_failed => write_error(output, err),
        EncodeError::ThreadPool(message) => anyhow::anyhow!("{message}"),
        other => bad_input(data, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_file_loses_trailing_line_breaks_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, " s3cret \r\n\n").unwrap();
        assert_eq!(read_secret(Some(&path)).unwrap(), b" s3cret ");
        std::fs::write(&path, "\n").unwrap();
        let err = read_secret(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
    }

    #[test]
    fn summary_names_records_rate_and_threads() {
        let line = summary_line(5000, Duration::from_millis(500), 2, Path::new("x.json"));
        assert_eq!(
            line,
            "encoded 5000 records in 0.50 s (10000 records/s, 2 threads) into x.json"
        );
    }
}
