//! The parameters of the synth job kinds. The hub checks them when it plans the job and the process
//! that runs the task reads them again; they hold names, paths, settings and references (job ids,
//! object keys), never data.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use veil_domain::JobId;
use veil_service::job_result_key;
use veil_synth::{
    AnalyseOptions, BayesNetOptions, CartOptions, ColumnOverride, ModelSpec, PrepareOptions,
    ReadOptions,
};

/// The most rows one `synth.generate` job may ask for.
pub const MAX_GENERATED_ROWS: u64 = 1_000_000_000;

/// `synth.train`: which private table, which model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainParams {
    /// The secure environment holding the table.
    pub environment: String,
    /// The private source there.
    pub source: String,
    /// The CSV's path in the source.
    pub path: String,
    /// `gaussian-copula`, `cart` or `bayes-net`.
    pub model: String,
    /// The privacy budget of `bayes-net` (its default when absent).
    pub epsilon: Option<f64>,
    /// The fitting seed of `cart` and `bayes-net`.
    pub seed: Option<u64>,
    /// `k`: values in fewer rows are suppressed before fitting.
    pub min_rows: Option<usize>,
    /// Per-column kind and exclusion decisions.
    #[serde(default)]
    pub columns: Vec<ColumnOverride>,
    /// Cell texts read as missing besides the empty one.
    #[serde(default)]
    pub missing_tokens: Vec<String>,
}

/// `synth.generate`: which model, how many rows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateParams {
    /// Where to run; absent, the hub's own workers run it.
    pub environment: Option<String>,
    /// The `synth.train` job whose result is the model.
    pub model_job: Option<String>,
    /// Or the model's object key.
    pub model_key: Option<String>,
    /// How many rows.
    pub rows: u64,
    /// The sampling seed; by default one derived from the job's id.
    pub seed: Option<u64>,
    /// The result's format: `csv` (the default) or `parquet`.
    #[serde(default)]
    pub format: OutputFormat,
}

/// The format of a `synth.generate` job's result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// CSV with a header row.
    #[default]
    Csv,
    /// Parquet with typed columns (see [`veil_synth::arrow_field`]).
    Parquet,
}

impl OutputFormat {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Csv => "csv",
            OutputFormat::Parquet => "parquet",
        }
    }
}

/// `synth.analyse`: the private table, the synthetic table and an optional holdout.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyseParams {
    /// The secure environment holding the tables.
    pub environment: String,
    /// The private source there.
    pub source: String,
    /// The training table's path in the source.
    pub path: String,
    /// The `synth.generate` job whose result is the synthetic CSV.
    pub synthetic_job: Option<String>,
    /// Or the synthetic CSV's object key.
    pub synthetic_key: Option<String>,
    /// A holdout table's path in the same source (for utility and privacy against unseen rows).
    pub holdout: Option<String>,
    /// The column the utility classifier predicts.
    pub target: Option<String>,
    /// `k` of the report: smaller groups are not shown.
    pub min_rows: Option<usize>,
    /// The seed of the privacy sample.
    pub seed: Option<u64>,
    /// Per-column kind decisions for reading the private tables.
    #[serde(default)]
    pub columns: Vec<ColumnOverride>,
    /// Cell texts read as missing besides the empty one.
    #[serde(default)]
    pub missing_tokens: Vec<String>,
}

fn parse<T: DeserializeOwned>(params: &Value) -> Result<T, String> {
    serde_json::from_value(params.clone()).map_err(|err| format!("params: {err}"))
}

fn non_empty(name: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("params.{name} must be a non-empty string"));
    }
    Ok(())
}

/// The object key of a reference given as a job id or as a key (exactly one of them).
fn reference(
    job: Option<&str>,
    key: Option<&str>,
    job_name: &str,
    key_name: &str,
) -> Result<String, String> {
    match (job, key) {
        (Some(job), None) => job
            .parse::<JobId>()
            .map(job_result_key)
            .map_err(|err| format!("params.{job_name}: {err}")),
        (None, Some(key)) => veil_blob::validate_key(key)
            .map(|()| key.to_string())
            .map_err(|err| format!("params.{key_name}: {err}")),
        _ => Err(format!(
            "give exactly one of params.{job_name} and params.{key_name}"
        )),
    }
}

fn min_rows(value: Option<usize>) -> Result<(), String> {
    if value == Some(0) {
        return Err("params.min_rows must be at least 1".into());
    }
    Ok(())
}

impl TrainParams {
    /// Reads and checks the parameters.
    pub fn parse(params: &Value) -> Result<Self, String> {
        let parsed: Self = parse(params)?;
        non_empty("environment", &parsed.environment)?;
        non_empty("source", &parsed.source)?;
        non_empty("path", &parsed.path)?;
        min_rows(parsed.min_rows)?;
        parsed.spec()?;
        Ok(parsed)
    }

