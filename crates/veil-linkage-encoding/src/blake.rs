//! Keyed BLAKE2b-512 with a salt (RFC 7693), specialised for clkhash's use: the key block is
//! compressed once per (key, salt) and the resulting state is reused for every token.

const IV: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

const SIGMA: [[usize; 16]; 12] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
];

const BLOCK: usize = 128;

#[inline(always)]
fn g(v: &mut [u64; 16], a: usize, b: usize, c: usize, d: usize, x: u64, y: u64) {
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(x);
    v[d] = (v[d] ^ v[a]).rotate_right(32);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(24);
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(y);
    v[d] = (v[d] ^ v[a]).rotate_right(16);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(63);
}

fn compress(h: &mut [u64; 8], block: &[u8; BLOCK], counter: u128, last: bool) {
    let mut m = [0u64; 16];
    for (w, chunk) in m.iter_mut().zip(block.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *w = u64::from_le_bytes(b);
    }
    let mut v = [0u64; 16];
    v[..8].copy_from_slice(h);
    v[8..].copy_from_slice(&IV);
    v[12] ^= counter as u64;
    v[13] ^= (counter >> 64) as u64;
    if last {
        v[14] = !v[14];
    }
    for s in &SIGMA {
        g(&mut v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
        g(&mut v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
        g(&mut v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
        g(&mut v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
        g(&mut v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
        g(&mut v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
        g(&mut v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
        g(&mut v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for i in 0..8 {
        h[i] ^= v[i] ^ v[i + 8];
    }
}

/// BLAKE2b-512 keyed with a key of 1..=64 bytes and a salt of at most 16 bytes, with the key
/// block already absorbed.
#[derive(Clone, Debug)]
pub struct KeyedBlake2b {
    /// Chaining value after the key block (not last).
    h: [u64; 8],
    /// Parameter-block state before the key block, and the key block, for empty messages
    /// (where the key block is the last block).
    init: [u64; 8],
    key_block: Box<[u8; BLOCK]>,
}

impl KeyedBlake2b {
    /// Prepares the state; `None` if the key is empty or longer than 64 bytes or the salt is
    /// longer than 16 bytes (Python's `hashlib.blake2b` rejects those).
    pub fn new(key: &[u8], salt: &[u8]) -> Option<KeyedBlake2b> {
        if key.is_empty() || key.len() > 64 || salt.len() > 16 {
            return None;
        }
        let mut h = IV;
        h[0] ^= 0x0101_0000 ^ ((key.len() as u64) << 8) ^ 64;
        let mut s = [0u8; 16];
        s[..salt.len()].copy_from_slice(salt);
        h[4] ^= u64::from_le_bytes(s[..8].try_into().ok()?);
        h[5] ^= u64::from_le_bytes(s[8..].try_into().ok()?);
        let init = h;
        let mut key_block = Box::new([0u8; BLOCK]);
        key_block[..key.len()].copy_from_slice(key);
        compress(&mut h, &key_block, BLOCK as u128, false);
        Some(KeyedBlake2b { h, init, key_block })
    }

    /// The 64-byte MAC of `msg`.
    pub fn mac(&self, msg: &[u8]) -> [u8; 64] {
        if msg.is_empty() {
            let mut h = self.init;
            compress(&mut h, &self.key_block, BLOCK as u128, true);
            return to_bytes(h);
        }
        let mut h = self.h;
        let mut counter = BLOCK as u128;
        let mut rest = msg;
        // Full blocks that are not the last one.
        while rest.len() > BLOCK {
            let mut block = [0u8; BLOCK];
            block.copy_from_slice(&rest[..BLOCK]);
            counter += BLOCK as u128;
            compress(&mut h, &block, counter, false);
            rest = &rest[BLOCK..];
        }
        let mut block = [0u8; BLOCK];
        block[..rest.len()].copy_from_slice(rest);
        counter += rest.len() as u128;
        compress(&mut h, &block, counter, true);
        to_bytes(h)
    }
}

fn to_bytes(h: [u64; 8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    for (chunk, word) in out.chunks_exact_mut(8).zip(h) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use blake2::digest::{consts::U64, Mac};

    fn reference(key: &[u8], salt: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut m = blake2::Blake2bMac::<U64>::new_with_salt_and_personal(key, salt, &[]).unwrap();
        m.update(msg);
        m.finalize().into_bytes().to_vec()
    }

    #[test]
    fn matches_reference_implementation() {
        let key: Vec<u8> = (0..64u8).collect();
        for key_len in [1, 17, 64] {
            for salt in [&b""[..], b"0", b"12", b"0123456789abcdef"] {
                for len in [0, 1, 2, 127, 128, 129, 255, 256, 300] {
                    let msg: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
                    let ours = KeyedBlake2b::new(&key[..key_len], salt).unwrap().mac(&msg);
                    assert_eq!(
                        ours.to_vec(),
                        reference(&key[..key_len], salt, &msg),
                        "key {key_len} salt {salt:?} len {len}"
                    );
                }
            }
        }
        assert!(KeyedBlake2b::new(&[0; 65], b"").is_none());
        assert!(KeyedBlake2b::new(&[], b"").is_none());
    }
}
