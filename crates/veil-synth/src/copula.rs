//! The `gaussian-copula` model: per-column marginals joined by the
//! correlation of normal scores.
//!
//! Fitting: numbers (datetimes as seconds) get [`QuantileKnots`] and their
//! rank-based normal scores; booleans and categories get frequencies, each
//! category owning a slice of `[0, 1]` and scoring `Φ⁻¹` of its middle. The
//! Pearson correlation of the scores over pairwise-complete rows, shrunk
//! toward the identity until it is positive definite, joins them. Sampling
//! draws `z = L·ε` (`L` its Cholesky factor), maps `Φ(z)` through each
//! marginal's inverse CDF and blanks values at each column's missing rate.

use nalgebra::DMatrix;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SynthError};
use crate::marginal::{CategoricalMarginal, QuantileKnots};
use crate::model::{ChunkSampler, SynthModel};
use crate::rare::PreparedTable;
use crate::stats::{normal_cdf, normal_quantile, normal_scores, pearson};
use crate::table::{Column, ColumnData, DatetimeFormat, Table};

/// The serialised format version this build writes and reads.
pub const COPULA_FORMAT_VERSION: u32 = 1;

/// Shrinkage weights toward the identity tried, in order, until the
/// correlation matrix has a Cholesky factor.
const SHRINKAGE_STEPS: [f64; 9] = [0.0, 1e-4, 1e-3, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0];

/// Options of the Gaussian copula (none yet).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopulaOptions {}

/// How one column's values are distributed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CopulaMarginal {
    /// Integers: knots, rounded on output. No knots: always missing.
    Integer {
        /// The quantile knots.
        knots: Option<QuantileKnots>,
    },
    /// Floats: knots, rounded to `decimals` on output.
    Float {
        /// The quantile knots.
        knots: Option<QuantileKnots>,
        /// Digits after the point.
        decimals: u8,
    },
    /// Datetimes as seconds since the epoch, written in `format`.
    Datetime {
        /// The quantile knots.
        knots: Option<QuantileKnots>,
        /// The output layout (dates are rounded to whole days).
        format: DatetimeFormat,
    },
    /// Booleans as the categories `false` and `true`.
    Boolean {
        /// The frequencies.
        categories: Option<CategoricalMarginal>,
    },
    /// Categories.
    Categorical {
        /// The frequencies.
        categories: Option<CategoricalMarginal>,
    },
}

/// One modelled column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CopulaColumn {
    /// The column's name.
    pub name: String,
    /// Share of rows left missing when sampling.
    pub missing_rate: f64,
    /// The distribution of present values.
    pub marginal: CopulaMarginal,
}

/// A fitted Gaussian copula; plain data, serialised with its format version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopulaModel {
    /// [`COPULA_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The `k` the training table was prepared with.
    pub min_rows: usize,
    /// The columns, in output order.
    pub columns: Vec<CopulaColumn>,
    /// Correlation of normal scores, one row per column (positive definite).
    pub correlation: Vec<Vec<f64>>,
}

fn fit_column(column: &Column, k: usize) -> (CopulaColumn, Vec<Option<f64>>) {
    let rows = column.len().max(1) as f64;
    let numeric = column.numeric_values();
    let (marginal, scores) = match (&column.data, numeric) {
        (ColumnData::Boolean(_) | ColumnData::Categorical(_), _) => {
            let labels = column.label_values().unwrap_or_default();
            let categories = CategoricalMarginal::fit(labels.iter().flatten().map(String::as_str));
            let scores = labels
                .iter()
                .map(|label| {
                    let marginal = categories.as_ref()?;
                    let index = marginal.index_of(label.as_deref()?)?;
                    Some(normal_quantile(marginal.midpoint(index)))
                })
                .collect();
            let marginal = match column.data {
                ColumnData::Boolean(_) => CopulaMarginal::Boolean { categories },
                _ => CopulaMarginal::Categorical { categories },
            };
            (marginal, scores)
        }
        (data, Some(values)) => {
            let present: Vec<f64> = values.iter().flatten().copied().collect();
            let knots = QuantileKnots::fit(&present, k);
            let marginal = match data {
                ColumnData::Float { decimals, .. } => CopulaMarginal::Float {
                    knots,
                    decimals: *decimals,
                },
                ColumnData::Datetime { format, .. } => CopulaMarginal::Datetime {
                    knots,
                    format: *format,
                },
                _ => CopulaMarginal::Integer { knots },
            };
            (marginal, normal_scores(&values))
        }
        (_, None) => (
            CopulaMarginal::Categorical { categories: None },
            vec![None; column.len()],
        ),
    };
    let present = scores.iter().flatten().count();
    let missing_rate = if marginal_is_empty(&marginal) {
        1.0
    } else {
        1.0 - present as f64 / rows
    };
    (
        CopulaColumn {
            name: column.name.clone(),
            missing_rate,
            marginal,
        },
        scores,
    )
}

