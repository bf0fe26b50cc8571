//! Whole-report tests on hand-made tables: known scores, privacy extremes,
//! rare-value canaries and HTML escaping.

use super::*;
use crate::table::ColumnData;

fn integers(name: &str, values: impl IntoIterator<Item = i64>) -> Column {
    Column {
        name: name.into(),
        data: ColumnData::Integer(values.into_iter().map(Some).collect()),
    }
}

fn labels(name: &str, values: impl IntoIterator<Item = String>) -> Column {
    Column {
        name: name.into(),
        data: ColumnData::Categorical(values.into_iter().map(Some).collect()),
    }
}

/// `rows` rows: a numeric feature, a colour and a two-class target that
/// depends on the feature. Tables of odd and even `offset` share no row.
fn table(rows: usize, offset: i64) -> Table {
    let xs: Vec<i64> = (0..rows as i64)
        .map(|i| 2 * ((i * 37 + offset) % 500) + offset % 2)
        .collect();
    let colours =
        (0..rows).map(|i| ["red", "green", "blue"][(i * 7 + offset as usize) % 3].to_string());
    let target = xs
        .iter()
        .map(|&x| if x >= 500 { "yes" } else { "no" }.to_string());
    Table::new(vec![
        integers("x", xs.clone()),
        integers("y", xs.iter().map(|x| 2 * x + (x % 7))),
        labels("colour", colours),
        labels("target", target),
    ])
    .unwrap()
}

#[test]
fn identical_tables_score_one() {
    let real = table(400, 0);
    let report = analyse(&real, &real, None, &AnalyseOptions::default()).unwrap();
    for column in &report.columns {
        assert_eq!(column.shape_score, 1.0, "{}", column.name);
        assert!(
            (column.histogram_intersection - 1.0).abs() < 1e-12,
            "{}",
            column.name
        );
    }
    for pair in &report.pairs {
        assert!((pair.score - 1.0).abs() < 1e-12, "{pair:?}");
    }
    assert!((report.quality.overall - 1.0).abs() < 1e-12);
    assert_eq!(
        report.mutual_information_real,
        report.mutual_information_synthetic
    );
    assert_eq!(report.privacy.exact_copy_rate, 1.0);
    assert_eq!(report.privacy.dcr_training.median, 0.0);
    assert!(report.utility.is_none());
    assert_eq!(
        report.utility_skipped.as_deref(),
        Some("no holdout table was given")
    );
}

#[test]
fn disjoint_categories_score_zero() {
    let real = Table::new(vec![labels(
        "c",
        (0..30).map(|i| ["a", "b"][i % 2].to_string()),
    )])
    .unwrap();
    let synthetic = Table::new(vec![labels(
        "c",
        (0..30).map(|i| ["x", "y"][i % 2].to_string()),
    )])
    .unwrap();
    let report = analyse(&real, &synthetic, None, &AnalyseOptions::default()).unwrap();
    // metrics::tv_complement sums shares, so allow rounding there.
    assert!(report.columns[0].shape_score < 1e-12);
    assert_eq!(report.columns[0].histogram_intersection, 0.0);
    assert_eq!(report.quality.column_pair_trends, None);
    assert!(report.quality.overall < 1e-12);
    assert_eq!(report.privacy.exact_copy_rate, 0.0);
    assert_eq!(report.privacy.dcr_training.p5, 1.0);
}

#[test]
fn missing_columns_and_bad_options_are_errors() {
    let real = table(50, 0);
    let fewer = Table::new(vec![integers("x", 0..50)]).unwrap();
    let error = analyse(&real, &fewer, None, &AnalyseOptions::default()).unwrap_err();
    assert!(error.to_string().contains("\"y\""), "{error}");
    let error = analyse(&real, &real, Some(&fewer), &AnalyseOptions::default()).unwrap_err();
    assert!(error.to_string().contains("holdout"), "{error}");
    let options = AnalyseOptions {
        min_rows: 0,
        ..AnalyseOptions::default()
    };
    assert!(analyse(&real, &real, None, &options).is_err());
    let options = AnalyseOptions {
        target_column: Some("nope".into()),
        ..AnalyseOptions::default()
    };
    assert!(matches!(
        analyse(&real, &real, Some(&real), &options),
        Err(SynthError::UnknownColumn { .. })
    ));
    let options = AnalyseOptions {
        target_column: Some("x".into()),
        ..AnalyseOptions::default()
    };
    assert!(analyse(&real, &real, Some(&real), &options).is_err());
}

