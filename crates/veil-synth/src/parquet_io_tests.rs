//! Unit tests for [`super`]: Parquet read back with the parquet crate's Arrow
//! reader holds what the CSV writer would write.

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::*;
use crate::csv_io::write_csv;
use crate::infer::{read_table, ReadOptions};
use crate::model::{sample, sample_to_csv, sample_to_parquet, AnyModel, ModelSpec};
use crate::rare::{prepare, PrepareOptions};
use crate::table::ColumnKind;

/// Every kind, both datetime layouts, and missing values in each column.
fn training_csv() -> String {
    let mut csv = String::from("n,score,flag,city,day,seen\n");
    for row in 0..400u32 {
        let gap = |every: u32| row % every == 0;
        let n = if gap(11) {
            String::new()
        } else {
            format!("{}", (row * 37) % 90)
        };
        let score = if gap(10) {
            String::new()
        } else {
            format!("{:.2}", f64::from(row % 70) / 7.0)
        };
        let flag = if gap(9) {
            String::new()
        } else {
            (row % 3 == 0).to_string()
        };
        let city = if gap(8) {
            ""
        } else {
            ["Oslo", "Bergen", "Tromsø"][(row % 3) as usize]
        };
        let day = if gap(7) {
            String::new()
        } else {
            format!("2024-03-{:02}", 1 + row % 28)
        };
        let seen = if gap(6) {
            String::new()
        } else {
            format!("2023-11-{:02}T{:02}:30:00", 1 + row % 20, row % 24)
        };
        csv += &format!("{n},{score},{flag},{city},{day},{seen}\n");
    }
    csv
}

fn model() -> AnyModel {
    let (table, schema) = read_table(training_csv().as_bytes(), &ReadOptions::default()).unwrap();
    let prepared = prepare(&table, &schema, &PrepareOptions::default()).unwrap();
    let model = ModelSpec::GaussianCopula(Default::default())
        .fit(&prepared)
        .unwrap();
    let kinds: Vec<ColumnKind> = sample(&model, 1, 0)
        .unwrap()
        .columns()
        .iter()
        .map(Column::kind)
        .collect();
    use ColumnKind::*;
    assert_eq!(
        kinds,
        [Integer, Float, Boolean, Categorical, Datetime, Datetime]
    );
    model
}

/// The file's batches and how many row groups it has.
fn read_back(bytes: Vec<u8>) -> (Vec<RecordBatch>, usize) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes)).unwrap();
    let row_groups = builder.metadata().num_row_groups();
    let batches = builder
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (batches, row_groups)
}

/// A cell as CSV text, formatted from its Arrow value (`decimals` for floats).
fn cell(array: &dyn Array, row: usize, decimals: usize) -> String {
    if array.is_null(row) {
        return String::new();
    }
    match array.data_type() {
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::Float64 => {
            let value = array.as_primitive::<Float64Type>().value(row);
            format!("{value:.decimals$}")
        }
        DataType::Boolean => array.as_boolean().value(row).to_string(),
        DataType::Utf8 => array.as_string::<i32>().value(row).to_string(),
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>().value(row);
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
            (epoch + chrono::TimeDelta::days(days.into())).to_string()
        }
        DataType::Timestamp(TimeUnit::Microsecond, Some(zone)) if zone.as_ref() == "UTC" => {
            let micros = array.as_primitive::<TimestampMicrosecondType>().value(row);
            let moment = DateTime::from_timestamp_micros(micros).unwrap();
            moment.naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string()
        }
        other => panic!("unexpected Arrow type {other}"),
    }
}

#[test]
fn parquet_holds_the_sampled_rows_with_typed_columns_and_nulls() {
    let model = model();
    let rows = 2 * SAMPLE_ROWS_PER_BATCH + 1500;
    let expected = sample(&model, rows, 7).unwrap();
    let bytes = sample_to_parquet(&model, rows, 7, Vec::new()).unwrap();
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
    let (batches, row_groups) = read_back(bytes);
    assert_eq!(row_groups, 3, "one row group per batch of chunks");

    let schema = batches[0].schema();
    let types: Vec<&DataType> = schema.fields().iter().map(|f| f.data_type()).collect();
    assert_eq!(
        types[..5],
        [
            &DataType::Int64,
            &DataType::Float64,
            &DataType::Boolean,
            &DataType::Utf8,
            &DataType::Date32
        ]
    );
    assert!(matches!(
        types[5],
        DataType::Timestamp(TimeUnit::Microsecond, Some(_))
    ));
    assert_eq!(
        schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect::<Vec<_>>(),
        expected.column_names()
    );

    let mut row = 0;
    let mut nulls = vec![0; expected.columns().len()];
    for batch in &batches {
        for local in 0..batch.num_rows() {
            for (index, column) in expected.columns().iter().enumerate() {
                let decimals = match column.data {
                    ColumnData::Float { decimals, .. } => usize::from(decimals),
                    _ => 0,
                };
                let got = cell(batch.column(index).as_ref(), local, decimals);
                assert_eq!(
                    got,
                    column.format_value(row),
                    "row {row}, column {}",
                    column.name
                );
                nulls[index] += usize::from(batch.column(index).is_null(local));
            }
            row += 1;
        }
    }
    assert_eq!(row, rows);
    assert!(
        nulls.iter().all(|&count| count > 0),
        "every column has nulls: {nulls:?}"
    );
}

/// Rows per row group: a batch of sampling chunks.
const SAMPLE_ROWS_PER_BATCH: usize =
    crate::model::CHUNKS_PER_BATCH * crate::model::SAMPLE_CHUNK_ROWS;

#[test]
fn parquet_output_is_deterministic_per_seed() {
    let model = model();
    let first = sample_to_parquet(&model, 3000, 11, Vec::new()).unwrap();
    assert_eq!(
        first,
        sample_to_parquet(&model, 3000, 11, Vec::new()).unwrap()
    );
    assert_ne!(
        first,
        sample_to_parquet(&model, 3000, 12, Vec::new()).unwrap()
    );
    let csv = sample_to_csv(&model, 3000, 11, Vec::new()).unwrap();
    assert_eq!(
        csv,
        write_csv(&sample(&model, 3000, 11).unwrap(), Vec::new()).unwrap()
    );
}

#[test]
fn zero_rows_give_a_file_with_the_schema_only() {
    let model = model();
    let bytes = sample_to_parquet(&model, 0, 1, Vec::new()).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes)).unwrap();
    assert_eq!(builder.metadata().num_row_groups(), 0);
    assert_eq!(builder.schema().fields().len(), 6);
}

#[test]
fn writer_rejects_rows_of_another_schema() {
    let table = |data| {
        Table::new(vec![Column {
            name: "a".into(),
            data,
        }])
        .unwrap()
    };
    let mut writer =
        ParquetTableWriter::new(Vec::new(), &table(ColumnData::Integer(vec![Some(1)]))).unwrap();
    let other = table(ColumnData::Boolean(vec![Some(true)]));
    assert!(matches!(
        writer.write_rows(&other),
        Err(SynthError::SchemaMismatch(_))
    ));
    let date = Table::new(vec![Column {
        name: "a".into(),
        data: ColumnData::Datetime {
            seconds: vec![Some(-86_400), Some(i64::MAX), None],
            format: DatetimeFormat::Date,
        },
    }])
    .unwrap();
    let (batches, _) = read_back(write_parquet(&date, Vec::new()).unwrap());
    let column = batches[0].column(0);
    assert_eq!(cell(column.as_ref(), 0, 0), "1969-12-31");
    assert!(
        column.is_null(1) && column.is_null(2),
        "out of range and missing are null"
    );
}
