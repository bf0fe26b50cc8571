//! The `bayes-net` model: a PrivBayes-style Bayesian network (Zhang et al.,
//! SIGMOD 2014 / TODS 2017) fitted with ε-differential privacy.
//!
//! # Fitting
//!
//! 1. **Discretisation.** Booleans have the states `false` and `true`,
//!    categorical columns their (rare-suppressed) categories. Numbers
//!    (datetimes as seconds) are counted in a *public* log-scale grid
//!    around 0 (2000-01-01 for datetimes) with Laplace noise, refining
//!    octaves into halves, quarters, … (down to 1/64, fewer levels when
//!    `n·ε` is small) where the noisy counts are large (see
//!    `bayes/grid.rs`); cells below a noise threshold, or below `k` (the
//!    prepared table's `min_rows`), are dropped. The cells are merged
//!    into at most `bins` roughly equal-mass bins; a bin keeps its cells'
//!    noisy weights, so values are drawn cell by cell, uniformly within a
//!    cell. Every column gets a *missing* state when it has missing values.
//! 2. **Structure.** The first column is drawn uniformly; then, `d − 1`
//!    times, the exponential mechanism picks a (column, parent set) pair,
//!    scoring mutual information (sensitivity from PrivBayes Lemma 4.1) with
//!    ε₁/(d − 1) each. Parent sets have at most `degree` columns and, at a
//!    finite ε, a joint table of at most `n·ε₂ / (2·d·θ)` cells
//!    (θ-usefulness, θ = `usefulness`).
//! 3. **Parameters.** The joint counts of each column with its parents get
//!    Laplace noise of scale `2·d / ε₂` (counts; `2·d / (n·ε₂)` on
//!    frequencies), are clamped at 0 and normalised per parent
//!    configuration; an empty configuration falls back to the column's
//!    noisy marginal, or to uniform.
//!
//! The budget: `ε_bins = bin_share·ε` split evenly over the numeric
//! columns (0 without any), then `ε₁ = β·(ε − ε_bins)` for the structure
//! (0 with one column) and `ε₂` the rest, so the parts sum to ε; the
//! model's [`PrivacyAccount`] records them. Sampling is ancestral, in the
//! network's order.
//!
//! # What is protected, and what is not
//!
//! Neighbouring tables differ in one row *replaced* by another, so the row
//! count `n` is treated as public. Given the *schema* the whole model is
//! ε-DP by sequential composition. The schema is not protected: column
//! names and kinds, float decimals and datetime layouts, whether a column
//! has missing values, and above all the **category sets**, which
//! [`prepare`](crate::prepare) derives from the data (a category exists
//! because at least `k` rows have it). That is `k`-anonymity-style
//! protection, not differential privacy: releasing a model reveals which
//! categories were frequent. Column exclusion and kind inference are also
//! data-dependent. With `epsilon: None` (ε = ∞) nothing is noisy; only the
//! `k` threshold on numeric cells and categories applies.

mod budget;
mod discretise;
mod dp;
mod grid;
mod network;
mod sampler;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SynthError};
use crate::model::SynthModel;
use crate::rare::PreparedTable;
use crate::table::DatetimeFormat;
use budget::split_budget;

pub use sampler::BayesNetSampler;

/// The serialised format version this build writes and reads.
pub const BAYES_NET_FORMAT_VERSION: u32 = 1;

/// Largest degree accepted; tables grow exponentially with it.
const MAX_DEGREE: usize = 8;

/// Options of the Bayesian network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BayesNetOptions {
    /// The total privacy budget ε; `None` (JSON `null`) is ε = ∞, no noise.
    pub epsilon: Option<f64>,
    /// Most parents per column (PrivBayes' `k`).
    pub degree: usize,
    /// Most bins per numeric column.
    pub bins: usize,
    /// Share β of the budget left after binning spent on the structure.
    pub beta: f64,
    /// Share of ε spent on numeric bins (unused without numeric columns).
    pub bin_share: f64,
    /// θ: at a finite ε a parent set is allowed only if its joint table has
    /// at most `n·ε₂ / (2·d·θ)` cells, so the average count is at least θ
    /// times the noise scale.
    pub usefulness: f64,
    /// Seed of the fitting randomness (first column, mechanisms, noise).
    pub seed: u64,
}

impl Default for BayesNetOptions {
    fn default() -> Self {
        BayesNetOptions {
            epsilon: Some(1.0),
            degree: 2,
            bins: 20,
            beta: 0.3,
            bin_share: 0.1,
            usefulness: 4.0,
            seed: 0,
        }
    }
}

impl BayesNetOptions {
    fn check(&self) -> Result<()> {
        let invalid = |option: &'static str, message: &str| {
            Err(SynthError::InvalidOption {
                option,
                message: message.into(),
            })
        };
        if self
            .epsilon
            .is_some_and(|epsilon| !(epsilon.is_finite() && epsilon > 0.0))
        {
            return invalid("epsilon", "must be a positive number, or null for ∞");
        }
        if self.degree > MAX_DEGREE {
            return invalid("degree", "must be at most 8");
        }
        if !(2..=1000).contains(&self.bins) {
            return invalid("bins", "must lie in 2..=1000");
        }
        if !(self.beta > 0.0 && self.beta < 1.0) {
            return invalid("beta", "must lie strictly between 0 and 1");
        }
        if !(self.bin_share > 0.0 && self.bin_share < 1.0) {
            return invalid("bin_share", "must lie strictly between 0 and 1");
        }
        if !(self.usefulness.is_finite() && self.usefulness > 0.0) {
            return invalid("usefulness", "must be a positive number");
        }
        Ok(())
    }
}

