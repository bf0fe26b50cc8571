//! Growing one CART tree: a classification tree (Gini) for a label target
//! or a regression tree (squared error) for a numeric one, over binned
//! numeric features and category-coded label features.
//!
//! Splits are found on histograms: a numeric feature's values fall into at
//! most `bins` quantile bins plus a missing bin, a label feature's codes are
//! its bins (missing is a code of its own). Numeric bins are scanned in
//! order, with the missing bin tried on either side; label bins are sorted
//! by the target statistic (the mean for regression, the share of one of the
//! node's two most frequent classes for classification) and the sorted order
//! is scanned. A numeric target's cost also counts its missing indicator's
//! squared error, so missingness is split on like a value.

use serde::{Deserialize, Serialize};

use split::Split;

/// One node of a fitted tree; node 0 is the root and children always have
/// larger indices than their parent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "node", rename_all = "kebab-case")]
pub enum CartNode {
    /// Split on a numeric column: present values `≤ threshold` go left
    /// (none do if `threshold` is `None`), missing values by `missing_left`.
    Threshold {
        /// The feature column's index in the output order.
        feature: usize,
        /// The largest value sent left.
        threshold: Option<f64>,
        /// Whether missing values go left.
        missing_left: bool,
        /// The left child's node index.
        left: usize,
        /// The right child's node index.
        right: usize,
    },
    /// Split on a label column: the listed codes go left (code = number of
    /// labels is "missing").
    Categories {
        /// The feature column's index in the output order.
        feature: usize,
        /// Codes sent left, ascending.
        left_codes: Vec<u32>,
        /// The left child's node index.
        left: usize,
        /// The right child's node index.
        right: usize,
    },
    /// A leaf of a label target: `[code, count]` pairs of its training rows.
    Classes {
        /// Donor counts per code (code = number of labels is "missing").
        counts: Vec<[u32; 2]>,
    },
    /// A leaf of a numeric target: its training rows' values.
    Values {
        /// Present donor values (clamped to the column's bounds), ascending.
        values: Vec<f64>,
        /// Number of donor rows with a missing value.
        missing: u32,
        /// Standard deviation of the Gaussian jitter added when smoothing.
        bandwidth: f64,
    },
}

/// A feature column as the tree sees it.
pub enum Feature<'a> {
    /// Numeric: per row a bin in `0..=edges.len()`, or `edges.len() + 1`
    /// when missing; bin `b` holds values in `(edges[b−1], edges[b]]`.
    Binned {
        /// Bin per row.
        bins: &'a [u8],
        /// Ascending upper bin edges.
        edges: &'a [f64],
    },
    /// Labels: per row a code in `0..=labels`, `labels` meaning missing.
    Codes {
        /// Code per row.
        codes: &'a [u32],
        /// Number of labels (the missing code).
        labels: usize,
    },
}

/// The target column.
pub enum Target<'a> {
    /// Labels, coded as in [`Feature::Codes`].
    Classes {
        /// Code per row.
        codes: &'a [u32],
        /// Number of labels (the missing code).
        labels: usize,
    },
    /// Numbers.
    Values {
        /// The value per row (clamped), `None` when missing.
        values: &'a [Option<f64>],
        /// The standardised value per row, `NaN` when missing.
        standardized: &'a [f64],
        /// Whether leaves get a smoothing bandwidth.
        smoothing: bool,
    },
}

/// Stopping rules.
#[derive(Clone, Copy, Debug)]
pub struct GrowRules {
    /// Minimum rows in a leaf.
    pub min_leaf: usize,
    /// Maximum depth (the root has depth 0).
    pub max_depth: usize,
    /// Minimum cost decrease of a split, as a share of the root's cost.
    pub complexity: f64,
}

/// Grows a tree predicting `target` from `features` (`(column index,
/// feature)` pairs) over `rows` training rows.
pub fn grow(
    features: &[(usize, Feature)],
    target: &Target,
    rows: usize,
    rules: GrowRules,
) -> Vec<CartNode> {
    let width = match target {
        Target::Classes { labels, .. } => labels + 1,
        Target::Values { .. } => 4,
    };
    let grower = Grower {
        features,
        target,
        rules,
        width,
        root_cost: 0.0,
    };
    let all: Vec<u32> = (0..rows as u32).collect();
    let root_cost = grower.cost(&grower.stats(&all));
    let grower = Grower {
        root_cost,
        ..grower
    };
    let mut nodes = Vec::new();
    grower.grow_node(all, 0, &mut nodes);
    nodes
}

struct Grower<'a> {
    features: &'a [(usize, Feature<'a>)],
    target: &'a Target<'a>,
    rules: GrowRules,
    width: usize,
    root_cost: f64,
}

