//! Column encoding of [`super`]: label codes, clamped and standardised
//! numbers, and quantile bins for splitting.

use std::collections::BTreeSet;

use super::{CartColumn, CartColumnKind, CartSmoothing, Cell};
use crate::cart_tree::{Feature, Target};
use crate::table::{Column, ColumnData};

/// A column encoded for fitting.
pub(super) struct Encoded {
    pub(super) column: CartColumn,
    /// Label code per row (label columns).
    codes: Vec<u32>,
    /// Clamped value per row (numeric columns; all `None` without bounds).
    values: Vec<Option<f64>>,
    standardized: Vec<f64>,
    bins: Vec<u8>,
    edges: Vec<f64>,
}

pub(super) fn encode(column: &Column, k: usize, bins: usize) -> Encoded {
    let mut encoded = Encoded {
        column: CartColumn {
            name: column.name.clone(),
            kind: CartColumnKind::Integer,
            bounds: None,
        },
        codes: Vec::new(),
        values: Vec::new(),
        standardized: Vec::new(),
        bins: Vec::new(),
        edges: Vec::new(),
    };
    if let Some(labels) = column.label_values() {
        let (kind, names): (CartColumnKind, Vec<String>) = match column.data {
            ColumnData::Boolean(_) => {
                (CartColumnKind::Boolean, vec!["false".into(), "true".into()])
            }
            _ => {
                let set: BTreeSet<&str> = labels.iter().flatten().map(String::as_str).collect();
                let names: Vec<String> = set.into_iter().map(str::to_string).collect();
                (
                    CartColumnKind::Categorical {
                        labels: names.clone(),
                    },
                    names,
                )
            }
        };
        encoded.codes = labels
            .iter()
            .map(|label| {
                let code = label.as_ref().and_then(|l| names.binary_search(l).ok());
                code.unwrap_or(names.len()) as u32
            })
            .collect();
        encoded.column.kind = kind;
        return encoded;
    }
    encoded.column.kind = match &column.data {
        ColumnData::Float { decimals, .. } => CartColumnKind::Float {
            decimals: (*decimals).min(9),
        },
        ColumnData::Datetime { format, .. } => CartColumnKind::Datetime { format: *format },
        _ => CartColumnKind::Integer,
    };
    let raw = column.numeric_values().unwrap_or_default();
    let mut sorted: Vec<f64> = raw.iter().flatten().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let k = k.max(1);
    let bounds = (sorted.len() >= k)
        .then(|| [sorted[k - 1], sorted[sorted.len() - k]])
        .filter(|[low, high]| low <= high);
    encoded.column.bounds = bounds;
    encoded.values = raw
        .iter()
        .map(|value| Some(value.as_ref()?.clamp(bounds?[0], bounds?[1])))
        .collect();
    let present: Vec<f64> = encoded.values.iter().flatten().copied().collect();
    let count = present.len().max(1) as f64;
    let mean = present.iter().sum::<f64>() / count;
    let sd = (present.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / count).sqrt();
    let scale = if sd > 0.0 { sd } else { 1.0 };
    encoded.standardized = encoded
        .values
        .iter()
        .map(|value| value.map_or(f64::NAN, |v| (v - mean) / scale))
        .collect();
    let mut clamped: Vec<f64> = present;
    clamped.sort_by(f64::total_cmp);
    if let Some(&max) = clamped.last() {
        let n = clamped.len();
        encoded.edges = (1..bins)
            .map(|i| clamped[(i * n / bins).min(n - 1)])
            .collect();
        encoded.edges.dedup();
        encoded.edges.retain(|edge| *edge < max);
    }
    let missing_bin = (encoded.edges.len() + 1) as u8;
    encoded.bins = encoded
        .values
        .iter()
        .map(|value| match value {
            Some(v) => encoded.edges.partition_point(|edge| edge < v) as u8,
            None => missing_bin,
        })
        .collect();
    encoded
}

impl Encoded {
    pub(super) fn feature(&self) -> Feature<'_> {
        match self.column.kind.label_count() {
            Some(labels) => Feature::Codes {
                codes: &self.codes,
                labels,
            },
            None => Feature::Binned {
                bins: &self.bins,
                edges: &self.edges,
            },
        }
    }

    pub(super) fn target(&self, smoothing: CartSmoothing) -> Target<'_> {
        match self.column.kind.label_count() {
            Some(labels) => Target::Classes {
                codes: &self.codes,
                labels,
            },
            None => Target::Values {
                values: &self.values,
                standardized: &self.standardized,
                smoothing: match smoothing {
                    CartSmoothing::None => false,
                    CartSmoothing::Floats => {
                        matches!(self.column.kind, CartColumnKind::Float { .. })
                    }
                    CartSmoothing::Numeric => true,
                },
            },
        }
    }

    /// The row's cell as the fingerprint sees it (unclamped numbers).
    pub(super) fn cell(&self, source: &Column, row: usize) -> Cell {
        if self.column.kind.label_count().is_some() {
            return Cell::Code(self.codes[row]);
        }
        let value = match &source.data {
            ColumnData::Integer(values) => values[row].map(|v| v as f64),
            ColumnData::Float { values, .. } => values[row],
            ColumnData::Datetime { seconds, .. } => seconds[row].map(|v| v as f64),
            _ => None,
        };
        value.map_or(Cell::Missing, Cell::Number)
    }
}
