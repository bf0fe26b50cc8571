//! Streaming CSV → CLKs: header check, bounded chunks, parallel encoding, ordered output.
//!
//! Error policy: encoding **stops at the first invalid row** (in input order) and reports its
//! 1-based data row number (the header is not counted) and the column; CLKs of all earlier rows
//! have already been passed to the sink. A row with the wrong number of values is an error too.

use std::io::{self, Read};

use rayon::prelude::*;

use crate::encoder::{Clk, Encoder};
use crate::error::{EncodeError, RecordError};

/// Options of [`encode_csv`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Worker threads in the dedicated pool; 0 means one per available core.
    pub threads: usize,
    /// Rows read and encoded per chunk; memory use is bounded by two chunks.
    pub chunk_rows: usize,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            threads: 0,
            chunk_rows: 10_000,
        }
    }
}

/// What [`encode_csv`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncodeSummary {
    /// Records encoded (data rows, header excluded).
    pub records: u64,
    /// Sum of the CLKs' popcounts (for mean-popcount statistics).
    pub total_popcount: u64,
}

/// Compares a header with the schema's feature identifiers; returns every mismatch.
pub fn check_header<'a>(
    header: &[&str],
    expected: impl Iterator<Item = &'a str>,
) -> Result<(), EncodeError> {
    let expected: Vec<&str> = expected.collect();
    let mut problems = Vec::new();
    if header.len() != expected.len() {
        problems.push(format!(
            "header has {} columns, the schema has {} features",
            header.len(),
            expected.len()
        ));
    }
    for (i, (h, e)) in header.iter().zip(&expected).enumerate() {
        if h != e {
            problems.push(format!("column {} is {h:?}, expected {e:?}", i + 1));
        }
    }
    for e in expected.iter().filter(|e| !header.contains(e)) {
        problems.push(format!("missing column {e:?}"));
    }
    for h in header.iter().filter(|h| !expected.contains(h)) {
        problems.push(format!("unexpected column {h:?}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(EncodeError::HeaderMismatch { problems })
    }
}

fn csv_error(row: u64, e: csv::Error) -> EncodeError {
    if e.is_io_error() {
        if let csv::ErrorKind::Io(io) = e.into_kind() {
            return EncodeError::Io(io);
        }
        return EncodeError::Csv {
            row,
            message: "I/O error".to_string(),
        };
    }
    EncodeError::Csv {
        row,
        message: e.to_string(),
    }
}

/// Reads up to `n` records; returns them (possibly fewer at the end of input).
fn read_chunk<R: Read>(
    rdr: &mut csv::Reader<R>,
    n: usize,
    first_row: u64,
) -> Result<Vec<csv::StringRecord>, EncodeError> {
    let mut rows = Vec::with_capacity(n.min(1 << 16));
    for i in 0..n {
        let mut rec = csv::StringRecord::new();
        match rdr.read_record(&mut rec) {
            Ok(true) => rows.push(rec),
            Ok(false) => break,
            Err(e) => return Err(csv_error(first_row + i as u64, e)),
        }
    }
    Ok(rows)
}

fn encode_chunk(encoder: &Encoder, rows: &[csv::StringRecord]) -> Vec<Result<Clk, RecordError>> {
    let width = encoder.clk_bytes();
    rows.par_iter()
        .with_min_len(64)
        .map(|rec| {
            let mut out = vec![0u8; width];
            encoder.encode_values(rec.len(), rec.iter(), &mut out)?;
            Ok(Clk::from_bytes(out))
        })
        .collect()
}

/// Encodes a CSV (header row required, one column per schema feature in schema order) read
/// from `reader`, passing each CLK with its 0-based row index to `sink` in input order and
/// calling `on_progress` with the number of rows done after every chunk.
pub fn encode_csv<R: Read>(
    reader: R,
    encoder: &Encoder,
    options: &EncodeOptions,
    on_progress: impl Fn(u64),
    mut sink: impl FnMut(u64, Clk) -> io::Result<()>,
) -> Result<EncodeSummary, EncodeError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut header = csv::StringRecord::new();
    if !rdr.read_record(&mut header).map_err(|e| csv_error(0, e))? {
        return Err(EncodeError::MissingHeader);
    }
    let header_cells: Vec<&str> = header.iter().collect();
    check_header(&header_cells, encoder.identifiers())?;

    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("veil-clk-{i}"))
        .build()
        .map_err(|e| EncodeError::ThreadPool(e.to_string()))?;
    let chunk_rows = options.chunk_rows.max(1);
    let mut summary = EncodeSummary::default();

    let mut current = read_chunk(&mut rdr, chunk_rows, 1)?;
    while !current.is_empty() {
        let next_first_row = summary.records + current.len() as u64 + 1;
        // The pool encodes this chunk while the calling thread reads the next one.
        let mut encoded = Vec::new();
        let next = pool.in_place_scope(|scope| {
            scope.spawn(|_| encoded = encode_chunk(encoder, &current));
            read_chunk(&mut rdr, chunk_rows, next_first_row)
        });
        for result in encoded {
            let clk = result.map_err(|source| EncodeError::Record {
                row: summary.records + 1,
                source,
            })?;
            summary.total_popcount += u64::from(clk.popcount());
            sink(summary.records, clk)?;
            summary.records += 1;
        }
        on_progress(summary.records);
        current = next?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_problems_are_listed() {
        let err = check_header(&["a", "c", "b", "x"], ["a", "b", "c"].into_iter()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("header has 4 columns, the schema has 3 features"),
            "{msg}"
        );
        assert!(msg.contains("column 2 is \"c\", expected \"b\""), "{msg}");
        assert!(msg.contains("unexpected column \"x\""), "{msg}");
        assert!(check_header(&["a", "b"], ["a", "b"].into_iter()).is_ok());
    }
}
