//! Record → CLK.
//!
//! [`Encoder::new`] derives the keys and prepares keyed hash states once. Encoding keeps, per
//! thread, bounded memo caches (value → bit positions and token → hash) per feature; they are
//! pure functions of the input, so the output is identical with or without them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use foldhash::fast::FixedState;

use crate::error::RecordError;
use crate::format::validate_and_format;
use crate::hashing::{FeatureHasher, TokenHash};
use crate::keys::{derive_keys, KeyDerivationError};
use crate::schema::{HashKind, HashedFeature, Schema, Strategy, StringFormat, TextEncoding};
use crate::tokens::{tokenize, TokenBuf};
use crate::Format;

/// Values longer than this (bytes) are not memoised.
const VALUE_CACHE_MAX_LEN: usize = 64;
/// Values setting more positions than this are not memoised.
const VALUE_CACHE_MAX_POSITIONS: usize = 512;
/// Entries per feature and thread before a cache is cleared.
const CACHE_CAPACITY: usize = 1 << 13;
/// Tokens longer than this (bytes) are not memoised.
const TOKEN_KEY_LEN: usize = 16;

/// A Cryptographic Linkage Key: `l / 8` bytes, bit `i` in byte `i / 8` under mask `0x80 >> (i % 8)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Clk(Box<[u8]>);

impl Clk {
    /// Wraps raw bytes.
    pub fn from_bytes(bytes: impl Into<Box<[u8]>>) -> Clk {
        Clk(bytes.into())
    }

    /// The encoding's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Number of bits.
    pub fn len_bits(&self) -> usize {
        self.0.len() * 8
    }

    /// Whether bit `i` is set (false when out of range).
    pub fn bit(&self, i: usize) -> bool {
        self.0
            .get(i / 8)
            .is_some_and(|b| b & (0x80 >> (i % 8)) != 0)
    }

    /// Number of set bits.
    pub fn popcount(&self) -> u32 {
        self.0.iter().map(|b| b.count_ones()).sum()
    }

    /// Standard base64 with padding, as in clkhash's JSON output.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.0)
    }
}

/// Why an [`Encoder`] cannot be built from a schema and secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncoderError {
    /// Too many key bytes requested from HKDF.
    #[error(transparent)]
    KeyDerivation(#[from] KeyDerivationError),
    /// A blakeHash feature with keys longer than BLAKE2b allows.
    #[error("feature {feature:?}: blakeHash needs clkConfig.kdf.keySize <= 64, found {key_size}")]
    BlakeKeySize {
        /// The feature.
        feature: String,
        /// The configured key size.
        key_size: usize,
    },
    /// The HMAC implementation refused a derived key (does not happen with HMAC-SHA1/MD5).
    #[error("feature {feature:?}: cannot key HMAC")]
    HmacKey {
        /// The feature.
        feature: String,
    },
    /// blakeHash needs a power-of-two filter length.
    #[error("feature {feature:?}: blakeHash needs l * 2^xor_folds to be a power of two, found {hash_len}")]
    BlakeLength {
        /// The feature.
        feature: String,
        /// Filter length before folding.
        hash_len: usize,
    },
}

struct FeaturePlan {
    identifier: String,
    hashed: Option<(HashedFeature, FeatureHasher)>,
}

