//! Blocked candidate generation: the candidates of [`crate::find_candidate_pairs_with`]
//! restricted to record pairs that share at least one block.
//!
//! # Semantics
//! For every pair of datasets `i < j`, a record pair `(a, b)` is considered iff
//! `blocks[i].ids(a)` and `blocks[j].ids(b)` intersect. Among the considered pairs, the
//! threshold, popcount filter, scores, per-row top-k, `_enforce_k` and output order are
//! exactly anonlink's (see [`crate::candidates`]). Without `top_k` the result therefore
//! equals the all-pairs result with the pairs sharing no block removed; with `top_k` the
//! per-row "k best" are chosen among the considered pairs only (as if anonlink had been
//! given only those pairs).
//!
//! # Algorithm and memory
//! Per dataset pair, each side's `(block id, record)` memberships are sorted by block id and
//! merge-joined, giving every block present on both sides. Blocks are compared in parallel
//! (rayon), each with the all-pairs engine ([`crate::pairs`]: popcount-sorted, word-major,
//! SIMD) or, for small blocks, a direct loop with the same exact arithmetic. A pair sharing
//! several blocks is emitted only from the smallest block id the two records share
//! (checked by merging their sorted id lists, and only for pairs that reach the threshold),
//! so no global set of seen pairs is needed. Blocks larger than [`MAX_LAYOUT_ROWS`] on the
//! second side are compared in slices of that many rows, so per-block working memory is
//! bounded. Working memory beyond the inputs: 16 bytes per block membership (the sorted
//! memberships of both sides), the popcounts, and the candidates.

use std::hash::{Hash, Hasher};
use std::ops::Range;

use rayon::prelude::*;

use crate::candidates::{
    finish, partner_popcount_range, prepare, threshold_share, CandidateOptions, Candidates, Quint,
};
use crate::clk::ClkSet;
use crate::error::{MatchError, Result};
use crate::kernels::{self, BlockLayout, Kernel, TILE_ROWS};
use crate::pairs::{keep_top_k_per_row, PairCtx, Triple};

/// Largest slice of a block's second-side records laid out for the SIMD engine at once.
pub const MAX_LAYOUT_ROWS: usize = 16_384;
/// Blocks with at most this many record pairs are compared with a direct loop.
const SMALL_BLOCK_PAIRS: usize = 256;
/// Blocks with more record pairs than this split their first side across threads.
const PARALLEL_BLOCK_PAIRS: usize = 1 << 22;

/// The block ids of every record of one dataset: record `i` belongs to `ids(i)`, sorted
/// ascending without duplicates. Ids are opaque `u64`s; equal ids mean the same block
/// across datasets (use [`block_key_id`] for textual keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBlocks {
    offsets: Vec<usize>,
    ids: Vec<u64>,
}

impl Default for RecordBlocks {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordBlocks {
    /// No records.
    pub fn new() -> Self {
        Self {
            offsets: vec![0],
            ids: Vec::new(),
        }
    }

    /// Builds from one id list per record (each sorted and deduplicated here).
    pub fn from_lists<I, J>(lists: I) -> Self
    where
        I: IntoIterator<Item = J>,
        J: IntoIterator<Item = u64>,
    {
        let mut out = Self::new();
        for list in lists {
            out.push_record(list);
        }
        out
    }

    /// Appends the next record with the given block ids (any order, duplicates allowed).
    pub fn push_record<I: IntoIterator<Item = u64>>(&mut self, ids: I) {
        let start = self.ids.len();
        self.ids.extend(ids);
        let tail = &mut self.ids[start..];
        tail.sort_unstable();
        let mut kept = 0;
        for i in 0..tail.len() {
            if i == 0 || tail[i] != tail[kept - 1] {
                tail[kept] = tail[i];
                kept += 1;
            }
        }
        self.ids.truncate(start + kept);
        self.offsets.push(self.ids.len());
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether there is no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sorted block ids of record `i` (empty when out of range).
    pub fn ids(&self, i: usize) -> &[u64] {
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.ids[a..b],
            _ => &[],
        }
    }

