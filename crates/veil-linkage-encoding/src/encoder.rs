//! Record → CLK.
//!
//! [`Encoder::new`] derives the keys and prepares keyed hash states once. Encoding keeps, per
//! thread, bounded memo caches (value → bit positions and token → hash) per feature; they are
//! pure functions of the input, so the output is identical with or without them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use foldhash::fast::FixedState;
use hashbrown::HashTable;

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
/// Tokens longer than this (bytes) are not memoised (the length goes in the key's top byte).
const TOKEN_KEY_LEN: usize = 15;

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

/// A token of at most [`TOKEN_KEY_LEN`] bytes packed injectively with its length.
type TokenKey = u128;

/// Slots of a direct block: one per second byte, then the one-byte token.
const BLOCK_SLOTS: usize = 257;
// Direct slots hold `index + 1` as `u16`.
const _: () = assert!(CACHE_CAPACITY < u16::MAX as usize);

/// Token → hash memo of one feature. One- and two-byte tokens (ASCII bigrams and unigrams, the
/// common case) index small direct tables (one block of slots per first byte seen); tokens up
/// to [`TOKEN_KEY_LEN`] bytes go through a hash map; longer ones are not memoised.
struct TokenCache {
    /// First byte → direct block number + 1 (0: no block yet).
    blocks: [u16; 256],
    /// Blocks of `BLOCK_SLOTS` slots: 0 = absent, else index + 1 in `hashes`.
    direct: Vec<u16>,
    map: HashMap<TokenKey, u32, FixedState>,
    hashes: Vec<TokenHash>,
    /// The hash of the last token that could not be memoised.
    spare: Option<TokenHash>,
}

impl TokenCache {
    fn new() -> TokenCache {
        TokenCache {
            blocks: [0; 256],
            direct: Vec::new(),
            map: HashMap::default(),
            hashes: Vec::with_capacity(256),
            spare: None,
        }
    }

    /// The memoised hash of `token`, computing and memoising it with `hash` if needed.
    #[inline]
    fn get_or_insert<E>(
        &mut self,
        token: &[u8],
        hash: impl FnOnce() -> Result<TokenHash, E>,
    ) -> Result<&TokenHash, E> {
        let direct = match *token {
            [a] => Some((usize::from(a), BLOCK_SLOTS - 1)),
            [a, b] => Some((usize::from(a), usize::from(b))),
            _ => None,
        };
        if let Some((first, second)) = direct {
            let block = usize::from(self.blocks[first]);
            if block != 0 {
                let i = usize::from(self.direct[(block - 1) * BLOCK_SLOTS + second]);
                if i != 0 {
                    return Ok(&self.hashes[i - 1]);
                }
            }
            let th = hash()?;
            let i = self.push(th);
            let mut block = usize::from(self.blocks[first]);
            if block == 0 {
                self.direct.resize(self.direct.len() + BLOCK_SLOTS, 0);
                block = self.direct.len() / BLOCK_SLOTS;
                self.blocks[first] = block as u16;
            }
            self.direct[(block - 1) * BLOCK_SLOTS + second] = (i + 1) as u16;
            return Ok(&self.hashes[i]);
        }
        let Some(key) = token_key(token) else {
            return Ok(self.spare.insert(hash()?));
        };
        if let Some(&i) = self.map.get(&key) {
            return Ok(&self.hashes[i as usize]);
        }
        let th = hash()?;
        let i = self.push(th);
        self.map.insert(key, i as u32);
        Ok(&self.hashes[i])
    }

    fn clear(&mut self) {
        self.hashes.clear();
        self.map.clear();
        self.blocks = [0; 256];
        self.direct.clear();
    }

    /// Appends `th` (clearing the memo first when full) and returns its index.
    fn push(&mut self, th: TokenHash) -> usize {
        if self.hashes.len() >= CACHE_CAPACITY {
            self.clear();
        }
        self.hashes.push(th);
        self.hashes.len() - 1
    }
}

/// Filters up to this many bits memoise values as bitmaps (else as bit positions).
const BITMAP_MAX_BITS: usize = 4096;
/// Words of the largest memoised bitmap.
const BITMAP_WORDS: usize = BITMAP_MAX_BITS / 64;

