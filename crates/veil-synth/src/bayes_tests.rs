//! Unit tests for [`super`].

use super::*;
use crate::infer::{read_table, ReadOptions};
use crate::model::{sample, sample_to_csv, AnyModel, ModelSpec};
use crate::rare::{prepare, PrepareOptions};
use crate::table::{ColumnData, Table};

/// 1,200 rows: `a` one of five cities, `b = f(a)` its region, `x ≈ 10·a`,
/// an independent boolean, a date following `a` and a float with gaps.
fn dependent_csv() -> String {
    let cities = ["Oslo", "Bergen", "Tromso", "Bodo", "Alta"];
    let regions = ["east", "west", "north", "north", "far-north"];
    let mut csv = String::from("a,b,x,flag,day,score\n");
    for row in 0..1200usize {
        let city = (row * 7 + row / 5) % 5;
        let x = 10 * city + row % 3;
        let flag = row % 2 == 0;
        let day = 1 + 5 * city;
        let score = if row % 9 == 0 {
            String::new()
        } else {
            format!("{:.1}", (row % 40) as f64 / 4.0)
        };
        csv += &format!(
            "{},{},{x},{flag},2024-05-{day:02},{score}\n",
            cities[city], regions[city]
        );
    }
    csv
}

fn prepared(csv: &str) -> (Table, PreparedTable) {
    let (table, schema) = read_table(csv.as_bytes(), &ReadOptions::default()).unwrap();
    let prepared = prepare(&table, &schema, &PrepareOptions::default()).unwrap();
    (table, prepared)
}

fn fit(csv: &str, epsilon: Option<f64>, seed: u64) -> BayesNetModel {
    let options = BayesNetOptions {
        epsilon,
        seed,
        ..BayesNetOptions::default()
    };
    BayesNetModel::fit(&prepared(csv).1, &options).unwrap()
}

fn labels(table: &Table, name: &str) -> Vec<Option<String>> {
    table.column(name).unwrap().label_values().unwrap()
}

#[test]
fn infinite_epsilon_reproduces_a_functional_dependency() {
    let model = fit(&dependent_csv(), None, 1);
    assert_eq!(model.privacy.epsilon_total, None);
    let synthetic = sample(&model, 4000, 9).unwrap();
    let (a, b) = (labels(&synthetic, "a"), labels(&synthetic, "b"));
    let region = |city: &str| match city {
        "Oslo" => "east",
        "Bergen" => "west",
        "Tromso" | "Bodo" => "north",
        _ => "far-north",
    };
    let agreeing = a
        .iter()
        .zip(&b)
        .filter(|(a, b)| a.as_deref().map(region) == b.as_deref())
        .count();
    assert!(agreeing as f64 / 4000.0 > 0.97, "{agreeing} of 4000");
    // x follows a: Oslo rows have x in 0..=2, Alta rows in 40..=42.
    let x = synthetic.column("x").unwrap().numeric_values().unwrap();
    let oslo_x: Vec<f64> = a
        .iter()
        .zip(&x)
        .filter(|(a, _)| a.as_deref() == Some("Oslo"))
        .filter_map(|(_, x)| *x)
        .collect();
    let near = oslo_x.iter().filter(|x| **x <= 3.0).count() as f64;
    assert!(
        near / oslo_x.len() as f64 > 0.9,
        "{near} of {}",
        oslo_x.len()
    );
    let score = synthetic.column("score").unwrap().numeric_values().unwrap();
    let missing = score.iter().filter(|v| v.is_none()).count() as f64 / 4000.0;
    assert!((missing - 1.0 / 9.0).abs() < 0.03, "{missing}");
    let Some(ColumnData::Datetime { seconds, .. }) = synthetic.column("day").map(|c| &c.data)
    else {
        panic!("day is a date")
    };
    assert!(seconds.iter().flatten().all(|s| s % 86_400 == 0));
}

#[test]
fn fitting_and_sampling_are_deterministic_per_seed_and_thread_count() {
    let csv = dependent_csv();
    let in_pool = |threads: usize, seed: u64| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let model = fit(&csv, Some(1.0), seed);
            let rows = sample_to_csv(&model, 2500, 4, Vec::new()).unwrap();
            (model, rows)
        })
    };
    let (one, one_rows) = in_pool(1, 7);
    let (two, two_rows) = in_pool(2, 7);
    assert_eq!(one, two);
    assert_eq!(one_rows, two_rows);
    let (other, _) = in_pool(2, 8);
    assert_ne!(one, other, "another seed draws other noise");
}

