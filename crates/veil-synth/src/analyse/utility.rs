//! Utility: a logistic regression trained on the synthetic rows and one
//! trained on the real rows, both tested on the real holdout. Binary targets
//! are scored by AUC, others by accuracy (one-vs-rest).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::classifier::{auc, Encoder, Logistic};
use super::{AnalyseOptions, Matched, Values};
use crate::error::{Result, SynthError};

/// L2 penalty of the utility classifiers (on the mean log-loss).
const LAMBDA: f64 = 1e-3;

/// The score of the utility classifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UtilityMetric {
    /// Area under the ROC curve (two classes).
    Auc,
    /// Share of holdout rows classified correctly (more classes).
    Accuracy,
}

/// Train-on-synthetic against train-on-real, tested on the holdout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UtilityReport {
    /// The predicted column.
    pub target: String,
    /// Number of classes in the real table.
    pub classes: usize,
    /// How both classifiers are scored.
    pub metric: UtilityMetric,
    /// Score of the classifier trained on the real table.
    pub trained_on_real: f64,
    /// Score of the classifier trained on the synthetic table.
    pub trained_on_synthetic: f64,
    /// `trained_on_synthetic / trained_on_real`, when the latter is positive.
    pub ratio: Option<f64>,
    /// Holdout rows whose target is one of the real classes.
    pub holdout_rows_evaluated: usize,
    /// Feature columns used.
    pub feature_columns: usize,
}

fn labels(values: &Values) -> Option<&[Option<String>]> {
    match values {
        Values::Labels(labels) => Some(labels),
        Values::Numeric(_) => None,
    }
}

/// Classes of the real target, most frequent first.
fn classes(real: &[Option<String>]) -> Vec<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for label in real.iter().flatten() {
        *counts.entry(label).or_default() += 1;
    }
    let mut ranked: Vec<(&str, usize)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    ranked
        .into_iter()
        .map(|(label, _)| label.to_string())
        .collect()
}

