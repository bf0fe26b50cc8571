//! Time candidate generation on two clkhash JSON files.
//!
//! `cargo run --release --example compare_febrl -- A.json B.json [THRESHOLD] [THREADS] [REPS]`
//! prints the best-of-REPS wall time, comparisons/s and the kernel used.

use std::fs::File;
use std::time::Instant;

use veil_linkage_matching::{active_kernel, find_candidate_pairs, ClkSet};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        return Err("usage: compare_febrl A.json B.json [THRESHOLD] [THREADS] [REPS]".into());
    }
    let a = ClkSet::from_clk_json(File::open(&args[0])?, None)?;
    let b = ClkSet::from_clk_json(File::open(&args[1])?, None)?;
    let t: f64 = args.get(2).map_or(Ok(0.8), |s| s.parse())?;
    let threads: usize = args.get(3).map_or(Ok(1), |s| s.parse())?;
    let reps: usize = args.get(4).map_or(Ok(5), |s| s.parse())?;
    let mut best = f64::INFINITY;
    let mut n = 0;
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        let c = find_candidate_pairs(&[&a, &b], t, None, threads)?;
        best = best.min(start.elapsed().as_secs_f64());
        n = c.len();
    }
    let comparisons = (a.len() * b.len()) as f64;
    println!(
        "rust kernel={} threads={threads} candidates={n} best_seconds={best:.6} comparisons_per_s={:.4e}",
        active_kernel(),
        comparisons / best
    );
    Ok(())
}
