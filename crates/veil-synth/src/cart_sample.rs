//! Checking a (possibly untrusted) [`CartModel`] and drawing rows from it,
//! with the privacy filter that rejects copies of training rows.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::cart::{
    row_fingerprint, CartColumn, CartColumnKind, CartModel, Cell, CART_FORMAT_VERSION,
};
use crate::error::{Result, SynthError};
use crate::model::ChunkSampler;
use crate::table::{Column, ColumnData, DatetimeFormat, Table};
use validate::{check_column, check_node};

/// Draws of one row before sampling gives up rather than emit a copy of a
/// training row.
pub const MAX_ROW_ATTEMPTS: usize = 100;

/// A checked [`CartModel`], ready to sample.
pub struct CartSampler {
    columns: Vec<CartColumn>,
    trees: Vec<Tree>,
    key: [u64; 2],
    fingerprints: Vec<u64>,
}

struct Tree {
    column: usize,
    nodes: Vec<Node>,
}

enum Node {
    Threshold {
        feature: usize,
        threshold: Option<f64>,
        missing_left: bool,
        left: usize,
        right: usize,
    },
    Categories {
        feature: usize,
        goes_left: Vec<bool>,
        left: usize,
        right: usize,
    },
    Classes {
        codes: Vec<u32>,
        cumulative: Vec<u64>,
    },
    Values {
        values: Vec<f64>,
        missing: u64,
        bandwidth: f64,
    },
}

fn invalid(message: String) -> SynthError {
    SynthError::Model(message)
}

impl CartSampler {
    /// Checks `model` and precomputes what sampling needs.
    pub fn new(model: &CartModel) -> Result<CartSampler> {
        if model.format_version != CART_FORMAT_VERSION {
            return Err(SynthError::UnsupportedFormat {
                found: model.format_version,
                supported: CART_FORMAT_VERSION,
            });
        }
        let columns = &model.columns;
        if columns.is_empty() || model.trees.len() != columns.len() {
            return Err(invalid(format!(
                "a cart model needs one tree per column and at least one column ({} trees, {} columns)",
                model.trees.len(),
                columns.len()
            )));
        }
        for column in columns {
            check_column(column)?;
        }
        // position[c]: where column c's tree is in the synthesis order.
        let mut position = vec![usize::MAX; columns.len()];
        for (index, tree) in model.trees.iter().enumerate() {
            match position.get_mut(tree.column) {
                Some(slot) if *slot == usize::MAX => *slot = index,
                _ => {
                    return Err(invalid(format!(
                        "tree {index} names column {} which is out of range or has another tree",
                        tree.column
                    )))
                }
            }
        }
        let trees = model
            .trees
            .iter()
            .enumerate()
            .map(|(index, tree)| {
                let nodes = tree
                    .nodes
                    .iter()
                    .enumerate()
                    .map(|(at, node)| {
                        check_node(
                            columns,
                            &position,
                            index,
                            tree.column,
                            at,
                            tree.nodes.len(),
                            node,
                        )
                    })
                    .collect::<Result<Vec<Node>>>()?;
                if nodes.is_empty() {
                    return Err(invalid(format!("tree {index} has no node")));
                }
                Ok(Tree {
                    column: tree.column,
                    nodes,
                })
            })
            .collect::<Result<Vec<Tree>>>()?;
        let mut fingerprints = model.fingerprints.clone();
        fingerprints.sort_unstable();
        fingerprints.dedup();
        Ok(CartSampler {
            columns: columns.clone(),
            trees,
            key: model.fingerprint_key,
            fingerprints,
        })
    }

    /// Draws one row into `cells` (indexed by column), without the filter.
    pub(crate) fn draw_row(&self, rng: &mut ChaCha8Rng, cells: &mut [Cell]) -> Result<()> {
        for tree in &self.trees {
            let mut at = 0;
            let leaf = loop {
                let node = tree
                    .nodes
                    .get(at)
                    .ok_or_else(|| invalid(format!("node {at} is out of range")))?;
                at = match node {
                    Node::Threshold {
                        feature,
                        threshold,
                        missing_left,
                        left,
                        right,
                    } => {
                        let goes_left = match cells.get(*feature) {
                            Some(Cell::Number(value)) => threshold.is_some_and(|t| *value <= t),
                            Some(Cell::Missing) => *missing_left,
                            _ => false,
                        };
                        if goes_left {
                            *left
                        } else {
                            *right
                        }
                    }
                    Node::Categories {
                        feature,
                        goes_left,
                        left,
                        right,
                    } => {
                        let code = match cells.get(*feature) {
                            Some(Cell::Code(code)) => *code as usize,
                            _ => usize::MAX,
                        };
                        if goes_left.get(code).copied().unwrap_or(false) {
                            *left
                        } else {
                            *right
                        }
                    }
                    leaf => break leaf,
                };
            };
            let cell = self.draw_leaf(&self.columns[tree.column], leaf, rng);
            cells[tree.column] = cell;
        }
        Ok(())
    }

