//! The `analyse` report: a private table, a synthetic table and optionally a
//! real holdout go in; a report of aggregates only comes out, as JSON
//! ([`AnalysisReport`] is serde data) and as self-contained HTML
//! ([`render_html`]).
//!
//! It is computed inside the secure environment, so it must not carry a real
//! row or a rare value out of it:
//!
//! * categorical distributions label only values found in at least `k` real
//!   rows ([`AnalyseOptions::min_rows`]); every other value, real or
//!   synthetic, is counted in one `(other)` bar;
//! * numeric distributions are histograms whose edges are pooled (real and
//!   synthetic) quantiles rounded to two significant digits, whose outer bins
//!   are open-ended (no minimum or maximum is shown) and whose bins with
//!   fewer than `k` real rows are merged into a neighbour;
//! * the privacy section gives distances and rates, never rows.
//!
//! The sections: fidelity (column shapes, histogram intersection, column
//! pair trends, normalised mutual information), utility (a classifier
//! trained on synthetic rows against one trained on real rows, both tested
//! on the holdout) and privacy (distance to the closest record, share of
//! synthetic rows closer to training than to holdout rows, exact copies).

mod binning;
mod classifier;
mod fidelity_pairs;
mod html;
mod privacy;
mod svg;
#[cfg(test)]
mod tests;
mod utility;

use serde::{Deserialize, Serialize};

use crate::error::{Result, SynthError};
use crate::metrics::{ks_complement, tv_complement, ColumnMetric};
use crate::rare::DEFAULT_MIN_ROWS;
use crate::table::{Column, ColumnKind, Table};

pub use binning::{DistributionBin, OTHER_LABEL};
pub use classifier::auc;
pub use fidelity_pairs::{
    contingency_similarity, histogram_intersection, normalized_mutual_information, PairMetric,
    PairTrend,
};
pub use html::render_html;
pub use privacy::{DcrHistogram, DcrSummary, PrivacyReport};
pub use utility::{UtilityMetric, UtilityReport};

/// How to analyse a synthetic table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyseOptions {
    /// `k`: a categorical value is labelled, and a histogram bin kept, only
    /// with at least this many real rows.
    pub min_rows: usize,
    /// The column the utility classifier predicts; by default the last
    /// column if it is categorical or boolean with two classes.
    pub target_column: Option<String>,
    /// At most this many synthetic rows (a seeded sample) are searched for
    /// their closest records.
    pub max_rows_for_privacy: usize,
    /// Seed of the privacy sample.
    pub seed: u64,
}

impl Default for AnalyseOptions {
    fn default() -> Self {
        AnalyseOptions {
            min_rows: DEFAULT_MIN_ROWS,
            target_column: None,
            max_rows_for_privacy: 5000,
            seed: 0,
        }
    }
}

/// One column's fidelity: its shape score and its distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnReport {
    /// The column's name.
    pub name: String,
    /// Its kind in the real table.
    pub kind: ColumnKind,
    /// KS complement (numeric) or TV complement (categorical, boolean).
    pub shape_metric: ColumnMetric,
    /// The shape score in `[0, 1]`.
    pub shape_score: f64,
    /// `Σ min(p_real, p_synthetic)` over the bins below, in `[0, 1]`.
    pub histogram_intersection: f64,
    /// Shares of real and synthetic rows per released bin.
    pub distribution: Vec<DistributionBin>,
}

/// A square matrix over named columns; `None` where undefined.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnMatrix {
    /// Row and column names.
    pub columns: Vec<String>,
    /// `values[i][j]` for columns `i` and `j`.
    pub values: Vec<Vec<Option<f64>>>,
}

/// The headline fidelity scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QualityScores {
    /// Mean shape score over columns.
    pub column_shapes: f64,
    /// Mean pair-trend score over column pairs; `None` with one column.
    pub column_pair_trends: Option<f64>,
    /// Mean of the two above (the shape mean alone without pairs).
    pub overall: f64,
    /// Mean histogram intersection over columns.
    pub histogram_intersection: f64,
}

