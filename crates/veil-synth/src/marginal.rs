//! One-dimensional marginals that release no single record: smoothed
//! quantile knots for numbers and frequencies of (already suppressed)
//! categories, each able to map `u ∈ [0, 1]` back to a value.

use serde::{Deserialize, Serialize};

/// Number of quantile knots a numeric marginal stores (every percentile).
pub const KNOT_COUNT: usize = 101;

/// A numeric marginal as [`KNOT_COUNT`] quantiles, `knots[i]` being the
/// `i / (KNOT_COUNT − 1)` quantile computed by linear interpolation between
/// order statistics, then clamped to the `k`-th smallest and `k`-th largest
/// values, so no record's extreme value is stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantileKnots {
    knots: Vec<f64>,
}

impl QuantileKnots {
    /// Fits knots to `values` (finite numbers, any order). Every knot has at
    /// least `k` values at or below it and `k` at or above it; `None` when no
    /// number does (fewer than `2k − 1` values, unless they tie).
    pub fn fit(values: &[f64], k: usize) -> Option<QuantileKnots> {
        let k = k.max(1);
        if values.len() < k || values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let last = sorted.len() - 1;
        let low = sorted[k - 1];
        let high = sorted[last + 1 - k];
        if low > high {
            // Fewer than 2k − 1 values: no value has k values at or below it
            // and k at or above it.
            return None;
        }
        let knots = (0..KNOT_COUNT)
            .map(|index| {
                let position = index as f64 / (KNOT_COUNT - 1) as f64 * last as f64;
                let below = position.floor() as usize;
                let above = (below + 1).min(last);
                let fraction = position - below as f64;
                let quantile = sorted[below] + fraction * (sorted[above] - sorted[below]);
                quantile.clamp(low, high)
            })
            .collect();
        Some(QuantileKnots { knots })
    }

    /// Checks a deserialised marginal: right length, finite, non-decreasing.
    pub fn is_valid(&self) -> bool {
        self.knots.len() == KNOT_COUNT
            && self.knots.iter().all(|v| v.is_finite())
            && self.knots.windows(2).all(|pair| pair[0] <= pair[1])
    }

    /// The knots, lowest first.
    pub fn knots(&self) -> &[f64] {
        &self.knots
    }

    /// The value at probability `u` (clamped to `[0, 1]`), interpolating
    /// linearly between knots.
    pub fn inverse_cdf(&self, u: f64) -> f64 {
        let last = self.knots.len().saturating_sub(1);
        let position = u.clamp(0.0, 1.0) * last as f64;
        let below = (position.floor() as usize).min(last);
        let above = (below + 1).min(last);
        let fraction = position - below as f64;
        self.knots[below] + fraction * (self.knots[above] - self.knots[below])
    }
}

/// Category frequencies, most frequent first; category `i` owns the slice
/// `[c_{i−1}, c_i)` of `[0, 1]` where `c` are the cumulative frequencies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CategoricalMarginal {
    labels: Vec<String>,
    probabilities: Vec<f64>,
}

impl CategoricalMarginal {
    /// Fits frequencies to the present labels; `None` if there are none.
    pub fn fit<'a>(labels: impl Iterator<Item = &'a str>) -> Option<CategoricalMarginal> {
        let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for label in labels {
            *counts.entry(label).or_default() += 1;
        }
        let total: usize = counts.values().sum();
        if total == 0 {
            return None;
        }
        let mut ordered: Vec<(&str, usize)> = counts.into_iter().collect();
        ordered.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        Some(CategoricalMarginal {
            labels: ordered.iter().map(|(label, _)| label.to_string()).collect(),
            probabilities: ordered
                .iter()
                .map(|(_, count)| *count as f64 / total as f64)
                .collect(),
        })
    }

    /// Checks a deserialised marginal: labels and probabilities pair up, are
    /// non-negative and sum to one.
    pub fn is_valid(&self) -> bool {
        let sum: f64 = self.probabilities.iter().sum();
        !self.labels.is_empty()
            && self.labels.len() == self.probabilities.len()
            && self
                .probabilities
                .iter()
                .all(|p| p.is_finite() && *p >= 0.0)
            && (sum - 1.0).abs() < 1e-6
    }

    /// The labels, most frequent first.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The probabilities, in label order.
    pub fn probabilities(&self) -> &[f64] {
        &self.probabilities
    }

    /// The index of `label`, if it is a category.
    pub fn index_of(&self, label: &str) -> Option<usize> {
        self.labels.iter().position(|known| known == label)
    }

    /// The middle of category `index`'s slice of `[0, 1]`.
    pub fn midpoint(&self, index: usize) -> f64 {
        let start: f64 = self.probabilities[..index].iter().sum();
        start + self.probabilities[index] / 2.0
    }

    /// The category whose slice contains `u`.
    pub fn category_at(&self, u: f64) -> usize {
        let mut cumulative = 0.0;
        for (index, probability) in self.probabilities.iter().enumerate() {
            cumulative += probability;
            if u < cumulative {
                return index;
            }
        }
        self.probabilities.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knots_never_reach_the_k_most_extreme_values() {
        let values: Vec<f64> = (1..=1000).map(f64::from).collect();
        let knots = QuantileKnots::fit(&values, 10).unwrap();
        assert!(knots.is_valid());
        assert_eq!(knots.knots()[0], 10.0);
        assert_eq!(knots.knots()[100], 991.0);
        assert!((knots.knots()[50] - 500.5).abs() < 1e-9);
        assert_eq!(knots.inverse_cdf(0.0), 10.0);
        assert!((knots.inverse_cdf(0.505) - 505.495).abs() < 1e-6);
        let outlier: Vec<f64> = (0..100).map(|i| if i == 0 { 1e9 } else { 1.0 }).collect();
        assert_eq!(QuantileKnots::fit(&outlier, 10).unwrap().knots()[100], 1.0);
        assert_eq!(QuantileKnots::fit(&values[..5], 10), None);
        assert_eq!(QuantileKnots::fit(&values[..18], 10), None);
        assert!(QuantileKnots::fit(&values[..19], 10)
            .is_some_and(|k| k.knots().iter().all(|v| *v == 10.0)));
    }

    #[test]
    fn categories_map_to_slices_of_the_unit_interval() {
        let marginal = CategoricalMarginal::fit(["b", "a", "a", "a"].into_iter()).unwrap();
        assert_eq!(marginal.labels(), ["a", "b"]);
        assert!(marginal.is_valid());
        assert_eq!(marginal.midpoint(0), 0.375);
        assert_eq!(marginal.midpoint(1), 0.875);
        assert_eq!(marginal.category_at(0.74), 0);
        assert_eq!(marginal.category_at(0.75), 1);
        assert_eq!(marginal.category_at(1.0), 1);
        assert_eq!(CategoricalMarginal::fit(std::iter::empty()), None);
    }
}
