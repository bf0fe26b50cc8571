//! Token → Bloom-filter bit positions: clkhash's `blakeHash` and `doubleHash` constructions.
//!
//! * blakeHash: MAC `j` (salt = ASCII decimal `j`) is keyed BLAKE2b-512 of the token bytes; its
//!   64 bytes are read as 32 little-endian `u16`s; position `i` is `short[i] % l`, using
//!   `ceil(k / 32)` MACs for `k` bits.
//! * doubleHash: `h1 = HMAC-SHA1(key0) mod l`, `h2 = HMAC-MD5(key1) mod l` (digests read as
//!   big-endian integers); position `i` is `(h1 + i * h2) mod l`. With `prevent_singularity`,
//!   while `h2 == 0` the MD5 MAC is recomputed over `token + chr(j)` (UTF-8) for j = 0, 1, ….

use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;

use crate::blake::KeyedBlake2b;

/// The cacheable result of hashing one token (independent of how many bits it sets).
#[derive(Clone, Copy, Debug)]
pub enum TokenHash {
    /// The first BLAKE2b MAC as 32 shorts.
    Blake([u16; 32]),
    /// `(h1, h2)` already reduced modulo l.
    Double(u32, u32),
}

/// Keyed hash state of one feature, prepared once per encoder.
#[derive(Clone, Debug)]
pub enum FeatureHasher {
    /// One prepared BLAKE2b state per MAC index (salt).
    Blake(Vec<KeyedBlake2b>),
    /// Keyed HMAC states (inner/outer pads absorbed once, cloned per token).
    Double {
        /// HMAC-SHA1 with the feature's first key.
        sha1: Box<Hmac<Sha1>>,
        /// HMAC-MD5 with the feature's second key.
        md5: Box<Hmac<Md5>>,
        /// clkhash's `prevent_singularity`.
        non_singular: bool,
    },
}

/// Why a feature hasher cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HasherError {
    /// BLAKE2b keys are limited to 64 bytes.
    BlakeKeySize(usize),
    /// The HMAC implementation refused the key.
    HmacKey,
}

fn shorts(mac: &[u8; 64]) -> [u16; 32] {
    let mut s = [0u16; 32];
    for (v, c) in s.iter_mut().zip(mac.chunks_exact(2)) {
        *v = u16::from_le_bytes([c[0], c[1]]);
    }
    s
}

fn mod_be(bytes: &[u8], l: u64) -> u32 {
    if l.is_power_of_two() {
        let mut tail = [0u8; 8];
        let n = bytes.len().min(8);
        tail[8 - n..].copy_from_slice(&bytes[bytes.len() - n..]);
        return (u64::from_be_bytes(tail) & (l - 1)) as u32;
    }
    bytes
        .iter()
        .fold(0u64, |acc, &b| ((acc << 8) | u64::from(b)) % l) as u32
}

