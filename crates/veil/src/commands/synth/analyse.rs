//! `veil synth analyse`: private CSV + synthetic CSV (+ holdout) → HTML and JSON report.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use serde_json::{json, Value};
use veil_synth::{
    analyse, render_html, type_raw_table, AnalyseOptions, AnalysisReport, ColumnOverride, RawTable,
    ReadOptions, SynthError, Table, UtilityMetric, DEFAULT_MIN_ROWS,
};

use super::remote::{Hub, PlaceArgs, RemoteArgs};
use super::{
    check_distinct, check_output_directory, plural, read_csv_file, synth_input_error, KeyArgs,
};
use crate::commands::link::files::AtomicFile;
use crate::UsageError;
use veil_dispatch::{REPORT_CONTEXT, REPORT_FORMAT};

/// Arguments of `veil synth analyse`.
#[derive(Debug, Args)]
#[command(after_help = "\
The real table is compared on the synthetic table's columns (columns the model left out, such \
as identifiers, are skipped and listed); each is read with the kind inferred from the real \
data. The report holds aggregates only: a categorical value is named only if at least \
--min-rows real rows hold it, histogram bins with fewer real rows are merged, no minimum, \
maximum or row is shown. Utility (train on synthetic, test on real) needs --holdout, real rows \
the model never saw; it predicts --target, by default the last column when it has two \
classes.

