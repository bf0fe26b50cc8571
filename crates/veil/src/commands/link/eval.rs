//! `veil link eval`: matching quality against ground truth, and threshold advice from the
//! candidates' similarity histogram.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use veil_linkage_matching::eval::{
    evaluate, read_truth_csv, suggest_threshold, Histogram, Quality,
};
use veil_linkage_matching::{read_candidates_csv, read_groups_json};

use super::files::{bad_input, open_input};

/// Histogram bin width (similarity units).
const BIN_WIDTH: f64 = 0.01;
/// Width in characters of the longest histogram bar.
const BAR_WIDTH: usize = 50;

/// Arguments of `veil link eval`.
#[derive(Debug, Args)]
#[command(after_help = "\
Precision is the share of predicted pairs (a record of dataset 0 and one of dataset 1 in the \
same group) that are true; recall the share of true pairs predicted. The truth CSV needs \
columns `row_a` and `row_b` (0-based rows of datasets 0 and 1), as written by `veil link gen`.

With --candidates (best generated at a low threshold, e.g. 0.5), also prints a histogram of \
their similarities and suggests a threshold at the valley between the non-match and match \
modes, or says there is no clear valley.")]
pub struct EvalArgs {
    /// Matched groups (JSON, as written by `veil link solve`).
    pub groups: PathBuf,
    /// Ground truth CSV with columns `row_a,row_b`.
    pub truth: PathBuf,
    /// Candidate pairs CSV: adds a similarity histogram and a threshold suggestion.
    #[arg(long, value_name = "CANDIDATES")]
    pub candidates: Option<PathBuf>,
}

/// Runs `veil link eval`.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let groups = read_groups_json(std::io::BufReader::new(open_input(&args.groups)?))
        .map_err(|err| bad_input(&args.groups, err))?;
    let truth = read_truth_csv(std::io::BufReader::new(open_input(&args.truth)?))
        .map_err(|err| bad_input(&args.truth, err))?;
    let mut report = quality_report(&evaluate(&groups, &truth));
    if let Some(path) = &args.candidates {
        report.push_str(&histogram_report(&read_scores(path)?));
    }
    print!("{report}");
    Ok(())
}

fn read_scores(path: &Path) -> anyhow::Result<Vec<f64>> {
    let candidates = read_candidates_csv(std::io::BufReader::new(open_input(path)?))
        .map_err(|err| bad_input(path, err))?;
    Ok(candidates.scores)
}

/// Precision, recall and F1 with the counts behind them.
fn quality_report(quality: &Quality) -> String {
    format!(
        "precision {:.6} ({} of {} predicted pairs are true)\n\
         recall    {:.6} ({} of {} true pairs found)\n\
         F1        {:.6}\n",
        quality.precision,
        quality.true_positives,
        quality.predicted,
        quality.recall,
        quality.true_positives,
        quality.actual,
        quality.f1
    )
}

/// A text histogram of candidate similarities (bins of [`BIN_WIDTH`] from the lowest score
/// to 1) and the suggested threshold.
fn histogram_report(scores: &[f64]) -> String {
    let mut out = String::new();
    let Some(lowest) = scores.iter().copied().reduce(f64::min) else {
        out.push_str("no candidates: no histogram and no threshold suggestion\n");
        return out;
    };
    // Bins start on a multiple of the width at or below the lowest score (which must not
    // fall outside the histogram through rounding).
    let bins = (((1.0 - lowest) / BIN_WIDTH - 1e-9).ceil() as usize).max(1);
    let min = (1.0 - bins as f64 * BIN_WIDTH).min(lowest);
    let histogram = Histogram::new(scores, bins, min, 1.0);
    let tallest = histogram.counts.iter().copied().max().unwrap_or(0).max(1);
    // Log-scale bars: the match mode is orders of magnitude smaller than the non-match mode
    // and would not show on a linear scale.
    let _ = writeln!(
        out,
        "similarity histogram of {} candidates (bar length ~ log(1 + count)):",
        scores.len(),
    );
    let scale = BAR_WIDTH as f64 / (tallest as f64).ln_1p();
    for (bin, &count) in histogram.counts.iter().enumerate() {
        let low = histogram.min + bin as f64 * histogram.bin_width();
        let length = ((count as f64).ln_1p() * scale).ceil() as usize;
        let _ = writeln!(
            out,
            "  {low:.2}-{:.2} {count:>9} {}",
            low + histogram.bin_width(),
            "#".repeat(length)
        );
    }
    match suggest_threshold(&histogram) {
        Some(threshold) => {
            let _ = writeln!(
                out,
                "suggested threshold: {threshold:.3} (the valley between the non-match and match modes)"
            );
        }
        None => out.push_str(
            "suggested threshold: none (no clear valley between non-matches and matches; \
             generate candidates at a lower threshold)\n",
        ),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_without_candidates_says_so() {
        assert!(histogram_report(&[]).contains("no candidates"));
    }

    #[test]
    fn histogram_lists_bins_up_to_one_and_a_verdict() {
        let report = histogram_report(&[0.5, 0.52, 1.0]);
        assert!(report.contains("0.50-0.51"), "{report}");
        assert!(report.contains("0.99-1.00"), "{report}");
        assert!(report.contains("suggested threshold:"), "{report}");
    }
}
