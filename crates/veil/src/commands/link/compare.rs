//! `veil link compare`: candidate pairs across CLK datasets, as anonlink 0.15.3's
//! `find_candidate_pairs` with `dice_coefficient_accelerated`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use veil_linkage_matching::{
    active_kernel, find_candidate_pairs_blocked, find_candidate_pairs_with, read_clk_document,
    write_candidates_csv, CandidateOptions, Candidates, ClkDocument, ClkSet, MatchError,
    RecordBlocks,
};

use super::files::{bad_input, open_input, write_atomically};
use super::{parse_threads, rate, thread_count, threads_label, usage};

/// Arguments of `veil link compare`.
#[derive(Debug, Args)]
#[command(after_help = "\
Every pair of records from two different datasets whose Sørensen–Dice similarity reaches the \
threshold is written as `dataset_a,row_a,dataset_b,row_b,score` (datasets numbered from 0 in \
argument order, rows from 0 in file order), score descending, then dataset_a, dataset_b, \
row_a, row_b ascending: byte-identical to anonlink 0.15.3's output. All datasets must have \
CLKs of one length.

Blocked comparison: given `clknblocks` files (as written by `veil link block`: \
`{\"clknblocks\": [[\"<clk>\", \"<block id>\", …], …]}`) instead of CLK files, only pairs of \
records that share at least one block id are compared, each pair once; the output is exactly \
the all-pairs output restricted to those pairs (with --top-k, the k best are chosen among \
them). All inputs must be of one kind.")]
pub struct CompareArgs {
    /// Two or more CLK files in clkhash's JSON format (`{"clks": [base64, …]}`), or two or more
    /// `clknblocks` files (`{"clknblocks": [[base64, block id, …], …]}`) for a blocked
    /// comparison.
    #[arg(required = true, num_args = 2.., value_name = "CLKS")]
    pub datasets: Vec<PathBuf>,
    /// Keep pairs with similarity >= this value, in (0, 1].
    #[arg(long, value_name = "T", value_parser = parse_threshold)]
    pub threshold: f64,
    /// Where to write the candidate pairs (CSV).
    #[arg(short = 'o', long = "output", value_name = "CANDIDATES")]
    pub output: PathBuf,
    /// Worker threads (default: one per available core).
    #[arg(long, value_parser = parse_threads)]
    pub threads: Option<usize>,
    /// Keep at most K best partners per record and dataset pair (anonlink's `k`).
    #[arg(long, value_name = "K")]
    pub top_k: Option<usize>,
}

/// Parses a similarity threshold in (0, 1].
fn parse_threshold(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| "not a number".to_string())?;
    if value > 0.0 && value <= 1.0 {
        Ok(value)
    } else {
        Err("must be in (0, 1]".to_string())
    }
}

/// Runs `veil link compare`.
pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let mut datasets = Vec::with_capacity(args.datasets.len());
    let mut blocks = Vec::with_capacity(args.datasets.len());
    for path in &args.datasets {
        match read_clks(path)? {
            ClkDocument::Clks(clks) => datasets.push(clks),
            ClkDocument::Blocked(clks, record_blocks) => {
                datasets.push(clks);
                blocks.push(record_blocks);
            }
        }
    }
    if !blocks.is_empty() && blocks.len() != datasets.len() {
        return Err(usage(format!(
            "mixed inputs: {} of the {} files are clknblocks files and the others plain CLK \
             files; give all inputs of one kind",
            blocks.len(),
            datasets.len()
        )));
    }
    check_lengths(&args.datasets, &datasets)?;
    let threads = thread_count(args.threads);
    let refs: Vec<&ClkSet> = datasets.iter().collect();
    let options = CandidateOptions {
        threshold: args.threshold,
        top_k: args.top_k,
        threads,
        kernel: None,
    };
    let map_err = |err: MatchError| match err {
        MatchError::InvalidArgument(_) => usage(err.to_string()),
        other => anyhow::Error::new(other),
    };
    let started = Instant::now();
    let (candidates, pairs, what): (Candidates, u128, &str) = if blocks.is_empty() {
        let candidates = find_candidate_pairs_with(&refs, &options).map_err(map_err)?;
        (candidates, pairs_compared(&datasets), "pairs")
    } else {
        let block_refs: Vec<&RecordBlocks> = blocks.iter().collect();
        let (candidates, stats) =
            find_candidate_pairs_blocked(&refs, &block_refs, &options).map_err(map_err)?;
        eprintln!(
            "blocking: {} shared blocks, {} record pairs in them (largest block {} pairs), \
             {:.3e} of the {} pairs of all records",
            stats.shared_blocks,
            stats.block_pairs,
            stats.largest_block_pairs,
            stats.block_pairs as f64 / (pairs_compared(&datasets) as f64).max(1.0),
            pairs_compared(&datasets),
        );
        (candidates, stats.block_pairs, "in-block pairs")
    };
    let elapsed = started.elapsed();
    write_atomically(&args.output, |out| {
        write_candidates_csv(&candidates, out)
            .map_err(|err| anyhow::anyhow!("{}: cannot write: {err}", args.output.display()))
    })?;
    eprintln!(
        "compared {pairs} {what} across {} datasets in {:.2} s ({:.3e} comparisons/s, {}, kernel {})",
        datasets.len(),
        elapsed.as_secs_f64(),
        rate(pairs as f64, elapsed),
        threads_label(threads),
        active_kernel(),
    );
    eprintln!(
        "{} candidates with similarity >= {} written to {}",
        candidates.len(),
        args.threshold,
        args.output.display()
    );
    Ok(())
}

/// Reads one CLK or clknblocks file (streaming); any problem is a usage error naming it.
fn read_clks(path: &Path) -> anyhow::Result<ClkDocument> {
    let file = open_input(path)?;
    read_clk_document(std::io::BufReader::with_capacity(1 << 20, file), None)
        .map_err(|err| bad_input(path, err))
}

/// All datasets must share the first one's CLK length.
fn check_lengths(paths: &[PathBuf], datasets: &[ClkSet]) -> anyhow::Result<()> {
    let Some(first) = datasets.first() else {
        return Ok(());
    };
    for (path, dataset) in paths.iter().zip(datasets).skip(1) {
        if dataset.clk_bytes() != first.clk_bytes() {
            return Err(usage(format!(
                "{}: CLKs of {} bits do not match the {} bits of {}",
                path.display(),
                dataset.clk_bytes() * 8,
                first.clk_bytes() * 8,
                paths[0].display()
            )));
        }
    }
    Ok(())
}

/// Record pairs the comparison covers: every pair of records from two different datasets.
fn pairs_compared(datasets: &[ClkSet]) -> u128 {
    let mut pairs = 0u128;
    for (i, a) in datasets.iter().enumerate() {
        for b in &datasets[i + 1..] {
            pairs += a.len() as u128 * b.len() as u128;
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_must_be_in_half_open_unit_interval() {
        assert_eq!(parse_threshold("0.8"), Ok(0.8));
        assert_eq!(parse_threshold("1"), Ok(1.0));
        for bad in ["0", "-0.1", "1.01", "NaN", "inf", "x"] {
            assert!(parse_threshold(bad).is_err(), "{bad}");
        }
    }
}
