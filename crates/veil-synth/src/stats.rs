//! Small statistics shared by the models and the metrics: the standard
//! normal CDF and quantile, rank-based normal scores and Pearson correlation
//! over pairwise-complete rows.

use statrs::function::erf::{erfc, erfc_inv};

/// Standard normal cumulative distribution function.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// Standard normal quantile; `p` is clamped to `[1e-12, 1 - 1e-12]`.
pub fn normal_quantile(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    -std::f64::consts::SQRT_2 * erfc_inv(2.0 * p)
}

/// Normal scores of the present values: `Φ⁻¹((r − ½) / n)` with `r` the
/// value's average 1-based rank among the `n` present values, so ties share
/// one score. Missing values stay missing.
pub fn normal_scores(values: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut order: Vec<(f64, usize)> = values
        .iter()
        .enumerate()
        .filter_map(|(row, value)| value.map(|v| (v, row)))
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let present = order.len() as f64;
    let mut scores = vec![None; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && order[end].0 == order[start].0 {
            end += 1;
        }
        let average_rank = (start + 1 + end) as f64 / 2.0;
        let score = normal_quantile((average_rank - 0.5) / present);
        for &(_, row) in &order[start..end] {
            scores[row] = Some(score);
        }
        start = end;
    }
    scores
}

/// Pearson correlation over the rows where both values are present; `None`
/// with fewer than two such rows or when either side is constant.
pub fn pearson(left: &[Option<f64>], right: &[Option<f64>]) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = left
        .iter()
        .zip(right)
        .filter_map(|(a, b)| Some(((*a)?, (*b)?)))
        .collect();
    if pairs.len() < 2 {
        return None;
    }
    let count = pairs.len() as f64;
    let mean_left = pairs.iter().map(|p| p.0).sum::<f64>() / count;
    let mean_right = pairs.iter().map(|p| p.1).sum::<f64>() / count;
    let (mut covariance, mut var_left, mut var_right) = (0.0, 0.0, 0.0);
    for (a, b) in &pairs {
        covariance += (a - mean_left) * (b - mean_right);
        var_left += (a - mean_left).powi(2);
        var_right += (b - mean_right).powi(2);
    }
    let scale = (var_left * var_right).sqrt();
    if scale.is_nan() || scale <= 1e-300 {
        return None;
    }
    Some((covariance / scale).clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_functions_invert_each_other() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-15);
        let cdf = normal_cdf(1.959_963_984_540_054);
        assert!((cdf - 0.975).abs() < 1e-10, "{cdf}");
        for p in [0.001, 0.2, 0.5, 0.9, 0.999] {
            assert!((normal_cdf(normal_quantile(p)) - p).abs() < 1e-10, "{p}");
        }
        assert!(normal_quantile(0.0).is_finite() && normal_quantile(1.0).is_finite());
    }

    #[test]
    fn ties_share_a_score_and_missing_stays_missing() {
        let scores = normal_scores(&[Some(1.0), None, Some(1.0), Some(5.0), Some(0.0)]);
        assert_eq!(scores[1], None);
        assert_eq!(scores[0], scores[2]);
        assert_eq!(scores[0], Some(0.0));
        assert!(scores[4].unwrap() < 0.0 && scores[3].unwrap() > 0.0);
    }

    #[test]
    fn pearson_uses_complete_pairs_and_refuses_constants() {
        let left = [Some(1.0), Some(2.0), None, Some(3.0)];
        let right = [Some(2.0), Some(4.0), Some(9.0), Some(6.0)];
        assert!((pearson(&left, &right).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(pearson(&left, &[Some(1.0); 4]), None);
        assert_eq!(pearson(&[Some(1.0)], &[Some(1.0)]), None);
    }
}