/// The target column's index, or why there is none.
fn target_index(columns: &[Matched], options: &AnalyseOptions) -> Result<Result<usize, String>> {
    match &options.target_column {
        Some(name) => {
            let index = columns
                .iter()
                .position(|c| &c.name == name)
                .ok_or_else(|| SynthError::UnknownColumn {
                    name: name.clone(),
                    known: columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            if columns[index].is_numeric() {
                return Err(SynthError::InvalidOption {
                    option: "target_column",
                    message: format!("column {name:?} must be categorical or boolean"),
                });
            }
            Ok(Ok(index))
        }
        None => {
            let last = columns.len() - 1;
            let two_classes =
                labels(&columns[last].real).is_some_and(|real| classes(real).len() == 2);
            Ok(if two_classes {
                Ok(last)
            } else {
                Err("no target column was given and the last column is not categorical or boolean with two classes".into())
            })
        }
    }
}

/// Rows with a known class: their indices and class numbers.
fn known_rows(target: &[Option<String>], index: &HashMap<&str, usize>) -> (Vec<usize>, Vec<usize>) {
    target
        .iter()
        .enumerate()
        .filter_map(|(row, label)| Some((row, *index.get(label.as_deref()?)?)))
        .unzip()
}

/// Keeps `rows` of each feature column.
fn select(features: &[&Values], rows: &[usize]) -> Vec<Values> {
    features
        .iter()
        .map(|values| match values {
            Values::Numeric(v) => Values::Numeric(rows.iter().map(|&r| v[r]).collect()),
            Values::Labels(v) => Values::Labels(rows.iter().map(|&r| v[r].clone()).collect()),
        })
        .collect()
}

/// Per-class scores of every holdout row from classifiers trained on one
/// table: one column for binary targets, one per class otherwise.
fn train_and_score(
    train_features: &[&Values],
    train_target: &[Option<String>],
    holdout_features: &[&Values],
    holdout_rows: &[usize],
    class_index: &HashMap<&str, usize>,
    class_count: usize,
) -> Vec<Vec<f64>> {
    let (rows, classes) = known_rows(train_target, class_index);
    let train = select(train_features, &rows);
    let train: Vec<&Values> = train.iter().collect();
    let encoder = Encoder::fit(&train);
    let encoded = encoder.encode(&train, rows.len());
    let holdout = select(holdout_features, holdout_rows);
    let holdout: Vec<&Values> = holdout.iter().collect();
    let holdout_encoded = encoder.encode(&holdout, holdout_rows.len());
    let models = if class_count == 2 { 1 } else { class_count };
    (0..models)
        .map(|class| {
            let positive = if class_count == 2 { 1 } else { class };
            let targets: Vec<bool> = classes.iter().map(|&c| c == positive).collect();
            let model = Logistic::fit(&encoded, encoder.width(), &targets, LAMBDA);
            holdout_encoded.iter().map(|row| model.score(row)).collect()
        })
        .collect()
}

fn score(scores: &[Vec<f64>], truth: &[usize], class_count: usize) -> f64 {
    if class_count == 2 {
        let positives: Vec<bool> = truth.iter().map(|&c| c == 1).collect();
        return auc(&scores[0], &positives).unwrap_or(0.5);
    }
    let correct = truth
        .iter()
        .enumerate()
        .filter(|&(row, &class)| {
            let best = (0..scores.len())
                .max_by(|&a, &b| scores[a][row].total_cmp(&scores[b][row]).then(b.cmp(&a)));
            best == Some(class)
        })
        .count();
    correct as f64 / truth.len().max(1) as f64
}

/// Computes utility, or says why it cannot (no holdout, no usable target).
pub(crate) fn evaluate(
    columns: &[Matched],
    options: &AnalyseOptions,
) -> Result<Result<UtilityReport, String>> {
    let target = match target_index(columns, options)? {
        Ok(index) => index,
        Err(reason) => return Ok(Err(reason)),
    };
    let column = &columns[target];
    let (Some(real_target), Some(synthetic_target)) =
        (labels(&column.real), labels(&column.synthetic))
    else {
        return Ok(Err("the target column is numeric".into()));
    };
    let Some(holdout_target) = column.holdout.as_ref().and_then(labels) else {
        return Ok(Err("no holdout table was given".into()));
    };
    let class_labels = classes(real_target);
    if class_labels.len() < 2 {
        return Ok(Err(
            "the target has fewer than two classes in the real table".into(),
        ));
    }
    let class_index: HashMap<&str, usize> = class_labels
        .iter()
        .enumerate()
        .map(|(i, label)| (label.as_str(), i))
        .collect();
    let (holdout_rows, truth) = known_rows(holdout_target, &class_index);
    if holdout_rows.is_empty() {
        return Ok(Err(
            "no holdout row has one of the real target classes".into()
        ));
    }
    let features = |pick: fn(&Matched) -> Option<&Values>| -> Vec<&Values> {
        columns
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != target)
            .filter_map(|(_, c)| pick(c))
            .collect()
    };
    let real_features = features(|c| Some(&c.real));
    let synthetic_features = features(|c| Some(&c.synthetic));
    let holdout_features = features(|c| c.holdout.as_ref());
    let class_count = class_labels.len();
    let evaluate_on = |train: &[&Values], train_target: &[Option<String>]| {
        let scores = train_and_score(
            train,
            train_target,
            &holdout_features,
            &holdout_rows,
            &class_index,
            class_count,
        );
        score(&scores, &truth, class_count)
    };
    let trained_on_real = evaluate_on(&real_features, real_target);
    let trained_on_synthetic = evaluate_on(&synthetic_features, synthetic_target);
    Ok(Ok(UtilityReport {
        target: column.name.clone(),
        classes: class_count,
        metric: if class_count == 2 {
            UtilityMetric::Auc
        } else {
            UtilityMetric::Accuracy
        },
        trained_on_real,
        trained_on_synthetic,
        ratio: (trained_on_real > 0.0).then(|| trained_on_synthetic / trained_on_real),
        holdout_rows_evaluated: holdout_rows.len(),
        feature_columns: real_features.len(),
    }))
}
