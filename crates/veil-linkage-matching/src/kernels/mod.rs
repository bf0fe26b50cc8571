//! Popcount / Dice kernels with runtime CPU dispatch.
//!
//! Three variants compute the same integers: [`Kernel::Scalar`] (portable `count_ones`),
//! [`Kernel::Avx2`] (nibble-lookup `pshufb` popcount with `psadbw` reduction) and
//! [`Kernel::Avx512`] (`VPOPCNTQ`). The best one the CPU supports is detected once; an
//! override ([`set_kernel_override`]) lets tests and benchmarks force a variant.
//!
//! The hot path is [`scan`]: a tile of up to [`TILE_ROWS`] CLKs of one dataset against
//! blocks of [`LANES`] CLKs of the other, stored word-major ([`BlockLayout`]) so that one
//! vector holds the same word of eight CLKs and no horizontal reduction is needed. It emits
//! exactly the pairs whose AND-popcount `c` satisfies `c >= need_a + need_b` (integers), a
//! superset filter that the caller refines with the exact anonlink arithmetic. After the
//! first half of the words, a bound `c_half + min(rest_a, rest_b)` lets whole blocks stop.

use std::ops::Range;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use crate::error::{MatchError, Result};

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod scalar;

/// CLKs per block of the word-major layout (one 512-bit vector of `u64`).
pub const LANES: usize = 8;
/// Rows of the first dataset compared together against each block.
pub const TILE_ROWS: usize = 8;
/// `need_b` of padding lanes: larger than any possible count, small enough not to overflow.
pub(crate) const NEVER: u64 = 1 << 40;

/// A kernel variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Portable `u64::count_ones`.
    Scalar,
    /// AVX2 nibble-lookup popcount.
    Avx2,
    /// AVX-512 `VPOPCNTDQ`.
    Avx512,
}

impl Kernel {
    /// All variants, slowest first.
    pub const ALL: [Kernel; 3] = [Kernel::Scalar, Kernel::Avx2, Kernel::Avx512];

    /// Stable name of the variant (`"scalar"`, `"avx2"`, `"avx512-vpopcntdq"`).
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "scalar",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512-vpopcntdq",
        }
    }

    /// Whether this CPU can run the variant.
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Variants this CPU can run.
    pub fn available() -> Vec<Kernel> {
        Self::ALL.into_iter().filter(|k| k.is_available()).collect()
    }

    fn code(self) -> u8 {
        match self {
            Kernel::Scalar => 1,
            Kernel::Avx2 => 2,
            Kernel::Avx512 => 3,
        }
    }
}

static DETECTED: OnceLock<Kernel> = OnceLock::new();
static OVERRIDE: AtomicU8 = AtomicU8::new(0);

/// The fastest variant this CPU supports (detected once).
pub fn detected_kernel() -> Kernel {
    *DETECTED.get_or_init(|| {
        Kernel::ALL
            .into_iter()
            .rev()
            .find(|k| k.is_available())
            .unwrap_or(Kernel::Scalar)
    })
}

/// The variant in use: the override if set, else [`detected_kernel`].
pub fn selected_kernel() -> Kernel {
    match OVERRIDE.load(Ordering::Relaxed) {
        1 => Kernel::Scalar,
        2 => Kernel::Avx2,
        3 => Kernel::Avx512,
        _ => detected_kernel(),
    }
}

/// Name of the variant in use (see [`Kernel::name`]).
pub fn active_kernel() -> &'static str {
    selected_kernel().name()
}

/// Force a variant process-wide (`None` restores automatic selection).
///
/// Fails with [`MatchError::KernelUnavailable`] if the CPU cannot run it.
pub fn set_kernel_override(kernel: Option<Kernel>) -> Result<()> {
    match kernel {
        None => OVERRIDE.store(0, Ordering::Relaxed),
        Some(k) if k.is_available() => OVERRIDE.store(k.code(), Ordering::Relaxed),
        Some(k) => return Err(MatchError::KernelUnavailable(k.name())),
    }
    Ok(())
}

/// Population count of a CLK's words.
pub fn popcount(words: &[u64]) -> u32 {
    words.iter().map(|w| w.count_ones()).sum()
}

/// Popcount of `a AND b` with the given variant (falls back to scalar if unavailable or if
/// the slices differ in length, in which case the shorter length is used).
pub fn and_popcount_with(kernel: Kernel, a: &[u64], b: &[u64]) -> u32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 if kernel.is_available() => avx512::and_popcount(a, b),
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 if kernel.is_available() => avx2::and_popcount(a, b),
        _ => scalar::and_popcount(a, b),
    }
}

