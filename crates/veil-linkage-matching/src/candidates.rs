//! Candidate generation: every pair of records from different datasets whose Dice score
//! reaches the threshold, in anonlink 0.15.3's order and with its top-k rules.
//!
//! # Semantics (anonlink 0.15.3, `find_candidate_pairs` + `dice_coefficient_accelerated`)
//! * Datasets `i < j` are compared pairwise; record `a` of dataset `i` is the "one" side.
//! * Score: see [`crate::kernels::dice_from_counts`].
//! * A pair is considered only if `|pa - pb| <= trunc(f64(2 * pa) * (1/t - 1))` (anonlink's
//!   popcount filter, replicated bit for bit) and kept if `score >= t`.
//! * A record of dataset `i` with popcount 0 yields nothing if `t > 0`, else the first
//!   `k` records of dataset `j` with score `0.0`.
//! * `top_k`: per dataset pair, each record of dataset `i` keeps its `k` best partners
//!   (score descending, then record index ascending); then, walking the merged output, a pair
//!   is kept only if neither record has already been counted `k` times for that dataset pair
//!   (dropped pairs still count, exactly as anonlink's `_enforce_k`).
//! * Output order: score descending, then dataset_a, dataset_b, row_a, row_b ascending.
//!
//! # Performance and memory
//! Both sides are sorted by popcount; the second is stored in word-major blocks of 8 CLKs
//! (one copy of its data). Rows of the first side are processed in tasks of
//! [`CHUNK_ROWS`] to `8 * CHUNK_ROWS` sorted rows, in tiles of [`TILE_ROWS`]; for each
//! tile only the blocks whose popcount range can reach the threshold are scanned, and a task
//! walks the second side in cache-sized super-blocks against all its tiles (see
//! [`crate::pairs`]), so large inputs stream from memory once per task, not once per tile.
//! Tasks run on a dedicated rayon pool.
//! Working memory beyond the inputs is one blocked copy of the larger side per dataset, the
//! popcount arrays, and per task only its candidates: total `O(input + candidates)`,
//! where each output candidate costs 24 bytes (plus 24 bytes transiently during the sort).

use rayon::prelude::*;

use crate::clk::ClkSet;
use crate::error::{MatchError, Result};
use crate::kernels::{self, BlockLayout, Kernel, TILE_ROWS};
use crate::pairs::{partition, PairCtx, Triple};

/// Rows of the first dataset handled by one parallel task.
pub const CHUNK_ROWS: usize = 256;

/// One candidate pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Dice score.
    pub score: f64,
    /// Dataset index of the first record (always `< dataset_b`).
    pub dataset_a: u32,
    /// Record index of the first record in its dataset.
    pub row_a: u32,
    /// Dataset index of the second record.
    pub dataset_b: u32,
    /// Record index of the second record in its dataset.
    pub row_b: u32,
}

/// Candidate pairs as a struct of arrays, in anonlink's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Candidates {
    /// Dice scores.
    pub scores: Vec<f64>,
    /// Dataset index of each pair's first record.
    pub dataset_a: Vec<u32>,
    /// Dataset index of each pair's second record.
    pub dataset_b: Vec<u32>,
    /// Record index of each pair's first record.
    pub row_a: Vec<u32>,
    /// Record index of each pair's second record.
    pub row_b: Vec<u32>,
}

impl Candidates {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// Whether there is no pair.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// Append one pair.
    pub fn push(&mut self, c: Candidate) {
        self.scores.push(c.score);
        self.dataset_a.push(c.dataset_a);
        self.dataset_b.push(c.dataset_b);
        self.row_a.push(c.row_a);
        self.row_b.push(c.row_b);
    }

    /// Pair `i`, if in range.
    pub fn get(&self, i: usize) -> Option<Candidate> {
        Some(Candidate {
            score: *self.scores.get(i)?,
            dataset_a: *self.dataset_a.get(i)?,
            row_a: *self.row_a.get(i)?,
            dataset_b: *self.dataset_b.get(i)?,
            row_b: *self.row_b.get(i)?,
        })
    }

