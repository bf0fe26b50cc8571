//! Veil's synthetic-data kernel: from a private CSV to a fitted model that
//! contains no rare value, and from the model to any number of synthetic
//! rows. The crate does no I/O of its own: it reads from `Read` and writes
//! to `Write`.
//!
//! The flow:
//!
//! 1. [`read_table`] reads a CSV, infers each column's [`ColumnKind`]
//!    (integer, float, boolean, datetime, categorical), reads missing values
//!    and flags identifier-like columns in a [`TableSchema`].
//! 2. [`prepare`] drops excluded columns and generalises rare values (fewer
//!    than `k` rows) into a [`PreparedTable`], reporting counts only.
//! 3. A [`SynthModel`] is fitted on it: the Gaussian copula ([`CopulaModel`],
//!    `gaussian-copula`), per-column decision trees ([`CartModel`], `cart`) or
//!    a Bayesian network fitted with ε-differential privacy ([`BayesNetModel`],
//!    `bayes-net`); models are serde data ([`AnyModel`] tags them by name).
//! 4. [`sample`] / [`sample_to_csv`] / [`sample_to_parquet`] draw rows,
//!    identical for a seed whatever the thread count; [`fidelity`] scores
//!    them against the real table.
//!
//! ```
//! use veil_synth::{fidelity, prepare, read_table, sample, ModelSpec, PrepareOptions, ReadOptions, SynthModel};
//! let mut csv = String::from("age,city\n");
//! for row in 0..200 {
//!     csv += &format!("{},{}\n", 20 + row % 50, ["Oslo", "Bergen"][row % 2]);
//! }
//! let (table, schema) = read_table(csv.as_bytes(), &ReadOptions::default()).unwrap();
//! let prepared = prepare(&table, &schema, &PrepareOptions::default()).unwrap();
//! let model = ModelSpec::GaussianCopula(Default::default()).fit(&prepared).unwrap();
//! let synthetic = sample(&model, 500, 42).unwrap();
//! assert_eq!(synthetic.row_count(), 500);
//! assert!(fidelity(&table, &synthetic).unwrap().mean_column_score() > 0.8);
//! ```

mod analyse;
mod bayes;
mod cart;
mod cart_sample;
mod cart_tree;
mod copula;
mod csv_io;
mod error;
mod fingerprint;
mod infer;
mod marginal;
mod metrics;
mod model;
mod parquet_io;
mod rare;
mod stats;
mod table;

pub use analyse::{
    analyse, auc, contingency_similarity, histogram_intersection, normalized_mutual_information,
    render_html, AnalyseOptions, AnalysisReport, ColumnMatrix, ColumnReport, DcrHistogram,
    DcrSummary, DistributionBin, PairMetric, PairTrend, PrivacyReport, QualityScores,
    UtilityMetric, UtilityReport, OTHER_LABEL,
};
pub use bayes::{
    BayesColumn, BayesDomain, BayesNetModel, BayesNetOptions, BayesNetSampler, BayesNode, BinCell,
    NumericBin, PrivacyAccount, BAYES_NET_FORMAT_VERSION,
};
pub use cart::{
    CartColumn, CartColumnKind, CartModel, CartOptions, CartSampler, CartSmoothing, CartTree,
    CART_FORMAT_VERSION, MAX_ROW_ATTEMPTS,
};
pub use cart_tree::CartNode;
pub use copula::{
    CopulaColumn, CopulaMarginal, CopulaModel, CopulaOptions, CopulaSampler, COPULA_FORMAT_VERSION,
};
pub use csv_io::{read_raw_csv, write_csv, CsvTableWriter, RawTable};
pub use error::{Result, SynthError};
pub use infer::{
    infer_kind, is_identifier_name, read_table, type_raw_table, ColumnOverride, ColumnSchema,
    Exclusion, ReadOptions, TableSchema,
};
pub use marginal::{CategoricalMarginal, QuantileKnots, KNOT_COUNT};
pub use metrics::{
    fidelity, ks_complement, tv_complement, ColumnFidelity, ColumnMetric, FidelityReport,
};
pub use model::{
    sample, sample_to_csv, sample_to_parquet, AnyModel, AnySampler, ChunkSampler, ModelSpec,
    SynthModel, SAMPLE_CHUNK_ROWS,
};
pub use parquet_io::{arrow_field, arrow_schema, write_parquet, ParquetTableWriter};
pub use rare::{
    prepare, ColumnSuppression, PrepareOptions, PreparedTable, RareDestination, SuppressionReport,
    DEFAULT_MIN_ROWS,
};
pub use table::{Column, ColumnData, ColumnKind, DatetimeFormat, Table};