/// Popcount of `a AND b` with the selected variant.
pub fn and_popcount(a: &[u64], b: &[u64]) -> u32 {
    and_popcount_with(selected_kernel(), a, b)
}

/// anonlink's Dice score from counts: `0.0` if `pa == 0` or `pb == 0`, else
/// `(2 * and) as f64 / (pa + pb) as f64` — one correctly rounded IEEE division of two exact
/// integers, bit-identical to `dice_coefficient_accelerated`.
#[inline]
pub fn dice_from_counts(and: u32, pa: u32, pb: u32) -> f64 {
    if pa == 0 || pb == 0 {
        return 0.0;
    }
    f64::from(2 * and) / f64::from(pa + pb)
}

/// Sørensen–Dice coefficient of two CLKs (same word length), anonlink semantics.
pub fn dice_coefficient(a: &[u64], b: &[u64]) -> f64 {
    dice_from_counts(and_popcount(a, b), popcount(a), popcount(b))
}

/// The second dataset of a comparison, rearranged into word-major blocks of [`LANES`] CLKs.
#[derive(Debug, Clone)]
pub struct BlockLayout {
    /// Words per CLK.
    pub words: usize,
    /// Word index after which the early-exit bound is checked.
    pub split: usize,
    /// `data[(blk * words + w) * LANES + lane]` is word `w` of CLK `blk * LANES + lane`.
    pub data: Vec<u64>,
    /// Per-lane threshold share (`NEVER` for padding lanes).
    pub need_b: Vec<u64>,
    /// Per-lane popcount of words `split..` (zero for padding lanes).
    pub rest_b: Vec<u64>,
}

impl BlockLayout {
    /// Arrange `clks` (given in the order they should occupy) into blocks; `need` gives
    /// each CLK's `need_b`.
    pub fn build<'a>(
        clks: impl ExactSizeIterator<Item = &'a [u64]>,
        words: usize,
        need: impl Fn(&[u64]) -> u64,
    ) -> Self {
        let n = clks.len();
        let blocks = n.div_ceil(LANES);
        let split = words / 2;
        let mut data = vec![0u64; blocks * words * LANES];
        let mut need_b = vec![NEVER; blocks * LANES];
        let mut rest_b = vec![0u64; blocks * LANES];
        for (i, clk) in clks.enumerate() {
            let (blk, lane) = (i / LANES, i % LANES);
            for (w, &x) in clk.iter().enumerate().take(words) {
                data[(blk * words + w) * LANES + lane] = x;
            }
            need_b[i] = need(clk);
            rest_b[i] = u64::from(popcount(clk.get(split..).unwrap_or(&[])));
        }
        Self {
            words,
            split,
            data,
            need_b,
            rest_b,
        }
    }

    /// Number of blocks.
    pub fn blocks(&self) -> usize {
        self.need_b.len() / LANES
    }
}

/// Up to [`TILE_ROWS`] CLKs of the first dataset with their filter parameters.
#[derive(Debug, Clone, Copy)]
pub struct RowTile<'a> {
    /// The rows' words (unused slots repeat row 0 and are never emitted).
    pub rows: [&'a [u64]; TILE_ROWS],
    /// Per-row threshold share.
    pub need_a: [u64; TILE_ROWS],
    /// Per-row popcount of words `split..`.
    pub rest_a: [u64; TILE_ROWS],
    /// Number of real rows (1..=TILE_ROWS).
    pub n: usize,
}

/// Emit `(row, lane)` for every real row of `tile` and every CLK `lane` (global index into
/// the layout) of blocks `blocks` with `and_popcount >= need_a[row] + need_b[lane]`, using
/// the given variant (scalar if unavailable). Output order: by block, then row, then lane.
pub fn scan(
    kernel: Kernel,
    tile: &RowTile<'_>,
    layout: &BlockLayout,
    blocks: Range<usize>,
    out: &mut Vec<(u8, u32)>,
) {
    let blocks = blocks.start.min(layout.blocks())..blocks.end.min(layout.blocks());
    if tile.rows.iter().any(|r| r.len() < layout.words) || tile.n == 0 {
        return;
    }
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 if kernel.is_available() => avx512::scan(tile, layout, blocks, out),
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 if kernel.is_available() => avx2::scan(tile, layout, blocks, out),
        _ => scalar::scan(tile, layout, blocks, out),
    }
}
