//! Unit tests for [`super`].

use super::*;

const RULES: GrowRules = GrowRules {
    min_leaf: 5,
    max_depth: 30,
    complexity: 0.0,
};

/// Bins of width 10 over `0..200`.
fn binned(values: &[f64]) -> (Vec<u8>, Vec<f64>) {
    let edges: Vec<f64> = (1..20).map(|i| f64::from(i * 10 - 1)).collect();
    let bins = values
        .iter()
        .map(|v| edges.partition_point(|e| e < v) as u8)
        .collect();
    (bins, edges)
}

/// The leaf a row with `cells` (one value per feature column, `None` when
/// missing, codes as numbers) reaches.
fn leaf_of<'a>(nodes: &'a [CartNode], cells: &[Option<f64>]) -> &'a CartNode {
    let mut at = 0;
    loop {
        at = match &nodes[at] {
            CartNode::Threshold {
                feature,
                threshold,
                missing_left,
                left,
                right,
            } => {
                let goes_left = match cells[*feature] {
                    Some(v) => threshold.is_some_and(|t| v <= t),
                    None => *missing_left,
                };
                if goes_left {
                    *left
                } else {
                    *right
                }
            }
            CartNode::Categories {
                feature,
                left_codes,
                left,
                right,
            } => {
                let code = cells[*feature].unwrap() as u32;
                if left_codes.contains(&code) {
                    *left
                } else {
                    *right
                }
            }
            leaf => return leaf,
        }
    }
}

fn leaf_rows(node: &CartNode) -> u32 {
    match node {
        CartNode::Classes { counts } => counts.iter().map(|[_, count]| count).sum(),
        CartNode::Values {
            values, missing, ..
        } => values.len() as u32 + missing,
        _ => 0,
    }
}

#[test]
fn a_separable_class_is_learned_with_one_threshold() {
    let x: Vec<f64> = (0..200).map(f64::from).collect();
    let (bins, edges) = binned(&x);
    let codes: Vec<u32> = x.iter().map(|v| u32::from(*v >= 100.0)).collect();
    let features = [(
        0,
        Feature::Binned {
            bins: &bins,
            edges: &edges,
        },
    )];
    let target = Target::Classes {
        codes: &codes,
        labels: 2,
    };
    let nodes = grow(&features, &target, 200, RULES);
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    assert!(matches!(
        nodes[0],
        CartNode::Threshold {
            feature: 0,
            threshold: Some(99.0),
            ..
        }
    ));
    for value in [0.0, 57.0, 99.0, 100.0, 150.0, 199.0] {
        let CartNode::Classes { counts } = leaf_of(&nodes, &[Some(value)]) else {
            panic!("a class leaf")
        };
        assert_eq!(counts.len(), 1, "pure leaf");
        assert_eq!(counts[0], [u32::from(value >= 100.0), 100]);
    }
}

#[test]
fn categories_are_grouped_by_the_target() {
    // Codes 1 and 3 (and the missing code 4) give "yes".
    let feature_codes: Vec<u32> = (0..250).map(|row| row % 5).collect();
    let target: Vec<u32> = feature_codes
        .iter()
        .map(|c| u32::from(c % 2 == 1 || *c == 4))
        .collect();
    let features = [(
        3,
        Feature::Codes {
            codes: &feature_codes,
            labels: 4,
        },
    )];
    let nodes = grow(
        &features,
        &Target::Classes {
            codes: &target,
            labels: 2,
        },
        250,
        RULES,
    );
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    let CartNode::Categories {
        feature: 3,
        left_codes,
        ..
    } = &nodes[0]
    else {
        panic!("{:?}", nodes[0])
    };
    assert!(
        left_codes == &[1, 3, 4] || left_codes == &[0, 2],
        "{left_codes:?}"
    );
}

