//! End-to-end tests on the first 2,000 rows of the UCI Adult training table
//! (`data/adult_train_2000.csv`): inference, rare-value suppression,
//! deterministic sampling, fidelity and error reporting.

use std::collections::HashMap;

use veil_synth::{
    fidelity, prepare, read_table, sample, sample_to_csv, write_csv, AnyModel, ColumnKind,
    ColumnOverride, ModelSpec, PrepareOptions, PreparedTable, RareDestination, ReadOptions,
    SynthError, Table, TableSchema,
};

mod common;

use common::{adult_options, assert_close, ADULT};

/// The column types of the Adult table (SDV metadata shipped with the data):
/// 6 numerical, 9 categorical.
const NUMERICAL: [&str; 6] = [
    "age",
    "fnlwgt",
    "education_num",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
];

fn read_adult() -> (Table, TableSchema) {
    read_table(ADULT.as_bytes(), &adult_options()).unwrap()
}

fn prepared_adult() -> (Table, PreparedTable) {
    let (table, schema) = read_adult();
    let prepared = prepare(&table, &schema, &PrepareOptions::default()).unwrap();
    (table, prepared)
}

fn fitted_adult() -> (Table, AnyModel) {
    let (table, prepared) = prepared_adult();
    let model = ModelSpec::GaussianCopula(Default::default())
        .fit(&prepared)
        .unwrap();
    (table, model)
}

#[test]
fn inference_gives_six_numerical_and_nine_categorical_columns() {
    let (table, schema) = read_adult();
    assert_eq!(table.row_count(), 2000);
    for column in &schema.columns {
        let expected = if NUMERICAL.contains(&column.name.as_str()) {
            ColumnKind::Integer
        } else {
            ColumnKind::Categorical
        };
        assert_eq!(column.kind, expected, "{}", column.name);
        assert_eq!(
            column.excluded, None,
            "{} is not an identifier",
            column.name
        );
    }
    assert_eq!(
        schema
            .columns
            .iter()
            .filter(|c| c.kind.is_numeric())
            .count(),
        6
    );
    assert_eq!(
        schema
            .columns
            .iter()
            .filter(|c| c.kind == ColumnKind::Categorical)
            .count(),
        9
    );
    let workclass = schema.column("workclass").unwrap();
    assert!((workclass.missing_rate - 123.0 / 2000.0).abs() < 1e-12);
    let json = serde_json::to_value(&schema).unwrap();
    assert_eq!(
        json["columns"][0],
        serde_json::json!({"name": "age", "kind": "integer", "missing_rate": 0.0, "excluded": null})
    );
}

#[test]
fn rare_values_are_counted_and_never_sampled() {
    let (_, prepared) = prepared_adult();
    let report: HashMap<&str, _> = prepared
        .report()
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c))
        .collect();
    // native_country: 34 values in fewer than 10 rows (121 rows, "Taiwan" and "Haiti" 3 each) → "other".
    let country = report["native_country"];
    assert_eq!(
        (country.suppressed_values, country.suppressed_rows),
        (34, 121)
    );
    assert_eq!(country.destination, RareDestination::OtherBucket);
    // workclass: "Without-pay" once; a 1-row bucket joins the most frequent value.
    let workclass = report["workclass"];
    assert_eq!(
        (workclass.suppressed_values, workclass.suppressed_rows),
        (1, 1)
    );
    assert_eq!(workclass.destination, RareDestination::MostFrequentValue);
    assert_eq!(report["sex"].suppressed_values, 0);
    assert_eq!(report.len(), 9);

    let model = ModelSpec::GaussianCopula(Default::default())
        .fit(&prepared)
        .unwrap();
    let json = model.to_json().unwrap();
    for rare in [
        "Taiwan",
        "Haiti",
        "Without-pay",
        "Married-AF-spouse",
        "Columbia",
    ] {
        assert!(!json.contains(rare), "the model must not contain {rare}");
    }
    let synthetic = sample(&model, 100_000, 3).unwrap();
    let countries = synthetic
        .column("native_country")
        .unwrap()
        .label_values()
        .unwrap();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for country in countries.into_iter().flatten() {
        *counts.entry(country).or_default() += 1;
    }
    assert!(!counts.contains_key("Taiwan") && !counts.contains_key("Haiti"));
    assert!(
        counts["other"] > 2_000,
        "121 of 1,961 present rows are other: {}",
        counts["other"]
    );
    assert!(
        counts
            .keys()
            .all(|country| ["United-States", "Mexico", "other"].contains(&country.as_str())),
        "{counts:?}"
    );
}

