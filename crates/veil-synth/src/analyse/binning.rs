//! Released bins: every column's values as codes of bins that are safe to
//! show. Categorical values get a bin only with at least `k` real rows;
//! numeric bins have rounded pooled-quantile edges, open-ended outer bins
//! and at least `k` real rows (or none). The same codes feed the histogram
//! intersection, contingency similarity and mutual information.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Matched, Values};
use crate::table::{ColumnKind, DatetimeFormat};

/// The label of the bar that gathers every value with fewer than `k` real
/// rows (and synthetic values not among the labelled real ones).
pub const OTHER_LABEL: &str = "(other)";

/// The label of the bar of missing values.
const MISSING_LABEL: &str = "(missing)";

/// Numeric columns start from this many pooled-quantile bins.
const CANDIDATE_BINS: usize = 20;

/// One bar of a released distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DistributionBin {
    /// A frequent category, a rounded range, `(other)` or `(missing)`.
    pub label: String,
    /// Share of real rows in the bin.
    pub real: f64,
    /// Share of synthetic rows in the bin.
    pub synthetic: f64,
}

/// A column's rows as bin codes, with the bins' labels.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Binned {
    /// The label of each bin; codes index it.
    pub labels: Vec<String>,
    /// One code per real row.
    pub real: Vec<u32>,
    /// One code per synthetic row.
    pub synthetic: Vec<u32>,
}

impl Binned {
    /// Shares of real and synthetic rows per bin.
    pub fn distribution(&self) -> Vec<DistributionBin> {
        let real = shares(&self.real, self.labels.len());
        let synthetic = shares(&self.synthetic, self.labels.len());
        self.labels
            .iter()
            .zip(real.into_iter().zip(synthetic))
            .map(|(label, (real, synthetic))| DistributionBin {
                label: label.clone(),
                real,
                synthetic,
            })
            .collect()
    }
}

/// Shares of `codes` per bin, all zero for no rows.
pub(crate) fn shares(codes: &[u32], bins: usize) -> Vec<f64> {
    let mut counts = vec![0.0; bins];
    for &code in codes {
        counts[code as usize] += 1.0;
    }
    let total = codes.len().max(1) as f64;
    counts.iter().map(|count| count / total).collect()
}

/// Notes on how the released figures were generalised.
pub(crate) fn disclosure_notes(k: usize) -> Vec<String> {
    vec![
        format!("Categorical values found in fewer than {k} real rows are never shown: they, and synthetic values not among the shown ones, are counted in the \"{OTHER_LABEL}\" bar."),
        format!("Numeric histograms: bin edges are quantiles of the pooled real and synthetic values rounded to 2 significant digits; the outer bins are open-ended, so no minimum or maximum is shown; a bin with fewer than {k} real rows is merged into a neighbour. Ranges include their lower edge."),
        format!("Missing values get their own bar only with at least {k} real missing rows (or none); otherwise they join \"{OTHER_LABEL}\" or, for numeric columns, the largest bin."),
        "Privacy figures are distances and rates over rows; no row is shown.".into(),
    ]
}

/// Bins a matched column, using `k` real rows as the release threshold.
pub(crate) fn bin_column(column: &Matched, k: usize) -> Binned {
    match (&column.real, &column.synthetic) {
        (Values::Numeric(real), Values::Numeric(synthetic)) => {
            bin_numbers(real, synthetic, k, column.kind)
        }
        (Values::Labels(real), Values::Labels(synthetic)) => bin_labels(real, synthetic, k),
        _ => Binned {
            labels: vec![OTHER_LABEL.into()],
            real: vec![0; real_len(&column.real)],
            synthetic: vec![0; real_len(&column.synthetic)],
        },
    }
}

fn real_len(values: &Values) -> usize {
    match values {
        Values::Numeric(values) => values.len(),
        Values::Labels(values) => values.len(),
    }
}

/// Whether missing values get their own bin: with at least `k` real
/// missing rows, or with none real but some synthetic.
fn missing_has_own_bin(real_missing: usize, synthetic_missing: usize, k: usize) -> bool {
    real_missing >= k || (real_missing == 0 && synthetic_missing > 0)
}