With --server URL the report is computed by a `synth.analyse` job in the secure environment \
--environment: DATA.csv (and --holdout) are paths in its source --source, SYNTH.csv is the id of \
a succeeded `synth.generate` job. The report comes back sealed and is opened with the local \
root key ring (--root-key-file, VEIL_ROOT_KEY_FILE or VEIL_ROOT_KEY), which must hold the \
environment's root key.")]
pub struct AnalyseArgs {
    /// The private CSV the model was trained on (with --server: its path in the source).
    #[arg(value_name = "DATA.csv")]
    pub real: PathBuf,
    /// The synthetic CSV, from `veil synth generate` (with --server: the generate job's id).
    #[arg(value_name = "SYNTH.csv")]
    pub synthetic: PathBuf,
    /// Real rows kept out of training, for utility and the closer-to-training privacy test.
    #[arg(long, value_name = "HOLDOUT.csv")]
    pub holdout: Option<PathBuf>,
    /// Where to write the self-contained HTML report.
    #[arg(short = 'o', long = "output", value_name = "REPORT.html")]
    pub output: PathBuf,
    /// Also write the report as JSON here.
    #[arg(long, value_name = "REPORT.json")]
    pub json: Option<PathBuf>,
    /// The column the utility classifier predicts.
    #[arg(long, value_name = "COLUMN")]
    pub target: Option<String>,
    /// k: categorical values and histogram bins with fewer real rows are not shown.
    #[arg(long, value_name = "K", default_value_t = DEFAULT_MIN_ROWS)]
    pub min_rows: usize,
    /// Seed of the sample of synthetic rows searched for their closest records.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub place: PlaceArgs,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// Fails with a usage error when `--min-rows` is 0, an output cannot be written or would
/// replace one of the local `inputs`, or the HTML and JSON outputs are the same file.
fn check_outputs(args: &AnalyseArgs, inputs: &[&Path]) -> anyhow::Result<()> {
    if args.min_rows == 0 {
        return Err(UsageError("--min-rows must be at least 1".into()).into());
    }
    check_output_directory(&args.output)?;
    check_distinct(&args.output, inputs)?;
    if let Some(json) = &args.json {
        check_output_directory(json)?;
        check_distinct(json, inputs)?;
        if json == &args.output {
            return Err(UsageError(format!(
                "{}: given as both the HTML and the JSON output",
                json.display()
            ))
            .into());
        }
    }
    Ok(())
}

/// Runs `veil synth analyse`.
pub fn run(args: AnalyseArgs) -> anyhow::Result<()> {
    args.place.check_local()?;
    let mut inputs = vec![args.real.as_path(), args.synthetic.as_path()];
    inputs.extend(args.holdout.as_deref());
    check_outputs(&args, &inputs)?;
    let raw_synthetic = read_csv_file(&args.synthetic)?;
    let names = raw_synthetic.names.clone();
    let raw_real = read_csv_file(&args.real)?;
    let skipped: Vec<String> = raw_real
        .names
        .iter()
        .filter(|name| !names.contains(name))
        .cloned()
        .collect();
    let (real, _) = type_raw_table(
        select(raw_real, &names, &args.real)?,
        &ReadOptions::default(),
    )
    .map_err(|error| synth_input_error(&args.real, error))?;
    let like_real = ReadOptions {
        overrides: real
            .columns()
            .iter()
            .map(|column| ColumnOverride {
                name: column.name.clone(),
                kind: Some(column.kind()),
                exclude: false,
            })
            .collect(),
        ..ReadOptions::default()
    };
    let synthetic = typed(raw_synthetic, &like_real, &args.synthetic)?;
    let holdout = match &args.holdout {
        Some(path) => {
            let raw = select(read_csv_file(path)?, &names, path)?;
            Some(typed(raw, &like_real, path)?)
        }
        None => None,
    };
    if let Some(target) = &args.target {
        if real.column(target).is_none() {
            return Err(UsageError(format!(
                "--target {target:?}: no such column in {} (columns: {})",
                args.synthetic.display(),
                names.join(", ")
            ))
            .into());
        }
    }
    let options = AnalyseOptions {
        min_rows: args.min_rows,
        target_column: args.target.clone(),
        seed: args.seed,
        ..AnalyseOptions::default()
    };
    let started = Instant::now();
    let report =
        analyse(&real, &synthetic, holdout.as_ref(), &options).map_err(|error| match error {
            SynthError::SchemaMismatch(_) | SynthError::InvalidOption { .. } => {
                UsageError(error.to_string()).into()
            }
            other => anyhow::Error::new(other),
        })?;
    let elapsed = started.elapsed();
    write_outputs(&args, &render_html(&report), &report.to_json()?)?;

    if !skipped.is_empty() {
        eprintln!(
            "compared {} of {}; not in the synthetic data: {}",
            plural(names.len(), "column"),
            args.real.display(),
            skipped.join(", ")
        );
    }
    print_headline(&report);
    eprintln!(
        "wrote {}{} in {:.2} s",
        args.output.display(),
        args.json
            .as_ref()
            .map(|json| format!(" and {}", json.display()))
            .unwrap_or_default(),
        elapsed.as_secs_f64()
    );
    Ok(())
}

/// Keeps the columns of `raw` named in `names`, in that order; a missing one is a usage error
/// naming `path`.
fn select(mut raw: RawTable, names: &[String], path: &Path) -> anyhow::Result<RawTable> {
    let mut columns = Vec::with_capacity(names.len());
    for name in names {
        let Some(index) = raw.names.iter().position(|n| n == name) else {
            return Err(UsageError(format!(
                "{}: no column {name:?}, which the synthetic data has",
                path.display()
            ))
            .into());
        };
        columns.push(std::mem::take(&mut raw.columns[index]));
    }
    Ok(RawTable {
        names: names.to_vec(),
        columns,
    })
}

/// Types `raw` with `options`; errors name `path`.
fn typed(raw: RawTable, options: &ReadOptions, path: &Path) -> anyhow::Result<Table> {
    type_raw_table(raw, options)
        .map(|(table, _)| table)
        .map_err(|error| synth_input_error(path, error))
}

/// Writes the HTML and, if asked, the JSON; both are fully written before either replaces
/// its target.
fn write_outputs(args: &AnalyseArgs, html: &str, json: &str) -> anyhow::Result<()> {
    let mut html_file = AtomicFile::create(&args.output)?;
    html_file.writer().write_all(html.as_bytes())?;
    let json_file = match &args.json {
        Some(path) => {
            let mut file = AtomicFile::create(path)?;
            file.writer().write_all(json.as_bytes())?;
            file.writer().write_all(b"\n")?;
            Some(file)
        }
        None => None,
    };
    html_file.commit()?;
    if let Some(file) = json_file {
        file.commit()?;
    }
    Ok(())
}

/// Runs `veil synth analyse --server`: checks SYNTH.csv names a succeeded generate job,
/// submits `synth.analyse`, follows it, opens the sealed report with the local key ring and
/// writes the HTML (and JSON).
pub async fn run_remote(args: AnalyseArgs) -> anyhow::Result<()> {
    let server = args.remote.server.as_deref().unwrap_or_default();
    let (environment, source) = args.place.required()?;
    let in_source = |path: &Path, what: &str| {
        path.to_str().map(str::to_string).ok_or_else(|| {
            UsageError(format!(
                "{what} {}: the path in the source is not UTF-8",
                path.display()
            ))
        })
    };
    let path = in_source(&args.real, "DATA.csv")?;
    let holdout = match &args.holdout {
        Some(holdout) => Some(in_source(holdout, "--holdout")?),
        None => None,
    };
    check_outputs(&args, &[])?;
    let ring = args.key.ring().map_err(|error| {
        anyhow::Error::from(UsageError(format!(
            "the report comes back sealed, so a root key is needed to open it: {error:#}"
        )))
    })?;
    let hub = Hub::connect(server, &args.remote)?;
    let synthetic_job = hub
        .input_job(
            &args.synthetic.to_string_lossy(),
            "synth.generate",
            "SYNTH.csv",
        )
        .await?;
    let params = json!({
        "environment": environment,
        "source": source,
        "path": path,
        "synthetic_job": synthetic_job,
        "holdout": holdout,
        "target": args.target,
        "min_rows": args.min_rows,
        "seed": args.seed,
    });
    let started = std::time::Instant::now();
    let (id, sealed) = hub.run("synth.analyse", params).await?;
    let bundle = zeroize::Zeroizing::new(veil_seal::open(&sealed, &ring, REPORT_CONTEXT).map_err(
        |error| {
            UsageError(format!(
                "the report of job {id} does not open with the local root key ring: {error}"
            ))
        },
    )?);
    let unusable = |reason: String| anyhow::anyhow!("the report of job {id} is unusable: {reason}");
    let bundle: Value =
        serde_json::from_slice(&bundle).map_err(|error| unusable(error.to_string()))?;
    if bundle["format"] != REPORT_FORMAT {
        return Err(unusable(format!("its format is not {REPORT_FORMAT}")));
    }
    let report: AnalysisReport = serde_json::from_value(bundle["report"].clone())
        .map_err(|error| unusable(error.to_string()))?;
    let html = bundle["html"]
        .as_str()
        .ok_or_else(|| unusable("it holds no HTML".into()))?;
    write_outputs(&args, html, &report.to_json()?)?;
    print_headline(&report);
    eprintln!(
        "wrote {}{} from job {id} in {:.2} s",
        args.output.display(),
        args.json
            .as_ref()
            .map(|json| format!(" and {}", json.display()))
            .unwrap_or_default(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Prints the headline numbers on stdout.
fn print_headline(report: &AnalysisReport) {
    let quality = &report.quality;
    println!(
        "quality: {:.1}% (column shapes {:.1}%, column pair trends {})",
        quality.overall * 100.0,
        quality.column_shapes * 100.0,
        quality
            .column_pair_trends
            .map_or("n/a".to_string(), |score| format!("{:.1}%", score * 100.0))
    );
    match (&report.utility, &report.utility_skipped) {
        (Some(utility), _) => {
            let metric = match utility.metric {
                UtilityMetric::Auc => "AUC",
                UtilityMetric::Accuracy => "accuracy",
            };
            println!(
                "utility ({} on {}): TSTR {metric} {:.3}, trained on real {:.3}",
                utility.target,
                plural(utility.holdout_rows_evaluated, "holdout row"),
                utility.trained_on_synthetic,
                utility.trained_on_real
            );
        }
        (None, Some(reason)) => println!("utility: not computed ({reason})"),
        (None, None) => {}
    }
    let privacy = &report.privacy;
    println!(
        "exact copies of training rows: {:.2}% of synthetic rows",
        privacy.exact_copy_rate * 100.0
    );
    if let Some(share) = privacy.share_closer_to_training {
        let expected = privacy
            .share_expected_if_independent
            .map(|expected| format!(" (expected without memorisation: {:.1}%)", expected * 100.0))
            .unwrap_or_default();
        println!(
            "closer to a training row than to a holdout row: {:.1}%{expected}",
            share * 100.0
        );
    }
}
