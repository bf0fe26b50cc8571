//! Unit tests for [`super`].

use rand::SeedableRng;

use super::*;
use crate::infer::{read_table, ReadOptions};
use crate::model::{sample, AnyModel, ModelSpec};
use crate::rare::{prepare, PrepareOptions};

/// 400 rows: `x` uniform-ish, `y ≈ 2x` (strongly correlated), a category that
/// follows `x`, a boolean, a date and some missing values.
fn training_csv() -> String {
    let mut csv = String::from("x,y,group,flag,day,score\n");
    for row in 0..400u32 {
        let x = (row * 37) % 100;
        let y = 2 * x + (row * 13) % 7;
        let group = if x < 50 { "low" } else { "high" };
        let flag = row % 3 == 0;
        let day = 1 + (x % 28);
        let score = if row % 10 == 0 {
            String::new()
        } else {
            format!("{:.2}", f64::from(x) / 7.0)
        };
        csv += &format!("{x},{y},{group},{flag},2024-03-{day:02},{score}\n");
    }
    csv
}

fn fitted() -> (Table, CopulaModel) {
    let (table, schema) = read_table(training_csv().as_bytes(), &ReadOptions::default()).unwrap();
    let prepared = prepare(&table, &schema, &PrepareOptions::default()).unwrap();
    let model = CopulaModel::fit(&prepared, &CopulaOptions::default()).unwrap();
    (table, model)
}

#[test]
fn fit_learns_correlation_missing_rate_and_marginals() {
    let (_, model) = fitted();
    let names: Vec<&str> = model.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["x", "y", "group", "flag", "day", "score"]);
    assert!(model.correlation[0][1] > 0.95, "{:?}", model.correlation[0]);
    assert!(model.correlation[0][2].abs() > 0.7, "category follows x");
    assert!((model.columns[5].missing_rate - 0.1).abs() < 1e-12);
    assert!(matches!(
        model.columns[4].marginal,
        CopulaMarginal::Datetime {
            format: DatetimeFormat::Date,
            ..
        }
    ));
    assert!(matches!(
        model.columns[5].marginal,
        CopulaMarginal::Float { decimals: 2, .. }
    ));
}

#[test]
fn samples_keep_types_ranges_and_correlation() {
    let (_, model) = fitted();
    let table = sample(&model, 3000, 7).unwrap();
    assert_eq!(table.row_count(), 3000);
    let x = table.column("x").unwrap().numeric_values().unwrap();
    let y = table.column("y").unwrap().numeric_values().unwrap();
    assert!(
        x.iter().flatten().all(|v| (2.0..=97.0).contains(v)),
        "k-th order statistics bound the values"
    );
    assert!(pearson(&x, &y).unwrap() > 0.9);
    let score = table.column("score").unwrap().numeric_values().unwrap();
    let missing = score.iter().filter(|v| v.is_none()).count() as f64 / 3000.0;
    assert!((missing - 0.1).abs() < 0.03, "{missing}");
    let Some(ColumnData::Datetime { seconds, .. }) = table.column("day").map(|c| &c.data) else {
        panic!()
    };
    assert!(seconds.iter().flatten().all(|s| s % 86_400 == 0));
}

