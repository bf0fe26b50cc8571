//! A public log-scale grid and a differentially private, adaptively refined
//! histogram on it.
//!
//! Level `l` of the grid has `2^l` cells per octave either side of a centre
//! `c`: cell `(±, j)` holds the values `v` with `c ± v ≥ 0` and
//! `⌊2^l·log₂|v − c|⌋ = j`, for `|v − c|` from `2^o` (`o` = 0 for integers,
//! −20 for floats) to `2^61` (larger offsets join the outermost cell);
//! nearer the centre is the point cell `c`. Cell `j` of level `l` splits
//! into cells `2j` and `2j + 1` of level `l + 1`.
//!
//! The histogram starts with every level-0 cell and refines, level by level,
//! the cells whose noisy count clears a threshold. Each level counts every
//! present value in exactly one cell, so one replaced row changes a level's
//! counts by at most 2 in L1: Laplace noise of scale `2·L/ε` per level, `L`
//! levels, makes the whole histogram ε-DP. `L` depends on `n·ε` alone. Which cells are refined depends
//! only on earlier noisy counts (post-processing).

use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;

use super::dp::laplace;

/// Largest magnitude exponent: the grid reaches `2^61`.
const MAX_OCTAVE: i64 = 61;

/// Smallest magnitude exponent for floats (`2^−20`).
const MIN_FLOAT_OCTAVE: i64 = -20;

/// Most levels of refinement: the finest has `2^(LEVELS − 1)` = 64 cells
/// per octave (1.1 % wide).
pub(crate) const LEVELS: u32 = 7;

/// Rows of signal per unit of `n·ε` wanted for each extra level.
const ROWS_PER_LEVEL: f64 = 30.0;

/// Noise scales above `ln(candidates)` a noisy count must reach to be kept,
/// so an empty cell survives a level with probability about `e^−3 / 2`.
const THRESHOLD_MARGIN: f64 = 3.0;

/// A cell: its level, side of the centre (0 for the centre) and step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Cell {
    sign: i8,
    step: i64,
}

/// A public log-scale grid around `centre`.
pub(crate) struct LogGrid {
    centre: f64,
    integral: bool,
    min_octave: i64,
    levels: u32,
}

/// A cell of the finished histogram: `[low, high]` (the integers in it for
/// integral grids) and its noisy count.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Leaf {
    pub low: f64,
    pub high: f64,
    pub count: f64,
}

impl LogGrid {
    /// A grid around `centre`; integral grids hold whole numbers only. A
    /// column of `rows` rows (public) with budget `epsilon` is refined
    /// `⌊log₂(rows·ε / 30)⌋` levels deep (1 to [`LEVELS`]; all at ε = ∞),
    /// so each level's budget stays large enough to see dense cells.
    pub(crate) fn new(centre: f64, integral: bool, rows: usize, epsilon: Option<f64>) -> LogGrid {
        let levels = epsilon.map_or(LEVELS, |epsilon| {
            let depth = (rows as f64 * epsilon / ROWS_PER_LEVEL).log2().floor();
            depth.clamp(1.0, f64::from(LEVELS)) as u32
        });
        LogGrid {
            centre,
            integral,
            min_octave: if integral { 0 } else { MIN_FLOAT_OCTAVE },
            levels,
        }
    }

    /// `log₂|v − c|` and the side, or `None` for the centre cell.
    fn offset(&self, value: f64) -> Option<(i8, f64)> {
        let offset = value - self.centre;
        let size = offset.abs();
        // NaN offsets (never produced by a table) also land in the centre.
        if size.is_nan() || size < (self.min_octave as f64).exp2() {
            return None;
        }
        Some((if offset < 0.0 { -1 } else { 1 }, size.log2()))
    }

    fn cell(&self, offset: Option<(i8, f64)>, level: u32) -> Cell {
        let Some((sign, log)) = offset else {
            return Cell { sign: 0, step: 0 };
        };
        let per_octave = 1i64 << level;
        let step = ((log * per_octave as f64).floor() as i64)
            .clamp(self.min_octave * per_octave, MAX_OCTAVE * per_octave - 1);
        Cell { sign, step }
    }

