//! The clkhash linkage schema, version 3: typed model and parser.
//!
//! [`Schema::from_json_str`] validates like clkhash 0.18.3 (its bundled JSON schema `v3.json`
//! plus the checks its Python classes make) and reports errors naming the feature and field.
//!
//! Two clkhash 0.18.3 quirks are reproduced on purpose so that encodings stay bit-identical:
//! * `clkConfig.xorFolds` is validated but **not applied** (clkhash reads the key `xor_folds`,
//!   which the v3 JSON schema does not declare but does not forbid either). A non-negative integer
//!   under `xor_folds` *is* applied, exactly as clkhash does.
//! * `numeric` comparisons read their precision from `fractional_precision` (snake case).

mod parse;
mod parse_hashing;

use crate::date::DatePattern;
use crate::error::SchemaError;

/// A parsed and validated linkage schema (version 3).
#[derive(Debug, Clone)]
pub struct Schema {
    /// Length of the final encoding in bits (after any XOR folding); a multiple of 8.
    pub l: usize,
    /// Folds actually applied (from the `xor_folds` key, see the module docs).
    pub xor_folds: u32,
    /// `clkConfig.xorFolds` as declared; ignored by clkhash 0.18.3 and therefore here.
    pub declared_xor_folds: u32,
    /// Key derivation settings.
    pub kdf: Kdf,
    /// Features (columns) in order.
    pub features: Vec<Feature>,
}

impl Schema {
    /// Parses and validates a schema from JSON text.
    pub fn from_json_str(text: &str) -> Result<Schema, SchemaError> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        Self::from_value(&value)
    }

    /// Parses and validates a schema from a reader of JSON text.
    pub fn from_reader<R: std::io::Read>(reader: R) -> Result<Schema, SchemaError> {
        let value: serde_json::Value = serde_json::from_reader(reader)?;
        Self::from_value(&value)
    }

    /// Validates an already parsed JSON value.
    pub fn from_value(value: &serde_json::Value) -> Result<Schema, SchemaError> {
        parse::parse_schema(value)
    }

    /// Length in bits of the filter before XOR folding (`l * 2^xor_folds`).
    pub fn hash_len(&self) -> usize {
        self.l << self.xor_folds
    }

    /// Identifiers of all features, in column order.
    pub fn identifiers(&self) -> impl Iterator<Item = &str> {
        self.features.iter().map(|f| f.identifier.as_str())
    }
}

/// Key derivation (`clkConfig.kdf`); only HKDF exists in v3.
#[derive(Debug, Clone)]
pub struct Kdf {
    /// Hash used inside HKDF.
    pub hash: KdfHash,
    /// Decoded `salt`, if present.
    pub salt: Option<Vec<u8>>,
    /// Decoded `info`, if present.
    pub info: Option<Vec<u8>>,
    /// Size in bytes of each derived key (default 64).
    pub key_size: usize,
}

/// Hash function used by HKDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KdfHash {
    /// HKDF-SHA256 (the default).
    Sha256,
    /// HKDF-SHA512.
    Sha512,
}

/// One column of the input.
#[derive(Debug, Clone)]
pub struct Feature {
    /// Column name; must equal the CSV header cell.
    pub identifier: String,
    /// Optional free text (`description`, or `format.description` for hashed features).
    pub description: Option<String>,
    /// Hashing settings, or `None` for an ignored feature.
    pub hashed: Option<Box<HashedFeature>>,
}

/// Format and hashing settings of a feature that contributes to the CLK.
#[derive(Debug, Clone)]
pub struct HashedFeature {
    /// What values must look like.
    pub format: Format,
    /// How values are tokenised and hashed.
    pub hashing: Hashing,
}

/// `format` of a feature.
#[derive(Debug, Clone)]
pub enum Format {
    /// `"type": "string"`.
    String(StringFormat),
    /// `"type": "integer"`; values are normalised (`" +07"` hashes as `"7"`).
    Integer {
        /// Inclusive lower bound.
        minimum: Option<i64>,
        /// Inclusive upper bound.
        maximum: Option<i64>,
    },
    /// `"type": "date"`; values are parsed with a strptime pattern and hashed as `YYYYMMDD`.
    Date(DatePattern),
    /// `"type": "enum"`; the value must be one of `values`.
    Enum {
        /// Permitted values.
        values: Vec<String>,
    },
}

