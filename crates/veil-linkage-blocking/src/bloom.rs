//! blocklib's signature → Bloom-filter mapping (`flip_bloom_filter`) and the
//! exact textual block key it produces for P-Sig.
//!
//! blocklib keys a P-Sig block by `str(tuple(bfset))`, where `bfset` is a
//! Python `set` of bit positions. Its iteration order is CPython's hash-table
//! slot order, which [`python_set_order`] reproduces (CPython 3.x `setobject.c`:
//! 8 initial slots, linear probing of 9, perturbation shift 5, resize to
//! `used*4` when `fill*5 >= mask*3`; `hash(n) == n` for small ints).

use blake2::digest::{Update, VariableOutput};
use md5::Md5;
use sha1::{Digest, Sha1};

/// Big-endian bytes modulo `m` (`int.from_bytes(b, 'big') % m`).
fn bytes_mod(bytes: &[u8], m: u64) -> u64 {
    let m = u128::from(m);
    let mut r: u128 = 0;
    for &b in bytes {
        r = ((r << 8) | u128::from(b)) % m;
    }
    r as u64
}

/// Bit positions set for `s` (double hashing of SHA-1 and MD5), in the
/// iteration order of the Python set blocklib builds. `bf_len` must be > 0.
pub fn flip_bloom_filter(s: &str, bf_len: u64, num_hash: u64) -> Vec<u64> {
    let bf_len = bf_len.max(1);
    let sha = Sha1::digest(s.as_bytes());
    let md5 = Md5::digest(s.as_bytes());
    let int1 = bytes_mod(&sha, bf_len);
    let int2 = bytes_mod(&md5, bf_len);
    let m = u128::from(bf_len);
    let positions =
        (0..num_hash).map(|i| ((u128::from(int1) + u128::from(i) * u128::from(int2)) % m) as u64);
    python_set_order(positions)
}

const LINEAR_PROBES: usize = 9;
const PERTURB_SHIFT: u32 = 5;

fn insert_clean(table: &mut [Option<u64>], v: u64) {
    let mask = table.len() - 1;
    let mut perturb = v as usize;
    let mut i = (v as usize) & mask;
    loop {
        let probes = if i + LINEAR_PROBES <= mask {
            LINEAR_PROBES
        } else {
            0
        };
        for j in 0..=probes {
            if table[i + j].is_none() {
                table[i + j] = Some(v);
                return;
            }
        }
        perturb >>= PERTURB_SHIFT;
        i = (i.wrapping_mul(5).wrapping_add(1).wrapping_add(perturb)) & mask;
    }
}

/// Iteration order of a CPython `set` of small non-negative ints built by
/// adding `values` in order (duplicates ignored).
pub fn python_set_order(values: impl IntoIterator<Item = u64>) -> Vec<u64> {
    let mut table: Vec<Option<u64>> = vec![None; 8];
    let mut used = 0usize;
    for v in values {
        if table.contains(&Some(v)) {
            continue;
        }
        insert_clean(&mut table, v);
        used += 1;
        let mask = table.len() - 1;
        if used * 5 >= mask * 3 {
            let minused = if used > 50_000 { used * 2 } else { used * 4 };
            let mut newsize = 8usize;
            while newsize <= minused {
                newsize <<= 1;
            }
            let old = std::mem::replace(&mut table, vec![None; newsize]);
            for x in old.into_iter().flatten() {
                insert_clean(&mut table, x);
            }
        }
    }
    table.into_iter().flatten().collect()
}

/// Python `str(tuple(positions))`: `(3, 1)`, `(7,)`, `()`.
pub fn python_tuple_repr(positions: &[u64]) -> String {
    match positions {
        [] => "()".to_string(),
        [x] => format!("({x},)"),
        _ => {
            let parts: Vec<String> = positions.iter().map(u64::to_string).collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// blocklib's `compress-block-key`: `blake2b(key, digest_size=5).hexdigest()`.
pub fn compress_key(key: &str) -> String {
    let mut out = [0u8; 5];
    let mut h = blake2::Blake2bVar::new(5).expect("5 is a valid blake2b output size");
    h.update(key.as_bytes());
    if h.finalize_variable(&mut out).is_err() {
        return key.to_string();
    }
    out.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_order_matches_cpython() {
        // python3 -c "s=set(); [s.add(x) for x in [9, 1, 17, 3]]; print(tuple(s))"
        assert_eq!(python_set_order([9, 1, 17, 3]), vec![9, 3, 1, 17]);
        // python3 -c "s=set(); [s.add(x) for x in [100, 5, 2047, 64, 33]]; print(tuple(s))"
        assert_eq!(
            python_set_order([100, 5, 2047, 64, 33]),
            vec![64, 33, 100, 5, 2047]
        );
        assert_eq!(python_tuple_repr(&[7]), "(7,)");
        assert_eq!(python_tuple_repr(&[7, 3]), "(7, 3)");
    }

    #[test]
    fn flip_matches_blocklib() {
        // from blocklib.encoding import flip_bloom_filter
        // str(tuple(flip_bloom_filter('0_john', 2048, 5)))
        let k = python_tuple_repr(&flip_bloom_filter("0_john", 2048, 5));
        assert_eq!(k, "(1511, 1095, 695, 1911, 279)");
        // from hashlib import blake2b; blake2b(b'abc', digest_size=5).hexdigest()
        assert_eq!(compress_key("abc"), "44229fc0ef");
    }
}
