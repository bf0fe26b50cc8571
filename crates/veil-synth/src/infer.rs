//! Column-type inference, identifier detection and per-column overrides:
//! from CSV bytes to a typed [`Table`] and its [`TableSchema`].
//!
//! A column's kind is the first of boolean, integer, float, datetime that
//! every non-missing value parses as, else categorical. A column looks like
//! an identifier, and is excluded from modelling, when its name says so
//! (`id`, `uuid`, `guid`, `…_id`, `…Id`) or when it is a categorical or
//! integer column whose values are nearly all distinct (for integers, also
//! densely packed, so that measurements such as sampling weights are kept).

use std::collections::HashSet;
use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::csv_io::{read_raw_csv, RawTable};
use crate::error::{Result, SynthError};
use crate::table::{Column, ColumnData, ColumnKind, DatetimeFormat, Table};

/// How to read and type a CSV.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadOptions {
    /// Values read as missing besides the empty string (e.g. `?`, `NA`).
    pub missing_tokens: Vec<String>,
    /// Identifier detection by distinct values needs at least this many
    /// non-missing values.
    pub identifier_min_rows: usize,
    /// Share of distinct values at or above which a column looks like an
    /// identifier.
    pub identifier_distinct_ratio: f64,
    /// Per-column decisions that replace inference.
    pub overrides: Vec<ColumnOverride>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            missing_tokens: Vec::new(),
            identifier_min_rows: 50,
            identifier_distinct_ratio: 0.95,
            overrides: Vec::new(),
        }
    }
}

/// An explicit decision about one column. Its presence replaces identifier
/// detection for the column: `exclude: false` models the column even if it
/// looks like an identifier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnOverride {
    /// The column's header name.
    pub name: String,
    /// The kind to parse it as, instead of the inferred one.
    #[serde(default)]
    pub kind: Option<ColumnKind>,
    /// Whether to leave the column out of modelling.
    #[serde(default)]
    pub exclude: bool,
}

/// Why a column is left out of modelling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Exclusion {
    /// The name marks an identifier.
    IdentifierName,
    /// Nearly every value is distinct.
    DistinctValues {
        /// Distinct values over non-missing values.
        ratio: f64,
    },
    /// A [`ColumnOverride`] excluded it.
    Override,
}

/// What was learnt about one column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnSchema {
    /// The header name.
    pub name: String,
    /// The inferred or overridden kind.
    pub kind: ColumnKind,
    /// Share of rows whose value is missing.
    pub missing_rate: f64,
    /// Why the column is not modelled, if it is not.
    pub excluded: Option<Exclusion>,
}

/// The schema of a table read from CSV, one entry per column in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    /// The columns.
    pub columns: Vec<ColumnSchema>,
}

impl TableSchema {
    /// The entry for `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns.iter().find(|column| column.name == name)
    }
}

/// Reads a CSV with a header row, infers every column's kind and parses it.
pub fn read_table<R: Read>(reader: R, options: &ReadOptions) -> Result<(Table, TableSchema)> {
    type_raw_table(read_raw_csv(reader)?, options)
}

/// Types an already-read [`RawTable`] (see [`read_table`]).
pub fn type_raw_table(raw: RawTable, options: &ReadOptions) -> Result<(Table, TableSchema)> {
    validate_options(options, &raw.names)?;
    let missing: HashSet<&str> = options.missing_tokens.iter().map(String::as_str).collect();
    let mut columns = Vec::with_capacity(raw.names.len());
    let mut schemas = Vec::with_capacity(raw.names.len());
    for (name, values) in raw.names.into_iter().zip(raw.columns) {
        let overriding = options.overrides.iter().find(|o| o.name == name);
        let is_missing = |value: &str| value.is_empty() || missing.contains(value);
        let kind = match overriding.and_then(|o| o.kind) {
            Some(kind) => kind,
            None => infer_kind(values.iter().map(String::as_str).filter(|v| !is_missing(v))),
        };
        let data = parse_column(&name, &values, kind, &is_missing)?;
        let column = Column { name, data };
        let missing_count = values.iter().filter(|v| is_missing(v)).count();
        let excluded = match overriding {
            Some(o) => o.exclude.then_some(Exclusion::Override),
            None => detect_identifier(&column, &values, &is_missing, options),
        };
        schemas.push(ColumnSchema {
            name: column.name.clone(),
            kind,
            missing_rate: if values.is_empty() {
                0.0
            } else {
                missing_count as f64 / values.len() as f64
            },
            excluded,
        });
        columns.push(column);
    }
    Ok((Table::new(columns)?, TableSchema { columns: schemas }))
}

fn validate_options(options: &ReadOptions, names: &[String]) -> Result<()> {
    if !(options.identifier_distinct_ratio > 0.0 && options.identifier_distinct_ratio <= 1.0) {
        return Err(SynthError::InvalidOption {
            option: "identifier_distinct_ratio",
            message: format!(
                "must be in (0, 1], got {}",
                options.identifier_distinct_ratio
            ),
        });
    }
    for overriding in &options.overrides {
        if !names.contains(&overriding.name) {
            return Err(SynthError::UnknownColumn {
                name: overriding.name.clone(),
                known: names.join(", "),
            });
        }
    }
    Ok(())
}

