//! Cryptographic Linkage Keys (CLKs) bit-identical to clkhash 0.18.3.
//!
//! Parse a clkhash linkage schema (version 3) with [`Schema::from_json_str`], build an
//! [`Encoder`] from it and the shared secret, then encode single records with
//! [`Encoder::encode_record`] or a whole CSV with [`encode_csv`], writing the result with a
//! [`ClkWriter`] in clkhash's JSON format or as raw bytes.
//!
//! ```no_run
//! use veil_linkage_encoding::{encode_csv, ClkWriter, EncodeOptions, Encoder, OutputFormat, Schema};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let schema = Schema::from_json_str(&std::fs::read_to_string("schema.json")?)?;
//! let encoder = Encoder::new(&schema, b"secret")?;
//! let mut out = ClkWriter::new(std::fs::File::create("clks.json")?, OutputFormat::Json)?;
//! let options = EncodeOptions { threads: 4, chunk_rows: 10_000 };
//! encode_csv(std::fs::File::open("data.csv")?, &encoder, &options, |_done| {}, |_row, clk| out.write(&clk))?;
//! out.finish()?;
//! # Ok(()) }
//! ```
//!
//! This crate does no file or network I/O itself; it works on `Read`/`Write`.

mod blake;
mod date;
mod encoder;
mod error;
mod format;
mod hashing;
mod keys;
mod memo;
mod numbers;
mod output;
mod schema;
mod stream;
mod tokens;

pub use date::DatePattern;
pub use encoder::{Clk, Encoder, EncoderError};
pub use error::{EncodeError, FeatureRef, RecordError, SchemaError};
pub use keys::{derive_keys, KeyDerivationError, KEYS_PER_FEATURE};
pub use output::{ClkWriter, OutputFormat};
pub use schema::{
    Case, Comparison, Feature, Format, HashKind, HashedFeature, Hashing, Kdf, KdfHash,
    MissingValue, Schema, Strategy, StringFormat, StringRule, TextEncoding,
};
pub use stream::{check_header, encode_csv, EncodeOptions, EncodeSummary};