    /// Total number of (record, block) memberships.
    pub fn memberships(&self) -> usize {
        self.ids.len()
    }
}

/// A stable 64-bit id for a textual block key (SipHash-1-3 with fixed keys, so equal in
/// every call of one build). Distinct keys collide with probability about `n² / 2^65` for
/// `n` distinct keys (4e-5 for 40 million); a collision only adds the pairs of two blocks.
pub fn block_key_id(key: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// What a blocked comparison covered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockedStats {
    /// Blocks present in both datasets of a dataset pair (summed over dataset pairs).
    pub shared_blocks: u64,
    /// Record pairs inside those blocks, counting a pair once per shared block: the work.
    pub block_pairs: u128,
    /// Record pairs of the largest block.
    pub largest_block_pairs: u128,
}

/// Candidate pairs across `datasets` among record pairs that share a block (see the
/// module docs). `blocks[d]` must hold one entry per record of `datasets[d]`.
pub fn find_candidate_pairs_blocked(
    datasets: &[&ClkSet],
    blocks: &[&RecordBlocks],
    opts: &CandidateOptions,
) -> Result<(Candidates, BlockedStats)> {
    if blocks.len() != datasets.len() {
        return Err(MatchError::InvalidArgument(format!(
            "{} datasets but {} block assignments",
            datasets.len(),
            blocks.len()
        )));
    }
    for (d, (set, b)) in datasets.iter().zip(blocks).enumerate() {
        if set.len() != b.len() {
            return Err(MatchError::InvalidArgument(format!(
                "dataset {d} has {} records but blocks for {}",
                set.len(),
                b.len()
            )));
        }
    }
    let pool = prepare(datasets, opts)?;
    let kernel = opts.kernel.unwrap_or_else(kernels::selected_kernel);
    pool.install(|| {
        let mut all: Vec<Quint> = Vec::new();
        let mut stats = BlockedStats::default();
        for i in 0..datasets.len() {
            for j in i + 1..datasets.len() {
                let sides = [(datasets[i], blocks[i]), (datasets[j], blocks[j])];
                let pairs = blocked_two(sides, opts, kernel, &mut stats);
                all.extend(
                    pairs
                        .into_iter()
                        .map(|(s, a, b)| (s, i as u32, j as u32, a, b)),
                );
            }
        }
        Ok((finish(all, opts.top_k), stats))
    })
}

/// A block present on both sides: its id and its members' ranges in the sorted memberships.
struct Shared {
    id: u64,
    a: Range<usize>,
    b: Range<usize>,
}

/// `(block id, record)` of every membership, sorted.
fn memberships(blocks: &RecordBlocks) -> Vec<(u64, u32)> {
    let mut out: Vec<(u64, u32)> = (0..blocks.len())
        .into_par_iter()
        .flat_map_iter(|r| blocks.ids(r).iter().map(move |&id| (id, r as u32)))
        .collect();
    out.par_sort_unstable();
    out
}

/// The blocks present in both sorted membership lists.
fn shared_blocks(ma: &[(u64, u32)], mb: &[(u64, u32)]) -> Vec<Shared> {
    let run = |m: &[(u64, u32)], start: usize| {
        let id = m[start].0;
        start + m[start..].partition_point(|x| x.0 == id)
    };
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < ma.len() && j < mb.len() {
        let (x, y) = (ma[i].0, mb[j].0);
        if x < y {
            i = run(ma, i);
        } else if y < x {
            j = run(mb, j);
        } else {
            let (ie, je) = (run(ma, i), run(mb, j));
            out.push(Shared {
                id: x,
                a: i..ie,
                b: j..je,
            });
            (i, j) = (ie, je);
        }
    }
    out
}

/// Whether `block` (shared by both lists) is the smallest id the sorted lists share.
fn owns(block: u64, x: &[u64], y: &[u64]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < x.len() && j < y.len() {
        let (u, v) = (x[i], y[j]);
        if u >= block || v >= block {
            return true;
        }
        if u == v {
            return false;
        }
        if u < v {
            i += 1;
        } else {
            j += 1;
        }
    }
    true
}

/// One dataset pair: both sides with their blocks.
type Side<'a> = (&'a ClkSet, &'a RecordBlocks);

fn blocked_two(
    [(a, ba), (b, bb)]: [Side<'_>; 2],
    opts: &CandidateOptions,
    kernel: Kernel,
    stats: &mut BlockedStats,
) -> Vec<Triple> {
    let k = opts.top_k.unwrap_or(usize::MAX);
    if a.is_empty() || b.is_empty() || k == 0 {
        return Vec::new();
    }
    let pa: Vec<u32> = a
        .as_words()
        .par_chunks(a.words())
        .map(kernels::popcount)
        .collect();
    let pb: Vec<u32> = b
        .as_words()
        .par_chunks(b.words())
        .map(kernels::popcount)
        .collect();
    let (ma, mb) = rayon::join(|| memberships(ba), || memberships(bb));
    let shared = shared_blocks(&ma, &mb);
    for s in &shared {
        let pairs = (s.a.len() as u128) * (s.b.len() as u128);
        stats.shared_blocks += 1;
        stats.block_pairs += pairs;
        stats.largest_block_pairs = stats.largest_block_pairs.max(pairs);
    }
    let bits = (a.clk_bytes() * 8) as u32;
    let t = opts.threshold;
    let ctx = BlockCtx {
        a,
        b,
        ba,
        bb,
        pa: &pa,
        pb: &pb,
        ma: &ma,
        mb: &mb,
        t,
        bits,
        kernel,
        ranges: (0..=bits)
            .map(|p| partner_popcount_range(p, t, bits))
            .collect(),
    };
    let mut found = shared
        .par_iter()
        .fold(Vec::new, |mut acc, s| {
            ctx.block(s, &mut acc);
            acc
        })
        .reduce(Vec::new, |mut x, mut y| {
            if x.len() < y.len() {
                std::mem::swap(&mut x, &mut y);
            }
            x.append(&mut y);
            x
        });
    if k < b.len() {
        keep_top_k_per_row(&mut found, k);
    }
    found
}

struct BlockCtx<'a> {
    a: &'a ClkSet,
    b: &'a ClkSet,
    ba: &'a RecordBlocks,
    bb: &'a RecordBlocks,
    pa: &'a [u32],
    pb: &'a [u32],
    ma: &'a [(u64, u32)],
    mb: &'a [(u64, u32)],
    t: f64,
    bits: u32,
    kernel: Kernel,
    /// `partner_popcount_range` of every popcount `0..=bits`.
    ranges: Vec<Option<(u32, u32)>>,
}

impl BlockCtx<'_> {
    /// Appends the pairs of block `s` that reach the threshold and that `s` owns.
    fn block(&self, s: &Shared, out: &mut Vec<Triple>) {
        let rows_a = self.ma[s.a.clone()].iter().map(|m| m.1);
        let rows_b = self.mb[s.b.clone()].iter().map(|m| m.1);
        let owned = |i: u32, j: u32| owns(s.id, self.ba.ids(i as usize), self.bb.ids(j as usize));
        let positive = self.t > 0.0;
        if !positive {
            // Threshold <= 0 or NaN: anonlink keeps every pair with score >= t, except
            // that a "one" record of popcount 0 always pairs (score 0) and a NaN threshold
            // keeps nothing else.
            for i in rows_a {
                for j in rows_b.clone() {
                    let (wa, wb) = (self.a.get(i as usize), self.b.get(j as usize));
                    let (Some(wa), Some(wb)) = (wa, wb) else {
                        continue;
                    };
                    let (p, q) = (self.pa[i as usize], self.pb[j as usize]);
                    let and = kernels::and_popcount_with(self.kernel, wa, wb);
                    let score = kernels::dice_from_counts(and, p, q);
                    if (p == 0 || score >= self.t) && owned(i, j) {
                        out.push((score, i, j));
                    }
                }
            }
            return;
        }
        if s.a.len() * s.b.len() <= SMALL_BLOCK_PAIRS {
            self.direct(rows_a, rows_b, &owned, out);
        } else {
            self.simd(s, &owned, out);
        }
    }

