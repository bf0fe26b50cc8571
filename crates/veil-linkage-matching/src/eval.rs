//! Evaluation against ground truth, score histograms and threshold advice.

use std::collections::HashSet;
use std::io::Read;

use crate::error::{MatchError, Result};
use crate::solving::Groups;

/// Precision, recall and F1 of a two-party matching.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    /// Predicted pairs that are true.
    pub true_positives: usize,
    /// Predicted pairs (dataset 0 × dataset 1 within each group).
    pub predicted: usize,
    /// True pairs.
    pub actual: usize,
    /// `true_positives / predicted` (0 if nothing predicted).
    pub precision: f64,
    /// `true_positives / actual` (0 if no truth).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 if both are 0).
    pub f1: f64,
}

/// Read a truth CSV with (at least) columns `row_a` and `row_b`, e.g. FEBRL4's
/// `rec_id_a,rec_id_b,row_a,row_b`. Errors name the 1-based line.
pub fn read_truth_csv<R: Read>(reader: R) -> Result<Vec<(u32, u32)>> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let header = rdr
        .headers()
        .map_err(|e| MatchError::BadCsvRow {
            line: 1,
            reason: e.to_string(),
        })?
        .clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| MatchError::BadCsvRow {
                line: 1,
                reason: format!("missing column {name:?}"),
            })
    };
    let (ca, cb) = (col("row_a")?, col("row_b")?);
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| MatchError::BadCsvRow {
            line: e.position().map_or(0, |p| p.line()),
            reason: e.to_string(),
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        let get = |c: usize| -> Result<u32> {
            let raw = rec.get(c).unwrap_or("");
            raw.trim().parse().map_err(|_| MatchError::BadCsvRow {
                line,
                reason: format!("column {} is not a row index: {raw:?}", c + 1),
            })
        };
        out.push((get(ca)?, get(cb)?));
    }
    Ok(out)
}

/// Score `groups` (datasets 0 and 1) against `truth` pairs `(row_a, row_b)`.
pub fn evaluate(groups: &Groups, truth: &[(u32, u32)]) -> Quality {
    let truth: HashSet<(u32, u32)> = truth.iter().copied().collect();
    let mut predicted = HashSet::new();
    for g in groups {
        for &(_, ra) in g.iter().filter(|r| r.0 == 0) {
            for &(_, rb) in g.iter().filter(|r| r.0 == 1) {
                predicted.insert((ra, rb));
            }
        }
    }
    let tp = predicted.intersection(&truth).count();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, predicted.len());
    let recall = ratio(tp, truth.len());
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    Quality {
        true_positives: tp,
        predicted: predicted.len(),
        actual: truth.len(),
        precision,
        recall,
        f1,
    }
}

/// Equal-width histogram of scores over `[min, max]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Lower edge of the first bin.
    pub min: f64,
    /// Upper edge of the last bin (inclusive).
    pub max: f64,
    /// Count per bin; bin `i` covers `[min + i*w, min + (i+1)*w)`, the last one closed.
    pub counts: Vec<u64>,
}

impl Histogram {
    /// Bin `scores` into `bins` equal bins over `[min, max]`; values outside or NaN are
    /// ignored. `bins == 0` or `min >= max` gives an empty histogram.
    pub fn new(scores: &[f64], bins: usize, min: f64, max: f64) -> Self {
        let mut counts = vec![0u64; if min < max { bins } else { 0 }];
        let n = counts.len();
        if n > 0 {
            let w = (max - min) / n as f64;
            for &s in scores {
                if s >= min && s <= max {
                    let i = (((s - min) / w) as usize).min(n - 1);
                    counts[i] += 1;
                }
            }
        }
        Self { min, max, counts }
    }

    /// Width of one bin.
    pub fn bin_width(&self) -> f64 {
        (self.max - self.min) / self.counts.len().max(1) as f64
    }

    /// Centre of bin `i`.
    pub fn bin_center(&self, i: usize) -> f64 {
        self.min + (i as f64 + 0.5) * self.bin_width()
    }
}

/// Suggest a threshold at the valley between the non-match and match modes of a score
/// histogram (typically candidates generated at a low threshold).
///
/// Method: smooth the counts with a centred moving average (window 5 bins, on
/// `log(1 + count)` so the small match mode is not dwarfed by the non-match mode); take the
/// highest peak as one mode and, as the other, the bin maximising `smoothed height ×
/// distance` to the first peak among local maxima at least 3 bins away; return the centre of
/// the lowest smoothed bin strictly between the two peaks (the upper-most one on ties,
/// favouring precision). `None` if there are not two modes at least 3 bins apart with a
/// valley holding at most half the smaller mode's smoothed count.
pub fn suggest_threshold(hist: &Histogram) -> Option<f64> {
    let n = hist.counts.len();
    if n < 5 {
        return None;
    }
    let logc: Vec<f64> = hist.counts.iter().map(|&c| (1.0 + c as f64).ln()).collect();
    let sm: Vec<f64> = (0..n)
        .map(|i| {
            let lo = i.saturating_sub(2);
            let hi = (i + 2).min(n - 1);
            logc[lo..=hi].iter().sum::<f64>() / (hi - lo + 1) as f64
        })
        .collect();
    let p1 = (0..n).max_by(|&a, &b| sm[a].total_cmp(&sm[b]))?;
    let is_peak = |i: usize| {
        (i == 0 || sm[i] >= sm[i - 1]) && (i + 1 == n || sm[i] >= sm[i + 1]) && sm[i] > 0.0
    };
    let p2 = (0..n)
        .filter(|&i| i.abs_diff(p1) >= 3 && is_peak(i))
        .max_by(|&a, &b| {
            (sm[a] * a.abs_diff(p1) as f64).total_cmp(&(sm[b] * b.abs_diff(p1) as f64))
        })?;
    let (lo, hi) = (p1.min(p2), p1.max(p2));
    let valley = (lo + 1..hi)
        .rev()
        .min_by(|&a, &b| sm[a].total_cmp(&sm[b]))?;
    // The valley must be at least half as populated as the smaller mode (log scale).
    if sm[valley] > sm[lo].min(sm[hi]) - std::f64::consts::LN_2 {
        return None;
    }
    Some(hist.bin_center(valley))
}
