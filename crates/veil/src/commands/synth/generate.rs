//! `veil synth generate`: sealed model → synthetic CSV or Parquet.

use std::io::{IsTerminal as _, Write};
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use veil_seal::read_sealed_file;
use veil_synth::{sample_to_csv, sample_to_parquet, AnyModel};

use super::remote::{save, Hub, RemoteArgs};
use super::{
    check_distinct, check_output_directory, plural, seal_error_in, KeyArgs, MODEL_CONTEXT,
};
use crate::commands::link::files::AtomicFile;
use crate::UsageError;

/// Below this many rows no progress bar is shown: sampling is over in a moment.
const PROGRESS_MIN_ROWS: usize = 100_000;

/// Arguments of `veil synth generate`.
#[derive(Debug, Args)]
#[command(after_help = "\
The output's format follows its extension, in any letter case: .csv writes CSV (a header row, \
then one row per synthetic record, columns as the model was trained); .parquet writes Parquet \
(Snappy-compressed, typed columns: integer → Int64, float → Float64, boolean → Boolean, \
categorical → Utf8, date → Date32, date-time → Timestamp in microseconds, UTC; missing values are \
nulls). Any other extension is an error. Both formats hold the same values. The rows depend only on the model and --seed, never on the number of threads: \
the same model and seed give a byte-identical file. The model is opened with the root key ring \
(--root-key-file, VEIL_ROOT_KEY_FILE or VEIL_ROOT_KEY); a wrong key, or a corrupt or unsealed \
model, is an error and no output is written.

With --server URL, MODEL is the id of a succeeded `synth.train` job and the rows are sampled by \
a `synth.generate` job on the hub, in the output's format; the file is downloaded to OUT.")]
pub struct GenerateArgs {
    /// The sealed model, from `veil synth train` (with --server: the train job's id).
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,
    /// How many rows to generate.
    #[arg(long, value_name = "N", value_parser = parse_rows)]
    pub rows: usize,
    /// Seed of the sampling: the same model and seed give the same rows.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Where to write the synthetic rows: OUT.csv or OUT.parquet.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: PathBuf,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// Parses `--rows`: at least 1.
fn parse_rows(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(value) => Ok(value),
        Err(error) => Err(error.to_string()),
    }
}

/// The format of the synthetic rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OutputFormat {
    Csv,
    Parquet,
}

impl OutputFormat {
    /// The format's name in `synth.generate`'s parameters.
    fn name(self) -> &'static str {
        match self {
            OutputFormat::Csv => "csv",
            OutputFormat::Parquet => "parquet",
        }
    }
}

/// The output's format from its extension (any letter case); a usage error names any other.
fn output_format(args: &GenerateArgs) -> anyhow::Result<OutputFormat> {
    let extension = args
        .output
        .extension()
        .map(|ext| ext.to_string_lossy().to_ascii_lowercase());
    match extension.as_deref() {
        Some("csv") => Ok(OutputFormat::Csv),
        Some("parquet") => Ok(OutputFormat::Parquet),
        other => Err(UsageError(format!(
            "{}: {}; name the output .csv or .parquet",
            args.output.display(),
            match other {
                Some(extension) => format!("unknown output extension .{extension}"),
                None => "the output has no extension".into(),
            }
        ))
        .into()),
    }
}

/// Runs `veil synth generate`.
pub fn run(args: GenerateArgs) -> anyhow::Result<()> {
    check_output_directory(&args.output)?;
    check_distinct(&args.output, &[&args.model])?;
    let format = output_format(&args)?;
    let ring = args.key.ring()?;
    let plaintext = zeroize::Zeroizing::new(
        read_sealed_file(&args.model, &ring, MODEL_CONTEXT)
            .map_err(|error| seal_error_in(&args.model, error))?,
    );
    let not_a_model = |reason: String| -> anyhow::Error {
        UsageError(format!(
            "{}: not a usable synthetic-data model: {reason}",
            args.model.display()
        ))
        .into()
    };
    let json = std::str::from_utf8(&plaintext)
        .map_err(|_| not_a_model("the sealed content is not UTF-8 JSON".into()))?;
    let model = AnyModel::from_json(json).map_err(|error| not_a_model(error.to_string()))?;

    let started = Instant::now();
    let mut output = AtomicFile::create(&args.output)?;
    // Progress is counted in CSV lines; a Parquet file is written a row group at a time.
    let bar = match format {
        OutputFormat::Csv => progress_bar(args.rows),
        OutputFormat::Parquet => ProgressBar::hidden(),
    };
    let sampled = match format {
        OutputFormat::Csv => {
            let counter = RowCounter {
                inner: output.writer(),
                bar: &bar,
                rows: args.rows as u64,
                newlines: 0,
            };
            sample_to_csv(&model, args.rows, args.seed, counter).map(drop)
        }
        OutputFormat::Parquet => {
            sample_to_parquet(&model, args.rows, args.seed, output.writer()).map(drop)
        }
    };
    sampled.map_err(|error| anyhow::anyhow!("{}: {error}", args.output.display()))?;
    output.commit()?;
    bar.finish_and_clear();
    eprintln!(
        "wrote {} to {} in {:.2} s (seed {})",
        plural(args.rows, "row"),
        args.output.display(),
        started.elapsed().as_secs_f64(),
        args.seed
    );
    Ok(())
}

/// Runs `veil synth generate --server`: checks MODEL names a succeeded train job, submits
/// `synth.generate` in the output's format, follows it and saves the file.
pub async fn run_remote(args: GenerateArgs) -> anyhow::Result<()> {
    let format = output_format(&args)?;
    check_output_directory(&args.output)?;
    let server = args.remote.server.as_deref().unwrap_or_default();
    let hub = Hub::connect(server, &args.remote)?;
    let model = args.model.to_string_lossy();
    let model_job = hub.input_job(&model, "synth.train", "MODEL").await?;
    let started = Instant::now();
    let mut params = json!({"model_job": model_job, "rows": args.rows, "seed": args.seed});
    // CSV is the default: leaving it out keeps CSV working with hubs that predate `format`.
    if format != OutputFormat::Csv {
        params["format"] = json!(format.name());
    }
    let (id, rows) = hub.run("synth.generate", params).await?;
    save(&args.output, &rows)?;
    eprintln!(
        "wrote {} to {} from job {id} in {:.2} s (seed {})",
        plural(args.rows, "row"),
        args.output.display(),
        started.elapsed().as_secs_f64(),
        args.seed
    );
    Ok(())
}

/// A progress bar over the rows, on stderr; hidden when stderr is not a terminal or the run
/// is short.
fn progress_bar(rows: usize) -> ProgressBar {
    if rows < PROGRESS_MIN_ROWS || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(rows as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "generating {bar:40} {human_pos}/{human_len} rows ({elapsed} elapsed, {eta} left)",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Passes bytes through and moves the bar by the rows written: newlines after the header's,
/// capped at the row count (a quoted value holding a newline can only make it run early).
struct RowCounter<'a> {
    inner: &'a mut dyn Write,
    bar: &'a ProgressBar,
    rows: u64,
    newlines: u64,
}

impl Write for RowCounter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        let lines = buf[..written].iter().filter(|&&byte| byte == b'\n').count() as u64;
        if lines > 0 {
            self.newlines += lines;
            self.bar
                .set_position(self.newlines.saturating_sub(1).min(self.rows));
        }
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