fn marginal_is_empty(marginal: &CopulaMarginal) -> bool {
    match marginal {
        CopulaMarginal::Integer { knots }
        | CopulaMarginal::Float { knots, .. }
        | CopulaMarginal::Datetime { knots, .. } => knots.is_none(),
        CopulaMarginal::Boolean { categories } | CopulaMarginal::Categorical { categories } => {
            categories.is_none()
        }
    }
}

/// Shrinks `correlation` toward the identity until it has a Cholesky factor;
/// returns the factor and the matrix actually used.
fn positive_definite(correlation: &DMatrix<f64>) -> Option<(DMatrix<f64>, DMatrix<f64>)> {
    let size = correlation.nrows();
    let identity = DMatrix::<f64>::identity(size, size);
    SHRINKAGE_STEPS.iter().find_map(|&weight| {
        let shrunk = correlation * (1.0 - weight) + &identity * weight;
        shrunk.clone().cholesky().map(|factor| (factor.l(), shrunk))
    })
}

impl SynthModel for CopulaModel {
    type Options = CopulaOptions;
    type Sampler = CopulaSampler;

    fn fit(table: &PreparedTable, _options: &CopulaOptions) -> Result<CopulaModel> {
        let (columns, scores): (Vec<CopulaColumn>, Vec<Vec<Option<f64>>>) = table
            .table()
            .columns()
            .iter()
            .map(|column| fit_column(column, table.min_rows()))
            .unzip();
        let size = columns.len();
        let mut raw = DMatrix::<f64>::identity(size, size);
        for left in 0..size {
            for right in left + 1..size {
                let r = pearson(&scores[left], &scores[right]).unwrap_or(0.0);
                raw[(left, right)] = r;
                raw[(right, left)] = r;
            }
        }
        let (_, correlation) = positive_definite(&raw)
            .ok_or_else(|| SynthError::Model("the correlation matrix is not finite".into()))?;
        Ok(CopulaModel {
            format_version: COPULA_FORMAT_VERSION,
            min_rows: table.min_rows(),
            columns,
            correlation: correlation
                .row_iter()
                .map(|row| row.iter().copied().collect())
                .collect(),
        })
    }

    fn sampler(&self) -> Result<CopulaSampler> {
        if self.format_version != COPULA_FORMAT_VERSION {
            return Err(SynthError::UnsupportedFormat {
                found: self.format_version,
                supported: COPULA_FORMAT_VERSION,
            });
        }
        let size = self.columns.len();
        if size == 0
            || self.correlation.len() != size
            || self.correlation.iter().any(|row| row.len() != size)
        {
            return Err(SynthError::Model(format!(
                "correlation must be {size} × {size} with at least one column"
            )));
        }
        for column in &self.columns {
            let valid_marginal = match &column.marginal {
                CopulaMarginal::Integer { knots }
                | CopulaMarginal::Float { knots, .. }
                | CopulaMarginal::Datetime { knots, .. } => {
                    knots.as_ref().is_none_or(QuantileKnots::is_valid)
                }
                CopulaMarginal::Boolean {
                    categories: Some(categories),
                } => {
                    categories.is_valid()
                        && categories
                            .labels()
                            .iter()
                            .all(|l| l == "true" || l == "false")
                }
                CopulaMarginal::Boolean { categories: None }
                | CopulaMarginal::Categorical { categories: None } => true,
                CopulaMarginal::Categorical {
                    categories: Some(categories),
                } => categories.is_valid(),
            };
            let valid_decimals = match column.marginal {
                CopulaMarginal::Float { decimals, .. } => decimals <= 9,
                _ => true,
            };
            if !valid_marginal || !valid_decimals || !(0.0..=1.0).contains(&column.missing_rate) {
                return Err(SynthError::Model(format!(
                    "column {:?} has an invalid marginal",
                    column.name
                )));
            }
        }
        let valid_entries = self.correlation.iter().enumerate().all(|(row, values)| {
            values.iter().enumerate().all(|(col, r)| {
                if row == col {
                    *r == 1.0
                } else {
                    r.abs() <= 1.0
                }
            })
        });
        if !valid_entries {
            return Err(SynthError::Model(
                "correlations must lie in [-1, 1] with ones on the diagonal".into(),
            ));
        }
        let matrix = DMatrix::from_fn(size, size, |row, col| self.correlation[row][col]);
        let factor = matrix
            .cholesky()
            .ok_or_else(|| {
                SynthError::Model("the correlation matrix is not positive definite".into())
            })?
            .l();
        Ok(CopulaSampler {
            columns: self.columns.clone(),
            factor,
        })
    }
}