    /// The model to fit, with its options.
    pub fn spec(&self) -> Result<ModelSpec, String> {
        if !["gaussian-copula", "cart", "bayes-net"].contains(&self.model.as_str()) {
            return Err(format!(
                "params.model: unknown model {:?} (gaussian-copula, cart or bayes-net)",
                self.model
            ));
        }
        if let Some(epsilon) = self.epsilon {
            if self.model != "bayes-net" {
                return Err("params.epsilon applies to model bayes-net only".into());
            }
            if !(epsilon.is_finite() && epsilon > 0.0) {
                return Err("params.epsilon must be a positive number".into());
            }
        }
        match self.model.as_str() {
            "gaussian-copula" if self.seed.is_some() => {
                Err("params.seed: gaussian-copula fits without randomness".into())
            }
            "gaussian-copula" => Ok(ModelSpec::GaussianCopula(Default::default())),
            "cart" => {
                let defaults = CartOptions::default();
                Ok(ModelSpec::Cart(CartOptions {
                    seed: self.seed.unwrap_or(defaults.seed),
                    ..defaults
                }))
            }
            "bayes-net" => {
                let defaults = BayesNetOptions::default();
                Ok(ModelSpec::BayesNet(BayesNetOptions {
                    epsilon: self.epsilon.or(defaults.epsilon),
                    seed: self.seed.unwrap_or(defaults.seed),
                    ..defaults
                }))
            }
            _ => Err("params.model: unknown model".into()),
        }
    }

    /// How to read the table.
    pub fn read_options(&self) -> ReadOptions {
        read_options(&self.columns, &self.missing_tokens)
    }

    /// How to prepare it.
    pub fn prepare_options(&self) -> PrepareOptions {
        let defaults = PrepareOptions::default();
        PrepareOptions {
            min_rows: self.min_rows.unwrap_or(defaults.min_rows),
            ..defaults
        }
    }
}

fn read_options(columns: &[ColumnOverride], missing_tokens: &[String]) -> ReadOptions {
    ReadOptions {
        overrides: columns.to_vec(),
        missing_tokens: missing_tokens.to_vec(),
        ..ReadOptions::default()
    }
}

impl GenerateParams {
    /// Reads and checks the parameters.
    pub fn parse(params: &Value) -> Result<Self, String> {
        let parsed: Self = parse(params)?;
        if let Some(environment) = &parsed.environment {
            non_empty("environment", environment)?;
        }
        if parsed.rows == 0 || parsed.rows > MAX_GENERATED_ROWS {
            return Err(format!(
                "params.rows must be from 1 to {MAX_GENERATED_ROWS}"
            ));
        }
        parsed.model_key()?;
        Ok(parsed)
    }

    /// The sealed model's object key.
    pub fn model_key(&self) -> Result<String, String> {
        reference(
            self.model_job.as_deref(),
            self.model_key.as_deref(),
            "model_job",
            "model_key",
        )
    }

    /// The seed: the given one, else one fixed by the job (so a retried task draws the same rows).
    pub fn seed(&self, job: JobId) -> u64 {
        self.seed.unwrap_or(job.0.as_u128() as u64)
    }
}

impl AnalyseParams {
    /// Reads and checks the parameters.
    pub fn parse(params: &Value) -> Result<Self, String> {
        let parsed: Self = parse(params)?;
        non_empty("environment", &parsed.environment)?;
        non_empty("source", &parsed.source)?;
        non_empty("path", &parsed.path)?;
        if let Some(holdout) = &parsed.holdout {
            non_empty("holdout", holdout)?;
        }
        min_rows(parsed.min_rows)?;
        parsed.synthetic_key()?;
        Ok(parsed)
    }

    /// The synthetic CSV's object key.
    pub fn synthetic_key(&self) -> Result<String, String> {
        reference(
            self.synthetic_job.as_deref(),
            self.synthetic_key.as_deref(),
            "synthetic_job",
            "synthetic_key",
        )
    }

    /// How to read the private tables.
    pub fn read_options(&self) -> ReadOptions {
        read_options(&self.columns, &self.missing_tokens)
    }

    /// The report's options.
    pub fn analyse_options(&self) -> AnalyseOptions {
        let defaults = AnalyseOptions::default();
        AnalyseOptions {
            min_rows: self.min_rows.unwrap_or(defaults.min_rows),
            target_column: self.target.clone(),
            seed: self.seed.unwrap_or(defaults.seed),
            ..defaults
        }
    }
}