/// Infers the kind of a column from its non-missing values.
pub fn infer_kind<'a>(values: impl Iterator<Item = &'a str>) -> ColumnKind {
    let (mut boolean, mut integer, mut float, mut any) = (true, true, true, false);
    let mut datetime: Vec<DatetimeFormat> = DatetimeFormat::ALL.to_vec();
    for value in values {
        any = true;
        boolean = boolean && parse_bool(value).is_some();
        integer = integer && parse_integer(value).is_some();
        float = float && parse_float(value).is_some();
        datetime.retain(|format| format.parse(value).is_some());
        if !(boolean || integer || float || !datetime.is_empty()) {
            return ColumnKind::Categorical;
        }
    }
    match () {
        _ if !any => ColumnKind::Categorical,
        _ if boolean => ColumnKind::Boolean,
        _ if integer => ColumnKind::Integer,
        _ if float => ColumnKind::Float,
        _ if !datetime.is_empty() => ColumnKind::Datetime,
        _ => ColumnKind::Categorical,
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Integers are written `-?(0|[1-9][0-9]*)`: a leading zero or plus sign marks
/// a code (postcode, phone number) that must keep its text.
fn parse_integer(value: &str) -> Option<i64> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    let plain = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if !plain {
        return None;
    }
    value.parse().ok()
}

fn parse_float(value: &str) -> Option<f64> {
    let looks_numeric = value.bytes().any(|b| b.is_ascii_digit())
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    let unsigned = value.trim_start_matches(['-', '+']);
    let leading_zero =
        unsigned.len() > 1 && unsigned.starts_with('0') && unsigned.as_bytes()[1].is_ascii_digit();
    if !looks_numeric || leading_zero {
        return None;
    }
    value.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Digits after the decimal point as written (capped at 9).
fn decimals_of(value: &str) -> u8 {
    let mantissa = value.split(['e', 'E']).next().unwrap_or("");
    let decimals = mantissa
        .split_once('.')
        .map(|(_, fraction)| fraction.len())
        .unwrap_or(0);
    decimals.min(9) as u8
}

fn parse_column(
    name: &str,
    values: &[String],
    kind: ColumnKind,
    is_missing: &dyn Fn(&str) -> bool,
) -> Result<ColumnData> {
    fn each<T>(
        name: &str,
        values: &[String],
        kind: ColumnKind,
        is_missing: &dyn Fn(&str) -> bool,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Vec<Option<T>>> {
        let mut parsed = Vec::with_capacity(values.len());
        for (index, value) in values.iter().enumerate() {
            if is_missing(value) {
                parsed.push(None);
                continue;
            }
            match parse(value) {
                Some(typed) => parsed.push(Some(typed)),
                None => {
                    return Err(SynthError::InvalidValue {
                        row: index as u64 + 1,
                        column: name.to_string(),
                        kind: kind.name().to_string(),
                    })
                }
            }
        }
        Ok(parsed)
    }
    Ok(match kind {
        ColumnKind::Integer => {
            ColumnData::Integer(each(name, values, kind, is_missing, parse_integer)?)
        }
        ColumnKind::Float => {
            let parsed = each(name, values, kind, is_missing, parse_float)?;
            let decimals = values
                .iter()
                .filter(|v| !is_missing(v))
                .map(|v| decimals_of(v))
                .max()
                .unwrap_or(0);
            ColumnData::Float {
                values: parsed,
                decimals,
            }
        }
        ColumnKind::Boolean => {
            ColumnData::Boolean(each(name, values, kind, is_missing, parse_bool)?)
        }
        ColumnKind::Categorical => {
            ColumnData::Categorical(each(name, values, kind, is_missing, |v| {
                Some(v.to_string())
            })?)
        }
        ColumnKind::Datetime => {
            let format = DatetimeFormat::ALL
                .into_iter()
                .find(|format| {
                    values
                        .iter()
                        .filter(|v| !is_missing(v))
                        .all(|v| format.parse(v).is_some())
                })
                .unwrap_or(DatetimeFormat::DateTimeT);
            ColumnData::Datetime {
                seconds: each(name, values, kind, is_missing, |v| format.parse(v))?,
                format,
            }
        }
    })
}

/// Whether a column name marks an identifier: `id`, `uuid`, `guid`, a
/// `_id` / `-id` / ` id` suffix, or camel case ending in `Id` / `ID`.
pub fn is_identifier_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if matches!(lower.as_str(), "id" | "uuid" | "guid") {
        return true;
    }
    if [" id", "_id", "-id"]
        .iter()
        .any(|suffix| lower.ends_with(suffix))
    {
        return true;
    }
    let camel = name.strip_suffix("Id").or_else(|| name.strip_suffix("ID"));
    camel
        .and_then(|stem| stem.chars().last())
        .is_some_and(|c| c.is_ascii_lowercase())
}

fn detect_identifier(
    column: &Column,
    raw: &[String],
    is_missing: &dyn Fn(&str) -> bool,
    options: &ReadOptions,
) -> Option<Exclusion> {
    if !matches!(column.kind(), ColumnKind::Integer | ColumnKind::Categorical) {
        return None;
    }
    if is_identifier_name(&column.name) {
        return Some(Exclusion::IdentifierName);
    }
    let present: Vec<&str> = raw
        .iter()
        .map(String::as_str)
        .filter(|v| !is_missing(v))
        .collect();
    if present.is_empty() || present.len() < options.identifier_min_rows {
        return None;
    }
    let distinct = present.iter().collect::<HashSet<_>>().len();
    let ratio = distinct as f64 / present.len() as f64;
    if ratio < options.identifier_distinct_ratio {
        return None;
    }
    if let ColumnData::Integer(values) = &column.data {
        let present = values.iter().flatten();
        let (min, max) = present
            .clone()
            .fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let span = i128::from(max) - i128::from(min);
        if span > 10 * values.len() as i128 {
            return None;
        }
    }
    Some(Exclusion::DistinctValues { ratio })
}

#[cfg(test)]
#[path = "infer_tests.rs"]
mod tests;
