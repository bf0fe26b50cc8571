//! Rare-value suppression and the [`PreparedTable`] every model is fitted on.
//!
//! A categorical value that occurs in fewer than `k` rows must never be
//! released, so it is generalised before any model sees the data: rare
//! values become one `other` bucket, and if that bucket is itself rarer than
//! `k` rows it joins the column's most frequent value. A boolean value in
//! fewer than `k` rows joins the other value. The [`SuppressionReport`] gives
//! counts only, never the suppressed values themselves.
//!
//! Numeric columns are generalised by their models instead (see
//! [`crate::marginal::QuantileKnots`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Result, SynthError};
use crate::infer::TableSchema;
use crate::table::{ColumnData, Table};

/// Default minimum number of rows a released value must occur in.
pub const DEFAULT_MIN_ROWS: usize = 10;

/// How to prepare a table for modelling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrepareOptions {
    /// `k`: values in fewer rows are suppressed; also the order statistic
    /// that bounds numeric marginals.
    pub min_rows: usize,
    /// The label of the bucket rare categorical values are generalised into.
    pub other_label: String,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        PrepareOptions {
            min_rows: DEFAULT_MIN_ROWS,
            other_label: "other".into(),
        }
    }
}

/// Where a column's rare values went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RareDestination {
    /// Nothing was rare.
    NothingSuppressed,
    /// Into the `other` bucket, which has at least `k` rows.
    OtherBucket,
    /// Into the most frequent value, because the bucket was too small.
    MostFrequentValue,
    /// Made missing: no value in the column has `k` rows.
    Missing,
}

/// What suppression did to one column. Counts only, so it is safe to show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSuppression {
    /// The column.
    pub name: String,
    /// Number of distinct values that were suppressed.
    pub suppressed_values: usize,
    /// Number of rows whose value was replaced.
    pub suppressed_rows: usize,
    /// Where they went.
    pub destination: RareDestination,
}

/// Suppression per categorical and boolean column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressionReport {
    /// One entry per categorical or boolean modelled column.
    pub columns: Vec<ColumnSuppression>,
}

/// A table ready for modelling: excluded columns dropped, rare values
/// suppressed. Only [`prepare`] makes one, so a model fitted on it cannot
/// contain a rare value.
#[derive(Clone, Debug)]
pub struct PreparedTable {
    table: Table,
    min_rows: usize,
    report: SuppressionReport,
}

impl PreparedTable {
    /// The modelled columns after suppression.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The `k` it was prepared with.
    pub fn min_rows(&self) -> usize {
        self.min_rows
    }

    /// What suppression did.
    pub fn report(&self) -> &SuppressionReport {
        &self.report
    }
}

/// Drops the columns `schema` excludes and suppresses rare values.
pub fn prepare(
    table: &Table,
    schema: &TableSchema,
    options: &PrepareOptions,
) -> Result<PreparedTable> {
    if options.min_rows == 0 {
        return Err(SynthError::InvalidOption {
            option: "min_rows",
            message: "must be at least 1".into(),
        });
    }
    if options.other_label.is_empty() {
        return Err(SynthError::InvalidOption {
            option: "other_label",
            message: "must not be empty".into(),
        });
    }
    let mut columns = Vec::new();
    let mut report = Vec::new();
    for column in table.columns() {
        let excluded = schema
            .column(&column.name)
            .is_none_or(|entry| entry.excluded.is_some());
        if excluded {
            continue;
        }
        let mut column = column.clone();
        match &mut column.data {
            ColumnData::Categorical(values) => {
                report.push(suppress_labels(&column.name, values, options));
            }
            ColumnData::Boolean(values) => {
                report.push(suppress_booleans(&column.name, values, options.min_rows))
            }
            _ => {}
        }
        columns.push(column);
    }
    if columns.is_empty() {
        return Err(SynthError::Model("no column is left to model".into()));
    }
    Ok(PreparedTable {
        table: Table::new(columns)?,
        min_rows: options.min_rows,
        report: SuppressionReport { columns: report },
    })
}

fn suppress_labels(
    name: &str,
    values: &mut [Option<String>],
    options: &PrepareOptions,
) -> ColumnSuppression {
    let k = options.min_rows;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for value in values.iter().flatten() {
        *counts.entry(value.clone()).or_default() += 1;
    }
    let rare_rows: usize = counts.values().filter(|&&count| count < k).sum();
    let suppressed_values = counts.values().filter(|&&count| count < k).count();
    if suppressed_values == 0 {
        return ColumnSuppression {
            name: name.into(),
            suppressed_values,
            suppressed_rows: 0,
            destination: RareDestination::NothingSuppressed,
        };
    }
    // The bucket may already exist as a frequent value; rare rows join it.
    let existing_other = counts
        .get(&options.other_label)
        .copied()
        .filter(|&count| count >= k)
        .unwrap_or(0);
    let most_frequent = counts
        .iter()
        .filter(|(_, &count)| count >= k)
        .max_by(|(a_label, a), (b_label, b)| a.cmp(b).then_with(|| b_label.cmp(a_label)))
        .map(|(label, _)| label.clone());
    let (replacement, destination) = if existing_other + rare_rows >= k {
        (
            Some(options.other_label.clone()),
            RareDestination::OtherBucket,
        )
    } else if let Some(label) = most_frequent {
        (Some(label), RareDestination::MostFrequentValue)
    } else {
        (None, RareDestination::Missing)
    };
    for value in values.iter_mut() {
        let is_rare = value.as_ref().is_some_and(|label| counts[label] < k);
        if is_rare {
            *value = replacement.clone();
        }
    }
    ColumnSuppression {
        name: name.into(),
        suppressed_values,
        suppressed_rows: rare_rows,
        destination,
    }
}

