//! blocklib-compatible blocking for Veil's record-linkage workload.
//!
//! Two methods of data61's blocklib (0.1.x) are implemented, configured by
//! blocklib's blocking-schema JSON (`version` 1):
//!
//! * **P-Sig** (`"type": "p-sig"`): `feature-value` and `characters-at`
//!   signatures, `ratio`/`count` filtering and Bloom-filter block keys
//!   (`str(tuple(positions))`, optionally blake2b-compressed). Block ids are
//!   byte-identical to blocklib's. `metaphone` is rejected with
//!   [`SchemaError::Unsupported`]. Needs raw records: [`block_records`].
//! * **Lambda-fold Hamming LSH** (`"type": "lambda-fold"`): per band, `K` bit
//!   positions sampled with CPython's Mersenne Twister seeded by
//!   `random_state`; block id `"{band}{bits}"`. Works on CLKs alone
//!   ([`block_clks`]) and on raw records with `input-clks: false`.
//!
//! Output is the Anonlink Entity Service's `clknblocks` JSON
//! ([`write_clknblocks`]); [`BlockStats`] and [`ComparisonStats`] summarise
//! the result. The crate performs no file or network I/O of its own.
//!
//! ```
//! use veil_linkage_blocking::{block_clks, BlockingSchema, Clks};
//! let schema = BlockingSchema::from_json_str(r#"{"version": 1, "type": "lambda-fold",
//!   "config": {"blocking-features": [1], "Lambda": 2, "bf-len": 8, "num-hash-funcs": 2,
//!   "K": 3, "input-clks": true, "random_state": 0}}"#).unwrap();
//! let clks = Clks::from_encoded(vec!["8A==".into(), "/w==".into()]).unwrap();
//! let blocks = block_clks(&schema, &clks).unwrap();
//! assert_eq!(blocks.record_blocks(0).count(), 2);
//! ```

mod blocks;
mod bloom;
mod clk;
mod error;
mod lambda;
mod psig;
mod pyrandom;
mod schema;
mod stats;

pub use blocks::{Blocks, BlocksBuilder};
pub use bloom::{compress_key, flip_bloom_filter, python_set_order, python_tuple_repr};
pub use clk::{decode_clk, write_clknblocks, Clks};
pub use error::{BlockingError, SchemaError};
pub use lambda::{band_positions, lambda_fold_clks, lambda_fold_records};
pub use psig::psig_blocks;
pub use pyrandom::PyRandom;
pub use schema::{
    BlockingSchema, BloomFilterConfig, CharPos, CommonConfig, FeatureRef, LambdaFoldConfig,
    PSigConfig, SignatureFilter, SignatureSpec,
};
pub use stats::{BlockStats, ComparisonStats};

/// Blocks already-encoded CLKs (what `veil link block` does). Only
/// lambda-fold with `input-clks: true` can work from CLKs; P-Sig needs raw
/// records and yields [`BlockingError::WrongInput`].
pub fn block_clks(schema: &BlockingSchema, clks: &Clks) -> Result<Blocks, BlockingError> {
    match schema {
        BlockingSchema::LambdaFold(c) if c.input_clks => lambda_fold_clks(c, &clks.bits),
        BlockingSchema::LambdaFold(_) => Err(BlockingError::WrongInput(
            "lambda-fold schema has `input-clks: false`; blocking CLKs needs `input-clks: true`"
                .into(),
        )),
        BlockingSchema::PSig(_) => Err(BlockingError::WrongInput(
            "P-Sig blocking needs raw records, not CLKs; use a lambda-fold schema to block CLKs"
                .into(),
        )),
    }
}

/// Blocks raw records (`rows`, with an optional `header` for feature names).
/// Lambda-fold with `input-clks: true` yields [`BlockingError::WrongInput`].
pub fn block_records(
    schema: &BlockingSchema,
    header: Option<&[String]>,
    rows: &[Vec<String>],
) -> Result<Blocks, BlockingError> {
    match schema {
        BlockingSchema::PSig(c) => psig_blocks(c, header, rows),
        BlockingSchema::LambdaFold(c) if !c.input_clks => lambda_fold_records(c, header, rows),
        BlockingSchema::LambdaFold(_) => Err(BlockingError::WrongInput(
            "lambda-fold schema has `input-clks: true`; block the CLKs instead of raw records"
                .into(),
        )),
    }
}