#[test]
fn the_budget_is_split_and_sums_to_epsilon() {
    for epsilon in [0.1, 1.0, 10.0] {
        let model = fit(&dependent_csv(), Some(epsilon), 0);
        let p = &model.privacy;
        let parts = [p.epsilon_bins, p.epsilon_structure, p.epsilon_parameters];
        let sum: f64 = parts.iter().map(|part| part.unwrap()).sum();
        assert!((sum - epsilon).abs() < 1e-12, "{sum} vs {epsilon}");
        assert!((p.epsilon_bins.unwrap() - 0.1 * epsilon).abs() < 1e-12);
        assert!((p.epsilon_structure.unwrap() - 0.3 * 0.9 * epsilon).abs() < 1e-12);
        let d = model.columns.len() as f64;
        let scale = p.parameter_noise_scale.unwrap();
        assert!((scale - 2.0 * d / p.epsilon_parameters.unwrap()).abs() < 1e-9);
    }
    // Without numeric columns nothing goes to bins; one column has no structure.
    let model = fit(&format!("c\n{}", "a\nb\n".repeat(30)), Some(2.0), 0);
    assert_eq!(model.columns.len(), 1);
    assert_eq!(model.privacy.epsilon_bins, Some(0.0));
    assert_eq!(model.privacy.epsilon_structure, Some(0.0));
    assert_eq!(model.privacy.epsilon_parameters, Some(2.0));
}

