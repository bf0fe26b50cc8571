//! Lambda-fold Hamming LSH (blocklib `PPRLIndexLambdaFold`): for each of
//! `Lambda` bands, sample `K` bit positions with Python's `random` seeded by
//! `random_state`; a record's block id in band `i` is `"{i}{bits}"` where
//! `bits` are the sampled bits as `0`/`1` characters.

use crate::blocks::{Blocks, BlocksBuilder};
use crate::bloom::flip_bloom_filter;
use crate::error::{BlockingError, SchemaError};
use crate::psig::resolve;
use crate::pyrandom::PyRandom;
use crate::schema::LambdaFoldConfig;

/// The sampled bit positions of every band, exactly as blocklib draws them.
pub fn band_positions(
    config: &LambdaFoldConfig,
    bf_len: u64,
) -> Result<Vec<Vec<u64>>, SchemaError> {
    let mut rng = PyRandom::new(config.random_state);
    (0..config.lambda)
        .map(|_| {
            rng.sample_range(bf_len, config.k).ok_or_else(|| {
                SchemaError::invalid(
                    "config.K",
                    format!("K = {} exceeds the filter length {bf_len}", config.k),
                )
            })
        })
        .collect()
}

fn bit(bytes: &[u8], i: u64) -> Option<bool> {
    bytes
        .get((i / 8) as usize)
        .map(|b| b & (0x80 >> (i % 8)) != 0)
}

fn blocks_from_filters<'a, F>(
    config: &LambdaFoldConfig,
    bf_len: u64,
    count: usize,
    filter: F,
) -> Result<Blocks, BlockingError>
where
    F: Fn(usize) -> Result<&'a [u8], BlockingError>,
{
    let bands = band_positions(config, bf_len)?;
    let mut builder = BlocksBuilder::new();
    for r in 0..count {
        let bytes = filter(r)?;
        let mut keys = Vec::with_capacity(bands.len());
        for (i, positions) in bands.iter().enumerate() {
            let mut key = i.to_string();
            for &p in positions {
                match bit(bytes, p) {
                    Some(true) => key.push('1'),
                    Some(false) => key.push('0'),
                    None => {
                        return Err(BlockingError::Clk {
                            index: r,
                            reason: format!("has {} bits, bit {p} is sampled", bytes.len() * 8),
                        })
                    }
                }
            }
            keys.push(key);
        }
        builder.push_record(keys);
    }
    Ok(builder.build())
}

/// Lambda-fold blocks of CLKs (`bits[i]` = decoded bytes of CLK `i`). The
/// filter length is taken from the first CLK, as blocklib does.
pub fn lambda_fold_clks(
    config: &LambdaFoldConfig,
    bits: &[Vec<u8>],
) -> Result<Blocks, BlockingError> {
    let Some(first) = bits.first() else {
        return Ok(BlocksBuilder::new().build());
    };
    let bf_len = first.len() as u64 * 8;
    blocks_from_filters(config, bf_len, bits.len(), |r| Ok(bits[r].as_slice()))
}

/// Lambda-fold blocks of raw records (`input-clks: false`): the blocking
/// features are concatenated, split into bigrams and hashed into a Bloom
/// filter of `bf-len` bits with `num-hash-funcs` hash functions.
pub fn lambda_fold_records(
    config: &LambdaFoldConfig,
    header: Option<&[String]>,
    rows: &[Vec<String>],
) -> Result<Blocks, BlockingError> {
    if config.bf_len == 0 {
        return Err(SchemaError::invalid("config.bf-len", "must be positive").into());
    }
    let cols = config
        .common
        .blocking_features
        .iter()
        .enumerate()
        .map(|(i, f)| resolve(f, header, &format!("config.blocking-features[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let nbytes = config.bf_len.div_ceil(8) as usize;
    let mut filters = Vec::with_capacity(rows.len());
    for (r, row) in rows.iter().enumerate() {
        let mut s = String::new();
        for &c in &cols {
            s.push_str(row.get(c).ok_or(BlockingError::MissingColumn {
                row: r,
                len: row.len(),
                column: c,
            })?);
        }
        let chars: Vec<char> = s.chars().collect();
        let mut bf = vec![0u8; nbytes];
        for w in chars.windows(2) {
            let gram: String = w.iter().collect();
            for p in flip_bloom_filter(&gram, config.bf_len, config.num_hash_funcs) {
                bf[(p / 8) as usize] |= 0x80 >> (p % 8);
            }
        }
        filters.push(bf);
    }
    blocks_from_filters(config, config.bf_len, filters.len(), |r| {
        Ok(filters[r].as_slice())
    })
}