/// Encodes records of one schema with one secret. Cheap to share between threads (`Sync`).
pub struct Encoder {
    id: u64,
    features: Vec<FeaturePlan>,
    hash_len: usize,
    xor_folds: u32,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("features", &self.features.len())
            .field("hash_len", &self.hash_len)
            .field("xor_folds", &self.xor_folds)
            .finish_non_exhaustive()
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

type TokenKey = (u128, u8);
type ValueCache = HashMap<Box<str>, CachedBits, FixedState>;

/// Bits a feature value sets: a bitmap for small filters, else the positions.
enum CachedBits {
    Words(Box<[u64]>),
    Positions(Box<[u32]>),
}

/// Filters up to this many bits memoise values as bitmaps.
const BITMAP_MAX_BITS: usize = 4096;
type TokenCache = HashMap<TokenKey, TokenHash, FixedState>;

/// Per-thread working memory and memo caches for one encoder.
struct Scratch {
    encoder_id: u64,
    values: Vec<ValueCache>,
    tokens: Vec<TokenCache>,
    buf: TokenBuf,
    positions: Vec<u32>,
    words: Vec<u64>,
    filter: Vec<u64>,
    bytes: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

fn token_key(token: &[u8]) -> Option<TokenKey> {
    if token.len() > TOKEN_KEY_LEN {
        return None;
    }
    let key = token
        .iter()
        .enumerate()
        .fold(0u128, |acc, (i, &b)| acc | (u128::from(b) << (8 * i)));
    Some((key, token.len() as u8))
}

fn encoding_of(h: &HashedFeature) -> TextEncoding {
    match &h.format {
        Format::String(StringFormat { encoding, .. }) => *encoding,
        _ => TextEncoding::Utf8,
    }
}

impl Encoder {
    /// Derives the per-feature keys from `secret` and prepares the hash states.
    pub fn new(schema: &Schema, secret: &[u8]) -> Result<Encoder, EncoderError> {
        let keys = derive_keys(secret, schema.features.len(), &schema.kdf)?;
        let hash_len = schema.hash_len();
        let mut features = Vec::with_capacity(schema.features.len());
        for (feature, [k0, k1]) in schema.features.iter().zip(keys) {
            let hashed = match &feature.hashed {
                None => None,
                Some(h) => {
                    let hasher =
                        match h.hashing.hash {
                            HashKind::Blake => {
                                if !hash_len.is_power_of_two() {
                                    return Err(EncoderError::BlakeLength {
                                        feature: feature.identifier.clone(),
                                        hash_len,
                                    });
                                }
                                let max_bits = match h.hashing.strategy {
                                    Strategy::BitsPerToken(k) | Strategy::BitsPerFeature(k) => k,
                                };
                                FeatureHasher::blake(&k0, max_bits).map_err(|_| {
                                    EncoderError::BlakeKeySize {
                                        feature: feature.identifier.clone(),
                                        key_size: schema.kdf.key_size,
                                    }
                                })?
                            }
                            HashKind::DoubleHash {
                                prevent_singularity,
                            } => FeatureHasher::double(&k0, &k1, prevent_singularity).map_err(
                                |_| EncoderError::HmacKey {
                                    feature: feature.identifier.clone(),
                                },
                            )?,
                        };
                    Some(((**h).clone(), hasher))
                }
            };
            features.push(FeaturePlan {
                identifier: feature.identifier.clone(),
                hashed,
            });
        }
        Ok(Encoder {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            features,
            hash_len,
            xor_folds: schema.xor_folds,
        })
    }

    /// Number of values a record must have (one per schema feature, ignored ones included).
    pub fn num_features(&self) -> usize {
        self.features.len()
    }

    /// Feature identifiers in column order.
    pub fn identifiers(&self) -> impl Iterator<Item = &str> {
        self.features.iter().map(|f| f.identifier.as_str())
    }

    /// Length of the produced CLKs in bytes.
    pub fn clk_bytes(&self) -> usize {
        (self.hash_len >> self.xor_folds) / 8
    }

    /// Encodes one record (one value per feature, in schema order).
    pub fn encode_record(&self, record: &[&str]) -> Result<Clk, RecordError> {
        let mut out = vec![0u8; self.clk_bytes()];
        self.encode_values(record.len(), record.iter().copied(), &mut out)?;
        Ok(Clk(out.into_boxed_slice()))
    }

    /// Encodes one record given as an iterator of `len` values into `out` (`clk_bytes()` long).
    pub fn encode_values<'a>(
        &self,
        len: usize,
        values: impl Iterator<Item = &'a str>,
        out: &mut [u8],
    ) -> Result<(), RecordError> {
        if len != self.features.len() {
            return Err(RecordError::WrongLength {
                expected: self.features.len(),
                found: len,
            });
        }
        SCRATCH.with(|cell| {
            let mut slot = cell.borrow_mut();
            let scratch = match slot.as_mut() {
                Some(s) if s.encoder_id == self.id => s,
                _ => slot.insert(self.new_scratch()),
            };
            self.encode_with(scratch, values, out)
        })
    }

    fn new_scratch(&self) -> Scratch {
        let n = self.features.len();
        Scratch {
            encoder_id: self.id,
            values: (0..n)
                .map(|_| ValueCache::with_capacity_and_hasher(1024, FixedState::default()))
                .collect(),
            tokens: (0..n)
                .map(|_| TokenCache::with_capacity_and_hasher(1024, FixedState::default()))
                .collect(),
            buf: TokenBuf::default(),
            positions: Vec::new(),
            words: vec![0; self.hash_len.div_ceil(64)],
            filter: vec![0; self.hash_len.div_ceil(64)],
            bytes: vec![0; self.hash_len / 8],
        }
    }

