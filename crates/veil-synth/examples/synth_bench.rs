//! One timed run of a Veil synthesiser for `scripts/bench-synth.sh`: reads a
//! CSV (`?` is missing, as in UCI Adult), prepares it (k = 10), fits the
//! chosen model, samples as many rows as the table has, writes them to
//! `OUT_DIR/<name>.csv` and prints one JSON line with the timings.
//!
//! ```text
//! cargo run --release -p veil-synth --example synth_bench -- \
//!     TRAIN.csv OUT_DIR --model gaussian-copula|cart|bayes-net [--epsilon E|inf] [--seed S]
//! ```
//!
//! `<name>` is the model, with `-eps<E>` appended for `bayes-net` (e.g.
//! `bayes-net-eps1`, `bayes-net-epsinf`). `--epsilon` (default 1) is used by
//! `bayes-net` only. The timings are split so that a comparison can choose
//! what to count: `read_prepare_seconds` (CSV parsing, type inference and
//! rare-value suppression), `fit_seconds`, `sample_seconds` (rows drawn into
//! memory) and `write_seconds` (the CSV written).

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::time::Instant;

use veil_synth::{
    prepare, read_table, sample, write_csv, BayesNetOptions, ModelSpec, PrepareOptions, ReadOptions,
};

type Failure = Box<dyn std::error::Error>;

const USAGE: &str = "usage: synth_bench TRAIN.csv OUT_DIR --model gaussian-copula|cart|bayes-net \
                     [--epsilon E|inf] [--seed S]";

/// The parsed command line.
struct Arguments {
    train_path: String,
    out_dir: PathBuf,
    model: String,
    /// `None` is ε = ∞.
    epsilon: Option<f64>,
    seed: u64,
}

fn parse_arguments() -> Result<Arguments, Failure> {
    let mut positional = Vec::new();
    let mut model = None;
    let mut epsilon = Some(1.0);
    let mut seed = 0;
    let mut rest = std::env::args().skip(1);
    while let Some(argument) = rest.next() {
        match argument.as_str() {
            "--model" => model = Some(rest.next().ok_or(USAGE)?),
            "--epsilon" => {
                let value = rest.next().ok_or(USAGE)?;
                epsilon = match value.as_str() {
                    "inf" | "infinity" | "∞" => None,
                    number => Some(
                        number
                            .parse()
                            .map_err(|e| format!("--epsilon {value}: {e}"))?,
                    ),
                };
            }
            "--seed" => {
                let value = rest.next().ok_or(USAGE)?;
                seed = value.parse().map_err(|e| format!("--seed {value}: {e}"))?;
            }
            flag if flag.starts_with("--") => {
                return Err(format!("unknown flag {flag}\n{USAGE}").into())
            }
            _ => positional.push(argument),
        }
    }
    let [train_path, out_dir] = <[String; 2]>::try_from(positional).map_err(|_| USAGE)?;
    Ok(Arguments {
        train_path,
        out_dir: PathBuf::from(out_dir),
        model: model.ok_or(USAGE)?,
        epsilon,
        seed,
    })
}

fn epsilon_label(epsilon: Option<f64>) -> String {
    epsilon.map_or_else(|| "inf".to_string(), |e| e.to_string())
}

fn main() -> Result<(), Failure> {
    let arguments = parse_arguments()?;
    let (spec, name) = match arguments.model.as_str() {
        "gaussian-copula" => (
            ModelSpec::GaussianCopula(Default::default()),
            arguments.model.clone(),
        ),
        "cart" => (ModelSpec::Cart(Default::default()), arguments.model.clone()),
        "bayes-net" => (
            ModelSpec::BayesNet(BayesNetOptions {
                epsilon: arguments.epsilon,
                seed: arguments.seed,
                ..BayesNetOptions::default()
            }),
            format!("bayes-net-eps{}", epsilon_label(arguments.epsilon)),
        ),
        other => return Err(format!("unknown model {other}\n{USAGE}").into()),
    };

    let start = Instant::now();
    let read_options = ReadOptions {
        missing_tokens: vec!["?".into()],
        ..ReadOptions::default()
    };
    let file = File::open(&arguments.train_path)
        .map_err(|e| format!("open {}: {e}", arguments.train_path))?;
    let (table, schema) = read_table(BufReader::new(file), &read_options)
        .map_err(|e| format!("read {}: {e}", arguments.train_path))?;
    let prepared = prepare(&table, &schema, &PrepareOptions::default())?;
    let read_prepare_seconds = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let model = spec.fit(&prepared)?;
    let fit_seconds = start.elapsed().as_secs_f64();

    let rows = table.row_count();
    let start = Instant::now();
    let synthetic = sample(&model, rows, arguments.seed)?;
    let sample_seconds = start.elapsed().as_secs_f64();

    let start = Instant::now();
    std::fs::create_dir_all(&arguments.out_dir)
        .map_err(|e| format!("create {}: {e}", arguments.out_dir.display()))?;
    let out_path = arguments.out_dir.join(format!("{name}.csv"));
    let out_file =
        File::create(&out_path).map_err(|e| format!("create {}: {e}", out_path.display()))?;
    write_csv(&synthetic, BufWriter::new(out_file))?;
    let write_seconds = start.elapsed().as_secs_f64();

    let line = serde_json::json!({
        "model": arguments.model,
        "name": name,
        "epsilon": match arguments.model.as_str() {
            "bayes-net" => serde_json::Value::String(epsilon_label(arguments.epsilon)),
            _ => serde_json::Value::Null,
        },
        "seed": arguments.seed,
        "threads": rayon::current_num_threads(),
        "read_prepare_seconds": read_prepare_seconds,
        "fit_seconds": fit_seconds,
        "sample_seconds": sample_seconds,
        "write_seconds": write_seconds,
        "rows": synthetic.row_count(),
        "output": out_path.display().to_string(),
    });
    println!("{line}");
    Ok(())
}