#[test]
fn json_round_trip_and_format_checks() {
    let (_, model) = fitted();
    let json = AnyModel::GaussianCopula(model.clone()).to_json().unwrap();
    assert!(
        json.starts_with(r#"{"model":"gaussian-copula","format_version":1,"#),
        "{}",
        &json[..80]
    );
    let AnyModel::GaussianCopula(back) = AnyModel::from_json(&json).unwrap() else {
        panic!("a copula was read")
    };
    assert_eq!(back, model);

    let future = json.replace(r#""format_version":1"#, r#""format_version":2"#);
    let error = AnyModel::from_json(&future).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unsupported model format version 2 (this build reads version 1)"
    );

    let mut broken = model.clone();
    broken.correlation[0][1] = 5.0;
    broken.correlation[1][0] = 5.0;
    assert!(broken.sampler().is_err());
    let mut broken = model;
    broken.correlation.pop();
    assert!(broken.sampler().is_err());
}

#[test]
fn spec_parses_and_fits() {
    let spec: ModelSpec = serde_json::from_str(r#"{"model": "gaussian-copula"}"#).unwrap();
    let (table, schema) = read_table(training_csv().as_bytes(), &ReadOptions::default()).unwrap();
    let prepared = prepare(&table, &schema, &PrepareOptions::default()).unwrap();
    assert!(matches!(
        spec.fit(&prepared).unwrap(),
        AnyModel::GaussianCopula(_)
    ));
    assert!(serde_json::from_str::<ModelSpec>(r#"{"model": "gan"}"#).is_err());
}

#[test]
fn columns_with_too_few_values_are_always_missing() {
    let (table, schema) =
        read_table("a,b\n1,x\n2,\n3,\n".as_bytes(), &ReadOptions::default()).unwrap();
    let prepared = prepare(
        &table,
        &schema,
        &PrepareOptions {
            min_rows: 2,
            ..PrepareOptions::default()
        },
    )
    .unwrap();
    let model = CopulaModel::fit(&prepared, &CopulaOptions::default()).unwrap();
    assert_eq!(model.columns[1].missing_rate, 1.0);
    let sampler = model.sampler().unwrap();
    let chunk = sampler
        .sample_chunk(50, &mut ChaCha8Rng::seed_from_u64(1))
        .unwrap();
    assert_eq!(
        chunk.column("b").unwrap().label_values().unwrap(),
        vec![None; 50]
    );
}

#[test]
fn shrinkage_repairs_an_indefinite_matrix() {
    let indefinite =
        DMatrix::from_row_slice(3, 3, &[1.0, 0.9, -0.9, 0.9, 1.0, 0.9, -0.9, 0.9, 1.0]);
    assert!(indefinite.clone().cholesky().is_none());
    let (_, repaired) = positive_definite(&indefinite).unwrap();
    assert!(repaired[(0, 1)] < 0.9 && repaired[(0, 1)] > 0.0);
    assert_eq!(repaired[(1, 1)], 1.0);
}

fn random_training_csv() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let row = (
        "[a-f]{1}|[a-b]{1}|[a-b]{1}",
        proptest::option::of(0i64..100),
        proptest::option::of(0u8..3),
    );
    proptest::collection::vec(row, 0..60).prop_map(|rows| {
        let mut csv = String::from("label,number,flag\n");
        for (label, number, flag) in rows {
            let number = number.map(|n| n.to_string()).unwrap_or_default();
            let flag = flag.map(|f| (f == 0).to_string()).unwrap_or_default();
            csv += &format!("{label},{number},{flag}\n");
        }
        csv
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever the training table, sampling never panics, and no sampled
    /// label or number lies outside what `k` rows back up.
    #[test]
    fn samples_release_nothing_rarer_than_k(csv in random_training_csv(), k in 1usize..6, seed in 0u64..1000) {
        let (table, schema) = read_table(csv.as_bytes(), &ReadOptions::default()).unwrap();
        let options = PrepareOptions { min_rows: k, ..PrepareOptions::default() };
        let Ok(prepared) = prepare(&table, &schema, &options) else { return Ok(()) };
        let model = CopulaModel::fit(&prepared, &CopulaOptions::default()).unwrap();
        let synthetic = sample(&model, 300, seed).unwrap();
        proptest::prop_assert_eq!(synthetic.row_count(), 300);
        for column in synthetic.columns() {
            let real = table.column(&column.name).unwrap();
            if let Some(labels) = column.label_values() {
                let real_labels = real.label_values().unwrap();
                for label in labels.iter().flatten() {
                    let count = real_labels.iter().flatten().filter(|l| *l == label).count();
                    proptest::prop_assert!(count >= k || label == "other", "{label} occurs {count} times, k = {k}");
                }
            }
            if let Some(numbers) = column.numeric_values() {
                let mut real_numbers: Vec<f64> = real.numeric_values().unwrap().into_iter().flatten().collect();
                real_numbers.sort_by(f64::total_cmp);
                for number in numbers.iter().flatten() {
                    let at_or_below = real_numbers.iter().filter(|v| *v <= number).count();
                    let at_or_above = real_numbers.iter().filter(|v| *v >= number).count();
                    proptest::prop_assert!(at_or_below >= k && at_or_above >= k, "{number} with k = {k}");
                }
            }
        }
    }
}