fn suppress_booleans(name: &str, values: &mut [Option<bool>], k: usize) -> ColumnSuppression {
    let trues = values.iter().filter(|v| **v == Some(true)).count();
    let falses = values.iter().filter(|v| **v == Some(false)).count();
    let rare = |count: usize| count > 0 && count < k;
    let (suppressed_values, suppressed_rows) = match (rare(trues), rare(falses)) {
        (true, true) => (2, trues + falses),
        (true, false) => (1, trues),
        (false, true) => (1, falses),
        (false, false) => (0, 0),
    };
    let destination = match (rare(trues), rare(falses)) {
        (false, false) => RareDestination::NothingSuppressed,
        (true, true) => RareDestination::Missing,
        _ if trues.min(falses) == 0 => RareDestination::Missing,
        _ => RareDestination::MostFrequentValue,
    };
    for value in values.iter_mut() {
        let count = match value {
            Some(true) => trues,
            Some(false) => falses,
            None => continue,
        };
        if rare(count) {
            *value = match destination {
                RareDestination::MostFrequentValue => value.map(|flag| !flag),
                _ => None,
            };
        }
    }
    ColumnSuppression {
        name: name.into(),
        suppressed_values,
        suppressed_rows,
        destination,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::{read_table, ReadOptions};
    use crate::table::Column;

    fn labels(column: &Column) -> Vec<Option<String>> {
        column.label_values().unwrap()
    }

    fn prepared(csv: &str, k: usize) -> PreparedTable {
        let (table, schema) = read_table(csv.as_bytes(), &ReadOptions::default()).unwrap();
        prepare(
            &table,
            &schema,
            &PrepareOptions {
                min_rows: k,
                ..PrepareOptions::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn rare_values_go_to_the_other_bucket() {
        let csv = "c\na\na\na\nb\nb\nc\nd\n\"\"\n";
        let prepared = prepared(csv, 2);
        let column = &prepared.table().columns()[0];
        let expected = ["a", "a", "a", "b", "b", "other", "other"].map(|s| Some(s.to_string()));
        assert_eq!(labels(column)[..7], expected);
        assert_eq!(labels(column)[7], None);
        let entry = &prepared.report().columns[0];
        assert_eq!((entry.suppressed_values, entry.suppressed_rows), (2, 2));
        assert_eq!(entry.destination, RareDestination::OtherBucket);
    }

    #[test]
    fn a_small_bucket_joins_the_most_frequent_value() {
        let prepared = prepared("c\na\na\na\nb\nb\nc\n", 2);
        let values = labels(&prepared.table().columns()[0]);
        assert_eq!(values[5].as_deref(), Some("a"));
        assert_eq!(
            prepared.report().columns[0].destination,
            RareDestination::MostFrequentValue
        );
    }

    #[test]
    fn a_column_with_no_frequent_value_becomes_missing() {
        let prepared = prepared("c\na\nb\n", 3);
        assert_eq!(labels(&prepared.table().columns()[0]), vec![None, None]);
        assert_eq!(
            prepared.report().columns[0].destination,
            RareDestination::Missing
        );
    }

    #[test]
    fn rare_booleans_join_the_other_value() {
        let prepared = prepared("b\ntrue\nfalse\nfalse\nfalse\n", 2);
        assert_eq!(
            prepared.table().columns()[0].data,
            ColumnData::Boolean(vec![Some(false); 4])
        );
        assert_eq!(prepared.report().columns[0].suppressed_rows, 1);
    }

    #[test]
    fn excluded_columns_are_dropped_and_options_are_checked() {
        let (table, schema) =
            read_table("id,c\n1,a\n".as_bytes(), &ReadOptions::default()).unwrap();
        let prepared = prepare(
            &table,
            &schema,
            &PrepareOptions {
                min_rows: 1,
                ..PrepareOptions::default()
            },
        )
        .unwrap();
        assert_eq!(prepared.table().column_names(), ["c"]);
        assert!(prepare(
            &table,
            &schema,
            &PrepareOptions {
                min_rows: 0,
                ..PrepareOptions::default()
            }
        )
        .is_err());
    }
}
