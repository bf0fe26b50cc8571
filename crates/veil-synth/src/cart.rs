//! The `cart` model: sequential synthesis with one decision tree per column
//! (the synthpop approach), Veil's high-fidelity model.
//!
//! Fitting: columns are visited in table order. The first is drawn from its
//! empirical distribution (a tree with a single leaf); every later column
//! gets a CART tree predicting it from the columns before it — Gini for
//! booleans and categories, squared error for integers, floats and
//! datetimes (see [`crate::cart_tree`]). Missing is a category of its own,
//! both as a feature and as a target, so missingness is reproduced. Each
//! leaf keeps its training rows' target values as donors. The trees are
//! independent and fitted in parallel.
//!
//! Sampling: a row is drawn column by column; each tree is walked with the
//! values already drawn and a donor is picked uniformly from the leaf reached.
//! Numeric donors may be smoothed: Gaussian jitter with the leaf's
//! Silverman bandwidth ([`CartSmoothing`], on for floats by default).
//!
//! Rare values: categories were already suppressed by
//! [`crate::prepare`]; numeric donors (and smoothed values) are clamped to
//! the column's `k`-th smallest and `k`-th largest values, so no leaf stores
//! a record's extreme value. Other donor values are training values, as in
//! synthpop.
//!
//! Privacy filter: the model never emits a row equal to a training row. It
//! stores a keyed 64-bit fingerprint (SipHash-2-4) of every distinct
//! prepared training row, and a sampled row whose fingerprint matches is
//! drawn again from the same random stream, up to [`MAX_ROW_ATTEMPTS`]
//! times, after which sampling fails rather than emit the copy. The
//! trade-off: the model samples without the training data, but the key is
//! stored beside the fingerprints, so whoever holds the model can test
//! whether a *guessed* complete row was a training row (a membership
//! oracle for full rows). The key only stops fingerprints from being
//! compared across models or precomputed; treat a cart model as sensitive
//! as its leaves' donor values already make it. A false match (probability
//! about `rows / 2⁶⁴` per draw) only costs a redraw.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::cart_tree::{grow, CartNode, Feature, GrowRules};
use crate::error::{Result, SynthError};
use crate::fingerprint::SipState;
use crate::model::SynthModel;
use crate::rare::PreparedTable;
use crate::table::DatetimeFormat;

use encode::{encode, Encoded};

pub use crate::cart_sample::{CartSampler, MAX_ROW_ATTEMPTS};

/// The serialised format version this build writes and reads.
pub const CART_FORMAT_VERSION: u32 = 1;

/// Which numeric targets get Gaussian jitter on their donor values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CartSmoothing {
    /// Donor values are emitted as they are.
    None,
    /// Float columns are smoothed.
    #[default]
    Floats,
    /// Integer, float and datetime columns are smoothed (then rounded).
    Numeric,
}

/// Options of the cart model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CartOptions {
    /// Minimum training rows in a leaf (synthpop's `minbucket`), at least 1.
    pub min_leaf: usize,
    /// Maximum tree depth, at most 64.
    pub max_depth: usize,
    /// Quantile bins per numeric feature, 2 to 254.
    pub bins: usize,
    /// A split must lower the node's cost by this share of the root's cost
    /// (rpart's `cp`). synthpop uses 1e-8; the default 2e-4 stops trees
    /// before they single out small groups of training rows: on UCI Adult it
    /// keeps about half of the synthetic rows closer to a holdout row than
    /// to a training row, where 1e-5 leaves 60 % closer to a training row.
    pub complexity: f64,
    /// Which numeric columns are smoothed.
    pub smoothing: CartSmoothing,
    /// Seed of the fingerprint key, the fit's only randomness.
    pub seed: u64,
}

impl Default for CartOptions {
    fn default() -> Self {
        CartOptions {
            min_leaf: 5,
            max_depth: 30,
            bins: 64,
            complexity: 2e-4,
            smoothing: CartSmoothing::Floats,
            seed: 0,
        }
    }
}

impl CartOptions {
    fn check(&self) -> Result<()> {
        let invalid = |option, message: &str| {
            Err(SynthError::InvalidOption {
                option,
                message: message.into(),
            })
        };
        if self.min_leaf == 0 {
            return invalid("min_leaf", "must be at least 1");
        }
        if self.max_depth > 64 {
            return invalid("max_depth", "must be at most 64");
        }
        if !(2..=254).contains(&self.bins) {
            return invalid("bins", "must be between 2 and 254");
        }
        if !self.complexity.is_finite() || self.complexity < 0.0 {
            return invalid("complexity", "must be a finite number ≥ 0");
        }
        Ok(())
    }
}

/// A column's type and output layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CartColumnKind {
    /// Whole numbers.
    Integer,
    /// Floats written with `decimals` digits.
    Float {
        /// Digits after the point (at most 9).
        decimals: u8,
    },
    /// Seconds since the epoch, written in `format`.
    Datetime {
        /// The output layout (dates are whole days).
        format: DatetimeFormat,
    },
    /// Booleans, coded `false` = 0, `true` = 1.
    Boolean,
    /// Labels, coded by position.
    Categorical {
        /// The labels, ascending.
        labels: Vec<String>,
    },
}

