//! Checking a (possibly untrusted) [`BayesNetModel`] and sampling it:
//! ancestral sampling of states in network order, then values drawn within
//! each numeric state's cells.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::network::MAX_TABLE_CELLS;
use super::{BayesColumn, BayesDomain, BayesNetModel, NumericBin, BAYES_NET_FORMAT_VERSION};
use crate::error::{Result, SynthError};
use crate::model::ChunkSampler;
use crate::table::{Column, ColumnData, DatetimeFormat, Table};

/// Largest magnitude of a numeric cell bound, so integers stay within
/// `i64` (datetimes beyond chrono's range are written as empty text).
const MAX_MAGNITUDE: f64 = 4.7e18;

/// Tolerance on a distribution's sum.
const SUM_TOLERANCE: f64 = 1e-6;

/// A node ready to sample: parents, their radices and cumulative rows.
struct PreparedNode {
    column: usize,
    parents: Vec<usize>,
    radices: Vec<usize>,
    cumulative: Vec<Vec<f64>>,
}

/// A checked [`BayesNetModel`] with cumulative tables, ready to sample.
pub struct BayesNetSampler {
    columns: Vec<BayesColumn>,
    nodes: Vec<PreparedNode>,
}

fn invalid(message: String) -> SynthError {
    SynthError::Model(message)
}

fn cumulative(weights: &[f64]) -> Vec<f64> {
    weights
        .iter()
        .scan(0.0, |sum, weight| {
            *sum += weight;
            Some(*sum)
        })
        .collect()
}

/// Checks a distribution: finite, non-negative, summing to one.
fn is_distribution(weights: &[f64]) -> bool {
    !weights.is_empty()
        && weights.iter().all(|w| w.is_finite() && *w >= 0.0)
        && (weights.iter().sum::<f64>() - 1.0).abs() <= SUM_TOLERANCE
}

fn check_bins(bins: &[NumericBin], integral: bool) -> bool {
    bins.iter().all(|bin| {
        let weights: Vec<f64> = bin.cells.iter().map(|c| c.weight).collect();
        is_distribution(&weights)
            && bin.cells.iter().all(|cell| {
                cell.low.is_finite()
                    && cell.high.is_finite()
                    && cell.low <= cell.high
                    && cell.low.abs() <= MAX_MAGNITUDE
                    && cell.high.abs() <= MAX_MAGNITUDE
                    && (!integral || (cell.low.fract() == 0.0 && cell.high.fract() == 0.0))
            })
    })
}

fn check_column(column: &BayesColumn) -> Result<()> {
    let valid = match &column.domain {
        BayesDomain::Integer { bins } | BayesDomain::Datetime { bins, .. } => {
            check_bins(bins, true)
        }
        BayesDomain::Float { bins, decimals } => *decimals <= 9 && check_bins(bins, false),
        BayesDomain::Boolean { labels } => {
            labels.iter().all(|l| l == "true" || l == "false")
                && !(labels.len() == 2 && labels[0] == labels[1])
                && labels.len() <= 2
        }
        BayesDomain::Categorical { labels } => {
            labels.iter().all(|l| !l.is_empty()) && labels.windows(2).all(|pair| pair[0] < pair[1])
        }
    };
    if !valid || column.states() == 0 || column.states() > u32::MAX as usize {
        return Err(invalid(format!(
            "column {:?} has an invalid domain",
            column.name
        )));
    }
    Ok(())
}

impl BayesNetSampler {
    /// Checks `model` and prepares sampling.
    pub(crate) fn new(model: &BayesNetModel) -> Result<BayesNetSampler> {
        if model.format_version != BAYES_NET_FORMAT_VERSION {
            return Err(SynthError::UnsupportedFormat {
                found: model.format_version,
                supported: BAYES_NET_FORMAT_VERSION,
            });
        }
        let size = model.columns.len();
        if size == 0 || model.nodes.len() != size {
            return Err(invalid(format!(
                "the network must have one node per column ({} nodes, {size} columns)",
                model.nodes.len()
            )));
        }
        for (index, column) in model.columns.iter().enumerate() {
            check_column(column)?;
            if model.columns[..index].iter().any(|c| c.name == column.name) {
                return Err(SynthError::DuplicateColumn(column.name.clone()));
            }
        }
        let mut placed = vec![false; size];
        let mut nodes = Vec::with_capacity(size);
        for node in &model.nodes {
            if node.column >= size || placed[node.column] {
                return Err(invalid(format!(
                    "node for column {} is out of range or repeated",
                    node.column
                )));
            }
            for (index, &parent) in node.parents.iter().enumerate() {
                if parent >= size || !placed[parent] || node.parents[..index].contains(&parent) {
                    return Err(invalid(format!(
                        "column {}: parent {parent} is not an earlier, distinct node",
                        node.column
                    )));
                }
            }
            let states = model.columns[node.column].states();
            let radices: Vec<usize> = node
                .parents
                .iter()
                .map(|&p| model.columns[p].states())
                .collect();
            let configurations = radices
                .iter()
                .try_fold(1usize, |product, &radix| product.checked_mul(radix))
                .filter(|c| {
                    c.checked_mul(states)
                        .is_some_and(|cells| cells <= MAX_TABLE_CELLS)
                });
            if configurations != Some(node.conditional.len()) {
                return Err(invalid(format!(
                    "column {}: the conditional needs one row per parent configuration",
                    node.column
                )));
            }
            if !node
                .conditional
                .iter()
                .all(|row| row.len() == states && is_distribution(row))
            {
                return Err(invalid(format!(
                    "column {}: a conditional row is not a distribution over {states} states",
                    node.column
                )));
            }
            placed[node.column] = true;
            nodes.push(PreparedNode {
                column: node.column,
                parents: node.parents.clone(),
                radices,
                cumulative: node.conditional.iter().map(|row| cumulative(row)).collect(),
            });
        }
        Ok(BayesNetSampler {
            columns: model.columns.clone(),
            nodes,
        })
    }
}

