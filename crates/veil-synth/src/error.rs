//! The crate's error type: every failure names what is at fault (the row and
//! column of a CSV value, the column of an override, the model's format).

/// Errors from reading, preparing, modelling, sampling and writing tables.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The CSV could not be read: wrong number of fields, invalid UTF-8 or an
    /// I/O failure. `row` is the 1-based data row (the header is row 0).
    #[error("CSV row {row}{}: {message}", column.as_ref().map(|c| format!(", column {c:?}")).unwrap_or_default())]
    Csv {
        /// 1-based data row (0 for the header).
        row: u64,
        /// The column at fault, when known.
        column: Option<String>,
        /// What went wrong.
        message: String,
    },
    /// A value does not parse as the kind its column was given. The value
    /// itself is private data, so it is never part of the error: errors end up
    /// in logs, task records and the hub's database.
    #[error(
        "row {row}, column {column:?}: the value is not a valid {kind} (values are not shown)"
    )]
    InvalidValue {
        /// 1-based data row.
        row: u64,
        /// The column's name.
        column: String,
        /// The expected kind, e.g. "integer".
        kind: String,
    },
    /// The CSV has no header row.
    #[error("the CSV is empty: a header row is required")]
    EmptyCsv,
    /// Two header fields have the same name.
    #[error("column {0:?} appears more than once in the header")]
    DuplicateColumn(String),
    /// A column override names a column the table does not have.
    #[error("override names unknown column {name:?} (columns: {known})")]
    UnknownColumn {
        /// The name in the override.
        name: String,
        /// The table's columns, comma-separated.
        known: String,
    },
    /// Invalid options, e.g. `k = 0`.
    #[error("invalid option {option}: {message}")]
    InvalidOption {
        /// The option's name.
        option: &'static str,
        /// Why it is invalid.
        message: String,
    },
    /// A model cannot be fitted or sampled, e.g. no column is left to model.
    #[error("model: {0}")]
    Model(String),
    /// A serialised model has a format version this build does not read.
    #[error("unsupported model format version {found} (this build reads version {supported})")]
    UnsupportedFormat {
        /// The version in the document.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// Two tables given to a metric do not have the same columns.
    #[error("tables differ: {0}")]
    SchemaMismatch(String),
    /// Writing the output (CSV or Parquet) failed.
    #[error("write the output: {0}")]
    Write(String),
}

/// The crate's result type.
pub type Result<T, E = SynthError> = std::result::Result<T, E>;
