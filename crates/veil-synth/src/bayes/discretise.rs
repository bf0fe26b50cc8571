//! Turns each column into states: labels for booleans and categories, and
//! for numbers bins merged from the leaves of a differentially private
//! histogram on a public log grid ([`super::grid`]); merging and the
//! encoding of rows are post-processing.

use rand_chacha::ChaCha8Rng;

use super::grid::LogGrid;
use super::{BayesColumn, BayesDomain, BinCell, NumericBin};
use crate::error::{Result, SynthError};
use crate::table::{Column, ColumnData, Table};

/// Centre of the datetime grid: 2000-01-01T00:00:00 in Unix seconds.
const DATETIME_CENTRE: f64 = 946_684_800.0;

/// The bins of one numeric column and each row's state (`None` missing):
/// the histogram's leaves merged, lowest first, into at most `bins` bins of
/// about equal noisy mass. A value outside every leaf takes the nearest.
fn numeric_bins(
    values: &[Option<f64>],
    grid: &LogGrid,
    min_rows: usize,
    bins: usize,
    epsilon: Option<f64>,
    rng: &mut ChaCha8Rng,
) -> (Vec<NumericBin>, Vec<Option<usize>>) {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let leaves = grid.histogram(&present, min_rows.max(1) as f64, epsilon, rng);
    let total: f64 = leaves.iter().map(|leaf| leaf.count).sum();
    let mut result: Vec<NumericBin> = Vec::new();
    // (low, high, bin) of each leaf, lowest first.
    let mut bin_of_leaf: Vec<(f64, f64, usize)> = Vec::with_capacity(leaves.len());
    let mut current: Vec<BinCell> = Vec::new();
    let mut cumulative = 0.0;
    let leaf_count = leaves.len();
    for (index, leaf) in leaves.into_iter().enumerate() {
        cumulative += leaf.count;
        bin_of_leaf.push((leaf.low, leaf.high, result.len()));
        current.push(BinCell {
            low: leaf.low,
            high: leaf.high,
            weight: leaf.count,
        });
        let target = total * (result.len() + 1) as f64 / bins as f64;
        if index + 1 == leaf_count || (cumulative >= target && result.len() + 1 < bins) {
            let bin_weight: f64 = current.iter().map(|c| c.weight).sum();
            for cell in &mut current {
                cell.weight /= bin_weight;
            }
            result.push(NumericBin {
                cells: std::mem::take(&mut current),
            });
        }
    }
    let states = values
        .iter()
        .map(|value| nearest_bin(&bin_of_leaf, (*value)?))
        .collect();
    (result, states)
}

/// The bin of the leaf holding `value`, or of the nearest leaf (the lower
/// one on a tie).
fn nearest_bin(bin_of_leaf: &[(f64, f64, usize)], value: f64) -> Option<usize> {
    let after = bin_of_leaf.partition_point(|(low, _, _)| *low <= value);
    let below = after.checked_sub(1).map(|i| bin_of_leaf[i]);
    let above = bin_of_leaf.get(after).copied();
    match (below, above) {
        (Some(b), Some(a)) if value - b.1 <= a.0 - value => Some(b.2),
        (_, Some(a)) => Some(a.2),
        (Some(b), None) => Some(b.2),
        (None, None) => None,
    }
}

/// Encodes state `Some(i)` as `i` and missing as the last state.
fn encode(states: Vec<Option<usize>>, value_states: usize) -> (bool, Vec<u32>) {
    let missing_state = value_states == 0 || states.iter().any(Option::is_none);
    let codes = states
        .into_iter()
        .map(|state| state.unwrap_or(value_states) as u32)
        .collect();
    (missing_state, codes)
}

fn label_column(column: &Column) -> (BayesDomain, Vec<Option<usize>>) {
    let values = column.label_values().unwrap_or_default();
    let labels: Vec<String> = match column.data {
        ColumnData::Boolean(_) => vec!["false".into(), "true".into()],
        _ => {
            let mut labels: Vec<String> = values.iter().flatten().cloned().collect();
            labels.sort();
            labels.dedup();
            labels
        }
    };
    let states = values
        .iter()
        .map(|value| {
            let value = value.as_deref()?;
            labels.binary_search_by(|l| l.as_str().cmp(value)).ok()
        })
        .collect();
    let domain = match column.data {
        ColumnData::Boolean(_) => BayesDomain::Boolean { labels },
        _ => BayesDomain::Categorical { labels },
    };
    (domain, states)
}

/// Discretises every column of `table`; `epsilon` is the budget of each
/// numeric column (`None`: ∞). Returns the columns and, per column, each
/// row's state.
pub(crate) fn discretise(
    table: &Table,
    min_rows: usize,
    bins: usize,
    epsilon: Option<f64>,
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<BayesColumn>, Vec<Vec<u32>>)> {
    let mut columns = Vec::new();
    let mut all_states = Vec::new();
    for column in table.columns() {
        let (domain, states) = match (&column.data, column.numeric_values()) {
            (ColumnData::Boolean(_) | ColumnData::Categorical(_), _) | (_, None) => {
                label_column(column)
            }
            (data, Some(values)) => {
                let (centre, integral) = match data {
                    ColumnData::Datetime { .. } => (DATETIME_CENTRE, true),
                    ColumnData::Float { .. } => (0.0, false),
                    _ => (0.0, true),
                };
                let grid = LogGrid::new(centre, integral, table.row_count(), epsilon);
                let (numeric, states) = numeric_bins(&values, &grid, min_rows, bins, epsilon, rng);
                let domain = match data {
                    ColumnData::Float { decimals, .. } => BayesDomain::Float {
                        bins: numeric,
                        decimals: *decimals,
                    },
                    ColumnData::Datetime { format, .. } => BayesDomain::Datetime {
                        bins: numeric,
                        format: *format,
                    },
                    _ => BayesDomain::Integer { bins: numeric },
                };
                (domain, states)
            }
        };
        let value_states = domain.value_states();
        if value_states >= u32::MAX as usize {
            return Err(SynthError::Model(format!(
                "column {:?} has too many states",
                column.name
            )));
        }
        let (missing_state, codes) = encode(states, value_states);
        columns.push(BayesColumn {
            name: column.name.clone(),
            domain,
            missing_state,
        });
        all_states.push(codes);
    }
    Ok((columns, all_states))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn bins_have_equal_mass_and_rows_find_their_bin() {
        let mut values: Vec<Option<f64>> = (0..1000).map(|i| Some(f64::from(i % 100))).collect();
        values.push(Some(1e12));
        values.push(None);
        let grid = LogGrid::new(0.0, true, 1002, None);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let (bins, states) = numeric_bins(&values, &grid, 5, 10, None, &mut rng);
        assert_eq!(bins.len(), 10);
        for (bin, expected) in bins.iter().zip(0..) {
            assert_eq!(bin.cells[0].low, f64::from(expected * 10));
            let sum: f64 = bin.cells.iter().map(|c| c.weight).sum();
            assert!((sum - 1.0).abs() < 1e-9);
        }
        assert_eq!(states[1000], Some(9), "the lone 1e12 joins the top bin");
        assert_eq!(states[1001], None);
        assert_eq!(states[55], Some(5));
        assert_eq!(nearest_bin(&[(1.0, 2.0, 0), (5.0, 6.0, 1)], 3.4), Some(0));
        assert_eq!(nearest_bin(&[(1.0, 2.0, 0), (5.0, 6.0, 1)], 3.6), Some(1));
        assert_eq!(nearest_bin(&[], 3.6), None);
    }
}