    /// The values of `cell` at `level`; `None` for an integral cell that
    /// holds no integer.
    fn bounds(&self, cell: Cell, level: u32) -> Option<(f64, f64)> {
        if cell.sign == 0 {
            return Some((self.centre, self.centre));
        }
        let per_octave = (1i64 << level) as f64;
        let inner = (cell.step as f64 / per_octave).exp2();
        let outer = ((cell.step + 1) as f64 / per_octave).exp2();
        let (low, high) = if cell.sign > 0 {
            (self.centre + inner, self.centre + outer)
        } else {
            (self.centre - outer, self.centre - inner)
        };
        if !self.integral {
            return Some((low, high));
        }
        // Positive cells are [low, high), negative ones (low, high].
        let (low, high) = if cell.sign > 0 {
            (low.ceil(), high.ceil() - 1.0)
        } else {
            (low.floor() + 1.0, high.floor())
        };
        (low <= high).then_some((low, high))
    }

    fn splittable(&self, cell: Cell, level: u32) -> bool {
        cell.sign != 0
            && level + 1 < self.levels
            && self
                .bounds(cell, level)
                .is_some_and(|(low, high)| !self.integral || high > low)
    }

    /// The noisy histogram of the present `values` with budget `epsilon`
    /// (`None`: exact counts). Cells below `min_count` (and, with noise, the
    /// noise threshold) are dropped; leaves come lowest first.
    pub(crate) fn histogram(
        &self,
        values: &[f64],
        min_count: f64,
        epsilon: Option<f64>,
        rng: &mut ChaCha8Rng,
    ) -> Vec<Leaf> {
        let offsets: Vec<Option<(i8, f64)>> = values.iter().map(|&v| self.offset(v)).collect();
        let scale = epsilon.map(|e| 2.0 * f64::from(self.levels) / e);
        let mut candidates: Vec<Cell> = std::iter::once(Cell { sign: 0, step: 0 })
            .chain([-1i8, 1].into_iter().flat_map(|sign| {
                (self.min_octave..MAX_OCTAVE).map(move |step| Cell { sign, step })
            }))
            .filter(|&cell| self.bounds(cell, 0).is_some())
            .collect();
        candidates.sort();
        let mut leaves = Vec::new();
        // Kept cells of the previous level with their noisy counts.
        let mut parents: Vec<(Cell, f64)> = Vec::new();
        for level in 0..self.levels {
            let mut counts: BTreeMap<Cell, f64> =
                candidates.iter().map(|&cell| (cell, 0.0)).collect();
            for offset in &offsets {
                if let Some(count) = counts.get_mut(&self.cell(*offset, level)) {
                    *count += 1.0;
                }
            }
            let threshold = match scale {
                None => min_count,
                Some(scale) => {
                    for count in counts.values_mut() {
                        *count += laplace(scale, rng);
                    }
                    let noise_floor = scale * ((counts.len() as f64).ln() + THRESHOLD_MARGIN);
                    noise_floor.max(min_count)
                }
            };
            let kept: BTreeMap<Cell, f64> = counts
                .iter()
                .filter(|(_, count)| **count >= threshold)
                .map(|(cell, count)| (*cell, *count))
                .collect();
            // A parent none of whose children is kept stays whole if its
            // children's noisy counts confirm it (an empty cell that passed
            // the threshold by chance rarely passes twice); a child that is
            // not kept gets what the kept children leave of the parent.
            for &(parent, parent_count) in &parents {
                let children = [parent.step * 2, parent.step * 2 + 1].map(|step| Cell {
                    sign: parent.sign,
                    step,
                });
                let kept_mass: f64 = children.iter().filter_map(|c| kept.get(c)).sum();
                if kept_mass == 0.0 {
                    let confirmed: f64 = children.iter().filter_map(|c| counts.get(c)).sum();
                    if confirmed >= threshold {
                        self.push_leaf(&mut leaves, parent, level - 1, parent_count);
                    }
                    continue;
                }
                let rest = parent_count - kept_mass;
                for child in children {
                    if !kept.contains_key(&child) && rest >= min_count {
                        self.push_leaf(&mut leaves, child, level, rest);
                    }
                }
            }
            parents.clear();
            candidates.clear();
            for (cell, count) in kept {
                if self.splittable(cell, level) {
                    parents.push((cell, count));
                    for step in [cell.step * 2, cell.step * 2 + 1] {
                        let child = Cell {
                            sign: cell.sign,
                            step,
                        };
                        if self.bounds(child, level + 1).is_some() {
                            candidates.push(child);
                        }
                    }
                } else {
                    self.push_leaf(&mut leaves, cell, level, count);
                }
            }
            if candidates.is_empty() {
                break;
            }
        }
        leaves.sort_by(|a, b| a.low.total_cmp(&b.low));
        leaves
    }

