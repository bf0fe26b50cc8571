//! The columnar in-memory [`Table`]: typed, named columns with missing
//! values, and how each value is written as text.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::error::{Result, SynthError};

/// The type of a column's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    /// Whole numbers (`-?(0|[1-9][0-9]*)`, within `i64`).
    Integer,
    /// Finite decimal numbers.
    Float,
    /// Free labels; also the kind of a column that fits no other.
    Categorical,
    /// `true` / `false` in any letter case.
    Boolean,
    /// ISO 8601 dates or date-times without a zone (see [`DatetimeFormat`]).
    Datetime,
}

impl ColumnKind {
    /// The kind's name as used in messages and schemas.
    pub fn name(self) -> &'static str {
        match self {
            ColumnKind::Integer => "integer",
            ColumnKind::Float => "float",
            ColumnKind::Categorical => "categorical",
            ColumnKind::Boolean => "boolean",
            ColumnKind::Datetime => "datetime",
        }
    }

    /// Whether values are modelled as numbers (integer, float, datetime).
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            ColumnKind::Integer | ColumnKind::Float | ColumnKind::Datetime
        )
    }
}

/// The textual layout of a datetime column, kept so output looks like input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatetimeFormat {
    /// `2024-01-31`.
    Date,
    /// `2024-01-31T13:45:00`.
    DateTimeT,
    /// `2024-01-31 13:45:00`.
    DateTimeSpace,
}

impl DatetimeFormat {
    /// All formats, in the order inference tries them.
    pub const ALL: [DatetimeFormat; 3] = [
        DatetimeFormat::Date,
        DatetimeFormat::DateTimeT,
        DatetimeFormat::DateTimeSpace,
    ];

    fn pattern(self) -> &'static str {
        match self {
            DatetimeFormat::Date => "%Y-%m-%d",
            DatetimeFormat::DateTimeT => "%Y-%m-%dT%H:%M:%S",
            DatetimeFormat::DateTimeSpace => "%Y-%m-%d %H:%M:%S",
        }
    }

    /// Parses `text` as seconds since the Unix epoch (UTC), or `None`.
    pub fn parse(self, text: &str) -> Option<i64> {
        match self {
            DatetimeFormat::Date => NaiveDate::parse_from_str(text, self.pattern())
                .ok()
                .and_then(|date| date.and_hms_opt(0, 0, 0))
                .map(|moment| moment.and_utc().timestamp()),
            _ => NaiveDateTime::parse_from_str(text, self.pattern())
                .ok()
                .map(|moment| moment.and_utc().timestamp()),
        }
    }

    /// Formats seconds since the Unix epoch; `None` outside chrono's range.
    pub fn format(self, seconds: i64) -> Option<String> {
        let moment = DateTime::from_timestamp(seconds, 0)?;
        Some(moment.naive_utc().format(self.pattern()).to_string())
    }
}

/// A column's values; `None` is a missing value.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnData {
    /// Integer values.
    Integer(Vec<Option<i64>>),
    /// Float values, written with `decimals` digits after the point.
    Float {
        /// The values (always finite).
        values: Vec<Option<f64>>,
        /// Digits after the decimal point when written.
        decimals: u8,
    },
    /// Boolean values.
    Boolean(Vec<Option<bool>>),
    /// Category labels (never empty strings).
    Categorical(Vec<Option<String>>),
    /// Seconds since the Unix epoch, written in `format`.
    Datetime {
        /// The values.
        seconds: Vec<Option<i64>>,
        /// How values are written.
        format: DatetimeFormat,
    },
}

/// A named column.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// The column's name (its CSV header).
    pub name: String,
    /// Its values.
    pub data: ColumnData,
}

impl Column {
    /// The column's kind.
    pub fn kind(&self) -> ColumnKind {
        match &self.data {
            ColumnData::Integer(_) => ColumnKind::Integer,
            ColumnData::Float { .. } => ColumnKind::Float,
            ColumnData::Boolean(_) => ColumnKind::Boolean,
            ColumnData::Categorical(_) => ColumnKind::Categorical,
            ColumnData::Datetime { .. } => ColumnKind::Datetime,
        }
    }

    /// Number of values, missing ones included.
    pub fn len(&self) -> usize {
        match &self.data {
            ColumnData::Integer(values) => values.len(),
            ColumnData::Float { values, .. } => values.len(),
            ColumnData::Boolean(values) => values.len(),
            ColumnData::Categorical(values) => values.len(),
            ColumnData::Datetime { seconds, .. } => seconds.len(),
        }
    }

    /// Whether the column has no values at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values as numbers, for numeric kinds (datetimes as seconds).
    pub fn numeric_values(&self) -> Option<Vec<Option<f64>>> {
        match &self.data {
            ColumnData::Integer(values) => {
                Some(values.iter().map(|v| v.map(|v| v as f64)).collect())
            }
            ColumnData::Float { values, .. } => Some(values.clone()),
            ColumnData::Datetime { seconds, .. } => {
                Some(seconds.iter().map(|v| v.map(|v| v as f64)).collect())
            }
            ColumnData::Boolean(_) | ColumnData::Categorical(_) => None,
        }
    }