    /// Iterate over the pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = Candidate> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

/// `x > 0.0` (false for NaN), as the C code's `threshold > 0` test.
fn positive(x: f64) -> bool {
    x > 0.0
}

/// anonlink's popcount filter width for a "one" record of popcount `pa`: the C code computes
/// `2 * pa * (1/t - 1)` in double and converts to `uint32_t`, which x86-64 compilers do by
/// truncating to a 64-bit integer and keeping the low 32 bits. With `t <= 0` (or NaN) every
/// popcount difference up to the CLK size in bits passes.
pub fn anonlink_max_delta(pa: u32, threshold: f64, bits: u32) -> u32 {
    if !positive(threshold) {
        return bits;
    }
    let v = f64::from(2 * pa) * (1.0 / threshold - 1.0);
    const LIM: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if v.is_nan() || !(-LIM..LIM).contains(&v) {
        0
    } else {
        (v as i64) as u32
    }
}

/// Inclusive range of partner popcounts that can reach `threshold` for a record of popcount
/// `pa` (anonlink's filter intersected with the Dice upper bound `2 min / (pa + pb)` computed
/// in the same floating-point arithmetic as the score), or `None` if empty.
pub fn partner_popcount_range(pa: u32, threshold: f64, bits: u32) -> Option<(u32, u32)> {
    if !positive(threshold) {
        return Some((0, bits));
    }
    let delta = anonlink_max_delta(pa, threshold, bits);
    let bound = |pb: u32| kernels::dice_from_counts(pa.min(pb), pa, pb) >= threshold;
    if pa == 0 || pa > bits || !bound(pa) {
        return None;
    }
    // Below pa the bound is non-decreasing in pb, above pa non-increasing.
    let lo = partition(pa as usize, |pb| !bound(pb as u32)) as u32;
    let hi = pa + partition((bits - pa) as usize + 1, |d| bound(pa + d as u32)) as u32 - 1;
    let lo = lo.max(pa.saturating_sub(delta));
    let hi = hi.min(pa.saturating_add(delta));
    (lo <= hi).then_some((lo, hi))
}

/// Options of [`find_candidate_pairs_with`].
#[derive(Debug, Clone, Copy)]
pub struct CandidateOptions {
    /// Keep pairs with score `>= threshold`.
    pub threshold: f64,
    /// anonlink's `k` (see module docs); `None` keeps all.
    pub top_k: Option<usize>,
    /// Worker threads of the dedicated pool (at least 1).
    pub threads: usize,
    /// Kernel variant; `None` uses [`kernels::selected_kernel`].
    pub kernel: Option<Kernel>,
}

/// Find all candidate pairs across `datasets` (see the module docs for exact semantics).
pub fn find_candidate_pairs(
    datasets: &[&ClkSet],
    threshold: f64,
    top_k: Option<usize>,
    threads: usize,
) -> Result<Candidates> {
    find_candidate_pairs_with(
        datasets,
        &CandidateOptions {
            threshold,
            top_k,
            threads,
            kernel: None,
        },
    )
}

/// [`find_candidate_pairs`] with all options.
pub fn find_candidate_pairs_with(
    datasets: &[&ClkSet],
    opts: &CandidateOptions,
) -> Result<Candidates> {
    let pool = prepare(datasets, opts)?;
    let kernel = opts.kernel.unwrap_or_else(kernels::selected_kernel);
    pool.install(|| {
        let mut all: Vec<Quint> = Vec::new();
        for i in 0..datasets.len() {
            for j in i + 1..datasets.len() {
                let pairs = compare_two(datasets[i], datasets[j], opts, kernel);
                all.extend(
                    pairs
                        .into_iter()
                        .map(|(s, a, b)| (s, i as u32, j as u32, a, b)),
                );
            }
        }
        Ok(finish(all, opts.top_k))
    })
}

/// `(score, dataset_a, dataset_b, row_a, row_b)`.
pub(crate) type Quint = (f64, u32, u32, u32, u32);

/// Checks the thread count and that all datasets share one CLK size; builds the pool.
pub(crate) fn prepare(datasets: &[&ClkSet], opts: &CandidateOptions) -> Result<rayon::ThreadPool> {
    if opts.threads == 0 {
        return Err(MatchError::InvalidArgument(
            "threads must be at least 1".into(),
        ));
    }
    if let Some(first) = datasets.first() {
        for (i, d) in datasets.iter().enumerate() {
            if d.clk_bytes() != first.clk_bytes() {
                return Err(MatchError::DatasetLengthMismatch {
                    dataset: i,
                    expected: first.clk_bytes(),
                    found: d.clk_bytes(),
                });
            }
        }
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .map_err(|e| MatchError::ThreadPool(e.to_string()))
}

/// Sorts all pairs into anonlink's order and applies its `_enforce_k`.
pub(crate) fn finish(mut all: Vec<Quint>, top_k: Option<usize>) -> Candidates {
    all.par_sort_unstable_by(|x, y| {
        y.0.total_cmp(&x.0)
            .then((x.1, x.2, x.3, x.4).cmp(&(y.1, y.2, y.3, y.4)))
    });
    let mut out = Candidates::default();
    let mut keep = |(score, dataset_a, dataset_b, row_a, row_b)| {
        out.push(Candidate {
            score,
            dataset_a,
            row_a,
            dataset_b,
            row_b,
        })
    };
    match top_k {
        None => all.into_iter().for_each(&mut keep),
        Some(k) => {
            let mut seen = std::collections::HashMap::<(u32, u32, bool, u32), usize>::new();
            for c in all {
                let (_, da, db, ra, rb) = c;
                let ca = seen.entry((da, db, false, ra)).or_default();
                *ca += 1;
                let ok_a = *ca <= k;
                let cb = seen.entry((da, db, true, rb)).or_default();
                *cb += 1;
                if ok_a && *cb <= k {
                    keep(c);
                }
            }
        }
    }
    out
}

/// Rows of the first dataset per parallel task: large enough that the second dataset is
/// streamed from memory rarely (see [`crate::pairs`]), small enough to balance the threads.
fn rows_per_task(rows: usize, threads: usize) -> usize {
    let target = rows / (threads.max(1) * 16);
    target.clamp(CHUNK_ROWS, 8 * CHUNK_ROWS) / TILE_ROWS * TILE_ROWS
}

/// All `(score, row_a, row_b)` of one dataset pair, in no particular order, with anonlink's
/// per-row top-k applied.
fn compare_two(a: &ClkSet, b: &ClkSet, opts: &CandidateOptions, kernel: Kernel) -> Vec<Triple> {
    let t = opts.threshold;
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    let k = opts.top_k.map_or(b.len(), |k| k.min(b.len()));
    if k == 0 {
        return Vec::new();
    }
    let bits = (a.clk_bytes() * 8) as u32;
    let pa: Vec<u32> = a.iter().map(kernels::popcount).collect();
    let pb: Vec<u32> = b.iter().map(kernels::popcount).collect();

    let mut out = Vec::new();
    // "One" records with popcount 0: anonlink returns nothing if t > 0, else the first k.
    if !positive(t) {
        for (i, _) in pa.iter().enumerate().filter(|(_, &p)| p == 0) {
            out.extend((0..k as u32).map(|j| (0.0, i as u32, j)));
        }
    }
    if t.is_nan() {
        return out;
    }
    let t_lo = threshold_share(t);
    let need = |p: u32| (t_lo * f64::from(p)).floor() as u64;

    let mut b_order: Vec<u32> = (0..b.len() as u32).collect();
    b_order.sort_by_key(|&j| (pb[j as usize], j));
    let b_sorted_pop: Vec<u32> = b_order.iter().map(|&j| pb[j as usize]).collect();
    let layout = BlockLayout::build(
        b_order.iter().map(|&j| b.get(j as usize).unwrap_or(&[])),
        b.words(),
        |clk| need(kernels::popcount(clk)),
    );
    let mut a_order: Vec<u32> = (0..a.len() as u32)
        .filter(|&i| pa[i as usize] > 0)
        .collect();
    a_order.sort_by_key(|&i| (pa[i as usize], i));

    let ctx = PairCtx {
        a,
        b,
        pa: &pa,
        pb: &pb,
        b_order: &b_order,
        b_sorted_pop: &b_sorted_pop,
        layout: &layout,
        t,
        bits,
        k,
        need: &need,
        kernel,
    };
    let per_task = rows_per_task(a_order.len(), rayon::current_num_threads());
    let chunks: Vec<Vec<Triple>> = a_order
        .par_chunks(per_task)
        .map(|rows| ctx.chunk(rows))
        .collect();
    out.reserve(chunks.iter().map(Vec::len).sum());
    out.extend(chunks.into_iter().flatten());
    out
}

/// Per-CLK share of the threshold used by the kernels' integer pre-filter: a pair can only
/// reach `t` if `and >= floor(share * pa) + floor(share * pb)` (`t` lowered by `1e-7` so
/// the filter never drops a pair the exact arithmetic keeps).
pub(crate) fn threshold_share(t: f64) -> f64 {
    if t > 0.0 {
        (t - 1e-7).max(0.0) / 2.0
    } else {
        0.0
    }
}