/// String format options.
#[derive(Debug, Clone)]
pub struct StringFormat {
    /// Encoding used to turn tokens into bytes.
    pub encoding: TextEncoding,
    /// Either a regular expression or length/case limits.
    pub rule: StringRule,
}

/// Validation rule of a string feature.
#[derive(Debug, Clone)]
pub enum StringRule {
    /// The whole value must match this regular expression.
    Pattern {
        /// The pattern as written in the schema.
        source: String,
        /// Compiled as a full match.
        regex: regex::Regex,
    },
    /// Length (in Unicode code points) and case limits.
    Limits {
        /// Required case.
        case: Case,
        /// Minimum length.
        min_length: Option<u64>,
        /// Maximum length.
        max_length: Option<u64>,
    },
}

/// Case requirement of a string feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// `value.to_uppercase() == value`.
    Upper,
    /// `value.to_lowercase() == value`.
    Lower,
    /// No requirement (default).
    Mixed,
}

/// Text encodings permitted by the v3 schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// ASCII; non-ASCII values are invalid.
    Ascii,
    /// UTF-8 (default).
    Utf8,
    /// UTF-16 as Python encodes it: a little-endian BOM then UTF-16LE, per token.
    Utf16,
    /// UTF-32 as Python encodes it: a little-endian BOM then UTF-32LE, per token.
    Utf32,
}

/// `hashing` of a feature.
#[derive(Debug, Clone)]
pub struct Hashing {
    /// Tokeniser.
    pub comparison: Comparison,
    /// How many bits each token sets.
    pub strategy: Strategy,
    /// Hash construction.
    pub hash: HashKind,
    /// Missing value handling.
    pub missing_value: Option<MissingValue>,
}

/// `hashing.comparison`.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    /// n-grams over Unicode code points, padded with `n - 1` spaces on each side when `n > 1`.
    Ngram {
        /// The n (at least 1).
        n: usize,
        /// Prefix each n-gram with its 1-based position and a space.
        positional: bool,
    },
    /// The whole value is one token.
    Exact,
    /// Numeric neighbourhood tokens (Vatsalan & Christen).
    Numeric {
        /// `round(thresholdDistance * 10^fractional_precision)`, positive.
        distance_interval: i128,
        /// Tokens either side of the value (at least 1).
        resolution: u32,
        /// Decimal digits kept of fractional numbers.
        fractional_precision: u32,
    },
}

/// `hashing.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Every token sets this many bits.
    BitsPerToken(u64),
    /// The feature sets this many bits in total, spread over its tokens (the first
    /// `bits % tokens` tokens get one extra).
    BitsPerFeature(u64),
}

impl Strategy {
    /// Number of bits (hash functions) for the token at `index` of `num_tokens`.
    pub fn bits_for(self, index: usize, num_tokens: usize) -> u64 {
        match self {
            Strategy::BitsPerToken(k) => k,
            Strategy::BitsPerFeature(total) => {
                let n = num_tokens as u64;
                let base = total / n;
                base + u64::from((index as u64) < total % n)
            }
        }
    }
}

/// `hashing.hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashKind {
    /// HMAC-SHA1 and HMAC-MD5 double hashing (Schnell 2011).
    DoubleHash {
        /// Re-hash MD5 while it is 0 mod l (clkhash issue 33).
        prevent_singularity: bool,
    },
    /// Keyed BLAKE2b, 16-bit slices of 64-byte digests (the default).
    Blake,
}

/// `hashing.missingValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingValue {
    /// A value equal to this is missing: it is not validated and is replaced.
    pub sentinel: String,
    /// Replacement (defaults to the sentinel itself), hashed without formatting.
    pub replace_with: Option<String>,
}

impl MissingValue {
    /// The string hashed in place of a missing value.
    pub fn replacement(&self) -> &str {
        self.replace_with.as_deref().unwrap_or(&self.sentinel)
    }
}
