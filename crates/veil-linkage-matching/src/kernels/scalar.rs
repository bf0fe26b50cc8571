//! Portable reference kernel.

use std::ops::Range;

use super::{BlockLayout, RowTile, LANES};

/// Popcount of `a AND b`.
pub(super) fn and_popcount(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x & y).count_ones()).sum()
}

/// Reference implementation of [`super::scan`].
pub(super) fn scan(
    tile: &RowTile<'_>,
    layout: &BlockLayout,
    blocks: Range<usize>,
    out: &mut Vec<(u8, u32)>,
) {
    let (words, split) = (layout.words, layout.split);
    for blk in blocks {
        let base = &layout.data[blk * words * LANES..(blk + 1) * words * LANES];
        let lanes = blk * LANES..(blk + 1) * LANES;
        let need_b = &layout.need_b[lanes.clone()];
        let rest_b = &layout.rest_b[lanes];
        for r in 0..tile.n {
            let row = tile.rows[r];
            let mut acc = [0u64; LANES];
            for (w, &a) in row.iter().enumerate().take(split) {
                for (l, c) in acc.iter_mut().enumerate() {
                    *c += u64::from((a & base[w * LANES + l]).count_ones());
                }
            }
            let alive = (0..LANES)
                .any(|l| acc[l] + tile.rest_a[r].min(rest_b[l]) >= tile.need_a[r] + need_b[l]);
            if !alive {
                continue;
            }
            for (w, &a) in row.iter().enumerate().take(words).skip(split) {
                for (l, c) in acc.iter_mut().enumerate() {
                    *c += u64::from((a & base[w * LANES + l]).count_ones());
                }
            }
            for l in 0..LANES {
                if acc[l] >= tile.need_a[r] + need_b[l] {
                    out.push((r as u8, (blk * LANES + l) as u32));
                }
            }
        }
    }
}