    fn draw_leaf(&self, column: &CartColumn, leaf: &Node, rng: &mut ChaCha8Rng) -> Cell {
        match leaf {
            Node::Classes { codes, cumulative } => {
                let total = cumulative.last().copied().unwrap_or(1).max(1);
                let pick = rng.gen_range(0..total);
                let index = cumulative.partition_point(|c| *c <= pick);
                Cell::Code(codes.get(index).copied().unwrap_or(0))
            }
            Node::Values {
                values,
                missing,
                bandwidth,
            } => {
                let total = values.len() as u64 + missing;
                let pick = rng.gen_range(0..total.max(1)) as usize;
                let (Some(&donor), Some([low, high])) = (values.get(pick), column.bounds) else {
                    return Cell::Missing;
                };
                let value = if *bandwidth > 0.0 {
                    let noise: f64 = rng.sample(StandardNormal);
                    donor + bandwidth * noise
                } else {
                    donor
                };
                Cell::Number(round_for_output(&column.kind, value.clamp(low, high)))
            }
            _ => Cell::Missing,
        }
    }

    /// Draws one row unlike every training row into `cells`.
    fn draw_new_row(&self, rng: &mut ChaCha8Rng, cells: &mut [Cell]) -> Result<()> {
        for _ in 0..MAX_ROW_ATTEMPTS {
            self.draw_row(rng, cells)?;
            let fingerprint = row_fingerprint(self.key, &self.columns, cells);
            if self.fingerprints.binary_search(&fingerprint).is_err() {
                return Ok(());
            }
        }
        Err(SynthError::Model(format!(
            "no row unlike every training row in {MAX_ROW_ATTEMPTS} draws: the model copies its \
             training data (raise min_leaf or enable smoothing)"
        )))
    }
}

/// Rounds a value the way its column is written.
fn round_for_output(kind: &CartColumnKind, value: f64) -> f64 {
    match kind {
        CartColumnKind::Float { decimals } => {
            let scale = 10f64.powi(i32::from(*decimals));
            (value * scale).round() / scale
        }
        CartColumnKind::Datetime {
            format: DatetimeFormat::Date,
        } => (value / 86_400.0).round() * 86_400.0,
        _ => value.round(),
    }
}

impl ChunkSampler for CartSampler {
    fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    fn sample_chunk(&self, rows: usize, rng: &mut ChaCha8Rng) -> Result<Table> {
        let width = self.columns.len();
        let mut cells = vec![Cell::Missing; rows * width];
        for row in cells.chunks_mut(width.max(1)) {
            self.draw_new_row(rng, row)?;
        }
        let columns = self
            .columns
            .iter()
            .enumerate()
            .map(|(index, column)| {
                let values = cells.iter().skip(index).step_by(width.max(1));
                Column {
                    name: column.name.clone(),
                    data: column_data(&column.kind, values),
                }
            })
            .collect();
        Table::new(columns)
    }
}

fn column_data<'a>(kind: &CartColumnKind, cells: impl Iterator<Item = &'a Cell>) -> ColumnData {
    let number = |cell: &Cell| match cell {
        Cell::Number(value) => Some(*value),
        _ => None,
    };
    let code = |cell: &Cell| match cell {
        Cell::Code(code) => Some(*code as usize),
        _ => None,
    };
    match kind {
        CartColumnKind::Integer => {
            ColumnData::Integer(cells.map(|c| number(c).map(|v| v as i64)).collect())
        }
        CartColumnKind::Float { decimals } => ColumnData::Float {
            values: cells.map(number).collect(),
            decimals: *decimals,
        },
        CartColumnKind::Datetime { format } => ColumnData::Datetime {
            seconds: cells.map(|c| number(c).map(|v| v as i64)).collect(),
            format: *format,
        },
        CartColumnKind::Boolean => ColumnData::Boolean(
            cells
                .map(|c| code(c).filter(|code| *code < 2).map(|code| code == 1))
                .collect(),
        ),
        CartColumnKind::Categorical { labels } => ColumnData::Categorical(
            cells
                .map(|c| code(c).and_then(|code| labels.get(code).cloned()))
                .collect(),
        ),
    }
}

#[path = "cart_validate.rs"]
mod validate;

#[cfg(test)]
#[path = "cart_sample_tests.rs"]
mod tests;