/// How the privacy budget was spent; every ε is `None` for ∞ (no noise).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyAccount {
    /// The whole budget: the sum of the three parts.
    pub epsilon_total: Option<f64>,
    /// Spent on the noisy histograms behind numeric bins.
    pub epsilon_bins: Option<f64>,
    /// Spent choosing the network (exponential mechanism).
    pub epsilon_structure: Option<f64>,
    /// Spent on the noisy joint counts behind the conditionals.
    pub epsilon_parameters: Option<f64>,
    /// Laplace scale added to each joint count.
    pub parameter_noise_scale: Option<f64>,
    /// The mechanisms and what they protect, in words.
    pub notes: Vec<String>,
}

/// The states of a column other than *missing*.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum BayesDomain {
    /// Integers, drawn uniformly among the integers of a cell.
    Integer {
        /// The bins.
        bins: Vec<NumericBin>,
    },
    /// Floats, drawn uniformly within a cell and rounded to `decimals`.
    Float {
        /// The bins.
        bins: Vec<NumericBin>,
        /// Digits after the point.
        decimals: u8,
    },
    /// Datetimes as whole seconds since the epoch, written in `format`.
    Datetime {
        /// The bins.
        bins: Vec<NumericBin>,
        /// The output layout (dates are rounded to whole days).
        format: DatetimeFormat,
    },
    /// Booleans: the labels `false` and `true`.
    Boolean {
        /// The labels.
        labels: Vec<String>,
    },
    /// Categories.
    Categorical {
        /// The labels.
        labels: Vec<String>,
    },
}

impl BayesDomain {
    /// Number of value states (missing excluded).
    pub fn value_states(&self) -> usize {
        match self {
            BayesDomain::Integer { bins }
            | BayesDomain::Float { bins, .. }
            | BayesDomain::Datetime { bins, .. } => bins.len(),
            BayesDomain::Boolean { labels } | BayesDomain::Categorical { labels } => labels.len(),
        }
    }
}

/// A numeric state: adjacent grid cells with their weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumericBin {
    /// The cells, lowest first.
    pub cells: Vec<BinCell>,
}

/// A range of values: `[low, high]`, integers from `low` to `high` for
/// integers and datetimes, a single value when `low == high`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BinCell {
    /// The lowest value.
    pub low: f64,
    /// The highest value.
    pub high: f64,
    /// The cell's share of its bin (noisy).
    pub weight: f64,
}

/// One modelled column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BayesColumn {
    /// The column's name.
    pub name: String,
    /// Its value states.
    pub domain: BayesDomain,
    /// Whether the last state is *missing*.
    pub missing_state: bool,
}

impl BayesColumn {
    /// Number of states, missing included.
    pub fn states(&self) -> usize {
        self.domain.value_states() + usize::from(self.missing_state)
    }
}

/// A column of the network with its parents and conditional distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BayesNode {
    /// Index of the column in [`BayesNetModel::columns`].
    pub column: usize,
    /// Column indices of the parents, all earlier in the network order.
    pub parents: Vec<usize>,
    /// One distribution over the column's states per parent configuration;
    /// configurations are numbered with the first parent most significant.
    pub conditional: Vec<Vec<f64>>,
}

/// A fitted Bayesian network; plain data, serialised with its format
/// version and privacy account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BayesNetModel {
    /// [`BAYES_NET_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The `k` the training table was prepared with.
    pub min_rows: usize,
    /// The columns, in output order.
    pub columns: Vec<BayesColumn>,
    /// The nodes in sampling (topological) order.
    pub nodes: Vec<BayesNode>,
    /// How the budget was spent.
    pub privacy: PrivacyAccount,
}

fn phase_rng(seed: u64, phase: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(phase);
    rng
}

impl SynthModel for BayesNetModel {
    type Options = BayesNetOptions;
    type Sampler = BayesNetSampler;

    fn fit(table: &PreparedTable, options: &BayesNetOptions) -> Result<BayesNetModel> {
        options.check()?;
        let data = table.table();
        let rows = data.row_count();
        if rows == 0 {
            return Err(SynthError::Model("cannot fit a network on no rows".into()));
        }
        let numeric = data
            .columns()
            .iter()
            .filter(|c| c.kind().is_numeric())
            .count();
        let budget = split_budget(options, numeric, data.columns().len());
        let (columns, states) = discretise::discretise(
            data,
            table.min_rows(),
            options.bins,
            budget.bins,
            &mut phase_rng(options.seed, 0),
        )?;
        let counts: Vec<usize> = columns.iter().map(BayesColumn::states).collect();
        let max_cells = budget.parameters.map(|epsilon| {
            rows as f64 * epsilon / (2.0 * counts.len() as f64 * options.usefulness)
        });
        let structure = network::learn_structure(
            &states,
            &counts,
            options.degree,
            budget.structure,
            max_cells,
            &mut phase_rng(options.seed, 1),
        )?;
        let nodes = network::noisy_conditionals(
            &states,
            &counts,
            structure,
            budget.account.parameter_noise_scale,
            &mut phase_rng(options.seed, 2),
        );
        Ok(BayesNetModel {
            format_version: BAYES_NET_FORMAT_VERSION,
            min_rows: table.min_rows(),
            columns,
            nodes,
            privacy: budget.account,
        })
    }

    fn sampler(&self) -> Result<BayesNetSampler> {
        BayesNetSampler::new(self)
    }
}

#[cfg(test)]
#[path = "bayes_tests.rs"]
mod tests;
