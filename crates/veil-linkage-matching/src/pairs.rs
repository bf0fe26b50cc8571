//! The comparison engine shared by all-pairs ([`crate::candidates`]) and blocked
//! ([`crate::blocked`]) candidate generation: rows of the first dataset, in tiles of
//! [`TILE_ROWS`], against popcount-sorted CLKs of the second held in a word-major
//! [`BlockLayout`].
//!
//! A call to [`PairCtx::chunk`] handles a run of rows. The layout is walked in super-blocks
//! of about [`SUPER_BLOCK_BYTES`] so that one super-block stays in the core's L2 cache while
//! every tile of the run is scanned against it: the second dataset is streamed from memory
//! once per run instead of once per tile (for a 1M-record side the layout is 128 MB).

use crate::candidates::{anonlink_max_delta, partner_popcount_range};
use crate::clk::ClkSet;
use crate::kernels::{self, BlockLayout, Kernel, RowTile, LANES, TILE_ROWS};

/// Bytes of layout scanned by all tiles of a run before moving on (fits L2 with room).
pub(crate) const SUPER_BLOCK_BYTES: usize = 512 * 1024;

/// `(score, row_a, row_b)`.
pub(crate) type Triple = (f64, u32, u32);

/// A row tile, the layout block range it can reach, and its rows.
type Tile<'r> = (RowTile<'r>, usize, usize, &'r [u32]);

/// Everything a run of rows needs: the two datasets, their popcounts, the layout of (part
/// of) the second dataset and the threshold arithmetic.
pub(crate) struct PairCtx<'a, F: Fn(u32) -> u64> {
    /// First dataset ("one" side).
    pub a: &'a ClkSet,
    /// Second dataset.
    pub b: &'a ClkSet,
    /// Popcount of every CLK of `a`.
    pub pa: &'a [u32],
    /// Popcount of every CLK of `b`.
    pub pb: &'a [u32],
    /// Row of `b` held by each layout lane.
    pub b_order: &'a [u32],
    /// Popcount of each layout lane's CLK (ascending).
    pub b_sorted_pop: &'a [u32],
    /// The lanes' CLKs, word-major.
    pub layout: &'a BlockLayout,
    /// Threshold (must be `> 0`).
    pub t: f64,
    /// CLK size in bits.
    pub bits: u32,
    /// Per-row top-k applied inside a run (`usize::MAX` or `>= b.len()` disables it).
    pub k: usize,
    /// Per-CLK threshold share, as used to build the layout.
    pub need: &'a F,
    /// Kernel variant.
    pub kernel: Kernel,
}

impl<F: Fn(u32) -> u64 + Sync> PairCtx<'_, F> {
    /// All pairs of `rows` (rows of `a` with popcount > 0, sorted by popcount) and the
    /// layout's CLKs that reach the threshold, in no particular order, with the per-row
    /// top-k applied when `k < b.len()`.
    pub(crate) fn chunk(&self, rows: &[u32]) -> Vec<Triple> {
        let mut found: Vec<Triple> = Vec::new();
        let nb = self.b_sorted_pop.len();
        let nblocks = self.layout.blocks();
        if nb == 0 || nblocks == 0 {
            return found;
        }
        let split = self.layout.split;
        // Per tile: its row tile and the layout block range its popcounts can reach.
        let mut tiles: Vec<Tile<'_>> = Vec::new();
        for tile_rows in rows.chunks(TILE_ROWS) {
            let mut lo = u32::MAX;
            let mut hi = 0;
            for &i in tile_rows {
                if let Some((l, h)) = partner_popcount_range(self.pa[i as usize], self.t, self.bits)
                {
                    lo = lo.min(l);
                    hi = hi.max(h);
                }
            }
            if lo > hi {
                continue;
            }
            // Blocks hold B sorted by popcount: first block whose max >= lo, past the last
            // block whose min <= hi.
            let block_max = |blk: usize| self.b_sorted_pop[((blk + 1) * LANES).min(nb) - 1];
            let start = partition(nblocks, |blk| block_max(blk) < lo);
            let end = partition(nblocks, |blk| self.b_sorted_pop[blk * LANES] <= hi);
            if start >= end {
                continue;
            }
            let first = self.a.get(tile_rows[0] as usize).unwrap_or(&[]);
            let mut tile = RowTile {
                rows: [first; TILE_ROWS],
                need_a: [0; TILE_ROWS],
                rest_a: [0; TILE_ROWS],
                n: tile_rows.len(),
            };
            for (r, &i) in tile_rows.iter().enumerate() {
                let w = self.a.get(i as usize).unwrap_or(&[]);
                tile.rows[r] = w;
                tile.need_a[r] = (self.need)(self.pa[i as usize]);
                tile.rest_a[r] = u64::from(kernels::popcount(w.get(split..).unwrap_or(&[])));
            }
            tiles.push((tile, start, end, tile_rows));
        }
        if tiles.is_empty() {
            return found;
        }
        let (first, last) = tiles
            .iter()
            .fold((usize::MAX, 0), |(f, l), t| (f.min(t.1), l.max(t.2)));
        let block_bytes = (self.layout.words * LANES * 8).max(1);
        let step = (SUPER_BLOCK_BYTES / block_bytes).max(1);
        let mut hits: Vec<(u8, u32)> = Vec::new();
        let mut sb = first;
        while sb < last {
            let sb_end = (sb + step).min(last);
            for (tile, start, end, tile_rows) in &tiles {
                let (s, e) = ((*start).max(sb), (*end).min(sb_end));
                if s >= e {
                    continue;
                }
                hits.clear();
                kernels::scan(self.kernel, tile, self.layout, s..e, &mut hits);
                for &(r, lane) in &hits {
                    let i = tile_rows[r as usize];
                    let j = self.b_order[lane as usize];
                    if let Some(score) = self.exact(i, j) {
                        found.push((score, i, j));
                    }
                }
            }
            sb = sb_end;
        }
        if self.k < self.b.len() {
            keep_top_k_per_row(&mut found, self.k);
        }
        found
    }

    /// anonlink's exact test for a pair the kernel let through: the popcount filter, then
    /// `score >= t`. Returns the score of a kept pair.
    fn exact(&self, i: u32, j: u32) -> Option<f64> {
        let (pa, pb) = (self.pa[i as usize], self.pb[j as usize]);
        if pa.abs_diff(pb) > anonlink_max_delta(pa, self.t, self.bits) {
            return None;
        }
        let (wa, wb) = (self.a.get(i as usize)?, self.b.get(j as usize)?);
        let score =
            kernels::dice_from_counts(kernels::and_popcount_with(self.kernel, wa, wb), pa, pb);
        (score >= self.t).then_some(score)
    }
}

/// Per "one" record keep the `k` best partners (score descending, partner index ascending);
/// the result is sorted by row, then score descending, then partner.
pub(crate) fn keep_top_k_per_row(found: &mut Vec<Triple>, k: usize) {
    found.sort_unstable_by(|x, y| x.1.cmp(&y.1).then(y.0.total_cmp(&x.0)).then(x.2.cmp(&y.2)));
    let mut run = (u32::MAX, 0usize);
    found.retain(|f| {
        if f.1 != run.0 {
            run = (f.1, 0);
        }
        run.1 += 1;
        run.1 <= k
    });
}

/// First index in `0..n` where `pred` turns false (pred must be monotone true-then-false).
pub(crate) fn partition(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}
