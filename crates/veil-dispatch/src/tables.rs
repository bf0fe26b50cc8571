//! Table files as [`RawTable`]s: CSV through the synth kernel's reader, Parquet through the arrow
//! reader with every column turned into text the kernel's type inference reads back (integers and
//! floats as plain numbers, booleans as `true`/`false`, dates as `2024-01-31`, timestamps as
//! `2024-01-31T13:45:00` in UTC, nulls as the empty string, the kernel's missing value).
//!
//! Errors name the file and the column, never a cell value.

use std::fmt::Display;

use arrow_array::cast::AsArray;
use arrow_array::types::ArrowTemporalType;
use arrow_array::types::{
    Date32Type, Date64Type, Float16Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Int8Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrowPrimitiveType, PrimitiveArray};
use arrow_schema::{DataType, TimeUnit};
use chrono::NaiveDateTime;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::ChunkReader;
use veil_synth::RawTable;

/// The formats a table file may have, told by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableFormat {
    /// `.csv`, with a header row.
    Csv,
    /// `.parquet`.
    Parquet,
}

impl TableFormat {
    /// The format of `path` (a file path or an object key) by its extension, case-insensitively.
    pub(crate) fn of(path: &str) -> Result<TableFormat, String> {
        let extension = path
            .rsplit_once('.')
            .map(|(_, extension)| extension.to_ascii_lowercase())
            .unwrap_or_default();
        match extension.as_str() {
            "csv" => Ok(TableFormat::Csv),
            "parquet" => Ok(TableFormat::Parquet),
            _ => Err(format!(
                "cannot read {path:?}: the extension must be .csv or .parquet"
            )),
        }
    }
}

/// Reads a CSV with a header row.
pub(crate) fn read_csv(input: impl std::io::Read, path: &str) -> Result<RawTable, String> {
    veil_synth::read_raw_csv(input).map_err(|error| format!("{path:?}: {error}"))
}

/// Reads a Parquet file, every column as text.
pub(crate) fn read_parquet<T: ChunkReader + 'static>(
    input: T,
    path: &str,
) -> Result<RawTable, String> {
    let failed = |error: &dyn Display| format!("{path:?} is not a readable Parquet file: {error}");
    let builder = ParquetRecordBatchReaderBuilder::try_new(input).map_err(|e| failed(&e))?;
    let schema = builder.schema().clone();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    if names.is_empty() {
        return Err(format!("{path:?} has no columns"));
    }
    for (index, name) in names.iter().enumerate() {
        if names[..index].contains(name) {
            return Err(format!("{path:?} has two columns named {name:?}"));
        }
    }
    let reader = builder.build().map_err(|e| failed(&e))?;
    let mut columns: Vec<Vec<String>> = vec![Vec::new(); names.len()];
    for batch in reader {
        let batch = batch.map_err(|e| failed(&e))?;
        for ((column, array), name) in columns.iter_mut().zip(batch.columns()).zip(&names) {
            append_text(column, array.as_ref())
                .map_err(|message| format!("{path:?}, column {name:?}: {message}"))?;
        }
    }
    Ok(RawTable { names, columns })
}

/// Appends the values of `array` as text to `out`; nulls become the empty string.
pub(crate) fn append_text(out: &mut Vec<String>, array: &dyn Array) -> Result<(), String> {
    match array.data_type() {
        DataType::Null => out.extend((0..array.len()).map(|_| String::new())),
        DataType::Boolean => {
            let values = array.as_boolean();
            out.extend(
                values
                    .iter()
                    .map(|v| v.map(|v| v.to_string()).unwrap_or_default()),
            );
        }
        DataType::Int8 => display::<Int8Type>(out, array),
        DataType::Int16 => display::<Int16Type>(out, array),
        DataType::Int32 => display::<Int32Type>(out, array),
        DataType::Int64 => display::<Int64Type>(out, array),
        DataType::UInt8 => display::<UInt8Type>(out, array),
        DataType::UInt16 => display::<UInt16Type>(out, array),
        DataType::UInt32 => display::<UInt32Type>(out, array),
        DataType::UInt64 => display::<UInt64Type>(out, array),
        DataType::Float16 => each::<Float16Type>(out, array, |v| finite(f64::from(v.to_f32()))),
        DataType::Float32 => each::<Float32Type>(out, array, |v| {
            // Shortest text that reads back as the same f32, not the f64 widening's digits.
            v.is_finite().then(|| v.to_string())
        }),
        DataType::Float64 => each::<Float64Type>(out, array, finite),
        DataType::Decimal128(..) => {
            let values = array.as_primitive::<arrow_array::types::Decimal128Type>();
            out.extend((0..values.len()).map(|i| {
                if values.is_null(i) {
                    String::new()
                } else {
                    values.value_as_string(i)
                }
            }));
        }
        DataType::Utf8 => strings(out, array.as_string::<i32>().iter()),
        DataType::LargeUtf8 => strings(out, array.as_string::<i64>().iter()),
        DataType::Utf8View => strings(out, array.as_string_view().iter()),
        DataType::Date32 => dates::<Date32Type>(out, array),
        DataType::Date64 => dates::<Date64Type>(out, array),
        DataType::Timestamp(unit, _) => match unit {
            TimeUnit::Second => timestamps::<TimestampSecondType>(out, array),
            TimeUnit::Millisecond => timestamps::<TimestampMillisecondType>(out, array),
            TimeUnit::Microsecond => timestamps::<TimestampMicrosecondType>(out, array),
            TimeUnit::Nanosecond => timestamps::<TimestampNanosecondType>(out, array),
        },
        DataType::Time32(TimeUnit::Second) => times::<Time32SecondType>(out, array),
        DataType::Time32(TimeUnit::Millisecond) => times::<Time32MillisecondType>(out, array),
        DataType::Time64(TimeUnit::Microsecond) => times::<Time64MicrosecondType>(out, array),
        DataType::Time64(TimeUnit::Nanosecond) => times::<Time64NanosecondType>(out, array),
        DataType::Dictionary(..) => {
            let Some(dictionary) = array.as_any_dictionary_opt() else {
                return Err(unsupported(array.data_type()));
            };
            let mut values = Vec::with_capacity(dictionary.values().len());
            append_text(&mut values, dictionary.values().as_ref())?;
            let keys = dictionary.normalized_keys();
            out.extend(keys.iter().enumerate().map(|(row, &key)| {
                if array.is_null(row) {
                    String::new()
                } else {
                    values.get(key).cloned().unwrap_or_default()
                }
            }));
        }
        other => return Err(unsupported(other)),
    }
    Ok(())
}