impl CartColumnKind {
    /// The number of label codes (the missing code), or `None` if numeric.
    pub fn label_count(&self) -> Option<usize> {
        match self {
            CartColumnKind::Boolean => Some(2),
            CartColumnKind::Categorical { labels } => Some(labels.len()),
            _ => None,
        }
    }
}

/// One modelled column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CartColumn {
    /// The column's name.
    pub name: String,
    /// Its type.
    pub kind: CartColumnKind,
    /// For numeric columns, the `k`-th smallest and largest present values
    /// that every output value is clamped to; `None` when no value has `k`
    /// values on each side (the column is then always missing).
    pub bounds: Option<[f64; 2]>,
}

/// The tree of one column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CartTree {
    /// The target column's index in [`CartModel::columns`].
    pub column: usize,
    /// The nodes, root first; children follow their parents.
    pub nodes: Vec<CartNode>,
}

/// A fitted cart model; plain data, serialised with its format version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CartModel {
    /// [`CART_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The `k` the training table was prepared with.
    pub min_rows: usize,
    /// The columns, in output order.
    pub columns: Vec<CartColumn>,
    /// One tree per column in synthesis order; a tree splits only on the
    /// columns of the trees before it.
    pub trees: Vec<CartTree>,
    /// The SipHash key of the fingerprints.
    pub fingerprint_key: [u64; 2],
    /// Fingerprints of the distinct training rows, ascending.
    pub fingerprints: Vec<u64>,
}

impl CartModel {
    /// How many training-row fingerprints the privacy filter holds.
    pub fn fingerprint_count(&self) -> usize {
        self.fingerprints.len()
    }
}

/// A value while a row is drawn: a label code (the label count meaning
/// missing), a number, or a missing number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Cell {
    Code(u32),
    Number(f64),
    Missing,
}

/// The keyed fingerprint of a row of cells, numbers compared as written.
pub(crate) fn row_fingerprint(key: [u64; 2], columns: &[CartColumn], cells: &[Cell]) -> u64 {
    let mut state = SipState::new(key);
    for (column, cell) in columns.iter().zip(cells) {
        let (tag, word) = match *cell {
            Cell::Code(code) => (1, u64::from(code)),
            Cell::Number(value) => {
                let scaled = match column.kind {
                    CartColumnKind::Float { decimals } => {
                        (value * 10f64.powi(i32::from(decimals))).round()
                    }
                    _ => value.round(),
                };
                (2, scaled as i64 as u64)
            }
            Cell::Missing => (3, 0),
        };
        state.compress(tag);
        state.compress(word);
    }
    state.finish(cells.len() as u64 * 16)
}

impl SynthModel for CartModel {
    type Options = CartOptions;
    type Sampler = CartSampler;

    fn fit(table: &PreparedTable, options: &CartOptions) -> Result<CartModel> {
        options.check()?;
        let source = table.table().columns();
        let rows = table.table().row_count();
        if rows == 0 || rows > u32::MAX as usize {
            return Err(SynthError::Model(format!(
                "the cart model needs between 1 and {} rows, not {rows}",
                u32::MAX
            )));
        }
        let encoded: Vec<Encoded> = source
            .par_iter()
            .map(|column| encode(column, table.min_rows(), options.bins))
            .collect();
        let columns: Vec<CartColumn> = encoded.iter().map(|e| e.column.clone()).collect();
        let mut key_rng = ChaCha8Rng::seed_from_u64(options.seed);
        key_rng.set_stream(0x6361_7274);
        let fingerprint_key = [key_rng.gen(), key_rng.gen()];
        let mut fingerprints: Vec<u64> = (0..rows)
            .into_par_iter()
            .map(|row| {
                let cells: Vec<Cell> = encoded
                    .iter()
                    .zip(source)
                    .map(|(e, column)| e.cell(column, row))
                    .collect();
                row_fingerprint(fingerprint_key, &columns, &cells)
            })
            .collect();
        fingerprints.par_sort_unstable();
        fingerprints.dedup();
        let rules = GrowRules {
            min_leaf: options.min_leaf,
            max_depth: options.max_depth,
            complexity: options.complexity,
        };
        let trees = (0..encoded.len())
            .into_par_iter()
            .map(|position| {
                let features: Vec<(usize, Feature)> = encoded[..position]
                    .iter()
                    .enumerate()
                    .map(|(index, e)| (index, e.feature()))
                    .collect();
                let target = encoded[position].target(options.smoothing);
                CartTree {
                    column: position,
                    nodes: grow(&features, &target, rows, rules),
                }
            })
            .collect();
        Ok(CartModel {
            format_version: CART_FORMAT_VERSION,
            min_rows: table.min_rows(),
            columns,
            trees,
            fingerprint_key,
            fingerprints,
        })
    }

    fn sampler(&self) -> Result<CartSampler> {
        CartSampler::new(self)
    }
}

#[path = "cart_encode.rs"]
mod encode;

#[cfg(test)]
#[path = "cart_tests.rs"]
pub(crate) mod tests;