/// A checked [`CopulaModel`] with its Cholesky factor, ready to sample.
pub struct CopulaSampler {
    columns: Vec<CopulaColumn>,
    factor: DMatrix<f64>,
}

enum Draws {
    Integer(Vec<Option<i64>>),
    Float(Vec<Option<f64>>, u8),
    Datetime(Vec<Option<i64>>, DatetimeFormat),
    Boolean(Vec<Option<bool>>),
    Categorical(Vec<Option<String>>),
}

impl Draws {
    fn new(marginal: &CopulaMarginal, rows: usize) -> Draws {
        match marginal {
            CopulaMarginal::Integer { .. } => Draws::Integer(Vec::with_capacity(rows)),
            CopulaMarginal::Float { decimals, .. } => {
                Draws::Float(Vec::with_capacity(rows), *decimals)
            }
            CopulaMarginal::Datetime { format, .. } => {
                Draws::Datetime(Vec::with_capacity(rows), *format)
            }
            CopulaMarginal::Boolean { .. } => Draws::Boolean(Vec::with_capacity(rows)),
            CopulaMarginal::Categorical { .. } => Draws::Categorical(Vec::with_capacity(rows)),
        }
    }

    /// Appends the value at probability `u`, or a missing value.
    fn push(&mut self, marginal: &CopulaMarginal, u: f64, missing: bool) {
        let knots = match marginal {
            CopulaMarginal::Integer { knots }
            | CopulaMarginal::Float { knots, .. }
            | CopulaMarginal::Datetime { knots, .. } => knots
                .as_ref()
                .filter(|_| !missing)
                .map(|knots| knots.inverse_cdf(u)),
            _ => None,
        };
        let label = match marginal {
            CopulaMarginal::Boolean { categories } | CopulaMarginal::Categorical { categories } => {
                categories
                    .as_ref()
                    .filter(|_| !missing)
                    .map(|c| c.labels()[c.category_at(u)].as_str())
            }
            _ => None,
        };
        match self {
            Draws::Integer(values) => values.push(knots.map(|v| v.round() as i64)),
            Draws::Float(values, decimals) => {
                let scale = 10f64.powi(i32::from(*decimals));
                values.push(knots.map(|v| (v * scale).round() / scale));
            }
            Draws::Datetime(values, format) => values.push(knots.map(|seconds| match format {
                DatetimeFormat::Date => {
                    ((seconds / 86_400.0).round() as i64).saturating_mul(86_400)
                }
                _ => seconds.round() as i64,
            })),
            Draws::Boolean(values) => values.push(label.map(|l| l == "true")),
            Draws::Categorical(values) => values.push(label.map(str::to_string)),
        }
    }

    fn into_data(self) -> ColumnData {
        match self {
            Draws::Integer(values) => ColumnData::Integer(values),
            Draws::Float(values, decimals) => ColumnData::Float { values, decimals },
            Draws::Datetime(seconds, format) => ColumnData::Datetime { seconds, format },
            Draws::Boolean(values) => ColumnData::Boolean(values),
            Draws::Categorical(values) => ColumnData::Categorical(values),
        }
    }
}

impl ChunkSampler for CopulaSampler {
    fn column_names(&self) -> Vec<String> {
        self.columns
            .iter()
            .map(|column| column.name.clone())
            .collect()
    }

    fn sample_chunk(&self, rows: usize, rng: &mut ChaCha8Rng) -> Result<Table> {
        let size = self.columns.len();
        let mut draws: Vec<Draws> = self
            .columns
            .iter()
            .map(|c| Draws::new(&c.marginal, rows))
            .collect();
        let mut independent = vec![0.0; size];
        for _ in 0..rows {
            for value in independent.iter_mut() {
                *value = rng.sample(StandardNormal);
            }
            for (index, (column, column_draws)) in
                self.columns.iter().zip(draws.iter_mut()).enumerate()
            {
                let z: f64 = (0..=index)
                    .map(|j| self.factor[(index, j)] * independent[j])
                    .sum();
                let missing = rng.gen::<f64>() < column.missing_rate;
                column_draws.push(&column.marginal, normal_cdf(z), missing);
            }
        }
        let columns = self
            .columns
            .iter()
            .zip(draws)
            .map(|(column, column_draws)| Column {
                name: column.name.clone(),
                data: column_draws.into_data(),
            })
            .collect();
        Table::new(columns)
    }
}

#[cfg(test)]
#[path = "copula_tests.rs"]
mod tests;