/// Bins labels: one bin per value with at least `k` real rows (most
/// frequent first), then `(other)` and `(missing)` when needed.
pub(crate) fn bin_labels(
    real: &[Option<String>],
    synthetic: &[Option<String>],
    k: usize,
) -> Binned {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for label in real.iter().flatten() {
        *counts.entry(label).or_default() += 1;
    }
    let mut frequent: Vec<(&str, usize)> = counts.into_iter().filter(|&(_, n)| n >= k).collect();
    frequent.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let index: HashMap<&str, u32> = frequent
        .iter()
        .enumerate()
        .map(|(code, (label, _))| (*label, code as u32))
        .collect();
    let real_missing = real.iter().filter(|v| v.is_none()).count();
    let synthetic_missing = synthetic.iter().filter(|v| v.is_none()).count();
    let own_missing = missing_has_own_bin(real_missing, synthetic_missing, k);
    let needs_other = real.iter().chain(synthetic).any(|value| match value {
        Some(label) => !index.contains_key(label.as_str()),
        None => !own_missing,
    });
    let mut labels: Vec<String> = frequent
        .iter()
        .map(|(label, _)| label.to_string())
        .collect();
    let other = labels.len() as u32;
    if needs_other {
        labels.push(OTHER_LABEL.into());
    }
    let missing = labels.len() as u32;
    if own_missing {
        labels.push(MISSING_LABEL.into());
    }
    let code = |value: &Option<String>| match value {
        Some(label) => index.get(label.as_str()).copied().unwrap_or(other),
        None if own_missing => missing,
        None => other,
    };
    Binned {
        real: real.iter().map(code).collect(),
        synthetic: synthetic.iter().map(code).collect(),
        labels,
    }
}

/// `x` rounded to two significant digits, without binary noise.
pub(crate) fn round2(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    format!("{x:.1e}").parse().unwrap_or(x)
}

fn format_edge(x: f64, kind: ColumnKind) -> String {
    if kind == ColumnKind::Datetime {
        if let Some(text) = DatetimeFormat::Date.format(x as i64) {
            return text;
        }
    }
    format!("{x}")
}

/// Rounded quantiles of sorted `values`.
fn quantile_edges(sorted: &[f64]) -> impl Iterator<Item = f64> + '_ {
    (1..CANDIDATE_BINS)
        .filter_map(|j| sorted.get(j * sorted.len() / CANDIDATE_BINS))
        .map(|&q| round2(q))
}

/// Pooled-quantile edges rounded to two significant digits: quantiles of
/// all values and, so that a spike (say of zeros, more than one bin's
/// share) does not swallow the rest, quantiles of the other values.
fn candidate_edges(real: &[Option<f64>], synthetic: &[Option<f64>]) -> Vec<f64> {
    let mut pooled: Vec<f64> = real.iter().chain(synthetic).flatten().copied().collect();
    pooled.sort_by(f64::total_cmp);
    let mut mode = (0, f64::NAN);
    let mut start = 0;
    while start < pooled.len() {
        let end = pooled[start..].partition_point(|&x| x == pooled[start]) + start;
        if end - start > mode.0 {
            mode = (end - start, pooled[start]);
        }
        start = end;
    }
    let spike = mode.0 * CANDIDATE_BINS > pooled.len();
    let rest: Vec<f64> = if spike {
        pooled.iter().copied().filter(|&x| x != mode.1).collect()
    } else {
        Vec::new()
    };
    let mut edges: Vec<f64> = quantile_edges(&pooled)
        .chain(quantile_edges(&rest))
        .collect();
    edges.sort_by(f64::total_cmp);
    edges.dedup();
    edges
}

