//! Per-feature memo caches of the encoder: token → hash and value → bits. Both are pure functions
//! of their input, so the encoder's output is identical with or without them.

use std::collections::HashMap;
use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::HashTable;

use crate::encoder::*;
use crate::hashing::TokenHash;

/// A token of at most [`TOKEN_KEY_LEN`] bytes packed injectively with its length.
pub(crate) type TokenKey = u128;

/// Slots of a direct block: one per second byte, then the one-byte token.
pub(crate) const BLOCK_SLOTS: usize = 257;
// Direct slots hold `index + 1` as `u16`.
const _: () = assert!(CACHE_CAPACITY < u16::MAX as usize);

/// Token → hash memo of one feature. One- and two-byte tokens (ASCII bigrams and unigrams, the
/// common case) index small direct tables (one block of slots per first byte seen); tokens up
/// to [`TOKEN_KEY_LEN`] bytes go through a hash map; longer ones are not memoised.
pub(crate) struct TokenCache {
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
    pub(crate) fn new() -> TokenCache {
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
    pub(crate) fn get_or_insert<E>(
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

    pub(crate) fn clear(&mut self) {
        self.hashes.clear();
        self.map.clear();
        self.blocks = [0; 256];
        self.direct.clear();
    }

    /// Appends `th` (clearing the memo first when full) and returns its index.
    pub(crate) fn push(&mut self, th: TokenHash) -> usize {
        if self.hashes.len() >= CACHE_CAPACITY {
            self.clear();
        }
        self.hashes.push(th);
        self.hashes.len() - 1
    }
}

/// Filters up to this many bits memoise values as bitmaps (else as bit positions).
pub(crate) const BITMAP_MAX_BITS: usize = 4096;
/// Words of the largest memoised bitmap.
pub(crate) const BITMAP_WORDS: usize = BITMAP_MAX_BITS / 64;

/// A value's bits while they are set, for filters of up to [`BITMAP_MAX_BITS`] bits.
pub(crate) struct Bitmap(pub(crate) Box<[u64; BITMAP_WORDS]>);

impl Default for Bitmap {
    fn default() -> Bitmap {
        Bitmap(Box::new([0; BITMAP_WORDS]))
    }
}

/// `ValueKey` marker (top byte) of a value longer than [`TOKEN_KEY_LEN`] bytes.
pub(crate) const LONG_VALUE: u128 = 0xff << 120;

/// A value to look up: short values packed with [`token_key`], longer ones compared bytewise.
#[derive(Clone, Copy)]
pub(crate) struct ValueKey<'a> {
    /// `token_key(value)`, or [`LONG_VALUE`].
    packed: u128,
    bytes: &'a [u8],
    hash: u64,
}

impl<'a> ValueKey<'a> {
    #[inline]
    pub(crate) fn new(value: &'a str, hasher: &FixedState) -> ValueKey<'a> {
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
pub(crate) struct ValueEntry {
    key: u128,
    hash: u64,
    bits: u32,
    bits_len: u32,
}

/// Words per chunk of `ValueCache::chunks`; a value's bits (at most [`BITMAP_WORDS`] or
/// [`VALUE_CACHE_MAX_POSITIONS`] words) never straddle chunks.
pub(crate) const CHUNK_WORDS: usize = 1 << 13;
const _: () = assert!(BITMAP_WORDS <= CHUNK_WORDS && VALUE_CACHE_MAX_POSITIONS <= CHUNK_WORDS);

/// Value → bits a feature sets (a bitmap of `hash_len` bits, or the positions as `u64`s),
/// with long keys and all bits kept in arenas so that memoising a value allocates nothing
/// (bits in fixed-size chunks, so growing never copies).
#[derive(Default)]
pub(crate) struct ValueCache {
    table: HashTable<ValueEntry>,
    keys: Vec<u8>,
    /// Chunks of `CHUNK_WORDS` capacity; the first `used` are in use (kept for reuse).
    chunks: Vec<Vec<u64>>,
    used: usize,
}

impl ValueCache {
    pub(crate) fn clear(&mut self) {
        self.table.clear();
        self.keys.clear();
        self.used = 0;
    }

    /// Appends `bits` (at most `CHUNK_WORDS`) to the arena and returns their offset.
    pub(crate) fn push_bits(&mut self, bits: impl ExactSizeIterator<Item = u64>) -> usize {
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
    pub(crate) fn get(&self, key: &ValueKey<'_>) -> Option<&[u64]> {
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

    pub(crate) fn insert(&mut self, key: &ValueKey<'_>, bits: impl ExactSizeIterator<Item = u64>) {
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
