//! Unit tests for [`super`] and [`crate::cart_sample`].

use std::collections::HashSet;

use rand::SeedableRng;

use super::*;
use crate::infer::{read_table, ReadOptions};
use crate::model::{sample, sample_to_csv, AnyModel, ChunkSampler, ModelSpec};
use crate::rare::{prepare, PrepareOptions};
use crate::stats::pearson;
use crate::table::Table;

/// 400 rows: `x`, `y ≈ 2x`, a category that follows `x`, a boolean, a date
/// and a float that is missing in every tenth row.
pub(crate) fn training_csv() -> String {
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
            format!("{:.2}", f64::from(x) / 7.0 + f64::from(row % 5) / 10.0)
        };
        csv += &format!("{x},{y},{group},{flag},2024-03-{day:02},{score}\n");
    }
    csv
}

pub(crate) fn prepared(csv: &str, k: usize) -> (Table, PreparedTable) {
    let (table, schema) = read_table(csv.as_bytes(), &ReadOptions::default()).unwrap();
    let options = PrepareOptions {
        min_rows: k,
        ..PrepareOptions::default()
    };
    let prepared = prepare(&table, &schema, &options).unwrap();
    (table, prepared)
}

pub(crate) fn fitted() -> (Table, CartModel) {
    let (table, prepared) = prepared(&training_csv(), 10);
    let model = CartModel::fit(&prepared, &CartOptions::default()).unwrap();
    (table, model)
}

/// Rows as their written values.
pub(crate) fn text_rows(table: &Table) -> Vec<Vec<String>> {
    (0..table.row_count())
        .map(|row| {
            table
                .columns()
                .iter()
                .map(|c| c.format_value(row))
                .collect()
        })
        .collect()
}

pub(crate) fn copies(real: &Table, synthetic: &Table) -> usize {
    let training: HashSet<Vec<String>> = text_rows(real).into_iter().collect();
    text_rows(synthetic)
        .iter()
        .filter(|row| training.contains(*row))
        .count()
}

#[test]
fn fit_builds_one_tree_per_column_and_fingerprints() {
    let (_, model) = fitted();
    assert_eq!(model.trees.len(), 6);
    assert_eq!(
        model.trees[0].nodes.len(),
        1,
        "the first column is a marginal"
    );
    assert!(model.trees[1].nodes.len() > 3, "y is predicted from x");
    assert_eq!(model.fingerprint_count(), model.fingerprints.len());
    assert!(model.fingerprint_count() > 100 && model.fingerprint_count() <= 400);
    assert!(model.fingerprints.windows(2).all(|pair| pair[0] < pair[1]));
    assert_eq!(
        model.columns[0].bounds,
        Some([2.0, 97.0]),
        "k-th order statistics"
    );
    assert!(matches!(model.columns[3].kind, CartColumnKind::Boolean));
    let CartColumnKind::Categorical { labels } = &model.columns[2].kind else {
        panic!()
    };
    assert_eq!(labels, &["high", "low"]);
}

#[test]
fn samples_keep_relationships_ranges_and_missingness() {
    let (table, model) = fitted();
    let synthetic = sample(&model, 3000, 7).unwrap();
    assert_eq!(synthetic.row_count(), 3000);
    let x = synthetic.column("x").unwrap().numeric_values().unwrap();
    let y = synthetic.column("y").unwrap().numeric_values().unwrap();
    assert!(x.iter().flatten().all(|v| (2.0..=97.0).contains(v)));
    assert!(pearson(&x, &y).unwrap() > 0.95);
    let groups = synthetic.column("group").unwrap().label_values().unwrap();
    let agree = x
        .iter()
        .zip(&groups)
        .filter(|(x, g)| (x.unwrap() < 50.0) == (g.as_deref() == Some("low")))
        .count();
    assert!(agree > 2900, "{agree}");
    let score = synthetic.column("score").unwrap().numeric_values().unwrap();
    let missing = score.iter().filter(|v| v.is_none()).count() as f64 / 3000.0;
    assert!((missing - 0.1).abs() < 0.03, "{missing}");
    let report = crate::metrics::fidelity(&table, &synthetic).unwrap();
    assert!(report.mean_column_score() > 0.9, "{report:?}");
    assert_eq!(copies(&table, &synthetic), 0);
}

#[test]
fn sampling_is_deterministic_per_seed_and_thread_count() {
    let (_, model) = fitted();
    let run = |threads: usize, seed: u64| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| sample_to_csv(&model, 5000, seed, Vec::new()).unwrap())
    };
    assert_eq!(run(1, 3), run(2, 3));
    assert_eq!(run(2, 3), run(3, 3));
    assert_ne!(run(2, 3), run(2, 4));
}

#[test]
fn fitting_is_deterministic_whatever_the_thread_count() {
    let (_, prepared) = prepared(&training_csv(), 10);
    let fit = |threads: usize, seed: u64| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let options = CartOptions {
            seed,
            ..CartOptions::default()
        };
        pool.install(|| CartModel::fit(&prepared, &options).unwrap())
    };
    let one = fit(1, 5);
    assert_eq!(one, fit(2, 5));
    let other = fit(2, 6);
    assert_ne!(one.fingerprint_key, other.fingerprint_key);
    assert_eq!(
        one.trees, other.trees,
        "the seed only keys the fingerprints"
    );
}