    fn push_leaf(&self, leaves: &mut Vec<Leaf>, cell: Cell, level: u32, count: f64) {
        if let (true, Some((low, high))) = (count > 0.0, self.bounds(cell, level)) {
            leaves.push(Leaf { low, high, count });
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn cells_hold_their_values_at_every_level() {
        let grid = LogGrid::new(0.0, true, 100, None);
        for level in 0..LEVELS {
            for value in [-1000.0, -3.0, -1.0, 0.0, 1.0, 2.0, 3.0, 39.0, 1e6, 1e18] {
                let cell = grid.cell(grid.offset(value), level);
                let (low, high) = grid.bounds(cell, level).unwrap();
                assert!(low <= value && value <= high, "{value} in [{low}, {high}]");
            }
        }
        let top = grid.cell(grid.offset(9e18), 3);
        assert!(grid.bounds(top, 3).unwrap().1 <= 2f64.powi(61));
        let floats = LogGrid::new(0.0, false, 100, None);
        assert_eq!(floats.offset(1e-9), None);
        let (low, high) = floats
            .bounds(floats.cell(floats.offset(0.3), 2), 2)
            .unwrap();
        assert!(low <= 0.3 && 0.3 < high && high / low < 1.2);
    }

    #[test]
    fn exact_histograms_refine_dense_cells_and_drop_rare_ones() {
        // 40 is a spike; 1e12 occurs once.
        let mut values: Vec<f64> = (0..1000).map(|i| f64::from(20 + i % 50)).collect();
        values.extend([40.0; 2000]);
        values.push(1e12);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let leaves = LogGrid::new(0.0, true, 3001, None).histogram(&values, 5.0, None, &mut rng);
        let spike = leaves
            .iter()
            .find(|l| l.low <= 40.0 && 40.0 <= l.high)
            .unwrap();
        assert_eq!((spike.low, spike.high, spike.count), (40.0, 40.0, 2020.0));
        assert!(leaves.iter().all(|l| l.high < 100.0), "{leaves:?}");
        let total: f64 = leaves.iter().map(|l| l.count).sum();
        assert_eq!(total, 3000.0);
        assert!(leaves.windows(2).all(|w| w[0].high < w[1].low));
    }

    #[test]
    fn noisy_histograms_stay_near_the_data() {
        let values: Vec<f64> = (0..20_000).map(|i| f64::from(20 + i % 50)).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let leaves = LogGrid::new(0.0, true, 20_000, Some(0.5)).histogram(
            &values,
            10.0,
            Some(0.5),
            &mut rng,
        );
        assert!(!leaves.is_empty());
        for leaf in &leaves {
            assert!(leaf.low >= 10.0 && leaf.high <= 140.0, "{leaf:?}");
        }
        let total: f64 = leaves.iter().map(|l| l.count).sum();
        assert!((total - 20_000.0).abs() < 2_000.0, "{total}");
    }
}