/// A value's bits while they are set, for filters of up to [`BITMAP_MAX_BITS`] bits.
struct Bitmap(Box<[u64; BITMAP_WORDS]>);

impl Default for Bitmap {
    fn default() -> Bitmap {
        Bitmap(Box::new([0; BITMAP_WORDS]))
    }
}

/// `ValueKey` marker (top byte) of a value longer than [`TOKEN_KEY_LEN`] bytes.
const LONG_VALUE: u128 = 0xff << 120;

/// A value to look up: short values packed with [`token_key`], longer ones compared bytewise.
#[derive(Clone, Copy)]
struct ValueKey<'a> {
    /// `token_key(value)`, or [`LONG_VALUE`].
    packed: u128,
    bytes: &'a [u8],
    hash: u64,
}

impl<'a> ValueKey<'a> {
    #[inline]
    fn new(value: &'a str, hasher: &FixedState) -> ValueKey<'a> {
        let bytes = value.as_bytes();
        match token_key(bytes) {
            Some(packed) => ValueKey {
                packed,
                bytes,
                hash: hasher.hash_one(packed),
            },
            None => ValueKey {
                packed: LONG_VALUE,
                bytes,
                hash: hasher.hash_one(bytes),
            },
        }
    }
}

/// One memoised value: the packed value (or, for long values, [`LONG_VALUE`] | its offset and
/// length in `ValueCache::keys`) and the range of its bits in `ValueCache::chunks`.
#[derive(Clone, Copy)]
struct ValueEntry {
    key: u128,
    hash: u64,
    bits: u32,
    bits_len: u32,
}

/// Words per chunk of `ValueCache::chunks`; a value's bits (at most [`BITMAP_WORDS`] or
/// [`VALUE_CACHE_MAX_POSITIONS`] words) never straddle chunks.
const CHUNK_WORDS: usize = 1 << 13;
const _: () = assert!(BITMAP_WORDS <= CHUNK_WORDS && VALUE_CACHE_MAX_POSITIONS <= CHUNK_WORDS);

/// Value → bits a feature sets (a bitmap of `hash_len` bits, or the positions as `u64`s),
/// with long keys and all bits kept in arenas so that memoising a value allocates nothing
/// (bits in fixed-size chunks, so growing never copies).
#[derive(Default)]
struct ValueCache {
    table: HashTable<ValueEntry>,
    keys: Vec<u8>,
    /// Chunks of `CHUNK_WORDS` capacity; the first `used` are in use (kept for reuse).
    chunks: Vec<Vec<u64>>,
    used: usize,
}

impl ValueCache {
    fn clear(&mut self) {
        self.table.clear();
        self.keys.clear();
        self.used = 0;
    }

    /// Appends `bits` (at most `CHUNK_WORDS`) to the arena and returns their offset.
    fn push_bits(&mut self, bits: impl ExactSizeIterator<Item = u64>) -> usize {
        if self.used == 0 || self.chunks[self.used - 1].len() + bits.len() > CHUNK_WORDS {
            if self.used == self.chunks.len() {
                self.chunks.push(Vec::with_capacity(CHUNK_WORDS));
            }
            self.chunks[self.used].clear();
            self.used += 1;
        }
        let chunk = &mut self.chunks[self.used - 1];
        let offset = (self.used - 1) * CHUNK_WORDS + chunk.len();
        chunk.extend(bits);
        offset
    }

    #[inline]
    fn get(&self, key: &ValueKey<'_>) -> Option<&[u64]> {
        let e = self.table.find(key.hash, |e| {
            if key.packed != LONG_VALUE {
                return e.key == key.packed;
            }
            if e.key & LONG_VALUE != LONG_VALUE || e.hash != key.hash {
                return false;
            }
            let (start, len) = (e.key as u32 as usize, (e.key >> 32) as u32 as usize);
            self.keys[start..start + len] == *key.bytes
        })?;
        let (chunk, start) = (e.bits as usize / CHUNK_WORDS, e.bits as usize % CHUNK_WORDS);
        Some(&self.chunks[chunk][start..start + e.bits_len as usize])
    }

