//! Error types for schema parsing and blocking.

use thiserror::Error;

/// An invalid or unsupported blocking schema. `field` is a dotted JSON path
/// such as `config.signatureSpecs[0][1].config.pos[2]`.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SchemaError {
    /// The schema text is not valid JSON.
    #[error("blocking schema is not valid JSON: {0}")]
    Json(String),
    /// A required field is absent.
    #[error("blocking schema: missing required field `{field}`")]
    Missing {
        /// JSON path of the missing field.
        field: String,
    },
    /// A field has the wrong JSON type or an out-of-range value.
    #[error("blocking schema: invalid field `{field}`: {reason}")]
    Invalid {
        /// JSON path of the offending field.
        field: String,
        /// Human-readable explanation.
        reason: String,
    },
    /// A feature this crate deliberately does not implement.
    #[error("blocking schema: unsupported value at `{field}`: {reason}")]
    Unsupported {
        /// JSON path of the offending field.
        field: String,
        /// Human-readable explanation.
        reason: String,
    },
}

impl SchemaError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SchemaError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Errors raised while computing blocks, reading CLKs or writing output.
#[derive(Debug, Error)]
pub enum BlockingError {
    /// The schema is invalid for this input.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// A record does not have the column a signature or feature needs.
    #[error("row {row}: has {len} columns, but column {column} is required")]
    MissingColumn {
        /// 0-based data row (header excluded).
        row: usize,
        /// Number of columns in that row.
        len: usize,
        /// Column index required by the schema.
        column: usize,
    },
    /// A feature name in the schema is not in the header (or no header was given).
    #[error("feature `{name}` (at `{field}`) is not in the header")]
    UnknownFeature {
        /// Feature name.
        name: String,
        /// JSON path of the reference in the schema.
        field: String,
    },
    /// A `characters-at` position (negative index) is out of range for a value.
    #[error("row {row}: position `{pos}` is out of range for a value of {len} characters")]
    PositionOutOfRange {
        /// 0-based data row.
        row: usize,
        /// The position as written in the schema.
        pos: String,
        /// Length of the value in characters.
        len: usize,
    },
    /// P-Sig filtering removed every signature (blocklib raises the same).
    #[error("P-Sig: all records are filtered out")]
    AllFiltered,
    /// The blocking method needs data this entry point does not have.
    #[error("{0}")]
    WrongInput(String),
    /// A CLK is not valid base64 or is too short for the sampled bits.
    #[error("CLK {index}: {reason}")]
    Clk {
        /// 0-based index in the `clks` array.
        index: usize,
        /// Explanation.
        reason: String,
    },
    /// The CLK JSON document is malformed.
    #[error("CLK JSON: {0}")]
    ClkJson(String),
    /// Writing output failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
