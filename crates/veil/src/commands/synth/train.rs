//! `veil synth train`: private CSV → fitted model, sealed with the root key.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use serde_json::json;
use veil_seal::write_sealed_file;
use veil_synth::{
    prepare, type_raw_table, AnyModel, BayesNetOptions, CartOptions, ColumnKind, ColumnOverride,
    Exclusion, ModelSpec, PrepareOptions, ReadOptions, DEFAULT_MIN_ROWS,
};

use super::remote::{save, Hub, PlaceArgs, RemoteArgs};
use super::{
    check_distinct, check_output_directory, plural, read_csv_file, seal_error_in,
    synth_input_error, KeyArgs, MODEL_CONTEXT,
};
use crate::UsageError;

/// The ε of a bayes-net model when `--epsilon` is not given.
const DEFAULT_EPSILON: f64 = 1.0;

/// Arguments of `veil synth train`.
#[derive(Debug, Args)]
#[command(after_help = "\
Before fitting, identifier-like columns (names such as `id` or `…_id`, or nearly all values \
distinct) are left out, and every categorical value found in fewer than --min-rows rows is \
generalised (into an `other` bucket, or the most frequent value); numeric extremes are bounded \
by the k-th smallest and largest values. The summary gives counts only, never values.

Models:
  gaussian-copula  marginals plus a Gaussian copula: fast, smooth, no training row stored
  cart             one decision tree per column (synthpop-style): highest fidelity; never emits \
a row equal to a training row
  bayes-net        Bayesian network fitted with ε-differential privacy (--epsilon, default 1; \
`inf` for no noise)

The model is always sealed (AES-256-GCM) with the root key; create one with \
`veil keygen -o ROOT.key`.

With --server URL the model is fitted as a `synth.train` job in the secure environment \
--environment, on the file DATA.csv of its source --source (the CLI never reads it); the job's \
sealed model is then downloaded to MODEL. Its job id is what `veil synth generate --server` \
takes.")]
pub struct TrainArgs {
    /// The private CSV, with a header row (with --server: its path in the source).
    #[arg(value_name = "DATA.csv")]
    pub input: PathBuf,
    /// Which model to fit.
    #[arg(long, value_enum)]
    pub model: ModelArg,
    /// Privacy budget ε of a bayes-net model (default 1; `inf` for no noise). Only for bayes-net.
    #[arg(long, value_name = "E", value_parser = parse_epsilon)]
    pub epsilon: Option<Epsilon>,
    /// Seed of the fit's randomness: the same data, options and seed give the same model.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// k: a value found in fewer than K rows is never released.
    #[arg(long, value_name = "K", default_value_t = DEFAULT_MIN_ROWS, value_parser = parse_min_rows)]
    pub min_rows: usize,
    /// Override a column's treatment: NAME=KIND, KIND one of integer, float, categorical,
    /// boolean, datetime, exclude (leave it out) or include (model it even if it looks like an
    /// identifier). Repeatable.
    #[arg(long = "column", value_name = "NAME=KIND", value_parser = parse_column_override)]
    pub columns: Vec<ColumnOverride>,
    /// Where to write the sealed model.
    #[arg(short = 'o', long = "output", value_name = "MODEL")]
    pub output: PathBuf,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub place: PlaceArgs,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// The models `--model` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    /// Gaussian copula.
    GaussianCopula,
    /// Bayesian network with ε-differential privacy.
    BayesNet,
    /// Sequential decision trees.
    Cart,
}

/// A privacy budget: finite and positive, or infinite (no noise).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Epsilon(Option<f64>);

/// Parses `--epsilon`: a positive number, or `inf`.
fn parse_epsilon(text: &str) -> Result<Epsilon, String> {
    let text = text.trim();
    if ["inf", "infinity"].contains(&text.to_ascii_lowercase().as_str()) {
        return Ok(Epsilon(None));
    }
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => Ok(Epsilon(Some(value))),
        Ok(_) => Err("must be a positive number, or `inf` for no noise".into()),
        Err(_) => Err("not a number (give a positive number, or `inf` for no noise)".into()),
    }
}

/// Parses `--min-rows`: at least 1.
fn parse_min_rows(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(value) => Ok(value),
        Err(error) => Err(error.to_string()),
    }
}

