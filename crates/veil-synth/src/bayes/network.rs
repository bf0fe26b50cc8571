//! Learning the network: the greedy PrivBayes structure search with the
//! exponential mechanism over mutual information, and the noisy conditional
//! distributions.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::dp::{exponential_mechanism, laplace, mutual_information_sensitivity};
use super::BayesNode;
use crate::error::{Result, SynthError};

/// Most cells of any joint table, whatever ε: bounds memory and time.
pub(crate) const MAX_TABLE_CELLS: usize = 1 << 20;

/// A column and its parents (column indices).
pub(crate) type Choice = (usize, Vec<usize>);

/// The subsets of `items` with at most `size` elements, in a fixed order.
fn subsets(items: &[usize], size: usize) -> Vec<Vec<usize>> {
    let mut result = vec![Vec::new()];
    for &item in items {
        let extended: Vec<Vec<usize>> = result
            .iter()
            .filter(|subset| subset.len() < size)
            .map(|subset| {
                let mut subset = subset.clone();
                subset.push(item);
                subset
            })
            .collect();
        result.extend(extended);
    }
    result
}

/// Cells of the joint table of `child` and `parents`, or `None` beyond
/// [`MAX_TABLE_CELLS`].
fn table_cells(counts: &[usize], child: usize, parents: &[usize]) -> Option<usize> {
    parents
        .iter()
        .try_fold(counts[child], |cells, &parent| {
            cells.checked_mul(counts[parent])
        })
        .filter(|&cells| cells <= MAX_TABLE_CELLS)
}

/// The joint counts of `parents` (first most significant) and `child`,
/// one row of `counts[child]` cells per parent configuration.
fn joint_counts(
    states: &[Vec<u32>],
    counts: &[usize],
    child: usize,
    parents: &[usize],
) -> Vec<f64> {
    let cells = table_cells(counts, child, parents).unwrap_or(0);
    let mut joint = vec![0.0; cells];
    if cells == 0 {
        return joint;
    }
    for row in 0..states[child].len() {
        let configuration = parents.iter().fold(0usize, |index, &parent| {
            index * counts[parent] + states[parent][row] as usize
        });
        joint[configuration * counts[child] + states[child][row] as usize] += 1.0;
    }
    joint
}

/// The score of a candidate: the mutual information in bits between
/// `child` and its parents' joint configuration, less the Miller–Madow
/// estimate of its bias, `(|X| − 1)(|Π| − 1) / (2·n·ln 2)`. The correction
/// depends only on domain sizes and `n`, both public, so the sensitivity is
/// that of mutual information; it keeps large, sparse tables from winning
/// on noise.
fn score(states: &[Vec<u32>], counts: &[usize], child: usize, parents: &[usize]) -> f64 {
    let rows = states.first().map_or(0, Vec::len).max(1) as f64;
    let configurations: f64 = parents.iter().map(|&p| counts[p] as f64).product();
    let bias = (counts[child] as f64 - 1.0) * (configurations - 1.0)
        / (2.0 * rows * std::f64::consts::LN_2);
    mutual_information(states, counts, child, parents) - bias
}

/// Mutual information in bits between `child` and the parents' joint
/// configuration, from exact counts.
fn mutual_information(
    states: &[Vec<u32>],
    counts: &[usize],
    child: usize,
    parents: &[usize],
) -> f64 {
    if parents.is_empty() {
        return 0.0;
    }
    let width = counts[child];
    let joint = joint_counts(states, counts, child, parents);
    let total: f64 = joint.iter().sum();
    if total == 0.0 || width == 0 {
        return 0.0;
    }
    let mut child_totals = vec![0.0; width];
    for row in joint.chunks(width) {
        for (sum, count) in child_totals.iter_mut().zip(row) {
            *sum += count;
        }
    }
    let mut information = 0.0;
    for row in joint.chunks(width) {
        let row_total: f64 = row.iter().sum();
        for (count, child_total) in row.iter().zip(&child_totals) {
            if *count > 0.0 {
                information += count / total * (count * total / (row_total * child_total)).log2();
            }
        }
    }
    information.max(0.0)
}