    fn insert(&mut self, key: &ValueKey<'_>, bits: impl ExactSizeIterator<Item = u64>) {
        if self.table.len() >= CACHE_CAPACITY {
            self.clear();
        }
        let packed = if key.packed == LONG_VALUE {
            let start = self.keys.len() as u128;
            self.keys.extend_from_slice(key.bytes);
            LONG_VALUE | start | ((key.bytes.len() as u128) << 32)
        } else {
            key.packed
        };
        let bits_len = bits.len() as u32;
        let entry = ValueEntry {
            key: packed,
            hash: key.hash,
            bits: self.push_bits(bits) as u32,
            bits_len,
        };
        self.table.insert_unique(key.hash, entry, |e| e.hash);
    }
}

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
fn token_key(token: &[u8]) -> Option<TokenKey> {
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
mod tests {
    use super::*;

    #[test]
    fn token_keys_are_injective() {
        let alphabet = [0u8, 1, b' ', b'a', 0x7f, 0x80, 0xff];
        let mut seen = HashMap::new();
        let mut x = 1u64;
        for len in 0..=TOKEN_KEY_LEN {
            for _ in 0..2000 {
                let token: Vec<u8> = (0..len)
                    .map(|_| {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        alphabet[(x >> 59) as usize % alphabet.len()]
                    })
                    .collect();
                let key = token_key(&token).unwrap();
                assert_eq!(*seen.entry(key).or_insert_with(|| token.clone()), token);
            }
        }
        assert!(token_key(&[0; TOKEN_KEY_LEN + 1]).is_none());
    }

    fn mixed_schema() -> Schema {
        let feature = |name: &str, hash: &str| {
            format!(
                r#"{{"identifier": "{name}", "format": {{"type": "string", "encoding": "utf-8"}},
                "hashing": {{"comparison": {{"type": "ngram", "n": 2}},
                "strategy": {{"bitsPerFeature": 60}}, "hash": {{"type": "{hash}"}}}}}}"#
            )
        };
        Schema::from_json_str(&format!(
            r#"{{"version": 3, "clkConfig": {{"l": 1024, "xorFolds": 1,
            "kdf": {{"type": "HKDF", "hash": "SHA256", "keySize": 64}}}},
            "features": [{}, {}]}}"#,
            feature("a", "blakeHash"),
            feature("b", "doubleHash")
        ))
        .unwrap()
    }

    /// Memo eviction (more distinct values and tokens than `CACHE_CAPACITY`), long values and
    /// scratch reuse between encoders on one thread leave the output unchanged.
    #[test]
    fn memos_and_scratch_reuse_do_not_change_output() {
        let schema = mixed_schema();
        let warm = Encoder::new(&schema, b"secret").unwrap();
        let (b, c) = (
            Encoder::new(&schema, b"secret").unwrap(),
            Encoder::new(&schema, b"secret").unwrap(),
        );
        let mut x = 7u64;
        let mut rand_text = |len: usize| -> String {
            (0..len)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    char::from(b' ' + ((x >> 33) % 95) as u8)
                })
                .collect()
        };
        let n = CACHE_CAPACITY + 300;
        let records: Vec<[String; 2]> = (0..n)
            .map(|i| {
                let len = [1, 2, 7, 15, 16, 40, 70][i % 7];
                // Some values repeat, so memo hits are exercised too.
                let a = if i % 5 == 0 {
                    format!("v{}", i % 50)
                } else {
                    rand_text(len)
                };
                [a, rand_text(3 + i % 4)]
            })
            .collect();
        let all = || records.iter().chain(records.iter().take(500));
        let warm_clks: Vec<Clk> = all()
            .map(|[a, b]| warm.encode_record(&[a, b]).unwrap())
            .collect();
        for (i, ([a, b_value], warm_clk)) in all().zip(&warm_clks).enumerate() {
            // Alternating `b` and `c` resets the thread's scratch on every record: always cold.
            let cold = if i % 2 == 0 { &b } else { &c };
            assert_eq!(
                &cold.encode_record(&[a, b_value]).unwrap(),
                warm_clk,
                "record {i}"
            );
        }
    }

    #[test]
    fn folding_xors_halves() {
        let mut filter = [0b1010_0000, 0b0110_0000, 0xff, 0x0f];
        let mut out = [0u8; 1];
        fold_into(&mut filter, 2, &mut out);
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