/// Parses `--column NAME=KIND`.
fn parse_column_override(text: &str) -> Result<ColumnOverride, String> {
    let Some((name, kind)) = text.rsplit_once('=') else {
        return Err(format!("expected NAME=KIND, got {text:?}"));
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("no column name before `=` in {text:?}"));
    }
    let (kind, exclude) = match kind.trim().to_ascii_lowercase().as_str() {
        "integer" => (Some(ColumnKind::Integer), false),
        "float" => (Some(ColumnKind::Float), false),
        "categorical" => (Some(ColumnKind::Categorical), false),
        "boolean" => (Some(ColumnKind::Boolean), false),
        "datetime" => (Some(ColumnKind::Datetime), false),
        "exclude" => (None, true),
        "include" => (None, false),
        _ => {
            return Err(format!(
                "unknown column kind {kind:?} for column {name:?} (expected integer, float, \
                 categorical, boolean, datetime, exclude or include)"
            ))
        }
    };
    Ok(ColumnOverride {
        name: name.to_string(),
        kind,
        exclude,
    })
}

/// The model spec for the arguments; `--epsilon` with another model than bayes-net is a usage
/// error.
fn model_spec(args: &TrainArgs) -> anyhow::Result<ModelSpec> {
    if args.epsilon.is_some() && args.model != ModelArg::BayesNet {
        return Err(UsageError(format!(
            "--epsilon applies only to --model bayes-net, not {}",
            model_name(args.model)
        ))
        .into());
    }
    Ok(match args.model {
        ModelArg::GaussianCopula => ModelSpec::GaussianCopula(Default::default()),
        ModelArg::Cart => ModelSpec::Cart(CartOptions {
            seed: args.seed,
            ..CartOptions::default()
        }),
        ModelArg::BayesNet => ModelSpec::BayesNet(BayesNetOptions {
            epsilon: args
                .epsilon
                .map_or(Some(DEFAULT_EPSILON), |epsilon| epsilon.0),
            seed: args.seed,
            ..BayesNetOptions::default()
        }),
    })
}

/// The model's name as `--model` spells it.
fn model_name(model: ModelArg) -> &'static str {
    match model {
        ModelArg::GaussianCopula => "gaussian-copula",
        ModelArg::BayesNet => "bayes-net",
        ModelArg::Cart => "cart",
    }
}

/// Runs `veil synth train`.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    args.place.check_local()?;
    let ring = args.key.ring()?;
    let spec = model_spec(&args)?;
    check_output_directory(&args.output)?;
    check_distinct(&args.output, &[&args.input])?;
    let input = &args.input;
    let raw = read_csv_file(input)?;
    let read_options = ReadOptions {
        overrides: args.columns.clone(),
        ..ReadOptions::default()
    };
    let (table, schema) =
        type_raw_table(raw, &read_options).map_err(|error| synth_input_error(input, error))?;
    let prepare_options = PrepareOptions {
        min_rows: args.min_rows,
        ..PrepareOptions::default()
    };
    let prepared = prepare(&table, &schema, &prepare_options)
        .map_err(|error| synth_input_error(input, error))?;
    let started = Instant::now();
    let model = spec
        .fit(&prepared)
        .map_err(|error| synth_input_error(input, error))?;
    let fit_time = started.elapsed();
    let json = zeroize::Zeroizing::new(model.to_json()?);
    write_sealed_file(&args.output, json.as_bytes(), &ring, MODEL_CONTEXT)
        .map_err(|error| seal_error_in(&args.output, error))?;

    let excluded: Vec<String> = schema
        .columns
        .iter()
        .filter_map(|column| {
            let reason = match column.excluded.as_ref()? {
                Exclusion::IdentifierName => "identifier name".to_string(),
                Exclusion::DistinctValues { ratio } => {
                    format!("{:.0}% distinct values", ratio * 100.0)
                }
                Exclusion::Override => "--column exclude".to_string(),
            };
            Some(format!("{} ({reason})", column.name))
        })
        .collect();
    let suppression = prepared.report();
    let values: usize = suppression
        .columns
        .iter()
        .map(|c| c.suppressed_values)
        .sum();
    let rows: usize = suppression.columns.iter().map(|c| c.suppressed_rows).sum();
    let columns_touched = suppression
        .columns
        .iter()
        .filter(|c| c.suppressed_values > 0)
        .count();
    eprintln!(
        "read {} of {}: {} modelled, {} excluded{}",
        plural(table.row_count(), "row"),
        input.display(),
        plural(prepared.table().columns().len(), "column"),
        excluded.len(),
        if excluded.is_empty() {
            String::new()
        } else {
            format!(": {}", excluded.join(", "))
        }
    );
    eprintln!(
        "rare values (fewer than {} rows): {} suppressed in {} of {} categorical or boolean \
         columns, replacing {}",
        args.min_rows,
        plural(values, "value"),
        columns_touched,
        suppression.columns.len(),
        plural(rows, "cell")
    );
    eprintln!(
        "fitted {} in {:.2} s{}",
        model_name(args.model),
        fit_time.as_secs_f64(),
        privacy_note(&model)
    );
    eprintln!(
        "wrote {} sealed with root key {}",
        args.output.display(),
        ring.primary().id()
    );
    Ok(())
}

