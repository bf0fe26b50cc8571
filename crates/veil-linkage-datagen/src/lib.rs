//! Deterministic generator of realistic FEBRL4-style person records for
//! record-linkage testing (`veil link gen`).
//!
//! [`generate`] writes dataset A, dataset B (corrupted copies of a fraction of
//! A's entities, shuffled, plus non-matching records) and a ground-truth CSV.
//! Output bytes depend only on the [`GeneratorConfig`] — not on the number of
//! threads or the chunk size:
//!
//! * every entity `e` has its own ChaCha8 stream (key derived from the master
//!   seed, stream number `e`), and every B row / A row its own corruption
//!   stream, so any row can be regenerated independently;
//! * B's order is a keyed Feistel permutation over `[0, N)`, evaluated per
//!   index (and inverted per index for the truth file), so no table is stored;
//! * rows are produced in chunks in parallel with rayon and written in order;
//!   memory is bounded by a few chunks per thread.
//!
//! ```
//! use veil_linkage_datagen::{generate, GeneratorConfig};
//! let (mut a, mut b, mut t) = (Vec::new(), Vec::new(), Vec::new());
//! let cfg = GeneratorConfig { records: 10, seed: 1, ..Default::default() };
//! let summary = generate(&cfg, &mut a, &mut b, &mut t, |_| {}).unwrap();
//! assert_eq!(summary.matches, 10);
//! ```

mod corrupt;
mod lists;
mod perm;
mod record;

use std::io::Write;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

pub use corrupt::{digit_error, keyboard_neighbours, swap_day_month, typo};
pub use lists::NICKNAMES;
pub use perm::Permutation;
pub use record::{field, CorruptionCounts, Person, HEADER};

/// Probabilities of each corruption (per record or per field, as documented).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CorruptionRates {
    /// Per string field (given, surname, address_1, address_2, suburb): one typo.
    pub typo: f64,
    /// Per field (all but rec_id): value blanked.
    pub missing: f64,
    /// Per record: given name and surname swapped.
    pub name_swap: f64,
    /// Per record: given name replaced by a nickname (when it has one).
    pub nickname: f64,
    /// Per record: day and month swapped (when the day is 1..=12 and differs).
    pub date_swap: f64,
    /// Per numeric field (street_number, postcode, soc_sec_id): one digit error.
    pub digit_error: f64,
}

impl CorruptionRates {
    /// No corruption at all.
    pub const NONE: CorruptionRates = CorruptionRates {
        typo: 0.0,
        missing: 0.0,
        name_swap: 0.0,
        nickname: 0.0,
        date_swap: 0.0,
        digit_error: 0.0,
    };

    fn validate(&self, prefix: &str) -> Result<(), GenError> {
        let all = [
            ("typo", self.typo),
            ("missing", self.missing),
            ("name_swap", self.name_swap),
            ("nickname", self.nickname),
            ("date_swap", self.date_swap),
            ("digit_error", self.digit_error),
        ];
        for (name, v) in all {
            if !(0.0..=1.0).contains(&v) {
                return Err(GenError::InvalidConfig {
                    field: format!("{prefix}.{name}"),
                    reason: format!("{v} is not a probability in [0, 1]"),
                });
            }
        }
        Ok(())
    }
}

impl Default for CorruptionRates {
    /// Defaults for B's copies: typo 0.08, missing 0.03, name_swap 0.02,
    /// nickname 0.05, date_swap 0.05, digit_error 0.05.
    fn default() -> Self {
        CorruptionRates {
            typo: 0.08,
            missing: 0.03,
            name_swap: 0.02,
            nickname: 0.05,
            date_swap: 0.05,
            digit_error: 0.05,
        }
    }
}

/// Generator configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    /// Records per dataset (A and B both have this many rows).
    pub records: u64,
    /// Master seed.
    pub seed: u64,
    /// Fraction of A's entities that have a copy in B (default 1.0, like FEBRL4);
    /// the rest of B are unrelated entities.
    pub overlap: f64,
    /// Corruption of B's copies of A entities.
    pub corruption: CorruptionRates,
    /// Corruption applied to A's records (default none).
    pub corruption_a: CorruptionRates,
    /// Rows per parallel work unit (does not affect the output).
    pub chunk_size: usize,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            records: 1000,
            seed: 0,
            overlap: 1.0,
            corruption: CorruptionRates::default(),
            corruption_a: CorruptionRates::NONE,
            chunk_size: 8192,
        }
    }
}

