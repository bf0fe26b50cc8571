//! A re-implementation of the parts of CPython's `random` module that
//! blocklib's lambda-fold uses: `random.seed(int)` (MT19937 `init_by_array`
//! over the 32-bit words of `abs(seed)`), `getrandbits`, `_randbelow` and
//! `random.sample(range(n), k)` (both the pool and the set strategy of
//! CPython >= 3.9). Matching these makes band bit positions identical to
//! blocklib's for the same `random_state`.

const N: usize = 624;
const M: usize = 397;

/// MT19937 generator seeded like CPython's `random.Random`.
pub struct PyRandom {
    mt: [u32; N],
    index: usize,
}

impl PyRandom {
    /// Equivalent of `random.seed(seed)` for an integer seed.
    pub fn new(seed: i64) -> Self {
        let n = seed.unsigned_abs();
        let key: Vec<u32> = if n >> 32 == 0 {
            vec![n as u32]
        } else {
            vec![n as u32, (n >> 32) as u32]
        };
        let mut r = PyRandom {
            mt: [0; N],
            index: N,
        };
        r.init_genrand(19_650_218);
        let mut i = 1usize;
        let mut j = 0usize;
        let mut k = N.max(key.len());
        while k > 0 {
            let prev = r.mt[i - 1] ^ (r.mt[i - 1] >> 30);
            r.mt[i] = (r.mt[i] ^ prev.wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                r.mt[0] = r.mt[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
            k -= 1;
        }
        k = N - 1;
        while k > 0 {
            let prev = r.mt[i - 1] ^ (r.mt[i - 1] >> 30);
            r.mt[i] = (r.mt[i] ^ prev.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                r.mt[0] = r.mt[N - 1];
                i = 1;
            }
            k -= 1;
        }
        r.mt[0] = 0x8000_0000;
        r
    }

    fn init_genrand(&mut self, s: u32) {
        self.mt[0] = s;
        for i in 1..N {
            let prev = self.mt[i - 1] ^ (self.mt[i - 1] >> 30);
            self.mt[i] = 1_812_433_253u32.wrapping_mul(prev).wrapping_add(i as u32);
        }
        self.index = N;
    }

    /// Next raw 32-bit output (`genrand_uint32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            for kk in 0..N {
                let y = (self.mt[kk] & 0x8000_0000) | (self.mt[(kk + 1) % N] & 0x7fff_ffff);
                let mag = if y & 1 == 1 { 0x9908_b0df } else { 0 };
                self.mt[kk] = self.mt[(kk + M) % N] ^ (y >> 1) ^ mag;
            }
            self.index = 0;
        }
        let mut y = self.mt[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// `random.getrandbits(k)` for `k <= 64`.
    pub fn getrandbits(&mut self, k: u32) -> u64 {
        if k == 0 {
            return 0;
        }
        if k <= 32 {
            return u64::from(self.next_u32() >> (32 - k));
        }
        let lo = u64::from(self.next_u32());
        let hi = u64::from(self.next_u32() >> (64 - k.min(64)));
        lo | (hi << 32)
    }

    /// `random._randbelow(n)` (rejection sampling with `getrandbits`).
    pub fn randbelow(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let k = 64 - n.leading_zeros();
        loop {
            let r = self.getrandbits(k);
            if r < n {
                return r;
            }
        }
    }

    /// `random.sample(range(n), k)`; `None` when `k > n` (Python raises).
    pub fn sample_range(&mut self, n: u64, k: u64) -> Option<Vec<u64>> {
        if k > n {
            return None;
        }
        let mut setsize: u64 = 21;
        if k > 5 {
            let e = ((k as f64 * 3.0).ln() / 4f64.ln()).ceil() as u32;
            setsize = setsize.saturating_add(4u64.saturating_pow(e));
        }
        let mut result = Vec::with_capacity(k as usize);
        if n <= setsize {
            let mut pool: Vec<u64> = (0..n).collect();
            for i in 0..k {
                let j = self.randbelow(n - i) as usize;
                result.push(pool[j]);
                pool[j] = pool[(n - i - 1) as usize];
            }
        } else {
            let mut selected = std::collections::HashSet::with_capacity(k as usize);
            for _ in 0..k {
                let mut j = self.randbelow(n);
                while selected.contains(&j) {
                    j = self.randbelow(n);
                }
                selected.insert(j);
                result.push(j);
            }
        }
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_cpython_reference_values() {
        // python3 -c "import random; random.seed(42); print([random.getrandbits(32) for _ in range(3)])"
        let mut r = PyRandom::new(42);
        assert_eq!(
            [r.next_u32(), r.next_u32(), r.next_u32()],
            [2_746_317_213, 478_163_327, 107_420_369]
        );
        // python3 -c "import random; random.seed(0); print(random.sample(range(1024), 5))"
        let mut r = PyRandom::new(0);
        assert_eq!(
            r.sample_range(1024, 5).unwrap(),
            vec![788, 861, 82, 530, 995]
        );
        // python3 -c "import random; random.seed(7); print(random.sample(range(20), 6))"
        let mut r = PyRandom::new(7);
        assert_eq!(r.sample_range(20, 6).unwrap(), vec![10, 4, 12, 1, 2, 13]);
        // python3 -c "import random; random.seed(2**40+5); print(random.sample(range(1024), 3))"
        let mut r = PyRandom::new((1 << 40) + 5);
        assert_eq!(r.sample_range(1024, 3).unwrap(), vec![550, 56, 95]);
    }
}
