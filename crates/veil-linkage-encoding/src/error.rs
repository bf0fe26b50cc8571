//! Error types: schema problems, per-record value problems and streaming failures.

use std::fmt;

/// Which feature a [`SchemaError`] is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureRef {
    /// The feature has a (string) identifier.
    Named(String),
    /// The feature at this 0-based index has no usable identifier.
    Index(usize),
}

impl fmt::Display for FeatureRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeatureRef::Named(name) => write!(f, "feature {name:?}"),
            FeatureRef::Index(i) => write!(f, "feature at index {i}"),
        }
    }
}

/// A linkage schema that cannot be used (what clkhash 0.18.3 rejects, plus the documented
/// restrictions of this crate).
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The text is not JSON at all.
    #[error("schema is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A problem outside the feature list, e.g. `clkConfig.l: must be a multiple of 8`.
    #[error("{path}: {message}")]
    Global {
        /// JSON path of the offending field, e.g. `clkConfig.kdf.hash`.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A problem in one feature, e.g.
    /// `feature "surname": hashing.strategy: expected bitsPerToken or bitsPerFeature`.
    #[error("{feature}: {}{message}", prefix(path))]
    Feature {
        /// The feature.
        feature: FeatureRef,
        /// Path inside the feature object, e.g. `hashing.strategy`.
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

/// A problem with one value of a record; names the feature (column) and the value problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The record does not have one value per schema feature.
    #[error("record has {found} values when {expected} are expected")]
    WrongLength {
        /// Number of schema features.
        expected: usize,
        /// Number of values in the record.
        found: usize,
    },
    /// A value does not conform to its feature's format or cannot be hashed.
    #[error("column {feature:?}: {message}")]
    InvalidValue {
        /// Identifier of the feature (column).
        feature: String,
        /// What is wrong with the value.
        message: String,
    },
}

/// Failure of [`crate::encode_csv`].
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// Reading the input or writing through the sink failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The CSV could not be parsed (e.g. invalid UTF-8 or an unterminated quote).
    #[error("CSV error at row {row}: {message}")]
    Csv {
        /// 1-based data row number (the header is row 0), or 0 for the header itself.
        row: u64,
        /// Parser message.
        message: String,
    },
    /// The input is empty: the header row is required.
    #[error("CSV input is empty: a header row naming the schema's features is required")]
    MissingHeader,
    /// The header does not list the schema's features in order.
    #[error("CSV header does not match the schema: {}", .problems.join("; "))]
    HeaderMismatch {
        /// Every mismatch found (count, then position by position).
        problems: Vec<String>,
    },
    /// A data row is invalid. Encoding stops at the first invalid row.
    #[error("row {row}: {source}")]
    Record {
        /// 1-based data row number (the header is not counted).
        row: u64,
        /// The problem.
        #[source]
        source: RecordError,
    },
    /// The worker thread pool could not be built.
    #[error("cannot start worker threads: {0}")]
    ThreadPool(String),
}
