//! How a fit splits its privacy budget and records the split.

use super::{BayesNetOptions, PrivacyAccount};

/// The budget split of a fit; `None` is ε = ∞.
pub(crate) struct Budget {
    /// ε of each numeric column's histogram.
    pub bins: Option<f64>,
    /// ε of the structure search (all steps).
    pub structure: Option<f64>,
    /// ε of the conditionals (all tables).
    pub parameters: Option<f64>,
    /// The record kept in the model.
    pub account: PrivacyAccount,
}

/// Splits `options.epsilon` for a table of `columns` columns, `numeric` of
/// them numeric: `bin_share·ε` over the numeric columns (none without
/// any), `β` of the rest for the structure (none with one column) and the
/// remainder for the parameters.
pub(crate) fn split_budget(options: &BayesNetOptions, numeric: usize, columns: usize) -> Budget {
    let Some(epsilon) = options.epsilon else {
        return Budget {
            bins: None,
            structure: None,
            parameters: None,
            account: PrivacyAccount {
                epsilon_total: None,
                epsilon_bins: None,
                epsilon_structure: None,
                epsilon_parameters: None,
                parameter_noise_scale: None,
                notes: vec!["epsilon = infinity: no noise, exact counts and choices".into()],
            },
        };
    };
    let bins = if numeric > 0 {
        options.bin_share * epsilon
    } else {
        0.0
    };
    let rest = epsilon - bins;
    let structure = if columns > 1 {
        options.beta * rest
    } else {
        0.0
    };
    let parameters = rest - structure;
    let scale = 2.0 * columns as f64 / parameters;
    let notes = vec![
        "neighbouring tables: one row replaced; the row count is public".into(),
        format!(
            "bins: epsilon {:.6} per numeric column, Laplace(2·L / epsilon) on each of the L levels of a public log grid",
            bins / numeric.max(1) as f64
        ),
        format!("structure: exponential mechanism on mutual information, {} steps", columns.saturating_sub(1)),
        format!("parameters: Laplace({scale:.6}) on each of {columns} joint count tables"),
        "not protected: schema, missing-value presence, category sets (rare-suppressed, k-anonymous only)".into(),
    ];
    Budget {
        bins: Some(bins / numeric.max(1) as f64),
        structure: Some(structure),
        parameters: Some(parameters),
        account: PrivacyAccount {
            epsilon_total: Some(epsilon),
            epsilon_bins: Some(bins),
            epsilon_structure: Some(structure),
            epsilon_parameters: Some(parameters),
            parameter_noise_scale: Some(scale),
            notes,
        },
    }
}
