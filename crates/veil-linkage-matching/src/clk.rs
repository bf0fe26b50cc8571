//! CLK storage and parsers for outside input (base64 JSON, raw binary).
//!
//! A [`ClkSet`] holds one dataset of equally sized Bloom filters as 64-bit words, each CLK
//! zero-padded to a whole number of words. Population counts and Dice coefficients do not
//! depend on bit order, so bytes are packed little-endian regardless of the bitarray
//! big-endian bit order used by clkhash.

use std::io::Read;

use base64::Engine as _;

use crate::error::{MatchError, Result};

/// Largest supported CLK size in bytes (8192 bits).
pub const MAX_CLK_BYTES: usize = 1024;

/// A dataset of CLKs of one common length, stored contiguously as `u64` words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClkSet {
    clk_bytes: usize,
    words: usize,
    data: Vec<u64>,
}

fn words_for(bytes: usize) -> usize {
    bytes.div_ceil(8)
}

fn check_len(bytes: usize) -> Result<()> {
    if bytes == 0 || bytes > MAX_CLK_BYTES {
        return Err(MatchError::BadClkLength {
            bytes,
            max: MAX_CLK_BYTES,
        });
    }
    Ok(())
}

impl ClkSet {
    /// An empty dataset of `clk_bytes`-byte CLKs.
    pub fn new(clk_bytes: usize) -> Result<Self> {
        check_len(clk_bytes)?;
        Ok(Self {
            clk_bytes,
            words: words_for(clk_bytes),
            data: Vec::new(),
        })
    }

    /// Append one CLK given as raw bytes; its length must equal [`ClkSet::clk_bytes`].
    pub fn push(&mut self, clk: &[u8]) -> Result<()> {
        if clk.len() != self.clk_bytes {
            return Err(MatchError::MixedLengths {
                index: self.len(),
                expected: self.clk_bytes,
                found: clk.len(),
            });
        }
        let start = self.data.len();
        self.data.resize(start + self.words, 0);
        for (w, chunk) in self.data[start..].iter_mut().zip(clk.chunks(8)) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            *w = u64::from_le_bytes(buf);
        }
        Ok(())
    }

    /// Build a dataset from raw byte CLKs, all of the same length (the first one's).
    ///
    /// An empty iterator yields an error because the CLK length would be unknown; use
    /// [`ClkSet::new`] for an empty dataset of known CLK size.
    pub fn from_bytes<I, B>(clks: I) -> Result<Self>
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        let mut set: Option<Self> = None;
        for clk in clks {
            let clk = clk.as_ref();
            let s = match set.as_mut() {
                Some(s) => s,
                None => set.insert(Self::new(clk.len())?),
            };
            s.push(clk)?;
        }
        set.ok_or_else(|| MatchError::InvalidArgument("no CLKs given".into()))
    }

    /// Decode standard (padded) base64 strings into a dataset.
    ///
    /// `clk_bytes` fixes the expected CLK size; `None` takes the first CLK's size.
    pub fn from_base64<I, S>(clks: I, clk_bytes: Option<usize>) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let engine = base64::engine::general_purpose::STANDARD;
        let mut set = match clk_bytes {
            Some(b) => Some(Self::new(b)?),
            None => None,
        };
        let mut buf = Vec::with_capacity(MAX_CLK_BYTES);
        for (index, s) in clks.into_iter().enumerate() {
            buf.clear();
            engine
                .decode_vec(s.as_ref().trim().as_bytes(), &mut buf)
                .map_err(|e| MatchError::BadBase64 {
                    index,
                    reason: e.to_string(),
                })?;
            let set = match set.as_mut() {
                Some(s) => s,
                None => set.insert(Self::new(buf.len())?),
            };
            if buf.len() != set.clk_bytes {
                return Err(MatchError::MixedLengths {
                    index,
                    expected: set.clk_bytes,
                    found: buf.len(),
                });
            }
            set.push(&buf)?;
        }
        set.ok_or_else(|| MatchError::InvalidArgument("no CLKs given and no CLK size".into()))
    }

    /// Parse clkhash's JSON output `{"clks": ["<base64>", ...]}`, streaming (each CLK is
    /// decoded as it is read; see [`crate::clk_json`]).
    ///
    /// `clk_bytes` fixes the expected CLK size; `None` takes the first CLK's size (an empty
    /// list then is an error).
    pub fn from_clk_json<R: Read>(reader: R, clk_bytes: Option<usize>) -> Result<Self> {
        crate::clk_json::read_clks_only(reader, clk_bytes)
    }

    /// Read concatenated raw CLKs of `clk_bytes` bytes each until end of input.
    pub fn from_binary<R: Read>(mut reader: R, clk_bytes: usize) -> Result<Self> {
        let mut set = Self::new(clk_bytes)?;
        let mut all = Vec::new();
        reader.read_to_end(&mut all)?;
        if all.len() % clk_bytes != 0 {
            return Err(MatchError::TruncatedBinary {
                len: all.len(),
                clk_bytes,
            });
        }
        set.data.reserve(all.len() / clk_bytes * set.words);
        for clk in all.chunks_exact(clk_bytes) {
            set.push(clk)?;
        }
        Ok(set)
    }

    /// Number of CLKs.
    pub fn len(&self) -> usize {
        self.data.len() / self.words
    }

    /// Whether the dataset holds no CLK.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// CLK size in bytes.
    pub fn clk_bytes(&self) -> usize {
        self.clk_bytes
    }

    /// CLK size in 64-bit words (rounded up; padding bits are zero).
    pub fn words(&self) -> usize {
        self.words
    }

    /// The zero-padded words of CLK `i`, or `None` if out of range.
    pub fn get(&self, i: usize) -> Option<&[u64]> {
        self.data.get(i * self.words..(i + 1) * self.words)
    }

    /// All words of all CLKs, CLK after CLK.
    pub fn as_words(&self) -> &[u64] {
        &self.data
    }

    /// Iterate over the CLKs' word slices.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u64]> + '_ {
        self.data.chunks_exact(self.words)
    }
}
