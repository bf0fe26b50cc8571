//! Record → CLK.
//!
//! [`Encoder::new`] derives the keys and prepares keyed hash states once. Encoding keeps, per
//! thread, bounded memo caches (value → bit positions and token → hash) per feature; they are
//! pure functions of the input, so the output is identical with or without them.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use foldhash::fast::FixedState;

use crate::error::RecordError;
use crate::format::validate_and_format;
use crate::hashing::FeatureHasher;
use crate::keys::{derive_keys, KeyDerivationError};
use crate::memo::*;
use crate::schema::{HashKind, HashedFeature, Schema, Strategy, StringFormat, TextEncoding};
use crate::tokens::{tokenize, TokenBuf};
use crate::Format;

/// Values longer than this (bytes) are not memoised.
pub(crate) const VALUE_CACHE_MAX_LEN: usize = 64;
/// Values setting more positions than this are not memoised.
pub(crate) const VALUE_CACHE_MAX_POSITIONS: usize = 512;
/// Entries per feature and thread before a cache is cleared.
pub(crate) const CACHE_CAPACITY: usize = 1 << 13;
/// Tokens longer than this (bytes) are not memoised (the length goes in the key's top byte).
pub(crate) const TOKEN_KEY_LEN: usize = 15;

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

/// Per-thread working memory and memo caches for one encoder (`encoder_id`; 0 = none).
#[derive(Default)]
struct Scratch {
    encoder_id: u64,
    values: Vec<ValueCache>,
    tokens: Vec<TokenCache>,
    buf: TokenBuf,
    positions: Vec<u32>,
    words: Bitmap,
    filter: Vec<u64>,
    bytes: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

/// Packs a token of at most [`TOKEN_KEY_LEN`] bytes little-endian (byte `i` in bits
/// `8i..8i + 8`) with its length in the top byte. Overlapping loads are shifted to their exact
/// position, so overlapping bytes OR with themselves: the packing is exact, hence injective.
#[inline]
pub(crate) fn token_key(token: &[u8]) -> Option<TokenKey> {
    let n = token.len();
    let packed = match n {
        0 => 0,
        1..=3 => u128::from(
            u64::from(token[0])
                | (u64::from(token[n / 2]) << (8 * (n / 2)))
                | (u64::from(token[n - 1]) << (8 * (n - 1))),
        ),
        4..=8 => {
            let lo = u32::from_le_bytes([token[0], token[1], token[2], token[3]]);
            let hi = u32::from_le_bytes([token[n - 4], token[n - 3], token[n - 2], token[n - 1]]);
            u128::from(u64::from(lo) | (u64::from(hi) << (8 * (n - 4))))
        }
        9..=TOKEN_KEY_LEN => {
            let mut lo = [0u8; 8];
            lo.copy_from_slice(&token[..8]);
            let mut hi = [0u8; 8];
            hi.copy_from_slice(&token[n - 8..]);
            // Bytes `8..n`: drop the `16 - n` (1..=7) leading bytes of the last eight.
            let hi = u64::from_le_bytes(hi) >> (8 * (16 - n));
            u128::from(u64::from_le_bytes(lo)) | (u128::from(hi) << 64)
        }
        _ => return None,
    };
    Some(packed | ((n as u128) << 120))
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
            let scratch = slot.get_or_insert_with(Scratch::default);
            if scratch.encoder_id != self.id {
                self.reset_scratch(scratch);
            }
            self.encode_with(scratch, values, out)
        })
    }

    /// Makes `s` this encoder's scratch: memo caches emptied (a fresh encoder always starts
    /// cold), buffers sized for this schema. Allocations of an earlier encoder on this thread
    /// are kept, bounded by [`CACHE_CAPACITY`] entries per feature.
    fn reset_scratch(&self, s: &mut Scratch) {
        let n = self.features.len();
        s.encoder_id = self.id;
        s.values.truncate(n);
        s.values.iter_mut().for_each(ValueCache::clear);
        s.values.resize_with(n, ValueCache::default);
        s.tokens.truncate(n);
        s.tokens.iter_mut().for_each(TokenCache::clear);
        s.tokens.resize_with(n, TokenCache::new);
        s.filter.clear();
        s.filter.resize(self.hash_len.div_ceil(64), 0);
        s.bytes.clear();
        s.bytes.resize(self.hash_len / 8, 0);
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
        let bitmap = self.hash_len <= BITMAP_MAX_BITS;
        let nwords = filter.len();
        let l = self.hash_len as u64;
        let value_hasher = FixedState::default();
        for (fi, (plan, value)) in self.features.iter().zip(values).enumerate() {
            let Some((feature, hasher)) = &plan.hashed else {
                continue;
            };
            let vcache = &mut vcaches[fi];
            let memo = value.len() <= VALUE_CACHE_MAX_LEN;
            let vkey = memo.then(|| ValueKey::new(value, &value_hasher));
            if let Some(vkey) = &vkey {
                if let Some(bits) = vcache.get(vkey) {
                    if bitmap {
                        filter.iter_mut().zip(bits).for_each(|(f, w)| *f |= w);
                    } else {
                        bits.iter().for_each(|&p| set_bit(filter, p as u32));
                    }
                    continue;
                }
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
            // Bits of token `i`: `base + (i < extra)` (clkhash's bitsPerToken / bitsPerFeature).
            let (base, extra) = match hashing.strategy {
                Strategy::BitsPerToken(k) => (k, 0),
                Strategy::BitsPerFeature(total) => {
                    let n = n.max(1) as u64;
                    (total / n, total % n)
                }
            };
            let tcache = &mut tcaches[fi];
            positions.clear();
            let words: &mut [u64; BITMAP_WORDS] = &mut words.0;
            words[..nwords.min(BITMAP_WORDS)]
                .iter_mut()
                .for_each(|w| *w = 0);
            for ti in 0..n {
                let token = buf.token(ti);
                let k = base + u64::from((ti as u64) < extra);
                debug_assert_eq!(k, hashing.strategy.bits_for(ti, n));
                let th = tcache
                    .get_or_insert(token, || hasher.hash_token(token, l))
                    .map_err(invalid)?;
                if bitmap {
                    hasher.for_each_position(th, token, k, l, |p| set_bitmap_bit(words, p));
                } else {
                    hasher.positions(th, token, k, l, positions);
                }
            }
            if bitmap {
                filter
                    .iter_mut()
                    .zip(words.iter())
                    .for_each(|(f, w)| *f |= w);
                if let Some(vkey) = &vkey {
                    vcache.insert(vkey, words[..nwords].iter().copied());
                }
            } else {
                positions.iter().for_each(|&p| set_bit(filter, p));
                if let Some(vkey) = vkey.filter(|_| positions.len() <= VALUE_CACHE_MAX_POSITIONS) {
                    vcache.insert(&vkey, positions.iter().map(|&p| u64::from(p)));
                }
            }
        }
        for (chunk, w) in bytes.chunks_mut(8).zip(filter.iter()) {
            chunk.copy_from_slice(&w.to_be_bytes()[..chunk.len()]);
        }
        fold_into(bytes, self.xor_folds, out);
        Ok(())
    }
}

