//! Privacy: how close synthetic rows come to real ones.
//!
//! The distance is Gower's: the mean over columns of `|a − b| / range`
//! (capped at 1; the range is the real table's) for numbers and `0 / 1` for
//! labels; two missing values are at distance 0, one missing value at 1.
//! For a seeded sample of synthetic rows the distance to the closest
//! training row and to the closest holdout row (DCR) is found in parallel.
//! Exact copies are counted over all synthetic rows by hashing whole rows.

use std::collections::{HashMap, HashSet};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::binning::round2;
use super::{AnalyseOptions, Matched, Values};

/// Bars of the DCR histogram.
const HISTOGRAM_BINS: usize = 20;

/// Quantiles of distances to the closest record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DcrSummary {
    /// 5th percentile.
    pub p5: f64,
    /// Median.
    pub median: f64,
    /// Mean.
    pub mean: f64,
}

/// Shares of the sampled synthetic rows by distance to the closest record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DcrHistogram {
    /// Lower edges of the bars, equally spaced from 0; the last bar is
    /// open-ended.
    pub lower_edges: Vec<f64>,
    /// Shares by distance to the closest training row.
    pub training: Vec<f64>,
    /// Shares by distance to the closest holdout row, with a holdout.
    pub holdout: Option<Vec<f64>>,
}

/// Distances to closest records and copy rates; no row is included.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrivacyReport {
    /// Synthetic rows searched for their closest records (a seeded sample).
    pub synthetic_rows_searched: usize,
    /// Distances to the closest training row.
    pub dcr_training: DcrSummary,
    /// Distances to the closest holdout row, with a holdout.
    pub dcr_holdout: Option<DcrSummary>,
    /// Share of searched rows closer to a training row than to any holdout
    /// row (ties count half).
    pub share_closer_to_training: Option<f64>,
    /// What that share would be for rows unrelated to either table:
    /// training rows / (training + holdout rows).
    pub share_expected_if_independent: Option<f64>,
    /// Share of all synthetic rows identical to some training row.
    pub exact_copy_rate: f64,
    /// Share of all synthetic rows identical to some holdout row (the rate
    /// expected without copying).
    pub holdout_exact_copy_rate: Option<f64>,
    /// The DCR distribution.
    pub histogram: DcrHistogram,
}

/// Rows laid out for fast distances: range-scaled numbers (NaN if missing)
/// and label codes (`u32::MAX` if missing), row-major.
struct Encoded {
    numbers: Vec<f64>,
    labels: Vec<u32>,
    keys: Vec<Vec<u64>>,
    rows: usize,
}

const MISSING_CODE: u32 = u32::MAX;

fn rows_of(values: &Values) -> usize {
    match values {
        Values::Numeric(v) => v.len(),
        Values::Labels(v) => v.len(),
    }
}

fn encode(
    columns: &[&Values],
    scales: &[f64],
    dictionaries: &mut [HashMap<String, u32>],
) -> Encoded {
    let rows = columns.first().map_or(0, |c| rows_of(c));
    let (mut numbers, mut labels) = (Vec::new(), Vec::new());
    let mut keys = Vec::with_capacity(rows);
    for row in 0..rows {
        let mut key_row = Vec::with_capacity(columns.len());
        let (mut numeric_index, mut label_index) = (0, 0);
        for values in columns {
            let key = match values {
                Values::Numeric(v) => {
                    let value = v.get(row).copied().flatten();
                    numbers.push(value.map_or(f64::NAN, |x| x / scales[numeric_index]));
                    numeric_index += 1;
                    value.map_or(u64::MAX, |x| if x == 0.0 { 0 } else { x.to_bits() })
                }
                Values::Labels(v) => {
                    let dictionary = &mut dictionaries[label_index];
                    label_index += 1;
                    let code = match v.get(row).and_then(Option::as_ref) {
                        Some(label) => {
                            let next = dictionary.len() as u32;
                            *dictionary.entry(label.clone()).or_insert(next)
                        }
                        None => MISSING_CODE,
                    };
                    labels.push(code);
                    u64::from(code)
                }
            };
            key_row.push(key);
        }
        keys.push(key_row);
    }
    Encoded {
        numbers,
        labels,
        keys,
        rows,
    }
}