impl FeatureHasher {
    /// Blake hasher able to produce `max_bits` positions per token.
    pub fn blake(key: &[u8], max_bits: u64) -> Result<FeatureHasher, HasherError> {
        let macs = max_bits.div_ceil(32).max(1);
        (0..macs)
            .map(|j| {
                KeyedBlake2b::new(key, j.to_string().as_bytes())
                    .ok_or(HasherError::BlakeKeySize(key.len()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(FeatureHasher::Blake)
    }

    /// Double hasher from the feature's two keys.
    pub fn double(
        key_sha1: &[u8],
        key_md5: &[u8],
        non_singular: bool,
    ) -> Result<FeatureHasher, HasherError> {
        // HMAC accepts keys of any length; the error is kept for completeness.
        let sha1 =
            <Hmac<Sha1> as Mac>::new_from_slice(key_sha1).map_err(|_| HasherError::HmacKey)?;
        let md5 = <Hmac<Md5> as Mac>::new_from_slice(key_md5).map_err(|_| HasherError::HmacKey)?;
        Ok(FeatureHasher::Double {
            sha1: Box::new(sha1),
            md5: Box::new(md5),
            non_singular,
        })
    }

    /// Hashes one token for a filter of `l` bits.
    pub fn hash_token(&self, token: &[u8], l: u64) -> Result<TokenHash, String> {
        match self {
            FeatureHasher::Blake(states) => Ok(TokenHash::Blake(shorts(&states[0].mac(token)))),
            FeatureHasher::Double {
                sha1,
                md5,
                non_singular,
            } => {
                let mut m = (**sha1).clone();
                m.update(token);
                let h1 = mod_be(&m.finalize().into_bytes(), l);
                let mut m = (**md5).clone();
                m.update(token);
                let mut h2 = mod_be(&m.finalize().into_bytes(), l);
                let mut j = 0u32;
                while *non_singular && h2 == 0 {
                    let c = char::from_u32(j).ok_or("doubleHash cannot avoid a singular token")?;
                    let mut m = (**md5).clone();
                    m.update(token);
                    m.update(c.encode_utf8(&mut [0; 4]).as_bytes());
                    h2 = mod_be(&m.finalize().into_bytes(), l);
                    j += 1;
                }
                Ok(TokenHash::Double(h1, h2))
            }
        }
    }

    /// Appends the `k` positions of a token with hash `th` to `out`.
    pub fn positions(&self, th: &TokenHash, token: &[u8], k: u64, l: u64, out: &mut Vec<u32>) {
        self.for_each_position(th, token, k, l, |p| out.push(p));
    }

    /// Calls `f` with each of the `k` positions of a token with hash `th`.
    #[inline]
    pub fn for_each_position(
        &self,
        th: &TokenHash,
        token: &[u8],
        k: u64,
        l: u64,
        mut f: impl FnMut(u32),
    ) {
        match (self, th) {
            (FeatureHasher::Blake(states), TokenHash::Blake(first)) => {
                let take = k.min(32) as usize;
                if l.is_power_of_two() {
                    let mask = (l - 1) as u32;
                    first[..take].iter().for_each(|&s| f(u32::from(s) & mask));
                } else {
                    first[..take]
                        .iter()
                        .for_each(|&s| f((u64::from(s) % l) as u32));
                }
                let mut remaining = k - take as u64;
                for state in &states[1..] {
                    if remaining == 0 {
                        break;
                    }
                    let more = shorts(&state.mac(token));
                    let take = remaining.min(32) as usize;
                    more[..take]
                        .iter()
                        .for_each(|&s| f((u64::from(s) % l) as u32));
                    remaining -= take as u64;
                }
            }
            (FeatureHasher::Double { .. }, TokenHash::Double(h1, h2)) => {
                let (h1, h2) = (u64::from(*h1), u64::from(*h2));
                if l.is_power_of_two() {
                    let mask = l - 1;
                    let mut g = h1;
                    for _ in 0..k {
                        f((g & mask) as u32);
                        g = g.wrapping_add(h2);
                    }
                } else {
                    (0..k).for_each(|i| f(((h1 + i * h2) % l) as u32));
                }
            }
            // A token hash always comes from the same hasher.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_endian_modulo() {
        let digest = [0xffu8; 20];
        assert_eq!(mod_be(&digest, 1024), 1023);
        // 2^160 - 1 mod 1000 = 1461501637330902918203684832716283019655932542975 mod 1000
        assert_eq!(mod_be(&digest, 1000), 975);
        assert_eq!(mod_be(&[1, 0], 7), 256 % 7);
    }

    #[test]
    fn double_hash_positions_follow_the_formula() {
        let h = FeatureHasher::double(b"k1", b"k2", false).unwrap();
        let th = TokenHash::Double(10, 300);
        let mut out = Vec::new();
        h.positions(&th, b"ab", 5, 1000, &mut out);
        assert_eq!(out, vec![10, 310, 610, 910, 210]);
    }

    #[test]
    fn blake_uses_extra_macs_beyond_32_bits() {
        let h = FeatureHasher::blake(&[7; 64], 70).unwrap();
        let th = h.hash_token(b"ab", 1024).unwrap();
        let mut out = Vec::new();
        h.positions(&th, b"ab", 70, 1024, &mut out);
        assert_eq!(out.len(), 70);
        assert!(out.iter().all(|&p| p < 1024));
        assert!(FeatureHasher::blake(&[0; 65], 10).is_err());
    }
}