/// Everything the analysis found; aggregates only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalysisReport {
    /// The `k` used.
    pub min_rows: usize,
    /// Rows in the real (training) table.
    pub real_rows: usize,
    /// Rows in the synthetic table.
    pub synthetic_rows: usize,
    /// Rows in the holdout, if one was given.
    pub holdout_rows: Option<usize>,
    /// Headline fidelity scores.
    pub quality: QualityScores,
    /// Per-column fidelity, in the real table's column order.
    pub columns: Vec<ColumnReport>,
    /// Pair trends for every pair of columns.
    pub pairs: Vec<PairTrend>,
    /// Pearson correlations of numeric columns in the real table.
    pub correlation_real: Option<ColumnMatrix>,
    /// The same in the synthetic table.
    pub correlation_synthetic: Option<ColumnMatrix>,
    /// Normalised mutual information of binned columns, real table.
    pub mutual_information_real: ColumnMatrix,
    /// The same in the synthetic table.
    pub mutual_information_synthetic: ColumnMatrix,
    /// Train-on-synthetic against train-on-real, when computed.
    pub utility: Option<UtilityReport>,
    /// Why utility was not computed, when it was not.
    pub utility_skipped: Option<String>,
    /// Distances to closest records and copy rates.
    pub privacy: PrivacyReport,
    /// How the released figures were generalised.
    pub disclosure_notes: Vec<String>,
}

impl AnalysisReport {
    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|error| SynthError::Write(error.to_string()))
    }
}

/// A column's values in the form the analysis needs.
#[derive(Clone, Debug)]
pub(crate) enum Values {
    /// Numbers (datetimes as seconds); `None` is missing.
    Numeric(Vec<Option<f64>>),
    /// Labels; `None` is missing.
    Labels(Vec<Option<String>>),
}

/// One column matched by name across the tables.
#[derive(Clone, Debug)]
pub(crate) struct Matched {
    /// The name.
    pub name: String,
    /// The real column's kind.
    pub kind: ColumnKind,
    /// Real values.
    pub real: Values,
    /// Synthetic values, in the same form as the real ones.
    pub synthetic: Values,
    /// Holdout values, in the same form, if a holdout was given.
    pub holdout: Option<Values>,
}

impl Matched {
    /// Whether the column is compared as numbers.
    pub fn is_numeric(&self) -> bool {
        matches!(self.real, Values::Numeric(_))
    }
}

/// Reads `column` in the form of the real column of kind `kind`.
fn values_like(kind: ColumnKind, column: &Column, table: &str) -> Result<Values> {
    if kind.is_numeric() {
        return column.numeric_values().map(Values::Numeric).ok_or_else(|| {
            SynthError::SchemaMismatch(format!(
                "column {:?} is numeric in the real table but {} in the {table} table",
                column.name,
                column.kind().name()
            ))
        });
    }
    Ok(Values::Labels(column.label_values().unwrap_or_else(|| {
        (0..column.len())
            .map(|row| Some(column.format_value(row)).filter(|text| !text.is_empty()))
            .collect()
    })))
}

fn find<'a>(table: &'a Table, which: &str, name: &str) -> Result<&'a Column> {
    table.column(name).ok_or_else(|| {
        SynthError::SchemaMismatch(format!("the {which} table has no column {name:?}"))
    })
}

fn match_columns(real: &Table, synthetic: &Table, holdout: Option<&Table>) -> Result<Vec<Matched>> {
    real.columns()
        .iter()
        .map(|column| {
            let kind = column.kind();
            let real_values = values_like(kind, column, "real")?;
            let synthetic_values = values_like(
                kind,
                find(synthetic, "synthetic", &column.name)?,
                "synthetic",
            )?;
            let holdout_values = holdout
                .map(|table| values_like(kind, find(table, "holdout", &column.name)?, "holdout"))
                .transpose()?;
            Ok(Matched {
                name: column.name.clone(),
                kind,
                real: real_values,
                synthetic: synthetic_values,
                holdout: holdout_values,
            })
        })
        .collect()
}

