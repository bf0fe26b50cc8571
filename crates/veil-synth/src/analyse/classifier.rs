//! The utility classifier: features encoded as sparse rows (standardised
//! numbers with missing indicators, one-hot labels), L2-regularised logistic
//! regression fitted by Newton's method with step halving, and the rank
//! AUC. Everything is deterministic: parallel sums are reduced in chunk
//! order.

use std::collections::HashMap;

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use super::Values;

/// At most this many most frequent labels of a column get a one-hot slot.
const MAX_ONE_HOT: usize = 64;
/// Standardised values are clamped to this magnitude.
const CLAMP: f64 = 20.0;
/// Rows per parallel chunk of the Newton sums.
const CHUNK_ROWS: usize = 2048;
/// Newton iterations at most.
const MAX_ITERATIONS: usize = 50;

/// A row as `(slot, value)` pairs of its non-zero features.
pub(crate) type SparseRow = Vec<(u32, f64)>;

#[derive(Clone, Debug)]
enum Encoding {
    Numeric {
        slot: u32,
        mean: f64,
        scale: f64,
        missing_slot: Option<u32>,
    },
    OneHot {
        slots: HashMap<String, u32>,
    },
}

/// Turns feature columns into sparse rows; fitted on the training rows.
#[derive(Clone, Debug)]
pub(crate) struct Encoder {
    encodings: Vec<Encoding>,
    width: usize,
}

impl Encoder {
    /// Fits on training `features`, all of the same length.
    pub fn fit(features: &[&Values]) -> Encoder {
        let mut width = 0u32;
        let mut next = || {
            width += 1;
            width - 1
        };
        let encodings = features
            .iter()
            .map(|values| match values {
                Values::Numeric(values) => {
                    let present: Vec<f64> = values.iter().flatten().copied().collect();
                    let n = present.len().max(1) as f64;
                    let mean = present.iter().sum::<f64>() / n;
                    let variance = present.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
                    let scale = if variance.sqrt() > 1e-12 {
                        variance.sqrt()
                    } else {
                        1.0
                    };
                    let slot = next();
                    let missing_slot = (present.len() < values.len()).then(&mut next);
                    Encoding::Numeric {
                        slot,
                        mean,
                        scale,
                        missing_slot,
                    }
                }
                Values::Labels(values) => {
                    let mut counts: HashMap<&str, usize> = HashMap::new();
                    for label in values.iter().flatten() {
                        *counts.entry(label).or_default() += 1;
                    }
                    let mut ranked: Vec<(&str, usize)> = counts.into_iter().collect();
                    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                    let slots = ranked
                        .into_iter()
                        .take(MAX_ONE_HOT)
                        .map(|(label, _)| (label.to_string(), next()))
                        .collect();
                    Encoding::OneHot { slots }
                }
            })
            .collect();
        Encoder {
            encodings,
            width: width as usize,
        }
    }

    /// The number of feature slots (without the intercept).
    pub fn width(&self) -> usize {
        self.width
    }

    /// Encodes `rows` rows of `features` (in the order fitted on); a
    /// feature of the wrong form or an unseen label encodes as zeros.
    pub fn encode(&self, features: &[&Values], rows: usize) -> Vec<SparseRow> {
        (0..rows)
            .map(|row| {
                let mut sparse = Vec::new();
                for (encoding, values) in self.encodings.iter().zip(features) {
                    match (encoding, values) {
                        (
                            Encoding::Numeric {
                                slot,
                                mean,
                                scale,
                                missing_slot,
                            },
                            Values::Numeric(values),
                        ) => match values.get(row).copied().flatten() {
                            Some(x) => {
                                let z = ((x - mean) / scale).clamp(-CLAMP, CLAMP);
                                sparse.push((*slot, z));
                            }
                            None => sparse.extend(missing_slot.map(|slot| (slot, 1.0))),
                        },
                        (Encoding::OneHot { slots }, Values::Labels(values)) => {
                            if let Some(label) = values.get(row).and_then(Option::as_ref) {
                                sparse.extend(slots.get(label).map(|&slot| (slot, 1.0)));
                            }
                        }
                        _ => {}
                    }
                }
                sparse
            })
            .collect()
    }
}

fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// A fitted logistic regression; the last weight is the intercept.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Logistic {
    weights: Vec<f64>,
}

