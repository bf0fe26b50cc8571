//! Matching kernels for privacy-preserving record linkage, output-identical to anonlink
//! 0.15.3.
//!
//! Pure compute: no file or network I/O of its own (parsers and writers take generic
//! `Read` / `Write`).
//!
//! * [`clk`]: CLK datasets and their parsers (clkhash base64 JSON, raw binary).
//! * [`kernels`]: popcount / Dice kernels (scalar, AVX2, AVX-512) with runtime dispatch.
//! * [`candidates`]: candidate pairs above a Dice threshold, in anonlink's order.
//! * [`blocked`]: the same restricted to record pairs sharing a block (blocking / LSH).
//! * [`csv_io`] / [`pyrepr`]: the candidate CSV format with Python float reprs.
//! * [`solving`]: anonlink's greedy solver and Entity-Service style outputs.
//! * [`eval`]: precision / recall / F1, histograms, threshold advice.
//!
//! A `veil link` CLI would call:
//! * `compare A.json B.json … --threshold T -o C.csv --threads N`:
//!   [`ClkSet::from_clk_json`] per file, [`find_candidate_pairs`], [`write_candidates_csv`].
//! * `solve C.csv -o G.json`: [`read_candidates_csv`], [`greedy_solve`], [`write_groups_json`].
//! * `eval G.json TRUTH.csv`: [`read_groups_json`], [`eval::read_truth_csv`], [`eval::evaluate`].

pub mod blocked;
pub mod candidates;
pub mod clk;
pub mod clk_json;
pub mod csv_io;
pub mod error;
pub mod eval;
pub mod kernels;
mod pairs;
pub mod pyrepr;
pub mod solving;

pub use blocked::{block_key_id, find_candidate_pairs_blocked, BlockedStats, RecordBlocks};
pub use candidates::{
    find_candidate_pairs, find_candidate_pairs_with, Candidate, CandidateOptions, Candidates,
};
pub use clk::ClkSet;
pub use clk_json::{read_clk_document, ClkDocument};
pub use csv_io::{read_candidates_csv, write_candidates_csv};
pub use error::{MatchError, Result};
pub use kernels::{active_kernel, set_kernel_override, Kernel};
pub use solving::{greedy_solve, read_groups_json, write_groups_json, Groups, Record};
