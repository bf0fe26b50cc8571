//! Fits the `bayes-net` model on a CSV (e.g. the UCI Adult training table)
//! at ε ∈ {0.1, 1, 10, ∞}, samples as many rows as the input has and prints
//! per ε the fit and sample times, the mean column score and the
//! correlation similarity of [`veil_synth::fidelity`] and, given a held-out
//! test table, the ROC AUC on it of a logistic regression predicting
//! `income = >50K` trained on the synthetic rows (and, as a baseline, on
//! the real ones).
//!
//! ```text
//! cargo run --release -p veil-synth --example bayes_adult -- \
//!     adult_train.csv [--test adult_test.csv] [--seeds 5]
//! ```
//!
//! `?` is read as missing, as in Adult. Every ε is fitted and sampled with
//! seeds `0..seeds` (default 1); the table shows means over seeds.

mod efficacy;

use std::time::Instant;

use veil_synth::{
    fidelity, prepare, read_table, sample, BayesNetModel, BayesNetOptions, PrepareOptions,
    ReadOptions, SynthModel, Table,
};

const TARGET: &str = "income";
const POSITIVE: &str = ">50K";

fn read(path: &str) -> Result<(Table, veil_synth::TableSchema), Box<dyn std::error::Error>> {
    let options = ReadOptions {
        missing_tokens: vec!["?".into()],
        ..ReadOptions::default()
    };
    Ok(read_table(std::fs::File::open(path)?, &options)?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: bayes_adult <train.csv> [--test <test.csv>] [--seeds <n>]";
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let path = arguments.first().ok_or(usage)?;
    let mut test_path = None;
    let mut seeds: u64 = 1;
    let mut rest = arguments[1..].iter();
    while let Some(flag) = rest.next() {
        match flag.as_str() {
            "--test" => test_path = Some(rest.next().ok_or(usage)?.clone()),
            "--seeds" => seeds = rest.next().ok_or(usage)?.parse()?,
            _ => return Err(usage.into()),
        }
    }
    let (table, schema) = read(path)?;
    let test = test_path.as_deref().map(read).transpose()?.map(|(t, _)| t);
    let prepared = prepare(&table, &schema, &PrepareOptions::default())?;
    let rows = table.row_count();
    println!(
        "{path}: {rows} rows, {} columns, {seeds} seed(s), {} threads",
        prepared.table().columns().len(),
        rayon::current_num_threads()
    );
    if let Some(test) = &test {
        let real_auc = efficacy::efficacy(&table, test, TARGET, POSITIVE);
        println!("AUC of the regression trained on the real rows: {real_auc:.4}");
    }
    println!("| ε | fit s | sample s | mean column score | correlation similarity | AUC |");
    println!("|---|---|---|---|---|---|");
    for epsilon in [Some(0.1), Some(1.0), Some(10.0), None] {
        let mut totals = [0.0; 5];
        for seed in 0..seeds.max(1) {
            let options = BayesNetOptions {
                epsilon,
                seed,
                ..BayesNetOptions::default()
            };
            let start = Instant::now();
            let model = BayesNetModel::fit(&prepared, &options)?;
            totals[0] += start.elapsed().as_secs_f64();
            let start = Instant::now();
            let synthetic = sample(&model, rows, seed + 1000)?;
            totals[1] += start.elapsed().as_secs_f64();
            let report = fidelity(&table, &synthetic)?;
            totals[2] += report.mean_column_score();
            totals[3] += report.correlation_similarity.unwrap_or(f64::NAN);
            if let Some(test) = &test {
                totals[4] += efficacy::efficacy(&synthetic, test, TARGET, POSITIVE);
            }
        }
        let [fit, draw, column, correlation, auc] = totals.map(|t| t / seeds.max(1) as f64);
        let label = epsilon.map_or("∞".to_string(), |e| e.to_string());
        let auc = if test.is_some() {
            format!("{auc:.4}")
        } else {
            "–".into()
        };
        println!("| {label} | {fit:.2} | {draw:.2} | {column:.4} | {correlation:.4} | {auc} |");
    }
    Ok(())
}
