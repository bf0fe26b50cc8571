//! Split search of [`super`]: histograms of a node's rows per feature and
//! the best prefix of their ordered bins.

use super::{CartNode, Feature, Grower, Target};

/// The best split of a node found so far.
pub(super) struct Split {
    /// The children's summed cost.
    pub(super) child_cost: f64,
    /// The feature's position in the grower's feature list.
    pub(super) feature: usize,
    /// Bins sent left (by bin index of the feature).
    pub(super) left_bins: Vec<bool>,
    /// The split node, children not yet set.
    pub(super) node: CartNode,
}

impl Grower<'_> {
    /// The split of `rows` (with target statistics `total`) with the
    /// lowest child cost, if any split keeps `min_leaf` rows on each side.
    pub(super) fn best_split(&self, rows: &[u32], total: &[f64]) -> Option<Split> {
        let mut best: Option<Split> = None;
        for (position, (column, feature)) in self.features.iter().enumerate() {
            let bin_count = match feature {
                Feature::Binned { edges, .. } => edges.len() + 2,
                Feature::Codes { labels, .. } => labels + 1,
            };
            let mut histogram = vec![0.0; bin_count * self.width];
            for &row in rows {
                let bin = match feature {
                    Feature::Binned { bins, .. } => bins[row as usize] as usize,
                    Feature::Codes { codes, .. } => codes[row as usize] as usize,
                };
                let slot = &mut histogram[bin * self.width..(bin + 1) * self.width];
                self.add(slot, row as usize);
            }
            let candidate = match feature {
                Feature::Binned { edges, .. } => {
                    self.numeric_split(&histogram, total, edges, *column, position)
                }
                Feature::Codes { labels, .. } => {
                    self.label_split(&histogram, total, *labels, *column, position)
                }
            };
            if let Some(candidate) = candidate {
                if best
                    .as_ref()
                    .is_none_or(|b| candidate.child_cost < b.child_cost - 1e-12)
                {
                    best = Some(candidate);
                }
            }
        }
        best
    }

    fn bin<'h>(&self, histogram: &'h [f64], bin: usize) -> &'h [f64] {
        &histogram[bin * self.width..(bin + 1) * self.width]
    }

    /// Scans prefixes of `order` (after the optional `preset` bin, always
    /// left); returns the lowest child cost and how many of `order` go left.
    fn scan(
        &self,
        histogram: &[f64],
        total: &[f64],
        order: &[usize],
        preset: Option<usize>,
    ) -> Option<(f64, usize)> {
        let min_leaf = self.rules.min_leaf as f64;
        let total_count = self.count(total);
        let mut left = vec![0.0; self.width];
        let mut right = vec![0.0; self.width];
        if let Some(bin) = preset {
            add_into(&mut left, self.bin(histogram, bin));
        }
        let mut best: Option<(f64, usize)> = None;
        for (taken, &bin) in order.iter().enumerate() {
            // Without a preset bin, the left side needs at least one bin.
            if taken > 0 || preset.is_some() {
                self.consider(
                    &left,
                    total,
                    &mut right,
                    total_count,
                    min_leaf,
                    taken,
                    &mut best,
                );
            }
            add_into(&mut left, self.bin(histogram, bin));
        }
        best
    }

    #[allow(clippy::too_many_arguments)]
    fn consider(
        &self,
        left: &[f64],
        total: &[f64],
        right: &mut [f64],
        total_count: f64,
        min_leaf: f64,
        taken: usize,
        best: &mut Option<(f64, usize)>,
    ) {
        let left_count = self.count(left);
        if left_count < min_leaf || total_count - left_count < min_leaf {
            return;
        }
        for ((r, t), l) in right.iter_mut().zip(total).zip(left) {
            *r = t - l;
        }
        let cost = self.cost(left) + self.cost(right);
        if best.is_none_or(|(b, _)| cost < b - 1e-12) {
            *best = Some((cost, taken));
        }
    }

    fn numeric_split(
        &self,
        histogram: &[f64],
        total: &[f64],
        edges: &[f64],
        column: usize,
        position: usize,
    ) -> Option<Split> {
        let missing_bin = edges.len() + 1;
        let order: Vec<usize> = (0..missing_bin)
            .filter(|&bin| self.count(self.bin(histogram, bin)) > 0.0)
            .collect();
        let missing_rows = self.count(self.bin(histogram, missing_bin));
        let mut best: Option<(f64, usize, bool)> = None;
        if let Some((cost, taken)) = self.scan(histogram, total, &order, None) {
            best = Some((cost, taken, false));
        }
        if missing_rows > 0.0 {
            if let Some((cost, taken)) = self.scan(histogram, total, &order, Some(missing_bin)) {
                if best.is_none_or(|(b, _, _)| cost < b - 1e-12) {
                    best = Some((cost, taken, true));
                }
            }
        }
        let (child_cost, taken, missing_left) = best?;
        // The last occupied bin sent left gives the threshold; empty bins
        // after it go right.
        let threshold = taken.checked_sub(1).map(|i| order[i]).map(|bin| edges[bin]);
        let mut left_bins = vec![false; missing_bin + 1];
        if let Some(last) = taken.checked_sub(1).map(|i| order[i]) {
            left_bins[..=last].iter_mut().for_each(|b| *b = true);
        }
        // With no missing row here, missing values go to the larger side.
        let missing_left = if missing_rows > 0.0 {
            missing_left
        } else {
            let left_count: f64 = order[..taken]
                .iter()
                .map(|&bin| self.count(self.bin(histogram, bin)))
                .sum();
            left_count * 2.0 > self.count(total)
        };
        left_bins[missing_bin] = missing_left;
        Some(Split {
            child_cost,
            feature: position,
            left_bins,
            node: CartNode::Threshold {
                feature: column,
                threshold,
                missing_left,
                left: 0,
                right: 0,
            },
        })
    }

    fn label_split(
        &self,
        histogram: &[f64],
        total: &[f64],
        labels: usize,
        column: usize,
        position: usize,
    ) -> Option<Split> {
        let present: Vec<usize> = (0..=labels)
            .filter(|&code| self.count(self.bin(histogram, code)) > 0.0)
            .collect();
        if present.len() < 2 {
            return None;
        }
        // One sort key per code and ordering: the mean for regression, the
        // share of each of the node's two most frequent classes otherwise.
        let key_sets: Vec<Vec<f64>> = match self.target {
            Target::Values { .. } => vec![(0..=labels)
                .map(|code| {
                    let s = self.bin(histogram, code);
                    if s[1] > 0.0 {
                        s[2] / s[1]
                    } else {
                        f64::MAX
                    }
                })
                .collect()],
            Target::Classes { .. } => {
                let mut classes: Vec<usize> = (0..total.len()).collect();
                classes.sort_by(|a, b| total[*b].total_cmp(&total[*a]).then(a.cmp(b)));
                classes
                    .into_iter()
                    .take(2)
                    .map(|class| {
                        (0..=labels)
                            .map(|code| {
                                let s = self.bin(histogram, code);
                                s[class] / s.iter().sum::<f64>().max(1.0)
                            })
                            .collect()
                    })
                    .collect()
            }
        };
        let mut best: Option<(f64, Vec<usize>, usize)> = None;
        for keys in key_sets {
            let mut order = present.clone();
            order.sort_by(|a, b| keys[*a].total_cmp(&keys[*b]).then(a.cmp(b)));
            if let Some((cost, taken)) = self.scan(histogram, total, &order, None) {
                if best.as_ref().is_none_or(|(b, _, _)| cost < b - 1e-12) {
                    best = Some((cost, order, taken));
                }
            }
        }
        let (child_cost, order, taken) = best?;
        let mut left_bins = vec![false; labels + 1];
        for &code in &order[..taken] {
            left_bins[code] = true;
        }
        // Codes not seen in this node go to the larger side.
        let left_count: f64 = order[..taken]
            .iter()
            .map(|&code| self.count(self.bin(histogram, code)))
            .sum();
        if left_count * 2.0 > self.count(total) {
            for (code, goes_left) in left_bins.iter_mut().enumerate() {
                if !present.contains(&code) {
                    *goes_left = true;
                }
            }
        }
        let left_codes = (0..=labels as u32)
            .filter(|&code| left_bins[code as usize])
            .collect();
        Some(Split {
            child_cost,
            feature: position,
            left_bins,
            node: CartNode::Categories {
                feature: column,
                left_codes,
                left: 0,
                right: 0,
            },
        })
    }
}

fn add_into(sum: &mut [f64], addition: &[f64]) {
    for (s, a) in sum.iter_mut().zip(addition) {
        *s += a;
    }
}
