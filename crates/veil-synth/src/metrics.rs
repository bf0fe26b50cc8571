//! Fidelity metrics comparing a synthetic table with the real one:
//! per-column marginal similarity and pairwise correlation similarity, each
//! in `[0, 1]` with 1 meaning identical.
//!
//! * Numeric columns (integers, floats, datetimes): the KS complement,
//!   `1 − sup_x |F_real(x) − F_synthetic(x)|` over present values.
//! * Categorical and boolean columns: the total-variation complement,
//!   `1 − ½ Σ_v |p_real(v) − p_synthetic(v)|` over present values.
//! * Correlation similarity: for each pair of numeric columns,
//!   `1 − |r_real − r_synthetic| / 2` with Pearson's `r` over rows where both
//!   are present, averaged over pairs defined in both tables.
//!
//! Missing values are left out of all three.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Result, SynthError};
use crate::stats::pearson;
use crate::table::{Column, Table};

/// A numeric column's values, `None` where missing.
type NumericValues = Vec<Option<f64>>;

/// Which metric scored a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ColumnMetric {
    /// Kolmogorov–Smirnov complement.
    KsComplement,
    /// Total-variation complement.
    TvComplement,
}

/// One column's score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnFidelity {
    /// The column.
    pub name: String,
    /// The metric used.
    pub metric: ColumnMetric,
    /// The score in `[0, 1]`.
    pub score: f64,
}

/// Scores of a synthetic table against the real one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FidelityReport {
    /// One entry per synthetic column.
    pub columns: Vec<ColumnFidelity>,
    /// Mean correlation similarity over numeric pairs; `None` without any.
    pub correlation_similarity: Option<f64>,
}

impl FidelityReport {
    /// The mean column score.
    pub fn mean_column_score(&self) -> f64 {
        self.columns.iter().map(|c| c.score).sum::<f64>() / self.columns.len().max(1) as f64
    }
}

/// Scores every column of `synthetic` against the same-named column of
/// `real`, which may have more columns (e.g. excluded identifiers).
pub fn fidelity(real: &Table, synthetic: &Table) -> Result<FidelityReport> {
    let mut columns = Vec::new();
    let mut numeric_pairs: Vec<(NumericValues, NumericValues)> = Vec::new();
    for synthetic_column in synthetic.columns() {
        let name = &synthetic_column.name;
        let real_column = real.column(name).ok_or_else(|| {
            SynthError::SchemaMismatch(format!("real table has no column {name:?}"))
        })?;
        if real_column.kind() != synthetic_column.kind() {
            return Err(SynthError::SchemaMismatch(format!(
                "column {name:?} differs in kind"
            )));
        }
        let (metric, score) = match (
            real_column.numeric_values(),
            synthetic_column.numeric_values(),
        ) {
            (Some(real_values), Some(synthetic_values)) => {
                let score = ks_complement(&present(&real_values), &present(&synthetic_values));
                numeric_pairs.push((real_values, synthetic_values));
                (ColumnMetric::KsComplement, score)
            }
            _ => (
                ColumnMetric::TvComplement,
                tv_complement_of(real_column, synthetic_column),
            ),
        };
        columns.push(ColumnFidelity {
            name: name.clone(),
            metric,
            score,
        });
    }
    let mut similarities = Vec::new();
    for left in 0..numeric_pairs.len() {
        for right in left + 1..numeric_pairs.len() {
            let real_r = pearson(&numeric_pairs[left].0, &numeric_pairs[right].0);
            let synthetic_r = pearson(&numeric_pairs[left].1, &numeric_pairs[right].1);
            if let (Some(real_r), Some(synthetic_r)) = (real_r, synthetic_r) {
                similarities.push(1.0 - (real_r - synthetic_r).abs() / 2.0);
            }
        }
    }
    let correlation_similarity = (!similarities.is_empty())
        .then(|| similarities.iter().sum::<f64>() / similarities.len() as f64);
    Ok(FidelityReport {
        columns,
        correlation_similarity,
    })
}

fn present(values: &[Option<f64>]) -> Vec<f64> {
    values.iter().flatten().copied().collect()
}

fn tv_complement_of(real: &Column, synthetic: &Column) -> f64 {
    let labels = |column: &Column| {
        column
            .label_values()
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
    };
    tv_complement(&labels(real), &labels(synthetic))
}

/// `1 − sup |F_a − F_b|` of two samples' empirical CDFs; 0 if one is empty
/// and the other is not, 1 if both are.
pub fn ks_complement(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return if a.is_empty() && b.is_empty() {
            1.0
        } else {
            0.0
        };
    }
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut distance) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = if a[i] <= b[j] { a[i] } else { b[j] };
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        distance = distance.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    1.0 - distance
}

/// `1 − ½ Σ |p_a(v) − p_b(v)|` of two samples' label frequencies; 0 if one
/// is empty and the other is not, 1 if both are.
pub fn tv_complement(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return if a.is_empty() && b.is_empty() {
            1.0
        } else {
            0.0
        };
    }
    let mut frequencies: HashMap<&str, (f64, f64)> = HashMap::new();
    for label in a {
        frequencies.entry(label).or_default().0 += 1.0 / a.len() as f64;
    }
    for label in b {
        frequencies.entry(label).or_default().1 += 1.0 / b.len() as f64;
    }
    let distance: f64 = frequencies
        .values()
        .map(|(p, q)| (p - q).abs())
        .sum::<f64>()
        / 2.0;
    (1.0 - distance).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::ColumnData;

    #[test]
    fn ks_complement_of_known_samples() {
        assert_eq!(ks_complement(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 1.0);
        assert_eq!(ks_complement(&[1.0, 2.0], &[3.0, 4.0]), 0.0);
        assert!((ks_complement(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0]) - 0.5).abs() < 1e-12);
        assert_eq!(ks_complement(&[], &[]), 1.0);
        assert_eq!(ks_complement(&[1.0], &[]), 0.0);
    }

    #[test]
    fn tv_complement_of_known_samples() {
        let labels = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            tv_complement(&labels(&["a", "b"]), &labels(&["b", "a"])),
            1.0
        );
        assert!((tv_complement(&labels(&["a", "a"]), &labels(&["a", "b"])) - 0.5).abs() < 1e-12);
        assert_eq!(tv_complement(&labels(&["a"]), &labels(&["b"])), 0.0);
    }

    #[test]
    fn fidelity_matches_columns_by_name_and_scores_correlation() {
        let column = |name: &str, values: Vec<i64>| Column {
            name: name.into(),
            data: ColumnData::Integer(values.into_iter().map(Some).collect()),
        };
        let real = Table::new(vec![
            column("id", vec![1, 2, 3]),
            column("x", vec![1, 2, 3]),
            column("y", vec![1, 2, 3]),
        ])
        .unwrap();
        let synthetic =
            Table::new(vec![column("x", vec![1, 2, 3]), column("y", vec![3, 2, 1])]).unwrap();
        let report = fidelity(&real, &synthetic).unwrap();
        assert_eq!(report.mean_column_score(), 1.0);
        assert_eq!(report.correlation_similarity, Some(0.0));
        let other = Table::new(vec![column("z", vec![1])]).unwrap();
        assert!(fidelity(&real, &other).is_err());
    }
}
