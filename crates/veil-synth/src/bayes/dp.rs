//! The differential-privacy primitives of the `bayes-net` model: Laplace
//! noise, the exponential mechanism and the sensitivity of mutual
//! information. `None` as an ε means ∞: no noise, exact choices.
//!
//! Noise comes from a seeded ChaCha8 stream and `f64` arithmetic, so the
//! usual floating-point caveat applies (Mironov, CCS 2012): the guarantees
//! are those of the ideal real-valued mechanisms.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::Exp1;

/// A draw from the Laplace distribution with mean 0 and scale `scale`
/// (density `exp(−|x| / scale) / (2·scale)`), as an exponential magnitude
/// with a random sign.
pub(crate) fn laplace(scale: f64, rng: &mut ChaCha8Rng) -> f64 {
    let magnitude: f64 = rng.sample(Exp1);
    let sign = if rng.gen::<bool>() { 1.0 } else { -1.0 };
    sign * magnitude * scale
}

/// Picks an index of `scores` with probability `∝ exp(ε·score / (2·Δ))`,
/// `Δ = sensitivity` being the most one individual can change a score; at
/// `ε = ∞` the first best score wins. `None` when there is no candidate.
pub(crate) fn exponential_mechanism(
    scores: &[f64],
    epsilon: Option<f64>,
    sensitivity: f64,
    rng: &mut ChaCha8Rng,
) -> Option<usize> {
    let best = scores
        .iter()
        .copied()
        .filter(|s| s.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    if !best.is_finite() {
        return None;
    }
    let Some(epsilon) = epsilon else {
        return scores.iter().position(|&score| score == best);
    };
    let factor = epsilon / (2.0 * sensitivity.max(f64::MIN_POSITIVE));
    let weights: Vec<f64> = scores
        .iter()
        .map(|&score| {
            if score.is_finite() {
                ((score - best) * factor).exp()
            } else {
                0.0
            }
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let mut remaining = rng.gen::<f64>() * total;
    for (index, weight) in weights.iter().enumerate() {
        if remaining < *weight {
            return Some(index);
        }
        remaining -= weight;
    }
    weights.iter().rposition(|&weight| weight > 0.0)
}

/// The sensitivity (in bits) of the mutual information `I(X; Π)` of the
/// empirical distribution of `n` rows when one row is replaced (Zhang et
/// al., PrivBayes, Lemma 4.1, general case, which also bounds the binary
/// one): `(2/n)·log₂((n+1)/2) + ((n−1)/n)·log₂((n+1)/(n−1))`; `n < 2` is
/// treated as 2.
pub(crate) fn mutual_information_sensitivity(rows: usize) -> f64 {
    let n = rows.max(2) as f64;
    2.0 / n * ((n + 1.0) / 2.0).log2() + (n - 1.0) / n * ((n + 1.0) / (n - 1.0)).log2()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn laplace_noise_has_the_right_scale() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let scale = 3.0;
        let draws: Vec<f64> = (0..200_000).map(|_| laplace(scale, &mut rng)).collect();
        let count = draws.len() as f64;
        let mean = draws.iter().sum::<f64>() / count;
        let mean_absolute = draws.iter().map(|x| x.abs()).sum::<f64>() / count;
        let variance = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / count;
        // E|X| = b, Var X = 2b², median 0.
        assert!(mean.abs() < 0.05, "{mean}");
        assert!((mean_absolute - scale).abs() < 0.05, "{mean_absolute}");
        assert!(
            (variance / (2.0 * scale * scale) - 1.0).abs() < 0.03,
            "{variance}"
        );
        let beyond = draws.iter().filter(|x| x.abs() > scale * 2.0).count() as f64 / count;
        assert!(
            (beyond - (-2.0f64).exp()).abs() < 0.005,
            "P(|X| > 2b) = {beyond}"
        );
    }

    #[test]
    fn exponential_mechanism_prefers_the_best_candidate() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let scores = [0.1, 0.9, 0.5, 0.85];
        assert_eq!(exponential_mechanism(&scores, None, 1.0, &mut rng), Some(1));
        let picks = |epsilon: f64, rng: &mut ChaCha8Rng| {
            (0..2000)
                .filter(|_| exponential_mechanism(&scores, Some(epsilon), 0.01, rng) == Some(1))
                .count()
        };
        assert_eq!(picks(1000.0, &mut rng), 2000, "Δ = 0.01, ε = 1000");
        let uniform_ish = picks(1e-6, &mut rng);
        assert!((400..600).contains(&uniform_ish), "{uniform_ish}");
        let middle = picks(1.0, &mut rng);
        // weights ∝ exp(50·score): the best (0.9) against 0.85 is e^2.5 : 1.
        let expected = 2000.0 / (1.0 + (-2.5f64).exp() + (-20.0f64).exp() + (-40.0f64).exp());
        assert!(
            (middle as f64 - expected).abs() < 60.0,
            "{middle} vs {expected}"
        );
        assert_eq!(exponential_mechanism(&[], Some(1.0), 1.0, &mut rng), None);
        assert_eq!(
            exponential_mechanism(&[f64::NAN, 2.0], Some(1.0), 1.0, &mut rng),
            Some(1)
        );
    }

    #[test]
    fn mutual_information_sensitivity_shrinks_with_rows() {
        let small = mutual_information_sensitivity(10);
        let large = mutual_information_sensitivity(10_000);
        assert!(small > large && large > 0.0);
        // (2/n) log2((n+1)/2) dominates: about 2·log2(n)/n.
        assert!((large - 0.002_746).abs() < 1e-6, "{large}");
        assert!(mutual_information_sensitivity(0).is_finite());
    }
}