    /// A small block: every pair with the exact filter and score.
    fn direct(
        &self,
        rows_a: impl Iterator<Item = u32>,
        rows_b: impl Iterator<Item = u32> + Clone,
        owned: &impl Fn(u32, u32) -> bool,
        out: &mut Vec<Triple>,
    ) {
        for i in rows_a {
            let p = self.pa[i as usize];
            let Some(Some((lo, hi))) = self.ranges.get(p as usize) else {
                continue;
            };
            let Some(wa) = self.a.get(i as usize) else {
                continue;
            };
            for j in rows_b.clone() {
                let q = self.pb[j as usize];
                if q < *lo || q > *hi {
                    continue;
                }
                let Some(wb) = self.b.get(j as usize) else {
                    continue;
                };
                let and = kernels::and_popcount_with(self.kernel, wa, wb);
                let score = kernels::dice_from_counts(and, p, q);
                if score >= self.t && owned(i, j) {
                    out.push((score, i, j));
                }
            }
        }
    }

    /// A larger block: the SIMD engine over popcount-sorted slices of the block.
    fn simd(&self, s: &Shared, owned: &(impl Fn(u32, u32) -> bool + Sync), out: &mut Vec<Triple>) {
        let mut rows_a: Vec<u32> = self.ma[s.a.clone()]
            .iter()
            .map(|m| m.1)
            .filter(|&i| self.pa[i as usize] > 0)
            .collect();
        rows_a.sort_unstable_by_key(|&i| (self.pa[i as usize], i));
        let mut rows_b: Vec<u32> = self.mb[s.b.clone()].iter().map(|m| m.1).collect();
        rows_b.sort_unstable_by_key(|&j| (self.pb[j as usize], j));
        let t_lo = threshold_share(self.t);
        let need = |p: u32| (t_lo * f64::from(p)).floor() as u64;
        for slice in rows_b.chunks(MAX_LAYOUT_ROWS) {
            let sorted_pop: Vec<u32> = slice.iter().map(|&j| self.pb[j as usize]).collect();
            let layout = BlockLayout::build(
                slice.iter().map(|&j| self.b.get(j as usize).unwrap_or(&[])),
                self.b.words(),
                |clk| need(kernels::popcount(clk)),
            );
            let ctx = PairCtx {
                a: self.a,
                b: self.b,
                pa: self.pa,
                pb: self.pb,
                b_order: slice,
                b_sorted_pop: &sorted_pop,
                layout: &layout,
                t: self.t,
                bits: self.bits,
                k: usize::MAX,
                need: &need,
                kernel: self.kernel,
            };
            let keep = |v: Vec<Triple>| v.into_iter().filter(|&(_, i, j)| owned(i, j));
            if rows_a.len() * slice.len() > PARALLEL_BLOCK_PAIRS {
                let parts: Vec<Vec<Triple>> = rows_a
                    .par_chunks(32 * TILE_ROWS)
                    .map(|rows| keep(ctx.chunk(rows)).collect())
                    .collect();
                out.extend(parts.into_iter().flatten());
            } else {
                out.extend(keep(ctx.chunk(&rows_a)));
            }
        }
    }
}