impl Logistic {
    /// The linear score of a row (monotone in the probability).
    pub fn score(&self, row: &SparseRow) -> f64 {
        let intercept = self.weights[self.weights.len() - 1];
        intercept
            + row
                .iter()
                .map(|&(slot, x)| self.weights.get(slot as usize).copied().unwrap_or(0.0) * x)
                .sum::<f64>()
    }

    /// The probability of the positive class.
    pub fn probability(&self, row: &SparseRow) -> f64 {
        sigmoid(self.score(row))
    }

    fn objective(&self, rows: &[SparseRow], targets: &[bool], penalties: &[f64]) -> f64 {
        let loss: f64 = rows
            .par_chunks(CHUNK_ROWS)
            .zip(targets.par_chunks(CHUNK_ROWS))
            .map(|(rows, targets)| {
                rows.iter()
                    .zip(targets)
                    .map(|(row, &y)| {
                        let z = self.score(row);
                        softplus(z) - if y { z } else { 0.0 }
                    })
                    .sum::<f64>()
            })
            .collect::<Vec<f64>>()
            .into_iter()
            .sum();
        let penalty: f64 = self
            .weights
            .iter()
            .zip(penalties)
            .map(|(w, l)| l * w * w)
            .sum();
        loss / rows.len().max(1) as f64 + penalty / 2.0
    }

    /// Fits `P(target) = σ(w·x + b)` minimising mean log-loss plus
    /// `lambda / 2 · |w|²` (the intercept is barely penalised).
    pub fn fit(rows: &[SparseRow], width: usize, targets: &[bool], lambda: f64) -> Logistic {
        let dim = width + 1;
        let mut penalties = vec![lambda; dim];
        penalties[width] = 1e-6;
        let mut model = Logistic {
            weights: vec![0.0; dim],
        };
        let n = rows.len().max(1) as f64;
        let mut objective = model.objective(rows, targets, &penalties);
        for _ in 0..MAX_ITERATIONS {
            let sums: Vec<(Vec<f64>, Vec<f64>)> = rows
                .par_chunks(CHUNK_ROWS)
                .zip(targets.par_chunks(CHUNK_ROWS))
                .map(|(rows, targets)| {
                    let mut gradient = vec![0.0; dim];
                    let mut hessian = vec![0.0; dim * dim];
                    for (row, &y) in rows.iter().zip(targets) {
                        let p = model.probability(row);
                        let residual = p - if y { 1.0 } else { 0.0 };
                        let weight = (p * (1.0 - p)).max(1e-12);
                        let with_intercept = row
                            .iter()
                            .copied()
                            .chain(std::iter::once((width as u32, 1.0)));
                        for (a, xa) in with_intercept.clone() {
                            gradient[a as usize] += residual * xa;
                            for (b, xb) in with_intercept.clone() {
                                hessian[a as usize * dim + b as usize] += weight * xa * xb;
                            }
                        }
                    }
                    (gradient, hessian)
                })
                .collect();
            let mut gradient = DVector::<f64>::zeros(dim);
            let mut hessian = DMatrix::<f64>::zeros(dim, dim);
            for (chunk_gradient, chunk_hessian) in sums {
                gradient += DVector::from_vec(chunk_gradient);
                hessian += DMatrix::from_row_slice(dim, dim, &chunk_hessian);
            }
            gradient /= n;
            hessian /= n;
            for slot in 0..dim {
                gradient[slot] += penalties[slot] * model.weights[slot];
                hessian[(slot, slot)] += penalties[slot];
            }
            let step = match hessian.cholesky() {
                Some(cholesky) => cholesky.solve(&gradient),
                None => gradient,
            };
            let mut scale = 1.0;
            let mut improved = false;
            for _ in 0..30 {
                let candidate = Logistic {
                    weights: model
                        .weights
                        .iter()
                        .zip(step.iter())
                        .map(|(w, s)| w - scale * s)
                        .collect(),
                };
                let candidate_objective = candidate.objective(rows, targets, &penalties);
                if candidate_objective.is_finite() && candidate_objective <= objective {
                    model = candidate;
                    objective = candidate_objective;
                    improved = true;
                    break;
                }
                scale /= 2.0;
            }
            let largest_step = step.amax() * scale;
            if !improved || largest_step < 1e-7 {
                break;
            }
        }
        model
    }
}