#[test]
fn numeric_marginals_store_no_extreme_value() {
    let (_, model) = fitted_adult();
    let json = model.to_json().unwrap();
    // The largest fnlwgt and the extreme ages must not appear as knots.
    let (table, _) = read_adult();
    let fnlwgt = table.column("fnlwgt").unwrap().numeric_values().unwrap();
    let max = fnlwgt.iter().flatten().fold(f64::MIN, |a, &b| a.max(b));
    assert!(
        !json.contains(&format!("{max:.1}")) && !json.contains(&format!("{max}")),
        "{max}"
    );
    let AnyModel::GaussianCopula(copula) = model else {
        panic!("a copula was fitted")
    };
    let age = copula.columns.iter().find(|c| c.name == "age").unwrap();
    let veil_synth::CopulaMarginal::Integer { knots: Some(knots) } = &age.marginal else {
        panic!("age is an integer")
    };
    let mut ages: Vec<f64> = table
        .column("age")
        .unwrap()
        .numeric_values()
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    ages.sort_by(f64::total_cmp);
    assert_eq!(knots.knots().len(), 101);
    assert_eq!(knots.knots()[0], ages[9], "the 10th smallest age");
    assert_eq!(
        knots.knots()[100],
        ages[ages.len() - 10],
        "the 10th largest age"
    );
    assert!(knots.knots()[100] < ages[ages.len() - 1]);
}

#[test]
fn sampling_is_deterministic_per_seed() {
    let (_, model) = fitted_adult();
    let first = sample_to_csv(&model, 3000, 11, Vec::new()).unwrap();
    let again = sample_to_csv(&model, 3000, 11, Vec::new()).unwrap();
    let other = sample_to_csv(&model, 3000, 12, Vec::new()).unwrap();
    assert_eq!(first, again);
    assert_ne!(first, other);
    assert_eq!(
        write_csv(&sample(&model, 3000, 11).unwrap(), Vec::new()).unwrap(),
        first
    );
    assert_eq!(String::from_utf8(first).unwrap().lines().count(), 3001);
    let reloaded = AnyModel::from_json(&model.to_json().unwrap()).unwrap();
    assert_eq!(
        sample(&reloaded, 500, 11).unwrap(),
        sample(&model, 500, 11).unwrap()
    );
}

#[test]
fn sampling_does_not_depend_on_the_thread_count() {
    let (_, model) = fitted_adult();
    let with_threads = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| sample_to_csv(&model, 5000, 5, Vec::new()).unwrap())
    };
    assert_eq!(with_threads(1), with_threads(2));
}

/// Measured (seed 2026, 5,000 rows, k = 10): mean column score 0.985,
/// correlation similarity 0.989; over seeds 0..30 the lowest were 0.982 and
/// 0.986. The same model with its correlation replaced by the identity
/// scores 0.972 on correlation similarity (Adult's numeric correlations are
/// weak), so the copula must beat that baseline by 0.01 too.
#[test]
fn synthetic_adult_is_close_to_the_real_table() {
    let (table, model) = fitted_adult();
    let synthetic = sample(&model, 5000, 2026).unwrap();
    let report = assert_close(&table, &synthetic, 0.95, 0.95);
    let correlation = report.correlation_similarity.unwrap();

    let AnyModel::GaussianCopula(mut independent) = model else {
        panic!("a copula was fitted")
    };
    for (row, values) in independent.correlation.iter_mut().enumerate() {
        for (column, value) in values.iter_mut().enumerate() {
            *value = if row == column { 1.0 } else { 0.0 };
        }
    }
    let baseline = fidelity(&table, &sample(&independent, 5000, 2026).unwrap()).unwrap();
    let baseline_correlation = baseline.correlation_similarity.unwrap();
    eprintln!("independent baseline: correlation similarity {baseline_correlation:.4}");
    assert!(
        correlation > baseline_correlation + 0.01,
        "{correlation} vs {baseline_correlation}"
    );
}

#[test]
fn malformed_csv_errors_name_row_and_column() {
    let mut lines: Vec<String> = ADULT.lines().map(str::to_string).collect();
    lines[17].push_str(",extra");
    let error = read_table(lines.join("\n").as_bytes(), &adult_options()).unwrap_err();
    assert!(matches!(error, SynthError::Csv { row: 17, .. }), "{error}");
    assert_eq!(
        error.to_string(),
        "CSV row 17: expected 15 fields as in the header, found 16"
    );

    let mut bytes = ADULT.as_bytes().to_vec();
    let second_row = ADULT.find("\n50,").unwrap();
    bytes.splice(second_row + 4..second_row + 4, [0xff]);
    let error = read_table(&bytes[..], &adult_options()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "CSV row 2, column \"workclass\": invalid UTF-8"
    );

    let options = ReadOptions {
        overrides: vec![ColumnOverride {
            name: "workclass".into(),
            kind: Some(ColumnKind::Integer),
            exclude: false,
        }],
        ..adult_options()
    };
    let error = read_table(ADULT.as_bytes(), &options).unwrap_err();
    assert_eq!(
        error.to_string(),
        "row 1, column \"workclass\": the value is not a valid integer (values are not shown)"
    );
}

#[test]
fn excluded_columns_are_not_modelled() {
    let options = ReadOptions {
        overrides: vec![ColumnOverride {
            name: "fnlwgt".into(),
            kind: None,
            exclude: true,
        }],
        ..adult_options()
    };
    let (table, schema) = read_table(ADULT.as_bytes(), &options).unwrap();
    let prepared = prepare(&table, &schema, &PrepareOptions::default()).unwrap();
    let model = ModelSpec::GaussianCopula(Default::default())
        .fit(&prepared)
        .unwrap();
    let synthetic = sample(&model, 10, 1).unwrap();
    assert_eq!(synthetic.columns().len(), 14);
    assert!(synthetic.column("fnlwgt").is_none());
}