/// What [`generate`] produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenSummary {
    /// Rows written to A.
    pub records_a: u64,
    /// Rows written to B.
    pub records_b: u64,
    /// Truth pairs (B rows that copy an A entity).
    pub matches: u64,
    /// Corruptions applied to B.
    pub corruption_b: CorruptionCounts,
    /// Corruptions applied to A.
    pub corruption_a: CorruptionCounts,
}

/// Generation errors.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// A configuration field is out of range.
    #[error("invalid generator config `{field}`: {reason}")]
    InvalidConfig {
        /// Field name, e.g. `corruption.typo`.
        field: String,
        /// Explanation.
        reason: String,
    },
    /// Writing an output failed.
    #[error("writing {output}: {source}")]
    Io {
        /// `dataset A`, `dataset B` or `truth`.
        output: &'static str,
        /// Underlying error.
        source: std::io::Error,
    },
}

const DOMAIN_ENTITY: u64 = 1;
const DOMAIN_CORRUPT_A: u64 = 2;
const DOMAIN_CORRUPT_B: u64 = 3;
const DOMAIN_PERM_B: u64 = 4;
const DOMAIN_PERM_SEL: u64 = 5;

fn derive(seed: u64, domain: u64) -> u64 {
    perm::mix64(perm::mix64(seed) ^ domain.wrapping_mul(0xa076_1d64_78bd_642f))
}

fn stream_rng(seed: u64, domain: u64, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    let mut k = derive(seed, domain);
    for chunk in key.chunks_mut(8) {
        k = perm::mix64(k);
        chunk.copy_from_slice(&k.to_le_bytes());
    }
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream(index);
    rng
}

/// The index mapping between A and B (all per-index, no tables).
struct Layout {
    n: u64,
    matched: u64,
    perm_b: Permutation,
    perm_sel: Permutation,
}

enum BSource {
    /// Copy of A row `a`.
    Match(u64),
    /// Unrelated entity number `e` (>= n).
    Other(u64),
}

impl Layout {
    fn new(cfg: &GeneratorConfig) -> Self {
        let n = cfg.records;
        Layout {
            n,
            matched: ((cfg.overlap * n as f64).round() as u64).min(n),
            perm_b: Permutation::new(n, derive(cfg.seed, DOMAIN_PERM_B)),
            perm_sel: Permutation::new(n, derive(cfg.seed, DOMAIN_PERM_SEL)),
        }
    }

    fn b_source(&self, j: u64) -> BSource {
        let s = self.perm_b.apply(j);
        if s < self.matched {
            BSource::Match(self.perm_sel.apply(s))
        } else {
            BSource::Other(self.n + (s - self.matched))
        }
    }

    /// B row of A row `a`, if `a` has a copy.
    fn b_row_of(&self, a: u64) -> Option<u64> {
        let s = self.perm_sel.invert(a);
        (s < self.matched).then(|| self.perm_b.invert(s))
    }
}

#[derive(Default)]
struct ChunkOut {
    a: Vec<u8>,
    b: Vec<u8>,
    truth: Vec<u8>,
    counts_a: CorruptionCounts,
    counts_b: CorruptionCounts,
    matches: u64,
}

fn a_record(cfg: &GeneratorConfig, a: u64, counts: &mut CorruptionCounts) -> Person {
    let mut p = Person::generate(&mut stream_rng(cfg.seed, DOMAIN_ENTITY, a));
    if cfg.corruption_a != CorruptionRates::NONE {
        p.corrupt(
            &cfg.corruption_a,
            &mut stream_rng(cfg.seed, DOMAIN_CORRUPT_A, a),
            counts,
        );
    }
    p
}

