//! A keyed pseudo-random permutation of `[0, n)` (4-round balanced Feistel
//! network with cycle walking), computable and invertible per index without
//! any table.

/// SplitMix64 finaliser, used to derive keys and as the Feistel round function.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A permutation of `[0, n)`.
#[derive(Debug, Clone)]
pub struct Permutation {
    n: u64,
    half_bits: u32,
    keys: [u64; 4],
}

impl Permutation {
    /// The permutation of `[0, n)` for `key`.
    pub fn new(n: u64, key: u64) -> Self {
        let bits = (64 - n.saturating_sub(1).leading_zeros()).max(2);
        let half_bits = bits.div_ceil(2);
        let mut keys = [0u64; 4];
        let mut k = key;
        for slot in &mut keys {
            k = mix64(k);
            *slot = k;
        }
        Permutation { n, half_bits, keys }
    }

    fn mask(&self) -> u64 {
        (1u64 << self.half_bits) - 1
    }

    fn f(&self, round: usize, x: u64) -> u64 {
        mix64(x ^ self.keys[round]) & self.mask()
    }

    fn encrypt(&self, x: u64) -> u64 {
        let (mut l, mut r) = (x >> self.half_bits, x & self.mask());
        for round in 0..4 {
            let t = l ^ self.f(round, r);
            l = r;
            r = t;
        }
        (l << self.half_bits) | r
    }

    fn decrypt(&self, y: u64) -> u64 {
        let (mut l, mut r) = (y >> self.half_bits, y & self.mask());
        for round in (0..4).rev() {
            let t = r ^ self.f(round, l);
            r = l;
            l = t;
        }
        (l << self.half_bits) | r
    }

    /// Image of `i` (`i < n`).
    pub fn apply(&self, i: u64) -> u64 {
        let mut x = self.encrypt(i);
        while x >= self.n {
            x = self.encrypt(x);
        }
        x
    }

    /// Pre-image of `j` (`j < n`): `apply(invert(j)) == j`.
    pub fn invert(&self, j: u64) -> u64 {
        let mut x = self.decrypt(j);
        while x >= self.n {
            x = self.decrypt(x);
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_a_bijection_with_inverse() {
        for n in [1u64, 2, 3, 7, 100, 1000, 4097] {
            let p = Permutation::new(n, 42 + n);
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let j = p.apply(i);
                assert!(j < n);
                assert!(!seen[j as usize]);
                seen[j as usize] = true;
                assert_eq!(p.invert(j), i);
            }
        }
    }
}