/// Sets bit `p` (< [`BITMAP_MAX_BITS`]) of a bitmap of at most [`BITMAP_WORDS`] words.
#[inline(always)]
fn set_bitmap_bit(words: &mut [u64; BITMAP_WORDS], p: u32) {
    let p = p as usize;
    words[(p >> 6) & (BITMAP_WORDS - 1)] |= 1u64 << (63 - (p & 63));
}

/// Sets bit `p` in a filter of big-endian words (bit `p` is bit `63 - p % 64` of word
/// `p / 64`, so `to_be_bytes` yields bitarray's byte order).
#[inline(always)]
fn set_bit(filter: &mut [u64], p: u32) {
    let p = p as usize;
    filter[p >> 6] |= 1u64 << (63 - (p & 63));
}

/// XOR-folds `filter` `folds` times (first half ^ second half, in place) into `out`.
fn fold_into(filter: &mut [u8], folds: u32, out: &mut [u8]) {
    let mut len = filter.len();
    for _ in 0..folds {
        len /= 2;
        let (a, b) = filter.split_at_mut(len);
        a.iter_mut().zip(b.iter()).for_each(|(x, y)| *x ^= y);
    }
    out.copy_from_slice(&filter[..len]);
}

#[cfg(test)]
#[path = "encoder_tests.rs"]
mod tests;
