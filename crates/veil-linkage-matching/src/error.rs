//! Error type shared by every parser and entry point of the crate.

use thiserror::Error;

/// Everything that can go wrong when reading outside input or configuring a computation.
///
/// Parsers never panic on malformed input; they return one of these variants, naming the
/// offending record or row where that makes sense.
#[derive(Debug, Error)]
pub enum MatchError {
    /// A CLK was not valid standard base64.
    #[error("CLK {index}: invalid base64: {reason}")]
    BadBase64 {
        /// Zero-based position of the CLK in its input.
        index: usize,
        /// What the base64 decoder reported.
        reason: String,
    },
    /// A CLK had a different length from the first CLK of the same input.
    #[error("CLK {index}: length {found} bytes differs from the first CLK's {expected} bytes")]
    MixedLengths {
        /// Zero-based position of the CLK in its input.
        index: usize,
        /// Length of the first CLK, in bytes.
        expected: usize,
        /// Length of this CLK, in bytes.
        found: usize,
    },
    /// A CLK length is not supported (must be 1..=1024 bytes).
    #[error("unsupported CLK length {bytes} bytes (must be between 1 and {max} bytes)")]
    BadClkLength {
        /// The offending length in bytes.
        bytes: usize,
        /// The largest supported length in bytes.
        max: usize,
    },
    /// Datasets given to one computation have different CLK lengths.
    #[error("dataset {dataset} has {found}-byte CLKs but dataset 0 has {expected}-byte CLKs")]
    DatasetLengthMismatch {
        /// Index of the dataset that differs.
        dataset: usize,
        /// CLK length of dataset 0, in bytes.
        expected: usize,
        /// CLK length of this dataset, in bytes.
        found: usize,
    },
    /// A binary CLK stream did not end on a record boundary.
    #[error("binary CLK input has {len} bytes, not a multiple of the {clk_bytes}-byte CLK size")]
    TruncatedBinary {
        /// Total input length in bytes.
        len: usize,
        /// Declared CLK size in bytes.
        clk_bytes: usize,
    },
    /// A JSON document did not have the expected shape.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A CSV row (1-based line number, the header being line 1) was malformed.
    #[error("CSV line {line}: {reason}")]
    BadCsvRow {
        /// 1-based line number in the file (the header is line 1).
        line: u64,
        /// What is wrong with the row.
        reason: String,
    },
    /// A CSV header did not match the expected column names.
    #[error("CSV header {found:?} does not match the expected {expected:?}")]
    BadCsvHeader {
        /// The expected header fields.
        expected: Vec<String>,
        /// The header that was found.
        found: Vec<String>,
    },
    /// An argument was out of its valid range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The requested kernel is not supported by this CPU.
    #[error("kernel {0} is not available on this CPU")]
    KernelUnavailable(&'static str),
    /// The thread pool could not be created.
    #[error("could not build thread pool: {0}")]
    ThreadPool(String),
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Result alias used throughout the crate.
pub type Result<T, E = MatchError> = std::result::Result<T, E>;