/// The smallest Gower distance from row `query` of `from` to a row of `to`.
fn closest(from: &Encoded, query: usize, to: &Encoded, columns: usize) -> f64 {
    let p = from.numbers.len() / from.rows.max(1);
    let q = from.labels.len() / from.rows.max(1);
    let numbers = &from.numbers[query * p..(query + 1) * p];
    let labels = &from.labels[query * q..(query + 1) * q];
    let mut best = f64::INFINITY;
    for row in 0..to.rows {
        let other_labels = &to.labels[row * q..(row + 1) * q];
        let mut sum = labels
            .iter()
            .zip(other_labels)
            .filter(|(a, b)| a != b)
            .count() as f64;
        if sum >= best {
            continue;
        }
        for (a, b) in numbers.iter().zip(&to.numbers[row * p..(row + 1) * p]) {
            sum += match (a.is_nan(), b.is_nan()) {
                (false, false) => (a - b).abs().min(1.0),
                (true, true) => 0.0,
                _ => 1.0,
            };
        }
        if sum < best {
            best = sum;
            if best == 0.0 {
                break;
            }
        }
    }
    best / columns.max(1) as f64
}

/// Linear-interpolated quantile of sorted values.
fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let position = p * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = (low + 1).min(sorted.len() - 1);
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

fn summary(distances: &[f64]) -> DcrSummary {
    let mut sorted = distances.to_vec();
    sorted.sort_by(f64::total_cmp);
    DcrSummary {
        p5: quantile(&sorted, 0.05),
        median: quantile(&sorted, 0.5),
        mean: sorted.iter().sum::<f64>() / sorted.len().max(1) as f64,
    }
}

/// `x` rounded up to two significant digits.
fn round_up2(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return 0.0;
    }
    let unit = 10f64.powf(x.log10().floor() - 1.0);
    round2((x / unit).ceil() * unit)
}

fn histogram(edges: &[f64], width: f64, distances: &[f64]) -> Vec<f64> {
    let mut shares = vec![0.0; edges.len()];
    for &d in distances {
        let bin = ((d / width) as usize).min(edges.len() - 1);
        shares[bin] += 1.0 / distances.len().max(1) as f64;
    }
    shares
}

fn copy_rate(synthetic: &Encoded, reference: &Encoded) -> f64 {
    let set: HashSet<&[u64]> = reference.keys.iter().map(Vec::as_slice).collect();
    let copies = synthetic
        .keys
        .iter()
        .filter(|key| set.contains(key.as_slice()))
        .count();
    copies as f64 / synthetic.rows.max(1) as f64
}