impl Grower<'_> {
    /// Adds row `row`'s target statistics to `stats`.
    fn add(&self, stats: &mut [f64], row: usize) {
        match self.target {
            Target::Classes { codes, .. } => stats[codes[row] as usize] += 1.0,
            Target::Values { standardized, .. } => {
                let z = standardized[row];
                stats[0] += 1.0;
                if !z.is_nan() {
                    stats[1] += 1.0;
                    stats[2] += z;
                    stats[3] += z * z;
                }
            }
        }
    }

    fn stats(&self, rows: &[u32]) -> Vec<f64> {
        let mut stats = vec![0.0; self.width];
        for &row in rows {
            self.add(&mut stats, row as usize);
        }
        stats
    }

    /// Gini impurity times rows, or squared error plus the missing
    /// indicator's squared error.
    fn cost(&self, stats: &[f64]) -> f64 {
        match self.target {
            Target::Classes { .. } => {
                let n: f64 = stats.iter().sum();
                if n <= 0.0 {
                    return 0.0;
                }
                n - stats.iter().map(|c| c * c).sum::<f64>() / n
            }
            Target::Values { .. } => {
                let (n, present, sum, squares) = (stats[0], stats[1], stats[2], stats[3]);
                let error = if present > 0.0 {
                    (squares - sum * sum / present).max(0.0)
                } else {
                    0.0
                };
                let indicator = if n > 0.0 {
                    present * (n - present) / n
                } else {
                    0.0
                };
                error + indicator
            }
        }
    }

    fn count(&self, stats: &[f64]) -> f64 {
        match self.target {
            Target::Classes { .. } => stats.iter().sum(),
            Target::Values { .. } => stats[0],
        }
    }

    fn grow_node(&self, rows: Vec<u32>, depth: usize, nodes: &mut Vec<CartNode>) -> usize {
        let index = nodes.len();
        nodes.push(CartNode::Values {
            values: Vec::new(),
            missing: 0,
            bandwidth: 0.0,
        });
        let stats = self.stats(&rows);
        let cost = self.cost(&stats);
        let splittable = depth < self.rules.max_depth
            && rows.len() >= 2 * self.rules.min_leaf
            && cost > 1e-9 * self.root_cost.max(1e-300);
        let best = if splittable {
            self.best_split(&rows, &stats)
        } else {
            None
        };
        let threshold = (self.rules.complexity * self.root_cost).max(1e-12);
        match best {
            Some(split) if cost - split.child_cost > threshold => {
                let (left_rows, right_rows) = self.partition(rows, &split);
                let left = self.grow_node(left_rows, depth + 1, nodes);
                let right = self.grow_node(right_rows, depth + 1, nodes);
                nodes[index] = match split.node {
                    CartNode::Threshold {
                        feature,
                        threshold,
                        missing_left,
                        ..
                    } => CartNode::Threshold {
                        feature,
                        threshold,
                        missing_left,
                        left,
                        right,
                    },
                    CartNode::Categories {
                        feature,
                        left_codes,
                        ..
                    } => CartNode::Categories {
                        feature,
                        left_codes,
                        left,
                        right,
                    },
                    leaf => leaf,
                };
            }
            _ => nodes[index] = self.leaf(&rows, &stats),
        }
        index
    }

    fn partition(&self, rows: Vec<u32>, split: &Split) -> (Vec<u32>, Vec<u32>) {
        let bin_of = |row: usize| match &self.features[split.feature].1 {
            Feature::Binned { bins, .. } => bins[row] as usize,
            Feature::Codes { codes, .. } => codes[row] as usize,
        };
        rows.into_iter()
            .partition(|&row| split.left_bins[bin_of(row as usize)])
    }

    fn leaf(&self, rows: &[u32], stats: &[f64]) -> CartNode {
        match self.target {
            Target::Classes { .. } => CartNode::Classes {
                counts: stats
                    .iter()
                    .enumerate()
                    .filter(|(_, count)| **count > 0.0)
                    .map(|(code, count)| [code as u32, *count as u32])
                    .collect(),
            },
            Target::Values {
                values, smoothing, ..
            } => {
                let mut present: Vec<f64> = rows
                    .iter()
                    .filter_map(|&row| values[row as usize])
                    .collect();
                present.sort_by(f64::total_cmp);
                let missing = (rows.len() - present.len()) as u32;
                let bandwidth = if *smoothing {
                    silverman_bandwidth(&present)
                } else {
                    0.0
                };
                CartNode::Values {
                    values: present,
                    missing,
                    bandwidth,
                }
            }
        }
    }
}

/// Silverman's rule of thumb, `0.9 · min(sd, IQR / 1.34) · n^(−1/5)` (the
/// standard deviation alone when the IQR is zero); zero for fewer than two
/// values or a constant leaf. `values` must be sorted.
pub fn silverman_bandwidth(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 2 {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let sd = variance.sqrt();
    let quantile = |p: f64| {
        let position = p * (n - 1) as f64;
        let below = position.floor() as usize;
        let above = (below + 1).min(n - 1);
        values[below] + (position - below as f64) * (values[above] - values[below])
    };
    let iqr = quantile(0.75) - quantile(0.25);
    let spread = if iqr > 0.0 { sd.min(iqr / 1.34) } else { sd };
    let bandwidth = 0.9 * spread * (n as f64).powf(-0.2);
    if bandwidth.is_finite() {
        bandwidth
    } else {
        0.0
    }
}

#[path = "cart_split.rs"]
mod split;

#[cfg(test)]
#[path = "cart_tree_tests.rs"]
mod tests;
