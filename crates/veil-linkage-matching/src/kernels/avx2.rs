//! AVX2 kernel: nibble-lookup (`pshufb`) popcount, byte sums reduced with `psadbw`.

use std::arch::x86_64::*;
use std::ops::Range;

use super::{BlockLayout, RowTile, LANES};

/// Popcount of `a AND b` (equal lengths). Only call after checking CPU support.
pub(super) fn and_popcount(a: &[u64], b: &[u64]) -> u32 {
    // SAFETY: the caller (`and_popcount_with`) checked avx2.
    unsafe { and_popcount_impl(a, b) }
}

#[target_feature(enable = "avx2")]
fn lut() -> __m256i {
    _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3,
        3, 4,
    )
}

/// Per-byte popcounts of `x` (each byte 0..=8).
#[target_feature(enable = "avx2")]
fn byte_counts(x: __m256i, lut: __m256i) -> __m256i {
    let low = _mm256_set1_epi8(0x0f);
    let lo = _mm256_and_si256(x, low);
    let hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low);
    _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi))
}

#[target_feature(enable = "avx2")]
fn and_popcount_impl(a: &[u64], b: &[u64]) -> u32 {
    let n = a.len().min(b.len());
    let lut = lut();
    let mut total = _mm256_setzero_si256();
    let mut i = 0;
    while i + 4 <= n {
        // Up to 31 vectors of byte counts (<= 8 each) fit in a byte without overflow.
        let mut bytes = _mm256_setzero_si256();
        let mut k = 0;
        while k < 31 && i + 4 <= n {
            // SAFETY: i + 4 <= n, so 32 bytes are readable at each pointer.
            let (x, y) = unsafe {
                (
                    _mm256_loadu_si256(a.as_ptr().add(i).cast()),
                    _mm256_loadu_si256(b.as_ptr().add(i).cast()),
                )
            };
            bytes = _mm256_add_epi8(bytes, byte_counts(_mm256_and_si256(x, y), lut));
            i += 4;
            k += 1;
        }
        total = _mm256_add_epi64(total, _mm256_sad_epu8(bytes, _mm256_setzero_si256()));
    }
    let mut lanes = [0u64; 4];
    // SAFETY: `lanes` is 32 writable bytes.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), total) };
    let tail: u32 = a[i..n]
        .iter()
        .zip(&b[i..n])
        .map(|(x, y)| (x & y).count_ones())
        .sum();
    lanes.iter().sum::<u64>() as u32 + tail
}

/// See [`super::scan`]. Only call after checking CPU support and row lengths.
pub(super) fn scan(
    tile: &RowTile<'_>,
    layout: &BlockLayout,
    blocks: Range<usize>,
    out: &mut Vec<(u8, u32)>,
) {
    assert!(blocks.end <= layout.blocks());
    assert!(tile.rows.iter().all(|r| r.len() >= layout.words));
    // SAFETY: CPU support checked by the dispatcher; bounds asserted above.
    unsafe { scan_impl(tile, layout, blocks, out) }
}

/// Add the AND-popcounts of words `ws` of `row` against the 8 lanes of block `base`.
#[target_feature(enable = "avx2")]
fn accumulate(row: &[u64], base: &[u64], ws: Range<usize>, acc: &mut [u64; LANES]) {
    let lut = lut();
    let zero = _mm256_setzero_si256();
    let (mut lo, mut hi) = (zero, zero);
    let mut w = ws.start;
    while w < ws.end {
        let stop = (w + 31).min(ws.end);
        let (mut blo, mut bhi) = (zero, zero);
        while w < stop {
            let a = _mm256_set1_epi64x(row[w] as i64);
            let lanes = &base[w * LANES..(w + 1) * LANES];
            // SAFETY: `lanes` has exactly 8 u64 = 64 readable bytes.
            let (x, y) = unsafe {
                (
                    _mm256_loadu_si256(lanes.as_ptr().cast()),
                    _mm256_loadu_si256(lanes.as_ptr().add(4).cast()),
                )
            };
            blo = _mm256_add_epi8(blo, byte_counts(_mm256_and_si256(a, x), lut));
            bhi = _mm256_add_epi8(bhi, byte_counts(_mm256_and_si256(a, y), lut));
            w += 1;
        }
        lo = _mm256_add_epi64(lo, _mm256_sad_epu8(blo, zero));
        hi = _mm256_add_epi64(hi, _mm256_sad_epu8(bhi, zero));
    }
    let mut tmp = [0u64; LANES];
    // SAFETY: `tmp` is 64 writable bytes.
    unsafe {
        _mm256_storeu_si256(tmp.as_mut_ptr().cast(), lo);
        _mm256_storeu_si256(tmp.as_mut_ptr().add(4).cast(), hi);
    }
    for (a, t) in acc.iter_mut().zip(tmp) {
        *a += t;
    }
}

#[target_feature(enable = "avx2")]
fn scan_impl(
    tile: &RowTile<'_>,
    layout: &BlockLayout,
    blocks: Range<usize>,
    out: &mut Vec<(u8, u32)>,
) {
    let (words, split) = (layout.words, layout.split);
    for blk in blocks {
        let base = &layout.data[blk * words * LANES..(blk + 1) * words * LANES];
        let need_b = &layout.need_b[blk * LANES..(blk + 1) * LANES];
        let rest_b = &layout.rest_b[blk * LANES..(blk + 1) * LANES];
        for r in 0..tile.n {
            let row = tile.rows[r];
            let mut acc = [0u64; LANES];
            accumulate(row, base, 0..split, &mut acc);
            let alive = (0..LANES)
                .any(|l| acc[l] + tile.rest_a[r].min(rest_b[l]) >= tile.need_a[r] + need_b[l]);
            if !alive {
                continue;
            }
            accumulate(row, base, split..words, &mut acc);
            for l in 0..LANES {
                if acc[l] >= tile.need_a[r] + need_b[l] {
                    out.push((r as u8, (blk * LANES + l) as u32));
                }
            }
        }
    }
}