/// Bins numbers into ranges between rounded edges; bins with fewer than `k`
/// (but some) real rows, and empty bins, merge into their smaller
/// neighbour (by real rows), left on ties.
pub(crate) fn bin_numbers(
    real: &[Option<f64>],
    synthetic: &[Option<f64>],
    k: usize,
    kind: ColumnKind,
) -> Binned {
    let mut edges = candidate_edges(real, synthetic);
    let bin_of = |edges: &[f64], x: f64| edges.partition_point(|&edge| edge <= x);
    let count = |edges: &[f64], values: &[Option<f64>]| {
        let mut counts = vec![0usize; edges.len() + 1];
        for &x in values.iter().flatten() {
            counts[bin_of(edges, x)] += 1;
        }
        counts
    };
    let (mut real_counts, mut synthetic_counts) = (count(&edges, real), count(&edges, synthetic));
    while real_counts.len() > 1 {
        let offending = (0..real_counts.len()).find(|&i| {
            (real_counts[i] == 0 && synthetic_counts[i] == 0)
                || (real_counts[i] > 0 && real_counts[i] < k)
        });
        let Some(i) = offending else { break };
        let last = real_counts.len() - 1;
        let neighbour = if i == 0 {
            1
        } else if i == last || real_counts[i - 1] <= real_counts[i + 1] {
            i - 1
        } else {
            i + 1
        };
        let low = i.min(neighbour);
        edges.remove(low);
        real_counts[low] += real_counts.remove(low + 1);
        synthetic_counts[low] += synthetic_counts.remove(low + 1);
    }
    let value_bins = real_counts.len();
    let mut labels: Vec<String> = (0..value_bins)
        .map(|i| match (i, value_bins) {
            (_, 1) => "all values".to_string(),
            (0, _) => format!("< {}", format_edge(edges[0], kind)),
            (i, n) if i == n - 1 => format!("≥ {}", format_edge(edges[i - 1], kind)),
            (i, _) => format!(
                "{} – {}",
                format_edge(edges[i - 1], kind),
                format_edge(edges[i], kind)
            ),
        })
        .collect();
    let real_missing = real.iter().filter(|v| v.is_none()).count();
    let synthetic_missing = synthetic.iter().filter(|v| v.is_none()).count();
    let missing_code = if missing_has_own_bin(real_missing, synthetic_missing, k) {
        labels.push(MISSING_LABEL.into());
        value_bins as u32
    } else {
        let largest = (0..value_bins)
            .max_by_key(|&i| (real_counts[i], std::cmp::Reverse(i)))
            .unwrap_or(0);
        if real_missing + synthetic_missing > 0 {
            labels[largest].push_str(" or missing");
        }
        largest as u32
    };
    let code = |value: &Option<f64>| value.map_or(missing_code, |x| bin_of(&edges, x) as u32);
    Binned {
        real: real.iter().map(code).collect(),
        synthetic: synthetic.iter().map(code).collect(),
        labels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(items: &[&str]) -> Vec<Option<String>> {
        items
            .iter()
            .map(|s| (!s.is_empty()).then(|| s.to_string()))
            .collect()
    }

    #[test]
    fn rare_labels_and_unknown_synthetic_labels_join_other() {
        let mut real = vec!["a"; 10];
        real.extend(["rare"; 3]);
        let binned = bin_labels(&labels(&real), &labels(&["a", "rare", "new"]), 10);
        assert_eq!(binned.labels, vec!["a".to_string(), OTHER_LABEL.into()]);
        assert_eq!(binned.synthetic, vec![0, 1, 1]);
        let distribution = binned.distribution();
        assert!((distribution[1].real - 3.0 / 13.0).abs() < 1e-12);
    }

    #[test]
    fn few_missing_rows_join_other_and_many_get_a_bin() {
        let mut real = vec!["a"; 10];
        real.push("");
        let binned = bin_labels(&labels(&real), &labels(&["a"]), 10);
        assert_eq!(binned.labels, vec!["a".to_string(), OTHER_LABEL.into()]);
        real.extend([""; 9]);
        let binned = bin_labels(&labels(&real), &labels(&["a"]), 10);
        assert_eq!(binned.labels, vec!["a".to_string(), MISSING_LABEL.into()]);
    }

    #[test]
    fn round2_keeps_two_significant_digits() {
        assert_eq!(round2(123_456.0), 120_000.0);
        assert_eq!(round2(0.012_34), 0.012);
        assert_eq!(round2(-987.0), -990.0);
        assert_eq!(format!("{}", round2(0.3 + 1e-17)), "0.3");
    }

    #[test]
    fn numeric_bins_hold_k_real_rows_and_hide_outliers() {
        let mut real: Vec<Option<f64>> = (0..200).map(|i| Some(f64::from(i % 50))).collect();
        real.push(Some(987_654.321));
        let binned = bin_numbers(&real, &real, 10, ColumnKind::Float);
        let mut counts = vec![0; binned.labels.len()];
        for &code in &binned.real {
            counts[code as usize] += 1;
        }
        assert!(counts.iter().all(|&n| n >= 10), "{counts:?}");
        assert!(binned.labels.len() > 5, "{:?}", binned.labels);
        assert!(binned.labels.last().unwrap().starts_with('≥'));
        assert!(
            !binned.labels.concat().contains("987"),
            "{:?}",
            binned.labels
        );
    }

    #[test]
    fn disjoint_numeric_samples_share_no_bin() {
        let real = vec![Some(5.0); 20];
        let synthetic = vec![Some(100.0); 20];
        let binned = bin_numbers(&real, &synthetic, 10, ColumnKind::Integer);
        assert!(binned
            .real
            .iter()
            .all(|code| !binned.synthetic.contains(code)));
    }

    #[test]
    fn a_spike_does_not_swallow_the_other_values() {
        let values: Vec<Option<f64>> = (0..1000)
            .map(|i| Some(if i < 900 { 0.0 } else { f64::from(i) * 10.0 }))
            .collect();
        let binned = bin_numbers(&values, &values, 10, ColumnKind::Integer);
        assert!(binned.labels.len() >= 5, "{:?}", binned.labels);
    }
}