/// Computes the privacy section.
pub(crate) fn assess(columns: &[Matched], options: &AnalyseOptions) -> PrivacyReport {
    let scales: Vec<f64> = columns
        .iter()
        .filter_map(|c| match &c.real {
            Values::Numeric(v) => {
                let (low, high) = v
                    .iter()
                    .flatten()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
                        (l.min(x), h.max(x))
                    });
                Some(if high - low > 0.0 { high - low } else { 1.0 })
            }
            Values::Labels(_) => None,
        })
        .collect();
    let label_columns = columns.iter().filter(|c| !c.is_numeric()).count();
    let mut dictionaries = vec![HashMap::new(); label_columns];
    let pick = |f: fn(&Matched) -> Option<&Values>| -> Vec<&Values> {
        columns.iter().filter_map(f).collect()
    };
    let training = encode(&pick(|c| Some(&c.real)), &scales, &mut dictionaries);
    let holdout = columns
        .first()
        .and_then(|c| c.holdout.as_ref())
        .filter(|h| rows_of(h) > 0)
        .map(|_| encode(&pick(|c| c.holdout.as_ref()), &scales, &mut dictionaries));
    let synthetic = encode(&pick(|c| Some(&c.synthetic)), &scales, &mut dictionaries);

    let mut sample: Vec<usize> = if synthetic.rows > options.max_rows_for_privacy {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        rand::seq::index::sample(&mut rng, synthetic.rows, options.max_rows_for_privacy).into_vec()
    } else {
        (0..synthetic.rows).collect()
    };
    sample.sort_unstable();
    let width = columns.len();
    let distances: Vec<(f64, Option<f64>)> = sample
        .par_iter()
        .map(|&row| {
            (
                closest(&synthetic, row, &training, width),
                holdout.as_ref().map(|h| closest(&synthetic, row, h, width)),
            )
        })
        .collect();
    let to_training: Vec<f64> = distances.iter().map(|d| d.0).collect();
    let to_holdout: Option<Vec<f64>> = holdout
        .as_ref()
        .map(|_| distances.iter().filter_map(|d| d.1).collect());
    let share_closer_to_training = to_holdout.as_ref().map(|to_holdout| {
        let closer: f64 = to_training
            .iter()
            .zip(to_holdout)
            .map(|(t, h)| match t.total_cmp(h) {
                std::cmp::Ordering::Less => 1.0,
                std::cmp::Ordering::Equal => 0.5,
                std::cmp::Ordering::Greater => 0.0,
            })
            .sum();
        closer / to_training.len().max(1) as f64
    });
    let mut all: Vec<f64> = to_training
        .iter()
        .chain(to_holdout.iter().flatten())
        .copied()
        .collect();
    all.sort_by(f64::total_cmp);
    let bar_width = round_up2(quantile(&all, 0.99) / HISTOGRAM_BINS as f64).max(1e-4);
    let lower_edges: Vec<f64> = (0..HISTOGRAM_BINS)
        .map(|i| {
            format!("{:.9}", i as f64 * bar_width)
                .parse()
                .unwrap_or(0.0)
        })
        .collect();
    PrivacyReport {
        synthetic_rows_searched: sample.len(),
        dcr_training: summary(&to_training),
        dcr_holdout: to_holdout.as_deref().map(summary),
        share_closer_to_training,
        share_expected_if_independent: holdout
            .as_ref()
            .map(|h| training.rows as f64 / (training.rows + h.rows) as f64),
        exact_copy_rate: copy_rate(&synthetic, &training),
        holdout_exact_copy_rate: holdout.as_ref().map(|h| copy_rate(&synthetic, h)),
        histogram: DcrHistogram {
            training: histogram(&lower_edges, bar_width, &to_training),
            holdout: to_holdout.map(|d| histogram(&lower_edges, bar_width, &d)),
            lower_edges,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_rounding() {
        assert_eq!(quantile(&[0.0, 1.0, 2.0, 3.0, 4.0], 0.5), 2.0);
        assert!((quantile(&[0.0, 1.0], 0.05) - 0.05).abs() < 1e-12);
        assert_eq!(round_up2(0.01234), 0.013);
        assert_eq!(round_up2(0.0), 0.0);
    }

    #[test]
    fn gower_distance_mixes_kinds_and_missing_values() {
        let a = [
            Values::Numeric(vec![Some(0.0), Some(10.0), None]),
            Values::Labels(vec![Some("x".into()), Some("y".into()), None]),
        ];
        let refs: Vec<&Values> = a.iter().collect();
        let mut dictionaries = vec![HashMap::new()];
        let encoded = encode(&refs, &[10.0], &mut dictionaries);
        let single = |row: usize| Encoded {
            numbers: encoded.numbers[row..row + 1].to_vec(),
            labels: encoded.labels[row..row + 1].to_vec(),
            keys: vec![encoded.keys[row].clone()],
            rows: 1,
        };
        assert_eq!(closest(&encoded, 0, &single(0), 2), 0.0);
        assert_eq!(closest(&encoded, 0, &single(1), 2), 1.0);
        assert_eq!(closest(&encoded, 2, &single(2), 2), 0.0);
        assert_eq!(closest(&encoded, 2, &single(0), 2), 1.0);
        assert_eq!(closest(&encoded, 1, &encoded, 2), 0.0);
    }
}