fn gen_chunk(cfg: &GeneratorConfig, layout: &Layout, start: u64, end: u64) -> ChunkOut {
    let mut out = ChunkOut::default();
    for a in start..end {
        let p = a_record(cfg, a, &mut out.counts_a);
        let id = format!("rec-{a}-org");
        record::write_csv_line(&mut out.a, &id, &p.fields);
        if let Some(j) = layout.b_row_of(a) {
            out.truth
                .extend_from_slice(format!("{id},rec-{a}-dup-0,{a},{j}\n").as_bytes());
            out.matches += 1;
        }
    }
    let mut scratch = CorruptionCounts::default();
    for j in start..end {
        let (id, p) = match layout.b_source(j) {
            BSource::Match(a) => {
                let mut p = a_record(cfg, a, &mut scratch);
                let mut rng = stream_rng(cfg.seed, DOMAIN_CORRUPT_B, j);
                p.corrupt(&cfg.corruption, &mut rng, &mut out.counts_b);
                (format!("rec-{a}-dup-0"), p)
            }
            BSource::Other(e) => (
                format!("rec-{e}-org"),
                Person::generate(&mut stream_rng(cfg.seed, DOMAIN_ENTITY, e)),
            ),
        };
        record::write_csv_line(&mut out.b, &id, &p.fields);
    }
    out
}

fn io(output: &'static str) -> impl FnOnce(std::io::Error) -> GenError {
    move |source| GenError::Io { output, source }
}

/// Generates datasets A and B and the truth CSV (`rec_id_a,rec_id_b,row_a,row_b`,
/// 0-based rows excluding the header, ordered by `row_a`). Runs on the current
/// rayon pool; `progress` is called with the number of rows (per dataset)
/// completed so far.
pub fn generate<WA: Write, WB: Write, WT: Write>(
    cfg: &GeneratorConfig,
    mut writer_a: WA,
    mut writer_b: WB,
    mut truth: WT,
    progress: impl Fn(u64),
) -> Result<GenSummary, GenError> {
    if !(0.0..=1.0).contains(&cfg.overlap) {
        return Err(GenError::InvalidConfig {
            field: "overlap".into(),
            reason: format!("{} is not a fraction in [0, 1]", cfg.overlap),
        });
    }
    if cfg.chunk_size == 0 {
        return Err(GenError::InvalidConfig {
            field: "chunk_size".into(),
            reason: "must be positive".into(),
        });
    }
    if cfg.records > u64::MAX / 4 {
        return Err(GenError::InvalidConfig {
            field: "records".into(),
            reason: "too large".into(),
        });
    }
    cfg.corruption.validate("corruption")?;
    cfg.corruption_a.validate("corruption_a")?;
    let layout = Layout::new(cfg);
    let header = format!("{}\n", HEADER.join(","));
    writer_a
        .write_all(header.as_bytes())
        .map_err(io("dataset A"))?;
    writer_b
        .write_all(header.as_bytes())
        .map_err(io("dataset B"))?;
    truth
        .write_all(b"rec_id_a,rec_id_b,row_a,row_b\n")
        .map_err(io("truth"))?;
    let mut summary = GenSummary {
        records_a: cfg.records,
        records_b: cfg.records,
        ..Default::default()
    };
    let chunk = cfg.chunk_size as u64;
    let batch = (rayon::current_num_threads() as u64 * 2).max(1) * chunk;
    let mut done = 0u64;
    while done < cfg.records {
        let batch_end = (done + batch).min(cfg.records);
        let starts: Vec<u64> = (done..batch_end).step_by(chunk as usize).collect();
        let outs: Vec<ChunkOut> = starts
            .par_iter()
            .map(|&s| gen_chunk(cfg, &layout, s, (s + chunk).min(batch_end)))
            .collect();
        for o in outs {
            writer_a.write_all(&o.a).map_err(io("dataset A"))?;
            writer_b.write_all(&o.b).map_err(io("dataset B"))?;
            truth.write_all(&o.truth).map_err(io("truth"))?;
            summary.corruption_a.add(&o.counts_a);
            summary.corruption_b.add(&o.counts_b);
            summary.matches += o.matches;
        }
        done = batch_end;
        progress(done);
    }
    writer_a.flush().map_err(io("dataset A"))?;
    writer_b.flush().map_err(io("dataset B"))?;
    truth.flush().map_err(io("truth"))?;
    Ok(summary)
}