#[test]
fn a_copy_of_training_is_flagged_and_a_copy_of_the_holdout_is_not() {
    let training = table(300, 0);
    let holdout = table(300, 1);
    let copied = analyse(
        &training,
        &training,
        Some(&holdout),
        &AnalyseOptions::default(),
    )
    .unwrap();
    assert_eq!(copied.privacy.exact_copy_rate, 1.0);
    assert_eq!(copied.privacy.share_closer_to_training, Some(1.0));
    assert_eq!(copied.privacy.share_expected_if_independent, Some(0.5));
    let fresh = analyse(
        &training,
        &holdout,
        Some(&holdout),
        &AnalyseOptions::default(),
    )
    .unwrap();
    assert_eq!(fresh.privacy.holdout_exact_copy_rate, Some(1.0));
    assert!(fresh.privacy.share_closer_to_training.unwrap() < 0.05);
    assert!(fresh.privacy.exact_copy_rate < 0.05);
    assert_eq!(fresh.privacy.dcr_holdout.as_ref().unwrap().median, 0.0);
}

#[test]
fn utility_compares_synthetic_and_real_training() {
    let training = table(600, 0);
    let holdout = table(300, 3);
    let report = analyse(
        &training,
        &training,
        Some(&holdout),
        &AnalyseOptions::default(),
    )
    .unwrap();
    let utility = report.utility.unwrap();
    assert_eq!((utility.target.as_str(), utility.classes), ("target", 2));
    assert_eq!(utility.metric, UtilityMetric::Auc);
    assert!(utility.trained_on_real > 0.99, "{utility:?}");
    assert_eq!(utility.ratio, Some(1.0));
    let options = AnalyseOptions {
        target_column: Some("colour".into()),
        ..AnalyseOptions::default()
    };
    let report = analyse(&training, &training, Some(&holdout), &options).unwrap();
    let utility = report.utility.unwrap();
    assert_eq!(
        (utility.classes, utility.metric),
        (3, UtilityMetric::Accuracy)
    );
}

#[test]
fn privacy_sample_is_capped_and_seeded() {
    let real = table(200, 0);
    let synthetic = table(500, 2);
    let options = AnalyseOptions {
        max_rows_for_privacy: 50,
        seed: 9,
        ..AnalyseOptions::default()
    };
    let first = analyse(&real, &synthetic, None, &options).unwrap();
    assert_eq!(first.privacy.synthetic_rows_searched, 50);
    assert_eq!(first, analyse(&real, &synthetic, None, &options).unwrap());
}

const CANARY_LABEL: &str = "Canary-Zq7Xv";

/// A real table with one unique label and one unique extreme number.
fn canary_table() -> Table {
    let mut towns: Vec<String> = (0..300)
        .map(|i| ["Oslo", "Bergen", "Tromsø"][i % 3].to_string())
        .collect();
    towns[17] = CANARY_LABEL.into();
    let mut amounts: Vec<Option<f64>> = (0..300).map(|i| Some(f64::from(i % 40) * 1.5)).collect();
    amounts[42] = Some(987_654.321);
    Table::new(vec![
        labels("town", towns),
        Column {
            name: "amount".into(),
            data: ColumnData::Float {
                values: amounts,
                decimals: 3,
            },
        },
        labels("flag", (0..300).map(|i| ["a", "b"][i % 2].to_string())),
    ])
    .unwrap()
}

#[test]
fn rare_values_never_reach_the_report() {
    let real = canary_table();
    // The worst synthesiser: it copies the real table, canaries included.
    let report = analyse(&real, &real, Some(&real), &AnalyseOptions::default()).unwrap();
    let json = report.to_json().unwrap();
    let html = render_html(&report);
    for text in [&json, &html] {
        assert!(!text.contains("Canary"), "canary label leaked");
        assert!(
            !text.contains("987654") && !text.contains("987 654"),
            "canary number leaked"
        );
        assert!(!text.contains("9.87"), "canary number leaked");
    }
    let town = &report.columns[0];
    assert_eq!(town.distribution.last().unwrap().label, OTHER_LABEL);
    assert!(json.contains("Tromsø"));
}

#[test]
fn html_escapes_column_names_and_holds_no_script() {
    let name = r#"<b>"Tom & Jerry's"</b>"#;
    let real = Table::new(vec![
        integers(name, (0..100).map(|i| i % 10)),
        labels("<script>", (0..100).map(|i| ["a", "b"][i % 2].to_string())),
    ])
    .unwrap();
    let report = analyse(&real, &real, None, &AnalyseOptions::default()).unwrap();
    let html = render_html(&report);
    assert!(!html.contains(name) && !html.contains("<script"));
    assert!(html.contains("&lt;b&gt;&quot;Tom &amp; Jerry&#39;s&quot;&lt;/b&gt;"));
    assert!(!html.contains("http://") || html.matches("http://").all(|_| true));
    assert!(!html.contains(" src=") && !html.contains(" href="));
    let parsed: AnalysisReport = serde_json::from_str(&report.to_json().unwrap()).unwrap();
    assert_eq!(
        render_html(&parsed),
        html,
        "the HTML is rendered from the JSON alone"
    );
}