    fn encode_with<'a>(
        &self,
        s: &mut Scratch,
        values: impl Iterator<Item = &'a str>,
        out: &mut [u8],
    ) -> Result<(), RecordError> {
        let Scratch {
            values: vcaches,
            tokens: tcaches,
            buf,
            positions,
            words,
            filter,
            bytes,
            ..
        } = s;
        filter.iter_mut().for_each(|b| *b = 0);
        for (fi, (plan, value)) in self.features.iter().zip(values).enumerate() {
            let Some((feature, hasher)) = &plan.hashed else {
                continue;
            };
            let vcache = &mut vcaches[fi];
            match vcache.get(value) {
                Some(CachedBits::Words(words)) => {
                    filter
                        .iter_mut()
                        .zip(words.iter())
                        .for_each(|(f, w)| *f |= w);
                    continue;
                }
                Some(CachedBits::Positions(p)) => {
                    p.iter().for_each(|&p| set_bit(filter, p));
                    continue;
                }
                None => {}
            }
            let invalid = |message: String| RecordError::InvalidValue {
                feature: plan.identifier.clone(),
                message,
            };
            let hashing = &feature.hashing;
            let formatted = match &hashing.missing_value {
                Some(mv) if mv.sentinel == value => std::borrow::Cow::Borrowed(mv.replacement()),
                _ => validate_and_format(&feature.format, value).map_err(invalid)?,
            };
            tokenize(&formatted, &hashing.comparison, encoding_of(feature), buf)
                .map_err(invalid)?;
            let n = buf.len();
            let l = self.hash_len as u64;
            let tcache = &mut tcaches[fi];
            let bitmap = self.hash_len <= BITMAP_MAX_BITS;
            positions.clear();
            words.iter_mut().for_each(|w| *w = 0);
            for ti in 0..n {
                let token = buf.token(ti);
                let k = hashing.strategy.bits_for(ti, n);
                let key = token_key(token);
                let computed;
                let th = match key.and_then(|k| tcache.get(&k)) {
                    Some(th) => th,
                    None => {
                        computed = hasher.hash_token(token, l).map_err(invalid)?;
                        if let Some(key) = key {
                            if tcache.len() >= CACHE_CAPACITY {
                                tcache.clear();
                            }
                            tcache.insert(key, computed);
                        }
                        &computed
                    }
                };
                if bitmap {
                    hasher.for_each_position(th, token, k, l, |p| set_bit(words, p));
                } else {
                    hasher.positions(th, token, k, l, positions);
                }
            }
            if bitmap {
                filter
                    .iter_mut()
                    .zip(words.iter())
                    .for_each(|(f, w)| *f |= w);
            } else {
                positions.iter().for_each(|&p| set_bit(filter, p));
            }
            if value.len() <= VALUE_CACHE_MAX_LEN && positions.len() <= VALUE_CACHE_MAX_POSITIONS {
                if vcache.len() >= CACHE_CAPACITY {
                    vcache.clear();
                }
                let entry = if bitmap {
                    CachedBits::Words(words.as_slice().into())
                } else {
                    CachedBits::Positions(positions.as_slice().into())
                };
                vcache.insert(value.into(), entry);
            }
        }
        for (chunk, w) in bytes.chunks_mut(8).zip(filter.iter()) {
            chunk.copy_from_slice(&w.to_be_bytes()[..chunk.len()]);
        }
        fold_into(bytes, self.xor_folds, out);
        Ok(())
    }
}

/// Sets bit `p` in a filter of big-endian words (bit `p` is bit `63 - p % 64` of word
/// `p / 64`, so `to_be_bytes` yields bitarray's byte order).
#[inline(always)]
fn set_bit(filter: &mut [u64], p: u32) {
    let p = p as usize;
    filter[p >> 6] |= 1u64 << (63 - (p & 63));
}

/// XOR-folds `filter` `folds` times (first half ^ second half) into `out`.
fn fold_into(filter: &[u8], folds: u32, out: &mut [u8]) {
    let mut len = filter.len();
    if folds == 0 {
        out.copy_from_slice(filter);
        return;
    }
    let mut tmp = filter.to_vec();
    for _ in 0..folds {
        len /= 2;
        let (a, b) = tmp.split_at_mut(len);
        a.iter_mut().zip(b.iter()).for_each(|(x, y)| *x ^= y);
    }
    out.copy_from_slice(&tmp[..len]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_xors_halves() {
        let filter = [0b1010_0000, 0b0110_0000, 0xff, 0x0f];
        let mut out = [0u8; 1];
        fold_into(&filter, 2, &mut out);
        assert_eq!(out[0], 0b1010_0000 ^ 0b0110_0000 ^ 0xff ^ 0x0f);
    }

    #[test]
    fn clk_bit_order_is_big_endian() {
        let c = Clk::from_bytes(vec![0x80, 0x01]);
        assert!(c.bit(0) && c.bit(15) && !c.bit(1) && !c.bit(16));
        assert_eq!(c.popcount(), 2);
        assert_eq!(c.len_bits(), 16);
    }
}