fn shape_score(column: &Matched) -> (ColumnMetric, f64) {
    match (&column.real, &column.synthetic) {
        (Values::Numeric(real), Values::Numeric(synthetic)) => {
            let present = |values: &[Option<f64>]| values.iter().flatten().copied().collect();
            let (real, synthetic): (Vec<f64>, Vec<f64>) = (present(real), present(synthetic));
            (ColumnMetric::KsComplement, ks_complement(&real, &synthetic))
        }
        (Values::Labels(real), Values::Labels(synthetic)) => {
            let present = |values: &[Option<String>]| values.iter().flatten().cloned().collect();
            let (real, synthetic): (Vec<String>, Vec<String>) = (present(real), present(synthetic));
            (ColumnMetric::TvComplement, tv_complement(&real, &synthetic))
        }
        _ => (ColumnMetric::TvComplement, 0.0),
    }
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, count) = values.fold((0.0, 0usize), |(sum, count), v| (sum + v, count + 1));
    (count > 0).then(|| sum / count as f64)
}

/// Analyses `synthetic` against the private `real` table and, if given, a
/// real `holdout` the synthesiser never saw. Columns are matched by name:
/// every real column must be in the synthetic table (and the holdout).
pub fn analyse(
    real: &Table,
    synthetic: &Table,
    holdout: Option<&Table>,
    options: &AnalyseOptions,
) -> Result<AnalysisReport> {
    if options.min_rows == 0 {
        return Err(SynthError::InvalidOption {
            option: "min_rows",
            message: "must be at least 1".into(),
        });
    }
    if options.max_rows_for_privacy == 0 {
        return Err(SynthError::InvalidOption {
            option: "max_rows_for_privacy",
            message: "must be at least 1".into(),
        });
    }
    if real.columns().is_empty() || real.row_count() == 0 {
        return Err(SynthError::SchemaMismatch(
            "the real table has no columns or no rows".into(),
        ));
    }
    if synthetic.row_count() == 0 {
        return Err(SynthError::SchemaMismatch(
            "the synthetic table has no rows".into(),
        ));
    }
    let matched = match_columns(real, synthetic, holdout)?;
    let binned: Vec<binning::Binned> = matched
        .iter()
        .map(|column| binning::bin_column(column, options.min_rows))
        .collect();
    let columns: Vec<ColumnReport> = matched
        .iter()
        .zip(&binned)
        .map(|(column, bins)| {
            let (shape_metric, shape_score) = shape_score(column);
            ColumnReport {
                name: column.name.clone(),
                kind: column.kind,
                shape_metric,
                shape_score,
                histogram_intersection: histogram_intersection(&bins.real, &bins.synthetic),
                distribution: bins.distribution(),
            }
        })
        .collect();
    let pairs = fidelity_pairs::pair_trends(&matched, &binned);
    let (correlation_real, correlation_synthetic) = fidelity_pairs::correlations(&matched);
    let names: Vec<String> = matched.iter().map(|c| c.name.clone()).collect();
    let mutual_information_real =
        fidelity_pairs::mutual_information(&names, binned.iter().map(|b| &b.real[..]).collect());
    let mutual_information_synthetic = fidelity_pairs::mutual_information(
        &names,
        binned.iter().map(|b| &b.synthetic[..]).collect(),
    );
    let column_shapes = mean(columns.iter().map(|c| c.shape_score)).unwrap_or(0.0);
    let column_pair_trends = mean(pairs.iter().map(|p| p.score));
    let quality = QualityScores {
        column_shapes,
        column_pair_trends,
        overall: column_pair_trends.map_or(column_shapes, |pairs| (column_shapes + pairs) / 2.0),
        histogram_intersection: mean(columns.iter().map(|c| c.histogram_intersection))
            .unwrap_or(0.0),
    };
    let (utility, utility_skipped) = match utility::evaluate(&matched, options)? {
        Ok(report) => (Some(report), None),
        Err(reason) => (None, Some(reason)),
    };
    let privacy = privacy::assess(&matched, options);
    Ok(AnalysisReport {
        min_rows: options.min_rows,
        real_rows: real.row_count(),
        synthetic_rows: synthetic.row_count(),
        holdout_rows: holdout.map(Table::row_count),
        quality,
        columns,
        pairs,
        correlation_real,
        correlation_synthetic,
        mutual_information_real,
        mutual_information_synthetic,
        utility,
        utility_skipped,
        privacy,
        disclosure_notes: binning::disclosure_notes(options.min_rows),
    })
}
