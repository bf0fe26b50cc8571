//! AVX-512 `VPOPCNTDQ` kernel: one 512-bit vector holds the same word of eight CLKs.

use std::arch::x86_64::*;
use std::ops::Range;

use super::{BlockLayout, RowTile, LANES, TILE_ROWS};

/// Popcount of `a AND b` (equal lengths). Only call after checking CPU support.
pub(super) fn and_popcount(a: &[u64], b: &[u64]) -> u32 {
    // SAFETY: the caller (`and_popcount_with`) checked avx512f and avx512vpopcntdq.
    unsafe { and_popcount_impl(a, b) }
}

#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn and_popcount_impl(a: &[u64], b: &[u64]) -> u32 {
    let n = a.len().min(b.len());
    let mut acc = _mm512_setzero_si512();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n <= len of both slices, so 64 bytes are readable at each
        // pointer; loadu has no alignment requirement.
        let (x, y) = unsafe {
            (
                _mm512_loadu_si512(a.as_ptr().add(i).cast()),
                _mm512_loadu_si512(b.as_ptr().add(i).cast()),
            )
        };
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_and_si512(x, y)));
        i += 8;
    }
    let tail = (n - i) as u32;
    if tail > 0 {
        let m: __mmask8 = ((1u32 << tail) - 1) as u8;
        // SAFETY: masked loads touch only the `tail` remaining in-bounds elements.
        let (x, y) = unsafe {
            (
                _mm512_maskz_loadu_epi64(m, a.as_ptr().add(i).cast()),
                _mm512_maskz_loadu_epi64(m, b.as_ptr().add(i).cast()),
            )
        };
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_and_si512(x, y)));
    }
    _mm512_reduce_add_epi64(acc) as u32
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
    unsafe {
        if layout.words == 16 && layout.split == 8 {
            // 1024-bit CLKs: fixed trip counts let the compiler fully unroll.
            scan_impl::<16>(tile, layout, blocks, out)
        } else {
            scan_impl::<0>(tile, layout, blocks, out)
        }
    }
}

/// `FIXED > 0` promises `layout.words == FIXED` and `layout.split == FIXED / 2`.
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn scan_impl<const FIXED: usize>(
    tile: &RowTile<'_>,
    layout: &BlockLayout,
    blocks: Range<usize>,
    out: &mut Vec<(u8, u32)>,
) {
    let (words, split) = if FIXED > 0 {
        (FIXED, FIXED / 2)
    } else {
        (layout.words, layout.split)
    };
    let rows = tile.rows.map(<[u64]>::as_ptr);
    let need_a = tile.need_a.map(|x| _mm512_set1_epi64(x as i64));
    let rest_a = tile.rest_a.map(|x| _mm512_set1_epi64(x as i64));
    let data = layout.data.as_ptr();
    for blk in blocks {
        // SAFETY: blk < layout.blocks(), so `data` holds words * LANES u64 at this offset
        // and need_b / rest_b hold LANES u64 at blk * LANES.
        let (base, need_b, rest_b) = unsafe {
            (
                data.add(blk * words * LANES),
                _mm512_loadu_si512(layout.need_b.as_ptr().add(blk * LANES).cast()),
                _mm512_loadu_si512(layout.rest_b.as_ptr().add(blk * LANES).cast()),
            )
        };
        let mut acc = [_mm512_setzero_si512(); TILE_ROWS];
        for w in 0..split {
            // SAFETY: w < words, inside this block (see above); each row has >= words
            // elements (asserted by the caller).
            let b = unsafe { _mm512_loadu_si512(base.add(w * LANES).cast()) };
            for r in 0..TILE_ROWS {
                // SAFETY: w < words <= each row's length (asserted in `scan`).
                let a = _mm512_set1_epi64(unsafe { *rows[r].add(w) } as i64);
                acc[r] = _mm512_add_epi64(acc[r], _mm512_popcnt_epi64(_mm512_and_si512(a, b)));
            }
        }
        let mut alive: u32 = 0;
        let mut need = [_mm512_setzero_si512(); TILE_ROWS];
        for r in 0..TILE_ROWS {
            need[r] = _mm512_add_epi64(need_a[r], need_b);
            let bound = _mm512_add_epi64(acc[r], _mm512_min_epu64(rest_a[r], rest_b));
            alive |= u32::from(_mm512_cmpge_epu64_mask(bound, need[r]));
        }
        if alive == 0 {
            continue;
        }
        for w in split..words {
            // SAFETY: as in the first loop.
            let b = unsafe { _mm512_loadu_si512(base.add(w * LANES).cast()) };
            for r in 0..TILE_ROWS {
                // SAFETY: w < words <= each row's length (asserted in `scan`).
                let a = _mm512_set1_epi64(unsafe { *rows[r].add(w) } as i64);
                acc[r] = _mm512_add_epi64(acc[r], _mm512_popcnt_epi64(_mm512_and_si512(a, b)));
            }
        }
        for r in 0..tile.n.min(TILE_ROWS) {
            let mut m = _mm512_cmpge_epu64_mask(acc[r], need[r]);
            while m != 0 {
                let l = m.trailing_zeros() as usize;
                out.push((r as u8, (blk * LANES + l) as u32));
                m &= m - 1;
            }
        }
    }
}
