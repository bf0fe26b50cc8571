//! CSV in and out: [`read_raw_csv`] turns CSV bytes into columns of trimmed
//! strings (structural errors name the row and column) for
//! [`crate::infer`] to type, and [`CsvTableWriter`] writes tables back,
//! formatting every kind the way the reader accepts it.

use std::io::{Read, Write};

use crate::error::{Result, SynthError};
use crate::table::Table;

/// A CSV read as trimmed strings: the header and one string vector per column.
#[derive(Clone, Debug, PartialEq)]
pub struct RawTable {
    /// Header names, in order.
    pub names: Vec<String>,
    /// `columns[c][r]` is row `r` of column `c`, whitespace-trimmed.
    pub columns: Vec<Vec<String>>,
}

/// Reads a CSV with a header row into trimmed strings.
///
/// Every row must have as many fields as the header; the error names the
/// 1-based data row and, for invalid UTF-8, the column.
pub fn read_raw_csv<R: Read>(reader: R) -> Result<RawTable> {
    let mut csv_reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let header = csv_reader
        .headers()
        .map_err(|error| csv_error(error, &[]))?
        .clone();
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(SynthError::EmptyCsv);
    }
    let names: Vec<String> = header.iter().map(str::to_string).collect();
    for (index, name) in names.iter().enumerate() {
        if names[..index].contains(name) {
            return Err(SynthError::DuplicateColumn(name.clone()));
        }
    }
    let mut columns: Vec<Vec<String>> = vec![Vec::new(); names.len()];
    for record in csv_reader.records() {
        let record = record.map_err(|error| csv_error(error, &names))?;
        for (column, field) in columns.iter_mut().zip(record.iter()) {
            column.push(field.to_string());
        }
    }
    Ok(RawTable { names, columns })
}

fn csv_error(error: csv::Error, names: &[String]) -> SynthError {
    let row = error
        .position()
        .map(|position| position.record())
        .unwrap_or(0);
    match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => SynthError::Csv {
            row,
            column: None,
            message: format!("expected {expected_len} fields as in the header, found {len}"),
        },
        csv::ErrorKind::Utf8 { err, .. } => SynthError::Csv {
            row,
            column: Some(
                names
                    .get(err.field())
                    .cloned()
                    .unwrap_or_else(|| format!("#{}", err.field() + 1)),
            ),
            message: "invalid UTF-8".into(),
        },
        _ => SynthError::Csv {
            row,
            column: None,
            message: error.to_string(),
        },
    }
}

/// Writes a table as CSV in pieces: the header once, then any number of
/// row batches with the same columns.
pub struct CsvTableWriter<W: Write> {
    writer: csv::Writer<W>,
    names: Vec<String>,
}

impl<W: Write> CsvTableWriter<W> {
    /// Starts a CSV with the given header.
    pub fn new(writer: W, names: Vec<String>) -> Result<Self> {
        let mut writer = csv::WriterBuilder::new().from_writer(writer);
        writer
            .write_record(&names)
            .map_err(|error| SynthError::Write(error.to_string()))?;
        Ok(CsvTableWriter { writer, names })
    }

    /// Writes every row of `table`, whose columns must match the header.
    pub fn write_rows(&mut self, table: &Table) -> Result<()> {
        if table.column_names() != self.names {
            return Err(SynthError::SchemaMismatch(
                "rows have other columns than the header".into(),
            ));
        }
        let mut record = Vec::with_capacity(self.names.len());
        for row in 0..table.row_count() {
            record.clear();
            record.extend(
                table
                    .columns()
                    .iter()
                    .map(|column| column.format_value(row)),
            );
            self.writer
                .write_record(&record)
                .map_err(|error| SynthError::Write(error.to_string()))?;
        }
        Ok(())
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> Result<W> {
        self.writer
            .into_inner()
            .map_err(|error| SynthError::Write(error.to_string()))
    }
}

/// Writes `table` as CSV with a header row.
pub fn write_csv<W: Write>(table: &Table, writer: W) -> Result<W> {
    let mut csv_writer = CsvTableWriter::new(writer, table.column_names())?;
    csv_writer.write_rows(table)?;
    csv_writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Column, ColumnData, DatetimeFormat};

    #[test]
    fn raw_reader_names_the_row_with_too_many_fields() {
        let error = read_raw_csv("a,b\n1,2\n3,4,5\n".as_bytes()).unwrap_err();
        assert!(matches!(error, SynthError::Csv { row: 2, .. }), "{error}");
        assert!(error.to_string().contains("row 2"));
    }

    #[test]
    fn raw_reader_names_the_column_with_invalid_utf8() {
        let error = read_raw_csv(&b"a,b\n1,2\n3,\xff\n"[..]).unwrap_err();
        assert_eq!(error.to_string(), "CSV row 2, column \"b\": invalid UTF-8");
    }

    #[test]
    fn raw_reader_rejects_empty_input_and_duplicate_names() {
        assert!(matches!(
            read_raw_csv("".as_bytes()),
            Err(SynthError::EmptyCsv)
        ));
        assert!(matches!(
            read_raw_csv("a,a\n1,2\n".as_bytes()),
            Err(SynthError::DuplicateColumn(_))
        ));
    }

    #[test]
    fn writer_formats_each_kind_and_missing_values() {
        let table = Table::new(vec![
            Column {
                name: "i".into(),
                data: ColumnData::Integer(vec![Some(-3), None]),
            },
            Column {
                name: "f".into(),
                data: ColumnData::Float {
                    values: vec![Some(1.25), None],
                    decimals: 1,
                },
            },
            Column {
                name: "b".into(),
                data: ColumnData::Boolean(vec![None, Some(true)]),
            },
            Column {
                name: "c".into(),
                data: ColumnData::Categorical(vec![Some("x,y".into()), None]),
            },
            Column {
                name: "d".into(),
                data: ColumnData::Datetime {
                    seconds: vec![Some(86_400), None],
                    format: DatetimeFormat::Date,
                },
            },
        ])
        .unwrap();
        let bytes = write_csv(&table, Vec::new()).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "i,f,b,c,d\n-3,1.2,,\"x,y\",1970-01-02\n,,true,,\n"
        );
    }
}
