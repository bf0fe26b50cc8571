//! Candidate CSV in the reference format: header `dataset_a,row_a,dataset_b,row_b,score`,
//! `\n` line endings, `score` as Python's float repr.

use std::io::{BufWriter, Read, Write};

use crate::candidates::{Candidate, Candidates};
use crate::error::{MatchError, Result};
use crate::pyrepr::python_float_repr;

/// Header of the candidate CSV.
pub const CANDIDATE_HEADER: [&str; 5] = ["dataset_a", "row_a", "dataset_b", "row_b", "score"];

/// Write `candidates` as CSV, byte-identical to the anonlink reference files.
pub fn write_candidates_csv<W: Write>(candidates: &Candidates, writer: W) -> Result<()> {
    let mut w = BufWriter::with_capacity(1 << 16, writer);
    writeln!(w, "{}", CANDIDATE_HEADER.join(","))?;
    for c in candidates.iter() {
        writeln!(
            w,
            "{},{},{},{},{}",
            c.dataset_a,
            c.row_a,
            c.dataset_b,
            c.row_b,
            python_float_repr(c.score)
        )?;
    }
    w.flush()?;
    Ok(())
}

fn field<T: std::str::FromStr>(rec: &csv::StringRecord, i: usize, line: u64) -> Result<T> {
    let raw = rec.get(i).unwrap_or("");
    raw.trim().parse().map_err(|_| MatchError::BadCsvRow {
        line,
        reason: format!(
            "column {} ({:?}) is not a valid value: {raw:?}",
            i + 1,
            CANDIDATE_HEADER[i]
        ),
    })
}

/// Read a candidate CSV (as written by [`write_candidates_csv`] or anonlink's reference).
///
/// Errors name the 1-based line of the first malformed row (wrong field count, non-integer
/// index, non-numeric or NaN score).
pub fn read_candidates_csv<R: Read>(reader: R) -> Result<Candidates> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(reader);
    let header = rdr.headers().map_err(|e| MatchError::BadCsvRow {
        line: 1,
        reason: e.to_string(),
    })?;
    if header.iter().map(str::trim).ne(CANDIDATE_HEADER) {
        return Err(MatchError::BadCsvHeader {
            expected: CANDIDATE_HEADER.iter().map(|s| s.to_string()).collect(),
            found: header.iter().map(str::to_string).collect(),
        });
    }
    let mut out = Candidates::default();
    let mut rec = csv::StringRecord::new();
    loop {
        let line = rdr.position().line();
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(MatchError::BadCsvRow {
                    line: e.position().map_or(line, |p| p.line()),
                    reason: e.to_string(),
                })
            }
        }
        let line = rec.position().map_or(line, |p| p.line());
        if rec.len() != CANDIDATE_HEADER.len() {
            return Err(MatchError::BadCsvRow {
                line,
                reason: format!("expected 5 fields, found {}", rec.len()),
            });
        }
        let score: f64 = field(&rec, 4, line)?;
        if score.is_nan() {
            return Err(MatchError::BadCsvRow {
                line,
                reason: "score is NaN".into(),
            });
        }
        out.push(Candidate {
            dataset_a: field(&rec, 0, line)?,
            row_a: field(&rec, 1, line)?,
            dataset_b: field(&rec, 2, line)?,
            row_b: field(&rec, 3, line)?,
            score,
        });
    }
    Ok(out)
}
