//! Fidelity beyond single columns, and the bin-based column scores:
//! histogram intersection, contingency similarity, normalised mutual
//! information, Pearson correlation matrices and the pair trends that feed
//! the overall quality score.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::binning::Binned;
use super::{ColumnMatrix, Matched, Values};
use crate::stats::pearson;

/// Which metric scored a column pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PairMetric {
    /// `1 − |r_real − r_synthetic| / 2` with Pearson's `r` (numeric pairs).
    CorrelationSimilarity,
    /// `1 − TV distance` of the binned joint frequency tables.
    ContingencySimilarity,
}

/// How well one column pair's relationship is kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairTrend {
    /// The first column.
    pub left: String,
    /// The second column.
    pub right: String,
    /// The metric used.
    pub metric: PairMetric,
    /// The score in `[0, 1]`.
    pub score: f64,
}

/// Counts of `keys`, in key order so that sums over them are
/// deterministic.
fn counts(keys: impl Iterator<Item = u64>) -> (BTreeMap<u64, u64>, u64) {
    let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
    let mut total = 0;
    for key in keys {
        *counts.entry(key).or_default() += 1;
        total += 1;
    }
    (counts, total)
}

/// `Σ min(p, q)` (equivalently `1 − ½ Σ |p − q|`) of two keyed samples,
/// computed exactly on counts; 1 if both are empty, 0 if one is.
fn tv_similarity(a: impl Iterator<Item = u64>, b: impl Iterator<Item = u64>) -> f64 {
    let (p, p_total) = counts(a);
    let (q, q_total) = counts(b);
    if p_total == 0 || q_total == 0 {
        return if p_total == q_total { 1.0 } else { 0.0 };
    }
    let overlap: u128 = p
        .iter()
        .filter_map(|(key, &count)| {
            let other = *q.get(key)?;
            Some(
                (u128::from(count) * u128::from(q_total))
                    .min(u128::from(other) * u128::from(p_total)),
            )
        })
        .sum();
    (overlap as f64 / (u128::from(p_total) * u128::from(q_total)) as f64).clamp(0.0, 1.0)
}

fn pair_key(left: u32, right: u32) -> u64 {
    (u64::from(left) << 32) | u64::from(right)
}

/// `Σ_b min(p_real(b), p_synthetic(b))` over bin codes: 1 for equal
/// distributions, 0 for disjoint ones (and 1 if both samples are empty).
pub fn histogram_intersection(real: &[u32], synthetic: &[u32]) -> f64 {
    tv_similarity(
        real.iter().map(|&c| u64::from(c)),
        synthetic.iter().map(|&c| u64::from(c)),
    )
}

/// `1 − ½ Σ |p_real(a, b) − p_synthetic(a, b)|` of the joint frequencies of
/// two binned columns, rows paired by position.
pub fn contingency_similarity(
    real_left: &[u32],
    real_right: &[u32],
    synthetic_left: &[u32],
    synthetic_right: &[u32],
) -> f64 {
    tv_similarity(
        real_left
            .iter()
            .zip(real_right)
            .map(|(&a, &b)| pair_key(a, b)),
        synthetic_left
            .iter()
            .zip(synthetic_right)
            .map(|(&a, &b)| pair_key(a, b)),
    )
}

fn entropy(shares: impl Iterator<Item = f64>) -> f64 {
    shares.filter(|&p| p > 0.0).map(|p| -p * p.ln()).sum()
}

/// Mutual information of two binned columns divided by the geometric mean
/// of their entropies, in `[0, 1]`; `None` if either column is constant.
pub fn normalized_mutual_information(a: &[u32], b: &[u32]) -> Option<f64> {
    let rows = a.len().min(b.len());
    let entropy_of = |keys: &mut dyn Iterator<Item = u64>| {
        let (counts, total) = counts(keys);
        entropy(counts.into_values().map(|c| c as f64 / total as f64))
    };
    let h_left = entropy_of(&mut a[..rows].iter().map(|&c| u64::from(c)));
    let h_right = entropy_of(&mut b[..rows].iter().map(|&c| u64::from(c)));
    if h_left <= 1e-12 || h_right <= 1e-12 {
        return None;
    }
    let h_joint = entropy_of(&mut a.iter().zip(b).map(|(&x, &y)| pair_key(x, y)));
    let information = h_left + h_right - h_joint;
    Some((information / (h_left * h_right).sqrt()).clamp(0.0, 1.0))
}