/// The index whose cumulative slice contains a fresh uniform draw.
fn draw(cumulative: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let total = cumulative.last().copied().unwrap_or(0.0);
    let u = rng.gen::<f64>() * total;
    cumulative
        .partition_point(|&c| c <= u)
        .min(cumulative.len().saturating_sub(1))
}

/// A value within `bin`: a cell by weight, then uniform within it.
fn draw_value(bin: &NumericBin, integral: bool, rng: &mut ChaCha8Rng) -> f64 {
    let weights: Vec<f64> = bin.cells.iter().map(|c| c.weight).collect();
    let cell = &bin.cells[draw(&cumulative(&weights), rng)];
    if cell.low == cell.high {
        return cell.low;
    }
    if integral {
        // Both bounds are integers within ±2^62, so the casts are exact.
        let (low, high) = (cell.low as i64, cell.high as i64);
        rng.gen_range(low..=high) as f64
    } else {
        cell.low + rng.gen::<f64>() * (cell.high - cell.low)
    }
}

fn empty_data(domain: &BayesDomain, rows: usize) -> ColumnData {
    match domain {
        BayesDomain::Integer { .. } => ColumnData::Integer(Vec::with_capacity(rows)),
        BayesDomain::Float { decimals, .. } => ColumnData::Float {
            values: Vec::with_capacity(rows),
            decimals: *decimals,
        },
        BayesDomain::Datetime { format, .. } => ColumnData::Datetime {
            seconds: Vec::with_capacity(rows),
            format: *format,
        },
        BayesDomain::Boolean { .. } => ColumnData::Boolean(Vec::with_capacity(rows)),
        BayesDomain::Categorical { .. } => ColumnData::Categorical(Vec::with_capacity(rows)),
    }
}

/// Appends the value of `state` (missing beyond the value states).
fn push_value(data: &mut ColumnData, domain: &BayesDomain, state: usize, rng: &mut ChaCha8Rng) {
    match (data, domain) {
        (ColumnData::Integer(values), BayesDomain::Integer { bins }) => {
            values.push(bins.get(state).map(|bin| draw_value(bin, true, rng) as i64));
        }
        (ColumnData::Float { values, decimals }, BayesDomain::Float { bins, .. }) => {
            let scale = 10f64.powi(i32::from(*decimals));
            values.push(
                bins.get(state)
                    .map(|bin| (draw_value(bin, false, rng) * scale).round() / scale),
            );
        }
        (ColumnData::Datetime { seconds, format }, BayesDomain::Datetime { bins, .. }) => {
            seconds.push(bins.get(state).map(|bin| {
                let value = draw_value(bin, true, rng);
                match format {
                    DatetimeFormat::Date => {
                        ((value / 86_400.0).round() as i64).saturating_mul(86_400)
                    }
                    _ => value as i64,
                }
            }));
        }
        (ColumnData::Boolean(values), BayesDomain::Boolean { labels }) => {
            values.push(labels.get(state).map(|label| label == "true"));
        }
        (ColumnData::Categorical(values), BayesDomain::Categorical { labels }) => {
            values.push(labels.get(state).cloned());
        }
        _ => {}
    }
}

impl ChunkSampler for BayesNetSampler {
    fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    fn sample_chunk(&self, rows: usize, rng: &mut ChaCha8Rng) -> Result<Table> {
        let mut data: Vec<ColumnData> = self
            .columns
            .iter()
            .map(|c| empty_data(&c.domain, rows))
            .collect();
        let mut states = vec![0usize; self.columns.len()];
        for _ in 0..rows {
            for node in &self.nodes {
                let configuration = node
                    .parents
                    .iter()
                    .zip(&node.radices)
                    .fold(0usize, |index, (&parent, &radix)| {
                        index * radix + states[parent]
                    });
                states[node.column] = draw(&node.cumulative[configuration], rng);
            }
            for ((column, values), &state) in self.columns.iter().zip(&mut data).zip(&states) {
                push_value(values, &column.domain, state, rng);
            }
        }
        let columns = self
            .columns
            .iter()
            .zip(data)
            .map(|(column, data)| Column {
                name: column.name.clone(),
                data,
            })
            .collect();
        Table::new(columns)
    }
}