fn unsupported(data_type: &DataType) -> String {
    format!("values of type {data_type} cannot be read as a table column")
}

fn finite(value: f64) -> Option<String> {
    // NaN and infinities have no place in the kernel's numeric columns: they read as missing.
    value.is_finite().then(|| value.to_string())
}

fn each<T: ArrowPrimitiveType>(
    out: &mut Vec<String>,
    array: &dyn Array,
    text: impl Fn(T::Native) -> Option<String>,
) {
    let values: &PrimitiveArray<T> = array.as_primitive::<T>();
    out.extend(values.iter().map(|v| v.and_then(&text).unwrap_or_default()));
}

fn display<T: ArrowPrimitiveType>(out: &mut Vec<String>, array: &dyn Array)
where
    T::Native: Display,
{
    each::<T>(out, array, |v| Some(v.to_string()));
}

fn strings<'a>(out: &mut Vec<String>, values: impl Iterator<Item = Option<&'a str>>) {
    out.extend(values.map(|v| v.unwrap_or_default().to_string()));
}

fn dates<T: ArrowTemporalType>(out: &mut Vec<String>, array: &dyn Array)
where
    i64: From<T::Native>,
{
    moments::<T>(out, array, "%Y-%m-%d");
}

fn moments<T: ArrowTemporalType>(out: &mut Vec<String>, array: &dyn Array, format: &str)
where
    i64: From<T::Native>,
{
    let values = array.as_primitive::<T>();
    out.extend((0..values.len()).map(|i| {
        (!values.is_null(i))
            .then(|| values.value_as_datetime(i))
            .flatten()
            .map(|moment: NaiveDateTime| moment.format(format).to_string())
            .unwrap_or_default()
    }));
}

/// `2024-01-31T13:45:00`, with a fraction only when the value has one.
fn timestamps<T: ArrowTemporalType>(out: &mut Vec<String>, array: &dyn Array)
where
    i64: From<T::Native>,
{
    moments::<T>(out, array, "%Y-%m-%dT%H:%M:%S%.f");
}

fn times<T: ArrowTemporalType>(out: &mut Vec<String>, array: &dyn Array)
where
    i64: From<T::Native>,
{
    let values = array.as_primitive::<T>();
    out.extend((0..values.len()).map(|i| {
        (!values.is_null(i))
            .then(|| values.value_as_time(i))
            .flatten()
            .map(|time| time.format("%H:%M:%S%.f").to_string())
            .unwrap_or_default()
    }));
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::types::Int32Type;
    use arrow_array::{
        ArrayRef, DictionaryArray, Float32Array, Float64Array, ListArray, RecordBatch,
        Time32SecondArray, UInt64Array,
    };

    use super::*;

    fn text(array: &dyn Array) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        append_text(&mut out, array).map(|()| out)
    }

    #[test]
    fn numbers_keep_their_shortest_text_and_non_finite_floats_are_missing() {
        let floats = Float32Array::from(vec![Some(0.1), Some(f32::NAN), None]);
        assert_eq!(text(&floats).unwrap(), ["0.1", "", ""]);
        let doubles = Float64Array::from(vec![f64::INFINITY, -0.25, 1e21]);
        assert_eq!(
            text(&doubles).unwrap(),
            ["", "-0.25", "1000000000000000000000"]
        );
        let unsigned = UInt64Array::from(vec![u64::MAX]);
        assert_eq!(text(&unsigned).unwrap(), [u64::MAX.to_string()]);
        let times = Time32SecondArray::from(vec![Some(3_661), None]);
        assert_eq!(text(&times).unwrap(), ["01:01:01", ""]);
    }

    #[test]
    fn dictionaries_read_as_their_values() {
        let cities: DictionaryArray<Int32Type> =
            vec![Some("Oslo"), None, Some("Bergen"), Some("Oslo")]
                .into_iter()
                .collect();
        assert_eq!(text(&cities).unwrap(), ["Oslo", "", "Bergen", "Oslo"]);
    }

    #[test]
    fn nested_columns_are_refused_by_column_name() {
        let lists = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1)])]);
        let batch =
            RecordBatch::try_from_iter(vec![("visits", Arc::new(lists) as ArrayRef)]).unwrap();
        let mut bytes = Vec::new();
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let error = read_parquet(bytes::Bytes::from(bytes), "a.parquet").unwrap_err();
        assert!(error.contains("column \"visits\""), "{error}");
        assert!(error.contains("cannot be read"), "{error}");
    }

    #[test]
    fn formats_follow_the_extension() {
        assert_eq!(TableFormat::of("a/b.CSV"), Ok(TableFormat::Csv));
        assert_eq!(TableFormat::of("b.parquet"), Ok(TableFormat::Parquet));
        for bad in ["b.json", "csv", "b.csv.gz", ""] {
            assert!(TableFormat::of(bad).is_err(), "{bad}");
        }
    }
}
