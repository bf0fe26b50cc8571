//! Parquet out: [`ParquetTableWriter`] writes tables as a typed Parquet
//! file, row group by row group, so that sampled rows never have to fit in
//! memory all at once.
//!
//! Each [`ColumnKind`](crate::ColumnKind) maps to one Arrow type (see
//! [`arrow_field`]); missing values are nulls. The values are the ones the
//! CSV writer would write: floats are rounded to the column's decimals and
//! datetimes outside the range a CSV can show are null, so a Parquet file and
//! a CSV of the same rows hold the same data.

use std::io::Write;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::DateTime;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::error::{Result, SynthError};
use crate::table::{Column, ColumnData, DatetimeFormat, Table};

const SECONDS_PER_DAY: i64 = 86_400;
const MICROS_PER_SECOND: i64 = 1_000_000;

/// The Arrow field of a column: integer → `Int64`, float → `Float64`,
/// boolean → `Boolean`, categorical → `Utf8`, a date-only datetime
/// ([`DatetimeFormat::Date`]) → `Date32`, any other datetime → microsecond
/// `Timestamp` in UTC. Every field is nullable.
pub fn arrow_field(column: &Column) -> Field {
    let data_type = match &column.data {
        ColumnData::Integer(_) => DataType::Int64,
        ColumnData::Float { .. } => DataType::Float64,
        ColumnData::Boolean(_) => DataType::Boolean,
        ColumnData::Categorical(_) => DataType::Utf8,
        ColumnData::Datetime {
            format: DatetimeFormat::Date,
            ..
        } => DataType::Date32,
        ColumnData::Datetime { .. } => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
    };
    Field::new(column.name.clone(), data_type, true)
}

/// The Arrow schema of a table: one [`arrow_field`] per column, in order.
pub fn arrow_schema(table: &Table) -> Schema {
    Schema::new(table.columns().iter().map(arrow_field).collect::<Vec<_>>())
}

/// Seconds since the epoch when a CSV could show them, else `None`.
fn showable(seconds: i64) -> Option<i64> {
    DateTime::from_timestamp(seconds, 0).map(|_| seconds)
}

/// A float as the CSV writer writes it, read back.
fn rounded(value: f64, decimals: u8) -> f64 {
    format!("{:.*}", usize::from(decimals), value)
        .parse()
        .unwrap_or(value)
}

/// A column's values as an Arrow array of its [`arrow_field`]'s type.
fn column_array(column: &Column) -> ArrayRef {
    match &column.data {
        ColumnData::Integer(values) => Arc::new(Int64Array::from(values.clone())),
        ColumnData::Float { values, decimals } => Arc::new(Float64Array::from_iter(
            values.iter().map(|v| v.map(|v| rounded(v, *decimals))),
        )),
        ColumnData::Boolean(values) => Arc::new(BooleanArray::from(values.clone())),
        ColumnData::Categorical(values) => {
            Arc::new(StringArray::from_iter(values.iter().map(Option::as_deref)))
        }
        ColumnData::Datetime {
            seconds,
            format: DatetimeFormat::Date,
        } => Arc::new(Date32Array::from_iter(seconds.iter().map(|s| {
            s.and_then(showable)
                .and_then(|s| i32::try_from(s.div_euclid(SECONDS_PER_DAY)).ok())
        }))),
        ColumnData::Datetime { seconds, .. } => Arc::new(
            TimestampMicrosecondArray::from_iter(seconds.iter().map(|s| {
                s.and_then(showable)
                    .and_then(|s| s.checked_mul(MICROS_PER_SECOND))
            }))
            .with_timezone("UTC"),
        ),
    }
}

fn parquet_error(error: impl std::fmt::Display) -> SynthError {
    SynthError::Write(format!("Parquet: {error}"))
}

/// Writes tables as one Parquet file in pieces: any number of row batches
/// with the columns (names and types) of the first, each
/// [`end_row_group`](Self::end_row_group) closing a row group. Nothing is
/// a valid file until [`finish`](Self::finish) writes the footer.
pub struct ParquetTableWriter<W: Write + Send> {
    writer: ArrowWriter<W>,
    schema: SchemaRef,
}

impl<W: Write + Send> ParquetTableWriter<W> {
    /// Starts a Parquet file with the schema of `template` (its rows are not
    /// written), Snappy-compressed.
    pub fn new(writer: W, template: &Table) -> Result<Self> {
        let schema = Arc::new(arrow_schema(template));
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let writer = ArrowWriter::try_new(writer, Arc::clone(&schema), Some(properties))
            .map_err(parquet_error)?;
        Ok(ParquetTableWriter { writer, schema })
    }

    /// Adds every row of `table` to the current row group; its columns must
    /// have the names and types of the template's.
    pub fn write_rows(&mut self, table: &Table) -> Result<()> {
        let same = table.columns().len() == self.schema.fields().len()
            && table
                .columns()
                .iter()
                .zip(self.schema.fields())
                .all(|(column, field)| arrow_field(column) == **field);
        if !same {
            return Err(SynthError::SchemaMismatch(
                "rows have other columns than the Parquet schema".into(),
            ));
        }
        let arrays = table.columns().iter().map(column_array).collect();
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), arrays)
            .map_err(|error| SynthError::SchemaMismatch(error.to_string()))?;
        self.writer.write(&batch).map_err(parquet_error)
    }

    /// Closes the current row group (nothing happens when it is empty).
    pub fn end_row_group(&mut self) -> Result<()> {
        self.writer.flush().map_err(parquet_error)
    }

    /// Closes the last row group, writes the footer and returns the writer.
    pub fn finish(self) -> Result<W> {
        let mut inner = self.writer.into_inner().map_err(parquet_error)?;
        inner
            .flush()
            .map_err(|error| SynthError::Write(error.to_string()))?;
        Ok(inner)
    }
}

/// Writes `table` as a Parquet file of one row group.
pub fn write_parquet<W: Write + Send>(table: &Table, writer: W) -> Result<W> {
    let mut parquet_writer = ParquetTableWriter::new(writer, table)?;
    parquet_writer.write_rows(table)?;
    parquet_writer.finish()
}

#[cfg(test)]
#[path = "parquet_io_tests.rs"]
mod tests;
