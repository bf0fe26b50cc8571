//! Machine-learning efficacy: a logistic regression trained on one table
//! (real or synthetic) predicts a boolean target on a held-out real table,
//! scored by ROC AUC.

use veil_synth::Table;

/// Full-batch gradient steps.
const STEPS: usize = 300;
/// Gradient step size on standardised features.
const LEARNING_RATE: f64 = 0.5;
/// L2 penalty on the weights (not the bias).
const L2: f64 = 1e-4;

/// How one column becomes features.
enum Feature {
    /// Standardised number (missing as the mean) plus a missing flag.
    Numeric { name: String, mean: f64, sd: f64 },
    /// One indicator per training category.
    Labels { name: String, labels: Vec<String> },
}

/// Features learnt from a training table, target column excluded.
pub struct Encoder {
    features: Vec<Feature>,
}

impl Encoder {
    /// Learns the feature layout of `table` without `target`.
    pub fn fit(table: &Table, target: &str) -> Encoder {
        let mut features = Vec::new();
        for column in table.columns().iter().filter(|c| c.name != target) {
            if let Some(values) = column.numeric_values() {
                let present: Vec<f64> = values.into_iter().flatten().collect();
                let count = present.len().max(1) as f64;
                let mean = present.iter().sum::<f64>() / count;
                let variance = present.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / count;
                features.push(Feature::Numeric {
                    name: column.name.clone(),
                    mean,
                    sd: variance.sqrt().max(1e-9),
                });
            } else {
                let mut labels: Vec<String> = column
                    .label_values()
                    .unwrap_or_default()
                    .into_iter()
                    .flatten()
                    .collect();
                labels.sort();
                labels.dedup();
                features.push(Feature::Labels {
                    name: column.name.clone(),
                    labels,
                });
            }
        }
        Encoder { features }
    }

    /// The feature rows of `table` (columns matched by name).
    pub fn encode(&self, table: &Table) -> Vec<Vec<f64>> {
        let mut rows = vec![Vec::new(); table.row_count()];
        for feature in &self.features {
            match feature {
                Feature::Numeric { name, mean, sd } => {
                    let values = table
                        .column(name)
                        .and_then(|c| c.numeric_values())
                        .unwrap_or_else(|| vec![None; rows.len()]);
                    for (row, value) in rows.iter_mut().zip(values) {
                        row.push(value.map_or(0.0, |v| (v - mean) / sd));
                        row.push(if value.is_none() { 1.0 } else { 0.0 });
                    }
                }
                Feature::Labels { name, labels } => {
                    let values = table
                        .column(name)
                        .and_then(|c| c.label_values())
                        .unwrap_or_else(|| vec![None; rows.len()]);
                    for (row, value) in rows.iter_mut().zip(values) {
                        let index = value.and_then(|v| labels.binary_search(&v).ok());
                        row.extend((0..labels.len()).map(|i| f64::from(index == Some(i))));
                    }
                }
            }
        }
        rows
    }
}

/// Whether each row's `target` label equals `positive` (missing: false).
pub fn targets(table: &Table, target: &str, positive: &str) -> Vec<bool> {
    table
        .column(target)
        .and_then(|c| c.label_values())
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.as_deref() == Some(positive))
        .collect()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Fits a logistic regression by full-batch gradient descent; the last
/// weight is the bias.
pub fn train(rows: &[Vec<f64>], labels: &[bool]) -> Vec<f64> {
    let width = rows.first().map_or(0, Vec::len);
    let mut weights = vec![0.0; width + 1];
    let count = rows.len().max(1) as f64;
    for _ in 0..STEPS {
        let mut gradient = vec![0.0; width + 1];
        for (row, &label) in rows.iter().zip(labels) {
            let error = sigmoid(score(&weights, row)) - f64::from(u8::from(label));
            for (g, x) in gradient.iter_mut().zip(row) {
                *g += error * x;
            }
            gradient[width] += error;
        }
        for (index, (w, g)) in weights.iter_mut().zip(&gradient).enumerate() {
            let penalty = if index < width { L2 * *w } else { 0.0 };
            *w -= LEARNING_RATE * (g / count + penalty);
        }
    }
    weights
}

/// The model's linear score of `row`.
pub fn score(weights: &[f64], row: &[f64]) -> f64 {
    let bias = weights.last().copied().unwrap_or(0.0);
    weights.iter().zip(row).map(|(w, x)| w * x).sum::<f64>() + bias
}

/// ROC AUC of `scores` for `labels` (Mann–Whitney, ties counted half).
pub fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut order: Vec<(f64, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = labels.iter().filter(|l| **l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    let (mut rank_sum, mut start) = (0.0, 0);
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && order[end].0 == order[start].0 {
            end += 1;
        }
        let average_rank = (start + 1 + end) as f64 / 2.0;
        rank_sum += average_rank * order[start..end].iter().filter(|p| p.1).count() as f64;
        start = end;
    }
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives).max(1.0)
}

/// AUC on `test` of a regression trained on `train_table`.
pub fn efficacy(train_table: &Table, test: &Table, target: &str, positive: &str) -> f64 {
    let encoder = Encoder::fit(train_table, target);
    let weights = train(
        &encoder.encode(train_table),
        &targets(train_table, target, positive),
    );
    let test_rows = encoder.encode(test);
    let scores: Vec<f64> = test_rows.iter().map(|row| score(&weights, row)).collect();
    auc(&scores, &targets(test, target, positive))
}
