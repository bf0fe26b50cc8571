//! The Adult fixture and the fidelity check shared by the model tests.

#![allow(dead_code)]

use veil_synth::{
    fidelity, prepare, read_table, AnyModel, FidelityReport, ModelSpec, PrepareOptions,
    ReadOptions, Table,
};

/// The first 2,000 rows of the UCI Adult training table.
pub const ADULT: &str = include_str!("../data/adult_train_2000.csv");

/// How Adult is read: `?` marks a missing value.
pub fn adult_options() -> ReadOptions {
    ReadOptions {
        missing_tokens: vec!["?".into()],
        ..ReadOptions::default()
    }
}

/// The fixture as a table, and `spec` fitted on it (rare values suppressed, k = 10).
pub fn fit_adult(spec: ModelSpec) -> (Table, AnyModel) {
    let (table, schema) = read_table(ADULT.as_bytes(), &adult_options()).unwrap();
    let prepared = prepare(&table, &schema, &PrepareOptions::default()).unwrap();
    let model = spec.fit(&prepared).unwrap();
    (table, model)
}

/// Scores `synthetic` against `real`, prints every column's score, and checks all 15 columns are
/// there with a mean column score of at least `min_mean` and a correlation similarity of at least
/// `min_correlation`.
pub fn assert_close(
    real: &Table,
    synthetic: &Table,
    min_mean: f64,
    min_correlation: f64,
) -> FidelityReport {
    let report = fidelity(real, synthetic).unwrap();
    for column in &report.columns {
        eprintln!(
            "{:>16} {:?} {:.3}",
            column.name, column.metric, column.score
        );
    }
    let correlation = report.correlation_similarity.unwrap();
    let mean = report.mean_column_score();
    eprintln!("mean column score {mean:.4}, correlation similarity {correlation:.4}");
    assert_eq!(report.columns.len(), 15);
    assert!(mean >= min_mean, "{mean}");
    assert!(correlation >= min_correlation, "{correlation}");
    report
}
