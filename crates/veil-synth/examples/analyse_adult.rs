//! Analyses a synthetic Adult table against the real training table and a
//! real holdout, writing the HTML report and its JSON beside it.
//!
//! ```text
//! cargo run --release -p veil-synth --example analyse_adult -- \
//!     TRAIN.csv SYNTHETIC.csv HOLDOUT.csv REPORT.html [PRIVACY_ROWS]
//! ```
//!
//! `PRIVACY_ROWS` caps the synthetic rows searched for closest records
//! (default 5,000).
//!
//! If `SYNTHETIC.csv` does not exist, a Gaussian copula is fitted on the
//! training table (k = 10) and as many rows as it has are sampled (seed
//! 2026) into that file first. `?` is read as missing, as in Adult.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;
use std::time::Instant;

use veil_synth::{
    analyse, prepare, read_table, render_html, sample_to_csv, AnalyseOptions, ModelSpec,
    PrepareOptions, ReadOptions, Table,
};

type Failure = Box<dyn std::error::Error>;

fn read(path: &str) -> Result<Table, Failure> {
    let options = ReadOptions {
        missing_tokens: vec!["?".into()],
        ..ReadOptions::default()
    };
    let file = File::open(path).map_err(|e| format!("{path}: {e}"))?;
    Ok(read_table(BufReader::new(file), &options)?.0)
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some([train, synthetic, holdout, output]), extra) = (args.get(..4), args.get(4..)) else {
        return Err(
            "usage: analyse_adult TRAIN.csv SYNTHETIC.csv HOLDOUT.csv REPORT.html [PRIVACY_ROWS]"
                .into(),
        );
    };
    let mut options = AnalyseOptions::default();
    if let Some(rows) = extra.and_then(|extra| extra.first()) {
        options.max_rows_for_privacy = rows.parse()?;
    }
    let start = Instant::now();
    let real = read(train)?;
    if !Path::new(synthetic).exists() {
        let options = ReadOptions {
            missing_tokens: vec!["?".into()],
            ..ReadOptions::default()
        };
        let (table, schema) = read_table(BufReader::new(File::open(train)?), &options)?;
        let prepared = prepare(&table, &schema, &PrepareOptions::default())?;
        let model = ModelSpec::GaussianCopula(Default::default()).fit(&prepared)?;
        let writer = BufWriter::new(File::create(synthetic)?);
        sample_to_csv(&model, table.row_count(), 2026, writer)?;
        eprintln!(
            "fitted a Gaussian copula and wrote {} rows to {synthetic}",
            table.row_count()
        );
    }
    let synthetic_table = read(synthetic)?;
    let holdout_table = read(holdout)?;
    eprintln!("read the tables in {:.2?}", start.elapsed());

    let started = Instant::now();
    let report = analyse(&real, &synthetic_table, Some(&holdout_table), &options)?;
    let analysed = started.elapsed();
    let html = render_html(&report);
    std::fs::write(output, &html)?;
    let json_path = Path::new(output).with_extension("json");
    std::fs::write(&json_path, report.to_json()?)?;
    eprintln!(
        "analysed in {analysed:.2?}; wrote {output} ({} bytes) and {}",
        html.len(),
        json_path.display()
    );

    let quality = &report.quality;
    println!(
        "quality: overall {:.4}, column shapes {:.4}, pair trends {:.4}, histogram intersection {:.4}",
        quality.overall,
        quality.column_shapes,
        quality.column_pair_trends.unwrap_or(f64::NAN),
        quality.histogram_intersection
    );
    match &report.utility {
        Some(u) => println!(
            "utility ({:?}, target {}): trained on real {:.4}, on synthetic {:.4}, ratio {:.4}, {} holdout rows",
            u.metric,
            u.target,
            u.trained_on_real,
            u.trained_on_synthetic,
            u.ratio.unwrap_or(f64::NAN),
            u.holdout_rows_evaluated
        ),
        None => println!("utility: {}", report.utility_skipped.as_deref().unwrap_or("")),
    }
    let p = &report.privacy;
    println!(
        "privacy: {} rows searched; DCR training p5 {:.4} median {:.4}; DCR holdout p5 {:.4} median {:.4}",
        p.synthetic_rows_searched,
        p.dcr_training.p5,
        p.dcr_training.median,
        p.dcr_holdout.as_ref().map_or(f64::NAN, |d| d.p5),
        p.dcr_holdout.as_ref().map_or(f64::NAN, |d| d.median),
    );
    println!(
        "privacy: closer to training {:.4} (expected {:.4}); exact copies of training {:.4}, of holdout {:.4}",
        p.share_closer_to_training.unwrap_or(f64::NAN),
        p.share_expected_if_independent.unwrap_or(f64::NAN),
        p.exact_copy_rate,
        p.holdout_exact_copy_rate.unwrap_or(f64::NAN),
    );
    Ok(())
}