/// Chooses the network greedily: a uniformly drawn first column, then
/// `d − 1` exponential-mechanism picks of (column, parent set) with
/// `epsilon / (d − 1)` each. Parent sets have at most `degree` columns and,
/// when `max_cells` is given, joint tables of at most that many cells.
pub(crate) fn learn_structure(
    states: &[Vec<u32>],
    counts: &[usize],
    degree: usize,
    epsilon: Option<f64>,
    max_cells: Option<f64>,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Choice>> {
    let columns = counts.len();
    if columns == 0 {
        return Err(SynthError::Model("no column to model".into()));
    }
    let rows = states.first().map_or(0, Vec::len);
    let sensitivity = mutual_information_sensitivity(rows);
    let step_epsilon = epsilon.map(|e| e / columns.saturating_sub(1).max(1) as f64);
    let first = rng.gen_range(0..columns);
    let mut chosen = vec![first];
    let mut network: Vec<Choice> = vec![(first, Vec::new())];
    while chosen.len() < columns {
        let parent_sets = subsets(&chosen, degree);
        let candidates: Vec<Choice> = (0..columns)
            .filter(|column| !chosen.contains(column))
            .flat_map(|child| {
                parent_sets
                    .iter()
                    .filter(move |parents| {
                        parents.is_empty()
                            || table_cells(counts, child, parents).is_some_and(|cells| {
                                max_cells.is_none_or(|limit| cells as f64 <= limit)
                            })
                    })
                    .map(move |parents| (child, parents.clone()))
            })
            .collect();
        let scores: Vec<f64> = candidates
            .par_iter()
            .map(|(child, parents)| score(states, counts, *child, parents))
            .collect();
        let pick = exponential_mechanism(&scores, step_epsilon, sensitivity, rng)
            .ok_or_else(|| SynthError::Model("no candidate parent set".into()))?;
        let (child, parents) = candidates[pick].clone();
        chosen.push(child);
        network.push((child, parents));
    }
    Ok(network)
}

/// Normalises a non-negative vector; `None` if it sums to zero.
fn normalised(values: &[f64]) -> Option<Vec<f64>> {
    let total: f64 = values.iter().sum();
    (total > 0.0 && total.is_finite()).then(|| values.iter().map(|v| v / total).collect())
}

/// The conditionals of each chosen column given its parents: joint counts
/// with Laplace noise of `scale` (none at `None`), clamped at 0 and
/// normalised per configuration; an empty configuration gets the column's
/// noisy marginal, or uniform.
pub(crate) fn noisy_conditionals(
    states: &[Vec<u32>],
    counts: &[usize],
    network: Vec<Choice>,
    scale: Option<f64>,
    rng: &mut ChaCha8Rng,
) -> Vec<BayesNode> {
    let joints: Vec<Vec<f64>> = network
        .par_iter()
        .map(|(child, parents)| joint_counts(states, counts, *child, parents))
        .collect();
    network
        .into_iter()
        .zip(joints)
        .map(|((child, parents), mut joint)| {
            let width = counts[child];
            for count in joint.iter_mut() {
                if let Some(scale) = scale {
                    *count += laplace(scale, rng);
                }
                *count = count.max(0.0);
            }
            let mut marginal = vec![0.0; width];
            for row in joint.chunks(width) {
                for (sum, count) in marginal.iter_mut().zip(row) {
                    *sum += count;
                }
            }
            let fallback = normalised(&marginal).unwrap_or_else(|| vec![1.0 / width as f64; width]);
            let conditional = joint
                .chunks(width)
                .map(|row| normalised(row).unwrap_or_else(|| fallback.clone()))
                .collect();
            BayesNode {
                column: child,
                parents,
                conditional,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn subsets_are_bounded_and_ordered() {
        assert_eq!(
            subsets(&[3, 5, 7], 2),
            vec![
                vec![],
                vec![3],
                vec![5],
                vec![3, 5],
                vec![7],
                vec![3, 7],
                vec![5, 7]
            ]
        );
        assert_eq!(subsets(&[1, 2], 0), vec![Vec::<usize>::new()]);
    }

    #[test]
    fn mutual_information_of_copies_and_independent_columns() {
        let a: Vec<u32> = (0..400).map(|i| i % 4).collect();
        let b: Vec<u32> = (0..400).map(|i| (i / 4) % 2).collect();
        let states = vec![a.clone(), a, b];
        let counts = [4, 4, 2];
        assert!((mutual_information(&states, &counts, 1, &[0]) - 2.0).abs() < 1e-12);
        assert!(mutual_information(&states, &counts, 2, &[0]).abs() < 1e-12);
        assert_eq!(mutual_information(&states, &counts, 2, &[]), 0.0);
    }

    #[test]
    fn structure_at_infinite_epsilon_links_dependent_columns() {
        let a: Vec<u32> = (0..300).map(|i| i % 3).collect();
        let noise: Vec<u32> = (0..300).map(|i| (i * 7 / 3) % 2).collect();
        let copy = a.clone();
        let states = vec![a, noise, copy];
        let counts = [3, 2, 3];
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let network = learn_structure(&states, &counts, 1, None, None, &mut rng).unwrap();
        assert_eq!(network.len(), 3);
        let copy_node = network.iter().find(|(c, _)| *c == 2).unwrap();
        let a_node = network.iter().find(|(c, _)| *c == 0).unwrap();
        assert!(copy_node.1 == vec![0] || a_node.1 == vec![2], "{network:?}");
        let nodes = noisy_conditionals(&states, &counts, network, None, &mut rng);
        for node in &nodes {
            for row in &node.conditional {
                assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            }
        }
    }
}
