//! End-to-end tests of the `cart` model on the first 2,000 rows of the UCI
//! Adult training table (`data/adult_train_2000.csv`): fidelity, the
//! privacy filter, rare-value suppression and deterministic sampling.

use std::collections::HashSet;

use veil_synth::{sample, sample_to_csv, AnyModel, CartOptions, ModelSpec, Table};

mod common;

use common::{assert_close, fit_adult};

fn fitted_adult() -> (Table, AnyModel) {
    fit_adult(ModelSpec::Cart(CartOptions::default()))
}

fn text_rows(table: &Table) -> Vec<Vec<String>> {
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

/// Measured (seed 2026, 2,000 rows, k = 10, default options): mean column
/// score 0.983, correlation similarity 0.988; over seeds 0..20 the lowest
/// were 0.977 and 0.983. (`native_country` scores 0.94 only because the
/// real table still holds the values suppressed into `other`.)
#[test]
fn synthetic_adult_is_close_and_copies_no_training_row() {
    let (table, model) = fitted_adult();
    let synthetic = sample(&model, 2000, 2026).unwrap();
    assert_close(&table, &synthetic, 0.96, 0.97);

    let training: HashSet<Vec<String>> = text_rows(&table).into_iter().collect();
    let copies = text_rows(&synthetic)
        .iter()
        .filter(|row| training.contains(*row))
        .count();
    assert_eq!(copies, 0);
    let AnyModel::Cart(cart) = &model else {
        panic!("a cart model was fitted")
    };
    assert_eq!(cart.fingerprint_count(), training.len());
}

/// Share of rows with income `>50K` among rows whose `column` is `value`.
fn high_income_share(table: &Table, column: &str, value: &str) -> f64 {
    let labels = table.column(column).unwrap().label_values().unwrap();
    let income = table.column("income").unwrap().label_values().unwrap();
    let (mut rows, mut high) = (0, 0);
    for (label, income) in labels.iter().zip(&income) {
        if label.as_deref() == Some(value) {
            rows += 1;
            high += usize::from(income.as_deref() == Some(">50K"));
        }
    }
    high as f64 / rows.max(1) as f64
}

/// The income column keeps its dependence on earlier columns (what a
/// classifier trained on synthetic rows learns from).
#[test]
fn income_keeps_its_relationships() {
    let (table, model) = fitted_adult();
    let synthetic = sample(&model, 20_000, 17).unwrap();
    for (column, value) in [
        ("relationship", "Husband"),
        ("relationship", "Own-child"),
        ("marital_status", "Never-married"),
        ("education", "Bachelors"),
        ("sex", "Female"),
    ] {
        let real = high_income_share(&table, column, value);
        let fake = high_income_share(&synthetic, column, value);
        eprintln!("{column} = {value}: real {real:.3}, synthetic {fake:.3}");
        assert!(
            (real - fake).abs() < 0.05,
            "{column} = {value}: {real} vs {fake}"
        );
    }
}

#[test]
fn the_model_holds_no_rare_or_extreme_value() {
    let (table, model) = fitted_adult();
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
    let fnlwgt = table.column("fnlwgt").unwrap().numeric_values().unwrap();
    let max = fnlwgt.iter().flatten().fold(f64::MIN, |a, &b| a.max(b));
    assert!(!json.contains(&format!("{max:.1}")), "{max}");
    let synthetic = sample(&model, 20_000, 3).unwrap();
    let countries = synthetic
        .column("native_country")
        .unwrap()
        .label_values()
        .unwrap();
    assert!(countries
        .iter()
        .flatten()
        .all(|c| ["United-States", "Mexico", "other"].contains(&c.as_str())));
    let ages = synthetic.column("age").unwrap().numeric_values().unwrap();
    let mut real_ages: Vec<f64> = table
        .column("age")
        .unwrap()
        .numeric_values()
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    real_ages.sort_by(f64::total_cmp);
    let (low, high) = (real_ages[9], real_ages[real_ages.len() - 10]);
    assert!(ages.iter().flatten().all(|age| (low..=high).contains(age)));
}

#[test]
fn cart_sampling_is_deterministic_per_seed_and_thread_count() {
    let (_, model) = fitted_adult();
    let with_threads = |threads: usize, seed: u64| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| sample_to_csv(&model, 5000, seed, Vec::new()).unwrap())
    };
    let first = with_threads(1, 5);
    assert_eq!(first, with_threads(2, 5));
    assert_ne!(first, with_threads(2, 6));
    let reloaded = AnyModel::from_json(&model.to_json().unwrap()).unwrap();
    assert_eq!(
        sample(&reloaded, 700, 5).unwrap(),
        sample(&model, 700, 5).unwrap()
    );
}