/// The normalised mutual information of every pair of binned columns.
pub(crate) fn mutual_information(names: &[String], codes: Vec<&[u32]>) -> ColumnMatrix {
    let n = codes.len();
    let mut values = vec![vec![None; n]; n];
    for i in 0..n {
        for j in i..n {
            let score = normalized_mutual_information(codes[i], codes[j]);
            values[i][j] = score;
            values[j][i] = score;
        }
    }
    ColumnMatrix {
        columns: names.to_vec(),
        values,
    }
}

fn numeric(values: &Values) -> Option<&[Option<f64>]> {
    match values {
        Values::Numeric(values) => Some(values),
        Values::Labels(_) => None,
    }
}

/// Pearson correlation matrices (real, synthetic) of the numeric columns;
/// `None` with fewer than two.
pub(crate) fn correlations(columns: &[Matched]) -> (Option<ColumnMatrix>, Option<ColumnMatrix>) {
    let numeric_columns: Vec<&Matched> = columns.iter().filter(|c| c.is_numeric()).collect();
    if numeric_columns.len() < 2 {
        return (None, None);
    }
    let names: Vec<String> = numeric_columns.iter().map(|c| c.name.clone()).collect();
    let matrix = |pick: fn(&Matched) -> &Values| {
        let series: Vec<&[Option<f64>]> = numeric_columns
            .iter()
            .filter_map(|column| numeric(pick(column)))
            .collect();
        let values = series
            .iter()
            .map(|left| series.iter().map(|right| pearson(left, right)).collect())
            .collect();
        ColumnMatrix {
            columns: names.clone(),
            values,
        }
    };
    (
        Some(matrix(|column| &column.real)),
        Some(matrix(|column| &column.synthetic)),
    )
}

/// Pair trends for every column pair: correlation similarity for numeric
/// pairs with a defined correlation in both tables, contingency similarity
/// of the binned columns otherwise.
pub(crate) fn pair_trends(columns: &[Matched], binned: &[Binned]) -> Vec<PairTrend> {
    let mut trends = Vec::new();
    for i in 0..columns.len() {
        for j in i + 1..columns.len() {
            let correlation = || {
                let real_r = pearson(numeric(&columns[i].real)?, numeric(&columns[j].real)?)?;
                let synthetic_r = pearson(
                    numeric(&columns[i].synthetic)?,
                    numeric(&columns[j].synthetic)?,
                )?;
                Some(1.0 - (real_r - synthetic_r).abs() / 2.0)
            };
            let (metric, score) = match correlation() {
                Some(score) => (PairMetric::CorrelationSimilarity, score),
                None => (
                    PairMetric::ContingencySimilarity,
                    contingency_similarity(
                        &binned[i].real,
                        &binned[j].real,
                        &binned[i].synthetic,
                        &binned[j].synthetic,
                    ),
                ),
            };
            trends.push(PairTrend {
                left: columns[i].name.clone(),
                right: columns[j].name.clone(),
                metric,
                score,
            });
        }
    }
    trends
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_intersection_of_known_samples() {
        assert_eq!(histogram_intersection(&[0, 1, 2], &[2, 1, 0]), 1.0);
        assert_eq!(histogram_intersection(&[0, 0], &[1, 1]), 0.0);
        assert!((histogram_intersection(&[0, 0, 1, 1], &[0, 0, 0, 1]) - 0.75).abs() < 1e-12);
        assert_eq!(histogram_intersection(&[], &[]), 1.0);
        assert_eq!(histogram_intersection(&[0], &[]), 0.0);
    }

    #[test]
    fn contingency_similarity_sees_the_joint_not_the_margins() {
        let (a, b) = ([0, 0, 1, 1], [0, 0, 1, 1]);
        assert_eq!(contingency_similarity(&a, &b, &a, &b), 1.0);
        // Same margins, opposite association: half the mass moves.
        let flipped = [1, 1, 0, 0];
        assert!((contingency_similarity(&a, &b, &a, &flipped) - 0.0).abs() < 1e-12);
        let independent = [0, 1, 0, 1];
        assert!((contingency_similarity(&a, &b, &a, &independent) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn normalized_mutual_information_bounds() {
        let a = [0, 0, 1, 1, 2, 2];
        assert!((normalized_mutual_information(&a, &a).unwrap() - 1.0).abs() < 1e-12);
        let relabelled = [5, 5, 3, 3, 9, 9];
        assert!((normalized_mutual_information(&a, &relabelled).unwrap() - 1.0).abs() < 1e-12);
        let independent = [0, 1, 0, 1, 0, 1];
        assert!(normalized_mutual_information(&a, &independent).unwrap() < 1e-12);
        assert_eq!(normalized_mutual_information(&a, &[0; 6]), None);
    }
}
