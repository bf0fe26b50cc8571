//! Unit tests for [`super`]: the privacy filter and model validation.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::cart::tests::{copies, fitted, prepared};
use crate::cart::{row_fingerprint, CartColumnKind, CartModel, CartOptions, Cell};
use crate::cart_tree::CartNode;
use crate::model::{sample, AnyModel, SynthModel};

/// `c = a xor b`: a greedy tree cannot learn it, so about half of the
/// unfiltered draws repeat a training row and the other half do not.
fn parity_csv() -> String {
    let mut csv = String::from("a,b,c\n");
    for row in 0..120 {
        let (a, b) = (row % 2 == 0, (row / 2) % 2 == 0);
        let label = |flag: bool| if flag { "p" } else { "q" };
        csv += &format!("{},{},{}\n", label(a), label(b), label(a != b));
    }
    csv
}

#[test]
fn the_privacy_filter_rejects_every_copy() {
    let (table, prepared) = prepared(&parity_csv(), 5);
    let model = CartModel::fit(&prepared, &CartOptions::default()).unwrap();
    assert_eq!(model.fingerprint_count(), 4);
    let sampler = model.sampler().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut cells = vec![Cell::Missing; 3];
    let mut unfiltered_copies = 0;
    for _ in 0..1000 {
        sampler.draw_row(&mut rng, &mut cells).unwrap();
        let fingerprint = row_fingerprint(model.fingerprint_key, &model.columns, &cells);
        if model.fingerprints.binary_search(&fingerprint).is_ok() {
            unfiltered_copies += 1;
        }
    }
    assert!(
        (300..700).contains(&unfiltered_copies),
        "{unfiltered_copies}"
    );
    let synthetic = sample(&model, 2000, 9).unwrap();
    assert_eq!(copies(&table, &synthetic), 0);
    assert_eq!(synthetic.row_count(), 2000);
}

#[test]
fn sampling_fails_rather_than_copy() {
    let (_, prepared) = prepared("a\np\np\np\nq\nq\nq\n", 3);
    let model = CartModel::fit(&prepared, &CartOptions::default()).unwrap();
    let error = sample(&model, 10, 1).unwrap_err();
    assert!(
        error.to_string().contains("unlike every training row"),
        "{error}"
    );
}

/// The first split node of the first tree that has one, and that tree.
fn first_split(model: &mut CartModel) -> &mut CartNode {
    model
        .trees
        .iter_mut()
        .flat_map(|tree| tree.nodes.iter_mut())
        .find(|node| {
            matches!(
                node,
                CartNode::Threshold { .. } | CartNode::Categories { .. }
            )
        })
        .unwrap()
}

/// A named way to break a model.
type Corruption = (&'static str, Box<dyn Fn(&mut CartModel)>);

#[test]
fn corrupt_models_are_rejected() {
    let (_, model) = fitted();
    let corruptions: Vec<Corruption> = vec![
        (
            "child out of range",
            Box::new(|m| match first_split(m) {
                CartNode::Threshold { left, .. } | CartNode::Categories { left, .. } => {
                    *left = 99_999
                }
                _ => unreachable!(),
            }),
        ),
        (
            "child pointing back",
            Box::new(|m| match first_split(m) {
                CartNode::Threshold { right, .. } | CartNode::Categories { right, .. } => {
                    *right = 0
                }
                _ => unreachable!(),
            }),
        ),
        (
            "feature not drawn yet",
            Box::new(|m| match first_split(m) {
                CartNode::Threshold { feature, .. } | CartNode::Categories { feature, .. } => {
                    *feature = 5
                }
                _ => unreachable!(),
            }),
        ),
        ("no nodes", Box::new(|m| m.trees[2].nodes.clear())),
        (
            "tree for a missing column",
            Box::new(|m| m.trees[1].column = 17),
        ),
        (
            "two trees for one column",
            Box::new(|m| m.trees[1].column = 0),
        ),
        (
            "missing tree",
            Box::new(|m| {
                m.trees.pop();
            }),
        ),
        (
            "empty leaf",
            Box::new(|m| {
                m.trees[0].nodes[0] = CartNode::Values {
                    values: vec![],
                    missing: 0,
                    bandwidth: 0.0,
                }
            }),
        ),
        (
            "wrong leaf kind",
            Box::new(|m| {
                m.trees[0].nodes[0] = CartNode::Classes {
                    counts: vec![[0, 1]],
                }
            }),
        ),
        (
            "class out of range",
            Box::new(|m| {
                let leaf = m.trees[2]
                    .nodes
                    .iter_mut()
                    .find(|n| matches!(n, CartNode::Classes { .. }))
                    .unwrap();
                *leaf = CartNode::Classes {
                    counts: vec![[3, 1]],
                };
            }),
        ),
        (
            "non-finite donor",
            Box::new(|m| {
                m.trees[0].nodes[0] = CartNode::Values {
                    values: vec![f64::NAN],
                    missing: 0,
                    bandwidth: 0.0,
                }
            }),
        ),
        (
            "negative bandwidth",
            Box::new(|m| {
                m.trees[0].nodes[0] = CartNode::Values {
                    values: vec![1.0],
                    missing: 0,
                    bandwidth: -1.0,
                }
            }),
        ),
        (
            "inverted bounds",
            Box::new(|m| m.columns[0].bounds = Some([5.0, 1.0])),
        ),
        (
            "unsorted labels",
            Box::new(|m| {
                m.columns[2].kind = CartColumnKind::Categorical {
                    labels: vec!["low".into(), "high".into()],
                }
            }),
        ),
    ];
    for (what, corrupt) in &corruptions {
        let mut broken = model.clone();
        corrupt(&mut broken);
        assert!(broken.sampler().is_err(), "{what} must be rejected");
        let json = serde_json::to_string(&AnyModel::Cart(broken)).unwrap();
        assert!(AnyModel::from_json(&json).is_err(), "{what}");
    }
    assert!(model.sampler().is_ok());
}