#[test]
fn options_are_checked_and_parsed() {
    let (_, table) = prepared(&dependent_csv());
    for options in [
        BayesNetOptions {
            epsilon: Some(0.0),
            ..BayesNetOptions::default()
        },
        BayesNetOptions {
            epsilon: Some(f64::INFINITY),
            ..BayesNetOptions::default()
        },
        BayesNetOptions {
            beta: 1.0,
            ..BayesNetOptions::default()
        },
        BayesNetOptions {
            bins: 1,
            ..BayesNetOptions::default()
        },
        BayesNetOptions {
            degree: 9,
            ..BayesNetOptions::default()
        },
    ] {
        assert!(matches!(
            BayesNetModel::fit(&table, &options),
            Err(SynthError::InvalidOption { .. })
        ));
    }
    let spec: ModelSpec = serde_json::from_str(r#"{"model": "bayes-net"}"#).unwrap();
    assert_eq!(spec, ModelSpec::BayesNet(BayesNetOptions::default()));
    let spec: ModelSpec =
        serde_json::from_str(r#"{"model": "bayes-net", "epsilon": null, "degree": 1}"#).unwrap();
    let ModelSpec::BayesNet(options) = &spec else {
        panic!("{spec:?}")
    };
    assert_eq!((options.epsilon, options.degree), (None, 1));
    assert!(matches!(spec.fit(&table).unwrap(), AnyModel::BayesNet(_)));
    assert!(serde_json::from_str::<ModelSpec>(r#"{"model": "bayes-net", "eps": 1}"#).is_err());
}

#[test]
fn json_round_trips_with_its_tag() {
    let model = fit(&dependent_csv(), Some(1.0), 3);
    let json = AnyModel::BayesNet(model.clone()).to_json().unwrap();
    assert!(
        json.starts_with(r#"{"model":"bayes-net","format_version":1,"#),
        "{}",
        &json[..60]
    );
    let AnyModel::BayesNet(back) = AnyModel::from_json(&json).unwrap() else {
        panic!("a network reads back as a network")
    };
    assert_eq!(back, model);
    let future = json.replace(r#""format_version":1"#, r#""format_version":9"#);
    assert!(matches!(
        AnyModel::from_json(&future),
        Err(SynthError::UnsupportedFormat { found: 9, .. })
    ));
}

/// A way to break a valid model.
type Corruption = Box<dyn Fn(&mut BayesNetModel)>;

#[test]
fn corrupt_models_are_refused() {
    let model = fit(&dependent_csv(), None, 5);
    assert!(model.sampler().is_ok());
    let with_parent = model
        .nodes
        .iter()
        .position(|n| !n.parents.is_empty())
        .unwrap();
    let numeric = model
        .columns
        .iter()
        .position(|c| matches!(c.domain, BayesDomain::Integer { .. }))
        .unwrap();
    let corruptions: Vec<Corruption> = vec![
        Box::new(|m| m.nodes[0].conditional[0][0] += 1.0),
        Box::new(|m| m.nodes[0].conditional[0][0] = f64::NAN),
        Box::new(|m| {
            let row = &mut m.nodes[0].conditional[0];
            let first = row[0];
            row[0] = -0.5;
            row[1] += first + 0.5;
        }),
        Box::new(|m| {
            m.nodes[0].conditional[0].pop();
        }),
        Box::new(move |m| {
            m.nodes[with_parent].conditional.pop();
        }),
        Box::new(move |m| m.nodes[with_parent].parents[0] = 99),
        Box::new(move |m| {
            // A parent placed after its child: a cycle in sampling order.
            let child = m.nodes[with_parent].column;
            m.nodes[0].parents = vec![child];
        }),
        Box::new(|m| m.nodes[1].column = m.nodes[0].column),
        Box::new(|m| {
            m.nodes.pop();
        }),
        Box::new(|m| m.columns[1].name = m.columns[0].name.clone()),
        Box::new(move |m| {
            if let BayesDomain::Integer { bins } = &mut m.columns[numeric].domain {
                bins[0].cells[0].low = bins[0].cells[0].high + 1.0;
            }
        }),
        Box::new(move |m| {
            if let BayesDomain::Integer { bins } = &mut m.columns[numeric].domain {
                bins[0].cells[0].high = f64::INFINITY;
            }
        }),
        Box::new(|m| {
            for column in &mut m.columns {
                if let BayesDomain::Boolean { labels } = &mut column.domain {
                    labels[0] = "maybe".into();
                }
            }
        }),
        Box::new(|m| m.columns.clear()),
    ];
    for (index, corrupt) in corruptions.iter().enumerate() {
        let mut broken = model.clone();
        corrupt(&mut broken);
        assert!(broken.sampler().is_err(), "corruption {index} was accepted");
        let json = AnyModel::BayesNet(broken).to_json().unwrap_or_default();
        assert!(AnyModel::from_json(&json).is_err(), "corruption {index}");
    }
}

#[test]
fn no_rows_is_an_error_and_one_row_is_not_a_panic() {
    let (empty, schema) = read_table("a,b\n".as_bytes(), &ReadOptions::default()).unwrap();
    if let Ok(table) = prepare(&empty, &schema, &PrepareOptions::default()) {
        assert!(BayesNetModel::fit(&table, &BayesNetOptions::default()).is_err());
    }
    let (table, schema) = read_table("a,b\n1,x\n".as_bytes(), &ReadOptions::default()).unwrap();
    let options = PrepareOptions {
        min_rows: 1,
        ..PrepareOptions::default()
    };
    let table = prepare(&table, &schema, &options).unwrap();
    for epsilon in [None, Some(0.5)] {
        let options = BayesNetOptions {
            epsilon,
            ..BayesNetOptions::default()
        };
        let model = BayesNetModel::fit(&table, &options).unwrap();
        assert_eq!(sample(&model, 10, 0).unwrap().row_count(), 10);
    }
}

fn random_csv() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let row = (
        "[a-d]{1}",
        proptest::option::of(-50i64..100),
        proptest::option::of(0u8..3),
        proptest::option::of(-5.0f64..5.0),
    );
    proptest::collection::vec(row, 1..80).prop_map(|rows| {
        let mut csv = String::from("label,number,flag,real\n");
        for (label, number, flag, real) in rows {
            let number = number.map(|n| n.to_string()).unwrap_or_default();
            let flag = flag.map(|f| (f == 0).to_string()).unwrap_or_default();
            let real = real.map(|r| format!("{r:.2}")).unwrap_or_default();
            csv += &format!("{label},{number},{flag},{real}\n");
        }
        csv
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Whatever the table and budget, fitting and sampling never panic, the
    /// model validates, and labels come from the prepared table.
    #[test]
    fn any_table_fits_and_samples(
        csv in random_csv(),
        k in 1usize..5,
        epsilon in proptest::option::of(0.01f64..20.0),
        degree in 0usize..4,
        seed in 0u64..1000,
    ) {
        let (table, schema) = read_table(csv.as_bytes(), &ReadOptions::default()).unwrap();
        let Ok(prepared) = prepare(&table, &schema, &PrepareOptions { min_rows: k, ..PrepareOptions::default() }) else {
            return Ok(());
        };
        let options = BayesNetOptions { epsilon, degree, seed, ..BayesNetOptions::default() };
        let model = BayesNetModel::fit(&prepared, &options).unwrap();
        let json = AnyModel::BayesNet(model.clone()).to_json().unwrap();
        proptest::prop_assert!(AnyModel::from_json(&json).is_ok());
        let synthetic = sample(&model, 200, seed).unwrap();
        proptest::prop_assert_eq!(synthetic.row_count(), 200);
        let real_labels = prepared.table().column("label").unwrap().label_values().unwrap();
        for label in labels(&synthetic, "label").iter().flatten() {
            proptest::prop_assert!(real_labels.iter().flatten().any(|l| l == label), "{}", label);
        }
    }
}