/// The area under the ROC curve of `scores` for the `positives`: the share
/// of (positive, negative) pairs the scores order correctly, ties counting
/// half (Mann–Whitney with average ranks). `None` without both classes;
/// extra entries of the longer slice are ignored.
pub fn auc(scores: &[f64], positives: &[bool]) -> Option<f64> {
    let rows = scores.len().min(positives.len());
    let mut order: Vec<usize> = (0..rows).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let positive_count = positives[..rows].iter().filter(|&&p| p).count();
    let negative_count = rows - positive_count;
    if positive_count == 0 || negative_count == 0 {
        return None;
    }
    let mut positive_rank_sum = 0.0;
    let mut start = 0;
    while start < rows {
        let mut end = start + 1;
        while end < rows && scores[order[end]].total_cmp(&scores[order[start]]).is_eq() {
            end += 1;
        }
        let average_rank = (start + 1 + end) as f64 / 2.0;
        let tied_positives = order[start..end].iter().filter(|&&i| positives[i]).count();
        positive_rank_sum += average_rank * tied_positives as f64;
        start = end;
    }
    let (p, q) = (positive_count as f64, negative_count as f64);
    Some((positive_rank_sum - p * (p + 1.0) / 2.0) / (p * q))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute_force_auc(scores: &[f64], positives: &[bool]) -> Option<f64> {
        let (mut wins, mut pairs) = (0.0, 0.0);
        for (i, &p) in positives.iter().enumerate() {
            for (j, &q) in positives.iter().enumerate() {
                if p && !q {
                    pairs += 1.0;
                    wins += match scores[i].total_cmp(&scores[j]) {
                        std::cmp::Ordering::Greater => 1.0,
                        std::cmp::Ordering::Equal => 0.5,
                        std::cmp::Ordering::Less => 0.0,
                    };
                }
            }
        }
        (pairs > 0.0).then(|| wins / pairs)
    }

    proptest! {
        #[test]
        fn auc_matches_the_pair_count(
            rows in prop::collection::vec((0u8..6, any::<bool>()), 0..60)
        ) {
            let scores: Vec<f64> = rows.iter().map(|r| f64::from(r.0)).collect();
            let positives: Vec<bool> = rows.iter().map(|r| r.1).collect();
            let fast = auc(&scores, &positives);
            let slow = brute_force_auc(&scores, &positives);
            prop_assert_eq!(fast.is_some(), slow.is_some());
            if let (Some(fast), Some(slow)) = (fast, slow) {
                prop_assert!((fast - slow).abs() < 1e-12, "{} vs {}", fast, slow);
            }
        }
    }

    #[test]
    fn auc_of_known_orders() {
        assert_eq!(auc(&[1.0, 2.0], &[false, true]), Some(1.0));
        assert_eq!(auc(&[1.0, 2.0], &[true, false]), Some(0.0));
        assert_eq!(auc(&[1.0, 1.0], &[true, false]), Some(0.5));
        assert_eq!(auc(&[1.0], &[true]), None);
    }

    #[test]
    fn logistic_regression_separates_a_separable_dataset() {
        let x: Vec<Option<f64>> = (0..200).map(|i| Some(f64::from(i))).collect();
        let colour: Vec<Option<String>> = (0..200)
            .map(|i| Some(if i % 3 == 0 { "red" } else { "blue" }.to_string()))
            .collect();
        let (x, colour) = (Values::Numeric(x), Values::Labels(colour));
        let features = [&x, &colour];
        let targets: Vec<bool> = (0..200).map(|i| i >= 100).collect();
        let encoder = Encoder::fit(&features);
        assert_eq!(encoder.width(), 3);
        let rows = encoder.encode(&features, 200);
        let model = Logistic::fit(&rows, encoder.width(), &targets, 1e-3);
        let scores: Vec<f64> = rows.iter().map(|row| model.score(row)).collect();
        assert_eq!(auc(&scores, &targets), Some(1.0));
        let correct = rows
            .iter()
            .zip(&targets)
            .filter(|(row, &y)| (model.probability(row) > 0.5) == y)
            .count();
        assert_eq!(correct, 200);
        let again = Logistic::fit(&rows, encoder.width(), &targets, 1e-3);
        assert_eq!(again, model, "deterministic");
    }
}