/// Runs `veil synth train --server`: submits `synth.train`, follows it and saves the sealed
/// model. With a local key ring the model must open with it before it is saved; without one it
/// is saved as it is, sealed under the environment's root key.
pub async fn run_remote(args: TrainArgs) -> anyhow::Result<()> {
    let server = args.remote.server.as_deref().unwrap_or_default();
    let (environment, source) = args.place.required()?;
    model_spec(&args)?;
    let epsilon = match (args.model, args.epsilon) {
        (ModelArg::BayesNet, Some(Epsilon(None))) => {
            return Err(
                UsageError("--epsilon inf: a hub job needs a finite privacy budget".into()).into(),
            )
        }
        (ModelArg::BayesNet, epsilon) => Some(epsilon.and_then(|e| e.0).unwrap_or(DEFAULT_EPSILON)),
        _ => None,
    };
    let path = args.input.to_str().ok_or_else(|| {
        UsageError(format!(
            "{}: the path in the source is not UTF-8",
            args.input.display()
        ))
    })?;
    let ring = if args.key.configured() {
        Some(args.key.ring()?)
    } else {
        None
    };
    check_output_directory(&args.output)?;
    let mut params = json!({
        "environment": environment,
        "source": source,
        "path": path,
        "model": model_name(args.model),
        "min_rows": args.min_rows,
        "columns": args.columns,
    });
    if let Some(epsilon) = epsilon {
        params["epsilon"] = json!(epsilon);
    }
    if args.model != ModelArg::GaussianCopula {
        params["seed"] = json!(args.seed);
    }
    let hub = Hub::connect(server, &args.remote)?;
    let (id, model) = hub.run("synth.train", params).await?;
    let sealed_with = match &ring {
        Some(ring) => {
            let opened = veil_seal::open(&model, ring, MODEL_CONTEXT).map_err(|error| {
                UsageError(format!(
                    "the model of job {id} does not open with the local root key ring: {error}; \
                     it stays on the hub (give {id} to `veil synth generate --server`)"
                ))
            })?;
            drop(zeroize::Zeroizing::new(opened));
            "sealed; it opens with the local root key ring".to_string()
        }
        None => "sealed under the environment's root key (no local root key to check it)".into(),
    };
    save(&args.output, &model)?;
    eprintln!(
        "wrote {} from job {id}, {sealed_with}",
        args.output.display()
    );
    Ok(())
}

/// The ε a bayes-net model spent, for the summary.
fn privacy_note(model: &AnyModel) -> String {
    let AnyModel::BayesNet(model) = model else {
        return String::new();
    };
    let account = &model.privacy;
    let Some(total) = account.epsilon_total else {
        return ", ε = ∞ (no noise)".to_string();
    };
    let show = |value: Option<f64>| {
        let text = format!("{:.4}", value.unwrap_or(0.0));
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    format!(
        ", ε = {} (bins {}, structure {}, parameters {})",
        show(Some(total)),
        show(account.epsilon_bins),
        show(account.epsilon_structure),
        show(account.epsilon_parameters)
    )
}
