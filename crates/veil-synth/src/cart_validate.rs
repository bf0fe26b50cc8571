//! Validation of [`super`]: a deserialised model is checked node by node
//! into the sampler's form, so sampling cannot index out of range or loop.

use super::{invalid, Node};
use crate::cart::{CartColumn, CartColumnKind};
use crate::cart_tree::CartNode;
use crate::error::Result;

/// Checks a column's kind and bounds.
pub(super) fn check_column(column: &CartColumn) -> Result<()> {
    let valid_kind = match &column.kind {
        CartColumnKind::Float { decimals } => *decimals <= 9,
        CartColumnKind::Categorical { labels } => {
            labels.len() < u32::MAX as usize
                && labels.windows(2).all(|pair| pair[0] < pair[1])
                && labels.iter().all(|label| !label.is_empty())
        }
        _ => true,
    };
    let valid_bounds = match (column.kind.label_count(), column.bounds) {
        (Some(_), bounds) => bounds.is_none(),
        (None, Some([low, high])) => low.is_finite() && high.is_finite() && low <= high,
        (None, None) => true,
    };
    if valid_kind && valid_bounds {
        Ok(())
    } else {
        Err(invalid(format!("column {:?} is invalid", column.name)))
    }
}

/// Checks node `at` of tree `tree_index` (predicting column `target`)
/// and converts it; `position[c]` is the tree index of column `c`.
#[allow(clippy::too_many_arguments)]
pub(super) fn check_node(
    columns: &[CartColumn],
    position: &[usize],
    tree_index: usize,
    target: usize,
    at: usize,
    node_count: usize,
    node: &CartNode,
) -> Result<Node> {
    let bad = |what: &str| invalid(format!("tree {tree_index}, node {at}: {what}"));
    let child = |index: usize| {
        if index > at && index < node_count {
            Ok(index)
        } else {
            Err(bad("child index out of range"))
        }
    };
    // A feature must be a column whose tree comes earlier.
    let feature_column = |feature: usize| {
        position
            .get(feature)
            .filter(|p| **p < tree_index)
            .map(|_| &columns[feature])
            .ok_or_else(|| bad("splits on a column not drawn before it"))
    };
    let target_column = &columns[target];
    Ok(match node {
        CartNode::Threshold {
            feature,
            threshold,
            missing_left,
            left,
            right,
        } => {
            if feature_column(*feature)?.kind.label_count().is_some()
                || threshold.is_some_and(|t| !t.is_finite())
            {
                return Err(bad("invalid threshold split"));
            }
            Node::Threshold {
                feature: *feature,
                threshold: *threshold,
                missing_left: *missing_left,
                left: child(*left)?,
                right: child(*right)?,
            }
        }
        CartNode::Categories {
            feature,
            left_codes,
            left,
            right,
        } => {
            let labels = feature_column(*feature)?
                .kind
                .label_count()
                .ok_or_else(|| bad("category split on a numeric column"))?;
            let mut goes_left = vec![false; labels + 1];
            for &code in left_codes {
                *goes_left
                    .get_mut(code as usize)
                    .ok_or_else(|| bad("category code out of range"))? = true;
            }
            Node::Categories {
                feature: *feature,
                goes_left,
                left: child(*left)?,
                right: child(*right)?,
            }
        }
        CartNode::Classes { counts } => {
            let labels = target_column
                .kind
                .label_count()
                .ok_or_else(|| bad("class leaf for a numeric column"))?;
            let mut codes = Vec::with_capacity(counts.len());
            let mut cumulative = Vec::with_capacity(counts.len());
            let mut total = 0u64;
            for &[code, count] in counts {
                if code as usize > labels {
                    return Err(bad("class code out of range"));
                }
                total += u64::from(count);
                codes.push(code);
                cumulative.push(total);
            }
            if total == 0 {
                return Err(bad("empty leaf"));
            }
            Node::Classes { codes, cumulative }
        }
        CartNode::Values {
            values,
            missing,
            bandwidth,
        } => {
            if target_column.kind.label_count().is_some() {
                return Err(bad("value leaf for a label column"));
            }
            if values.is_empty() && *missing == 0 {
                return Err(bad("empty leaf"));
            }
            if values.iter().any(|v| !v.is_finite())
                || !bandwidth.is_finite()
                || *bandwidth < 0.0
                || (!values.is_empty() && target_column.bounds.is_none())
            {
                return Err(bad("invalid donor values"));
            }
            Node::Values {
                values: values.clone(),
                missing: u64::from(*missing),
                bandwidth: *bandwidth,
            }
        }
    })
}