#[test]
fn json_round_trip_and_spec() {
    let (_, model) = fitted();
    let json = AnyModel::Cart(model.clone()).to_json().unwrap();
    assert!(
        json.starts_with(r#"{"model":"cart","format_version":1,"#),
        "{}",
        &json[..60]
    );
    let AnyModel::Cart(back) = AnyModel::from_json(&json).unwrap() else {
        panic!("a cart model was read")
    };
    assert_eq!(back, model);
    let future = json.replace(r#""format_version":1"#, r#""format_version":7"#);
    assert!(matches!(
        AnyModel::from_json(&future),
        Err(SynthError::UnsupportedFormat {
            found: 7,
            supported: 1
        })
    ));

    let spec: ModelSpec = serde_json::from_str(r#"{"model": "cart", "min_leaf": 8}"#).unwrap();
    let ModelSpec::Cart(options) = &spec else {
        panic!("{spec:?}")
    };
    assert_eq!(options.min_leaf, 8);
    assert_eq!(options.smoothing, CartSmoothing::Floats);
    assert!(serde_json::from_str::<ModelSpec>(r#"{"model": "cart", "leaves": 8}"#).is_err());
    let (_, prepared) = prepared(&training_csv(), 10);
    assert!(matches!(spec.fit(&prepared).unwrap(), AnyModel::Cart(_)));
}

#[test]
fn invalid_options_and_empty_tables_are_errors() {
    let (_, prepared) = prepared(&training_csv(), 10);
    for options in [
        CartOptions {
            min_leaf: 0,
            ..CartOptions::default()
        },
        CartOptions {
            bins: 1,
            ..CartOptions::default()
        },
        CartOptions {
            bins: 255,
            ..CartOptions::default()
        },
        CartOptions {
            max_depth: 65,
            ..CartOptions::default()
        },
        CartOptions {
            complexity: f64::NAN,
            ..CartOptions::default()
        },
    ] {
        assert!(matches!(
            CartModel::fit(&prepared, &options),
            Err(SynthError::InvalidOption { .. })
        ));
    }
    let (_, empty) = self::prepared("a,b\n", 1);
    assert!(CartModel::fit(&empty, &CartOptions::default()).is_err());
}

#[test]
fn a_column_without_k_values_is_always_missing() {
    let mut csv = String::from("c,n,f\n");
    for row in 0..40 {
        let number = if row == 0 { "5" } else { "" };
        let label = ["p", "q", "r", "s"][row % 4];
        csv += &format!("{label},{number},{}.{}\n", row * 3, row % 10);
    }
    let (_, prepared) = prepared(&csv, 10);
    let model = CartModel::fit(&prepared, &CartOptions::default()).unwrap();
    assert_eq!(model.columns[1].bounds, None);
    let chunk = model
        .sampler()
        .unwrap()
        .sample_chunk(50, &mut ChaCha8Rng::seed_from_u64(1))
        .unwrap();
    assert_eq!(
        chunk.column("n").unwrap().numeric_values().unwrap(),
        vec![None; 50]
    );
    let floats = chunk.column("f").unwrap().numeric_values().unwrap();
    assert!(floats
        .iter()
        .all(|v| v.is_some_and(|v| (27.0..=90.9).contains(&v))));
}

fn random_training_csv() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let row = (
        "[a-f]{1}|[a-b]{1}",
        proptest::option::of(0i64..100),
        proptest::option::of(0u8..3),
        proptest::option::of(0u16..1000),
    );
    proptest::collection::vec(row, 1..80).prop_map(|rows| {
        let mut csv = String::from("label,number,flag,amount\n");
        for (label, number, flag, amount) in rows {
            let number = number.map(|n| n.to_string()).unwrap_or_default();
            let flag = flag.map(|f| (f == 0).to_string()).unwrap_or_default();
            let amount = amount
                .map(|a| format!("{}.{}", a / 10, a % 10))
                .unwrap_or_default();
            csv += &format!("{label},{number},{flag},{amount}\n");
        }
        csv
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Whatever the table, fitting and sampling never panic; a sample holds
    /// no copy of a training row and no label or number rarer than `k`.
    #[test]
    fn samples_never_copy_and_release_nothing_rarer_than_k(csv in random_training_csv(), k in 1usize..6, min_leaf in 1usize..8, seed in 0u64..1000) {
        let (table, schema) = read_table(csv.as_bytes(), &ReadOptions::default()).unwrap();
        let prepare_options = PrepareOptions { min_rows: k, ..PrepareOptions::default() };
        let Ok(prepared) = prepare(&table, &schema, &prepare_options) else { return Ok(()) };
        let options = CartOptions { min_leaf, smoothing: CartSmoothing::Numeric, ..CartOptions::default() };
        let model = CartModel::fit(&prepared, &options).unwrap();
        let json = serde_json::to_string(&AnyModel::Cart(model.clone())).unwrap();
        proptest::prop_assert!(AnyModel::from_json(&json).is_ok());
        // Sampling may fail when nearly every draw is a copy; it must not panic.
        let Ok(synthetic) = sample(&model, 200, seed) else { return Ok(()) };
        proptest::prop_assert_eq!(synthetic.row_count(), 200);
        proptest::prop_assert_eq!(copies(&table, &synthetic), 0);
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
                let real_numbers: Vec<f64> = real.numeric_values().unwrap().into_iter().flatten().collect();
                for number in numbers.iter().flatten() {
                    let at_or_below = real_numbers.iter().filter(|v| *v <= number).count();
                    let at_or_above = real_numbers.iter().filter(|v| *v >= number).count();
                    proptest::prop_assert!(at_or_below >= k && at_or_above >= k, "{number} with k = {k}");
                }
            }
        }
    }
}
