//! Keyed 64-bit row fingerprints: SipHash-2-4 over a row encoded as 64-bit
//! words, so a model can recognise a training row without storing it.
//!
//! The hash is implemented here (not taken from `std`) so that a stored
//! fingerprint keeps its meaning across Rust releases.

/// SipHash-2-4 of `words` (each taken as 8 little-endian bytes) under the
/// 128-bit `key`; equal to SipHash-2-4 of the concatenated bytes.
#[cfg(test)]
pub fn siphash_words(key: [u64; 2], words: &[u64]) -> u64 {
    let mut state = SipState::new(key);
    for &word in words {
        state.compress(word);
    }
    state.finish((words.len() as u64).wrapping_mul(8))
}

/// Incremental SipHash-2-4 over whole 64-bit words.
pub struct SipState {
    v: [u64; 4],
}

impl SipState {
    /// A fresh state for `key`.
    pub fn new(key: [u64; 2]) -> SipState {
        SipState {
            v: [
                key[0] ^ 0x736f_6d65_7073_6575,
                key[1] ^ 0x646f_7261_6e64_6f6d,
                key[0] ^ 0x6c79_6765_6e65_7261,
                key[1] ^ 0x7465_6462_7974_6573,
            ],
        }
    }

    fn round(&mut self) {
        let v = &mut self.v;
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }

    /// Absorbs one word.
    pub fn compress(&mut self, word: u64) {
        self.v[3] ^= word;
        self.round();
        self.round();
        self.v[0] ^= word;
    }

    /// Finishes a message of `byte_length` bytes (a multiple of 8).
    pub fn finish(mut self, byte_length: u64) -> u64 {
        let last = byte_length << 56;
        self.compress(last);
        self.v[2] ^= 0xff;
        for _ in 0..4 {
            self.round();
        }
        self.v[0] ^ self.v[1] ^ self.v[2] ^ self.v[3]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_vector_for_the_empty_message() {
        let key = [0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908];
        assert_eq!(siphash_words(key, &[]), 0x726f_db47_dd0e_0e31);
    }

    #[test]
    #[allow(deprecated)]
    fn matches_std_siphash_on_whole_words() {
        use std::hash::Hasher;
        let key = [0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210];
        for length in 0..6u64 {
            let words: Vec<u64> = (0..length).map(|i| i.wrapping_mul(0x9e37_79b9)).collect();
            let mut reference = std::hash::SipHasher::new_with_keys(key[0], key[1]);
            for word in &words {
                reference.write(&word.to_le_bytes());
            }
            assert_eq!(siphash_words(key, &words), reference.finish(), "{length}");
        }
    }
}