#[test]
fn a_regression_tree_learns_steps_and_missingness() {
    let x: Vec<f64> = (0..200).map(f64::from).collect();
    let (bins, edges) = binned(&x);
    // Below 50: 1.0; 50 to 149: 10.0; from 150: missing.
    let values: Vec<Option<f64>> = x
        .iter()
        .map(|v| match *v {
            v if v < 50.0 => Some(1.0),
            v if v < 150.0 => Some(10.0),
            _ => None,
        })
        .collect();
    let standardized: Vec<f64> = values
        .iter()
        .map(|v| v.map_or(f64::NAN, |v| v / 10.0))
        .collect();
    let target = Target::Values {
        values: &values,
        standardized: &standardized,
        smoothing: true,
    };
    let nodes = grow(
        &[(
            0,
            Feature::Binned {
                bins: &bins,
                edges: &edges,
            },
        )],
        &target,
        200,
        RULES,
    );
    for (value, expected) in [
        (10.0, Some(1.0)),
        (60.0, Some(10.0)),
        (149.0, Some(10.0)),
        (180.0, None),
    ] {
        let CartNode::Values {
            values,
            missing,
            bandwidth,
        } = leaf_of(&nodes, &[Some(value)])
        else {
            panic!("a value leaf")
        };
        assert_eq!(*bandwidth, 0.0, "constant leaves are not smoothed");
        match expected {
            Some(v) => assert!(values.iter().all(|d| *d == v) && *missing == 0),
            None => assert!(values.is_empty() && *missing == 50),
        }
    }
}

#[test]
fn missing_feature_values_get_their_own_side() {
    // The target is "yes" exactly when the feature is missing.
    let x: Vec<Option<f64>> = (0..120)
        .map(|row| (row % 3 != 0).then_some(f64::from(row)))
        .collect();
    let (mut bins, edges) = binned(&x.iter().map(|v| v.unwrap_or(0.0)).collect::<Vec<_>>());
    for (bin, value) in bins.iter_mut().zip(&x) {
        if value.is_none() {
            *bin = edges.len() as u8 + 1;
        }
    }
    let codes: Vec<u32> = x.iter().map(|v| u32::from(v.is_none())).collect();
    let features = [(
        0,
        Feature::Binned {
            bins: &bins,
            edges: &edges,
        },
    )];
    let nodes = grow(
        &features,
        &Target::Classes {
            codes: &codes,
            labels: 2,
        },
        120,
        RULES,
    );
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    let CartNode::Classes { counts } = leaf_of(&nodes, &[None]) else {
        panic!()
    };
    assert_eq!(counts, &[[1, 40]]);
    let CartNode::Classes { counts } = leaf_of(&nodes, &[Some(5.0)]) else {
        panic!()
    };
    assert_eq!(counts, &[[0, 80]]);
}

#[test]
fn leaves_keep_min_leaf_rows_and_depth_is_bounded() {
    let x: Vec<f64> = (0..200).map(|row| f64::from((row * 37) % 200)).collect();
    let (bins, edges) = binned(&x);
    let codes: Vec<u32> = (0..200).map(|row| (row * 7 + row / 3) % 3).collect();
    let features = [(
        0,
        Feature::Binned {
            bins: &bins,
            edges: &edges,
        },
    )];
    let target = Target::Classes {
        codes: &codes,
        labels: 3,
    };
    for min_leaf in [1, 7, 30] {
        let nodes = grow(&features, &target, 200, GrowRules { min_leaf, ..RULES });
        let leaves: Vec<u32> = nodes.iter().map(leaf_rows).filter(|n| *n > 0).collect();
        assert_eq!(leaves.iter().sum::<u32>(), 200);
        assert!(
            leaves.iter().all(|n| *n as usize >= min_leaf),
            "{min_leaf}: {leaves:?}"
        );
        assert!(leaves.len() > 1);
    }
    let stump = grow(
        &features,
        &target,
        200,
        GrowRules {
            max_depth: 0,
            ..RULES
        },
    );
    assert_eq!(stump.len(), 1);
    assert_eq!(leaf_rows(&stump[0]), 200);
}

#[test]
fn no_feature_gives_one_leaf_holding_the_marginal() {
    let codes = [0, 0, 1, 2];
    let nodes = grow(
        &[],
        &Target::Classes {
            codes: &codes,
            labels: 2,
        },
        4,
        RULES,
    );
    assert_eq!(
        nodes,
        vec![CartNode::Classes {
            counts: vec![[0, 2], [1, 1], [2, 1]]
        }]
    );
}

#[test]
fn silverman_bandwidth_of_known_samples() {
    assert_eq!(silverman_bandwidth(&[]), 0.0);
    assert_eq!(silverman_bandwidth(&[3.0]), 0.0);
    assert_eq!(silverman_bandwidth(&[2.0, 2.0, 2.0]), 0.0);
    // sd = 1.5811, IQR / 1.34 = 1.4925, n^(−1/5) = 0.7248.
    let bandwidth = silverman_bandwidth(&[1.0, 2.0, 3.0, 4.0, 5.0]);
    assert!(
        (bandwidth - 0.9 * (2.0 / 1.34) * 5f64.powf(-0.2)).abs() < 1e-12,
        "{bandwidth}"
    );
}
