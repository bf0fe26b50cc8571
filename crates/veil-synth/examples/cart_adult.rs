//! Fits the `cart` model on a CSV (missing values written `?`, as in UCI
//! Adult), samples as many rows as it has and prints timings, fidelity and
//! the number of synthetic rows equal to a training row. With a second CSV
//! (a holdout from the same population) it also prints the share of
//! synthetic rows closer to the training rows than to the holdout rows.
//!
//! ```text
//! cargo run --release -p veil-synth --example cart_adult -- train.csv [holdout.csv] [seed] [options] [out.csv]
//! ```
//!
//! `options` is a JSON [`veil_synth::CartOptions`], e.g. `{"min_leaf": 10}`;
//! `out.csv` receives the synthetic rows.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use veil_synth::{
    fidelity, prepare, read_table, sample, write_csv, CartOptions, ModelSpec, PrepareOptions,
    ReadOptions, Table, TableSchema,
};

/// Synthetic rows whose distance to the closest record is measured.
const DCR_ROWS: usize = 2000;

fn read(path: &str) -> (Table, TableSchema) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {path}: {e}"));
    let options = ReadOptions {
        missing_tokens: vec!["?".into()],
        ..ReadOptions::default()
    };
    read_table(std::io::BufReader::new(file), &options)
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// Each row as its written values, for exact-copy checks.
fn text_rows(table: &Table, names: &[String]) -> Vec<Vec<String>> {
    let columns: Vec<_> = names.iter().map(|n| table.column(n).unwrap()).collect();
    (0..table.row_count())
        .map(|row| columns.iter().map(|c| c.format_value(row)).collect())
        .collect()
}

/// Rows as numbers for distances: numeric values scaled by the training
/// range, labels as codes; `NaN` when missing.
fn encode(
    table: &Table,
    names: &[String],
    ranges: &[Option<(f64, f64)>],
    codes: &mut HashMap<String, f64>,
) -> Vec<Vec<f64>> {
    let mut rows = vec![Vec::with_capacity(names.len()); table.row_count()];
    for (name, range) in names.iter().zip(ranges) {
        let column = table.column(name).unwrap();
        let values: Vec<f64> = match (column.numeric_values(), range) {
            (Some(values), Some((low, high))) => values
                .iter()
                .map(|v| v.map_or(f64::NAN, |v| (v - low) / (high - low).max(1e-12)))
                .collect(),
            _ => column
                .label_values()
                .unwrap_or_default()
                .into_iter()
                .map(|label| {
                    label.map_or(f64::NAN, |l| {
                        let next = codes.len() as f64;
                        *codes.entry(l).or_insert(next)
                    })
                })
                .collect(),
        };
        for (row, value) in rows.iter_mut().zip(values) {
            row.push(value);
        }
    }
    rows
}

fn distance(a: &[f64], b: &[f64], numeric: &[bool]) -> f64 {
    a.iter()
        .zip(b)
        .zip(numeric)
        .map(|((x, y), is_numeric)| match (x.is_nan(), y.is_nan()) {
            (true, true) => 0.0,
            (true, false) | (false, true) => 1.0,
            _ if *is_numeric => (x - y).abs().min(1.0),
            _ => f64::from(u8::from(x != y)),
        })
        .sum()
}

fn closest(row: &[f64], reference: &[Vec<f64>], numeric: &[bool]) -> f64 {
    reference
        .iter()
        .map(|other| distance(row, other, numeric))
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .expect("usage: cart_adult TRAIN.csv [HOLDOUT.csv] [SEED]");
    let seed: u64 = args.get(3).map_or(0, |s| s.parse().expect("seed"));
    let options: CartOptions = args.get(4).map_or_else(CartOptions::default, |json| {
        serde_json::from_str(json).expect("options")
    });
    let (train, schema) = read(path);
    println!(
        "rows {}, threads {}",
        train.row_count(),
        rayon::current_num_threads()
    );

    let start = Instant::now();
    let prepared = prepare(&train, &schema, &PrepareOptions::default()).unwrap();
    let model = ModelSpec::Cart(options).fit(&prepared).unwrap();
    let fit_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let synthetic = sample(&model, train.row_count(), seed).unwrap();
    let sample_seconds = start.elapsed().as_secs_f64();
    if let Some(out) = args.get(5) {
        let file = std::fs::File::create(out).unwrap_or_else(|e| panic!("create {out}: {e}"));
        write_csv(&synthetic, std::io::BufWriter::new(file)).unwrap();
    }
    println!("fit (prepare + fit) seconds {fit_seconds:.3}");
    println!("sample seconds {sample_seconds:.3}");
    if let veil_synth::AnyModel::Cart(cart) = &model {
        let nodes: usize = cart.trees.iter().map(|t| t.nodes.len()).sum();
        println!(
            "fingerprints {}, tree nodes {nodes}, model JSON bytes {}",
            cart.fingerprint_count(),
            model.to_json().unwrap().len()
        );
    }

    let report = fidelity(&train, &synthetic).unwrap();
    for column in &report.columns {
        println!(
            "  {:>16} {:?} {:.4}",
            column.name, column.metric, column.score
        );
    }
    println!("mean column score {:.4}", report.mean_column_score());
    println!(
        "correlation similarity {:.4}",
        report.correlation_similarity.unwrap_or(f64::NAN)
    );

    let names = synthetic.column_names();
    let training_rows: HashSet<Vec<String>> = text_rows(&train, &names).into_iter().collect();
    let copies = text_rows(&synthetic, &names)
        .iter()
        .filter(|row| training_rows.contains(*row))
        .count();
    println!("exact copies of training rows {copies}");

    let Some(holdout_path) = args.get(2) else {
        return;
    };
    let (holdout, _) = read(holdout_path);
    let ranges: Vec<Option<(f64, f64)>> = names
        .iter()
        .map(|name| {
            let values = train.column(name)?.numeric_values()?;
            let present = values.iter().flatten();
            let low = present.clone().fold(f64::INFINITY, |a, &b| a.min(b));
            let high = present.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            Some((low, high))
        })
        .collect();
    let numeric: Vec<bool> = ranges.iter().map(Option::is_some).collect();
    let mut codes = HashMap::new();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut train_rows = encode(&train, &names, &ranges, &mut codes);
    train_rows.shuffle(&mut rng);
    let holdout_rows = encode(&holdout, &names, &ranges, &mut codes);
    train_rows.truncate(holdout_rows.len());
    let mut synthetic_rows = encode(&synthetic, &names, &ranges, &mut codes);
    synthetic_rows.shuffle(&mut rng);
    synthetic_rows.truncate(DCR_ROWS);
    let (closer, ties): (usize, usize) = synthetic_rows
        .par_iter()
        .map(|row| {
            let to_train = closest(row, &train_rows, &numeric);
            let to_holdout = closest(row, &holdout_rows, &numeric);
            (
                usize::from(to_train < to_holdout),
                usize::from(to_train == to_holdout),
            )
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let rows = synthetic_rows.len() as f64;
    println!(
        "closer to train than holdout ({} train vs {} holdout rows, {} synthetic): strict {:.4}, ties halved {:.4}",
        train_rows.len(),
        holdout_rows.len(),
        synthetic_rows.len(),
        closer as f64 / rows,
        (closer as f64 + ties as f64 / 2.0) / rows
    );
}