    /// The values as labels, for categorical and boolean columns.
    pub fn label_values(&self) -> Option<Vec<Option<String>>> {
        match &self.data {
            ColumnData::Categorical(values) => Some(values.clone()),
            ColumnData::Boolean(values) => Some(
                values
                    .iter()
                    .map(|v| v.map(|flag| flag.to_string()))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// The value in `row` as CSV text; missing values are empty.
    pub fn format_value(&self, row: usize) -> String {
        match &self.data {
            ColumnData::Integer(values) => values[row].map(|v| v.to_string()),
            ColumnData::Float { values, decimals } => {
                values[row].map(|v| format!("{:.*}", usize::from(*decimals), v))
            }
            ColumnData::Boolean(values) => values[row].map(|v| v.to_string()),
            ColumnData::Categorical(values) => values[row].clone(),
            ColumnData::Datetime { seconds, format } => seconds[row].and_then(|s| format.format(s)),
        }
        .unwrap_or_default()
    }

    fn append(&mut self, other: Column) -> Result<()> {
        let mismatch =
            || SynthError::SchemaMismatch(format!("cannot append to column {:?}", self.name));
        match (&mut self.data, other.data) {
            (ColumnData::Integer(a), ColumnData::Integer(b)) => a.extend(b),
            (ColumnData::Float { values: a, .. }, ColumnData::Float { values: b, .. }) => {
                a.extend(b)
            }
            (ColumnData::Boolean(a), ColumnData::Boolean(b)) => a.extend(b),
            (ColumnData::Categorical(a), ColumnData::Categorical(b)) => a.extend(b),
            (ColumnData::Datetime { seconds: a, .. }, ColumnData::Datetime { seconds: b, .. }) => {
                a.extend(b)
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }
}

/// A table of equally long, uniquely named columns.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    columns: Vec<Column>,
    row_count: usize,
}

impl Table {
    /// Builds a table; columns must have distinct names and equal lengths.
    pub fn new(columns: Vec<Column>) -> Result<Self> {
        let row_count = columns.first().map(Column::len).unwrap_or(0);
        for (index, column) in columns.iter().enumerate() {
            if columns[..index]
                .iter()
                .any(|earlier| earlier.name == column.name)
            {
                return Err(SynthError::DuplicateColumn(column.name.clone()));
            }
            if column.len() != row_count {
                return Err(SynthError::SchemaMismatch(format!(
                    "column {:?} has {} values, expected {row_count}",
                    column.name,
                    column.len()
                )));
            }
        }
        Ok(Table { columns, row_count })
    }

    /// Number of rows.
    pub fn row_count(&self) -> usize {
        self.row_count
    }

    /// The columns in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|column| column.name == name)
    }

    /// The column names in order.
    pub fn column_names(&self) -> Vec<String> {
        self.columns
            .iter()
            .map(|column| column.name.clone())
            .collect()
    }

    /// Takes the columns out.
    pub fn into_columns(self) -> Vec<Column> {
        self.columns
    }

    /// Appends `other`'s rows; it must have the same column names and kinds.
    pub fn append(&mut self, other: Table) -> Result<()> {
        if self.column_names() != other.column_names() {
            return Err(SynthError::SchemaMismatch(
                "appended table has other columns".into(),
            ));
        }
        self.row_count += other.row_count;
        for (column, addition) in self.columns.iter_mut().zip(other.columns) {
            column.append(addition)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_formats_round_trip() {
        for (format, text) in [
            (DatetimeFormat::Date, "2024-02-29"),
            (DatetimeFormat::DateTimeT, "1969-12-31T23:59:59"),
            (DatetimeFormat::DateTimeSpace, "2000-01-01 00:00:01"),
        ] {
            let seconds = format.parse(text).unwrap();
            assert_eq!(format.format(seconds).unwrap(), text);
        }
        assert_eq!(DatetimeFormat::Date.parse("2023-02-29"), None);
    }

    #[test]
    fn table_rejects_ragged_columns_and_appends_matching_tables() {
        let column = |name: &str, n: usize| Column {
            name: name.into(),
            data: ColumnData::Integer(vec![Some(1); n]),
        };
        assert!(Table::new(vec![column("a", 2), column("b", 3)]).is_err());
        let mut table = Table::new(vec![column("a", 2)]).unwrap();
        table
            .append(Table::new(vec![column("a", 3)]).unwrap())
            .unwrap();
        assert_eq!(table.row_count(), 5);
        assert!(table
            .append(Table::new(vec![column("b", 1)]).unwrap())
            .is_err());
    }
}
