//! CLK writers: clkhash's JSON file format and raw binary.

use std::io::{self, Write};

use crate::encoder::Clk;

/// Output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// `{"clks": ["<base64>", "<base64>", …]}` exactly as clkhash writes it (`", "` separators,
    /// no trailing newline).
    Json,
    /// The CLKs' bytes concatenated, `l / 8` bytes each, in row order.
    Binary,
}

/// Streams CLKs to a writer in an [`OutputFormat`]; call [`ClkWriter::finish`] at the end.
#[derive(Debug)]
pub struct ClkWriter<W: Write> {
    inner: W,
    format: OutputFormat,
    written: u64,
}

impl<W: Write> ClkWriter<W> {
    /// Starts the output (writes the JSON prefix).
    pub fn new(mut inner: W, format: OutputFormat) -> io::Result<Self> {
        if format == OutputFormat::Json {
            inner.write_all(b"{\"clks\": [")?;
        }
        Ok(ClkWriter {
            inner,
            format,
            written: 0,
        })
    }

    /// Appends one CLK.
    pub fn write(&mut self, clk: &Clk) -> io::Result<()> {
        match self.format {
            OutputFormat::Json => {
                if self.written > 0 {
                    self.inner.write_all(b", ")?;
                }
                self.inner.write_all(b"\"")?;
                self.inner.write_all(clk.to_base64().as_bytes())?;
                self.inner.write_all(b"\"")?;
            }
            OutputFormat::Binary => self.inner.write_all(clk.as_bytes())?,
        }
        self.written += 1;
        Ok(())
    }

    /// Number of CLKs written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Completes the output (writes the JSON suffix), flushes and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        if self.format == OutputFormat::Json {
            self.inner.write_all(b"]}")?;
        }
        self.inner.flush()?;
        Ok(self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_matches_clkhash_layout() {
        let mut w = ClkWriter::new(Vec::new(), OutputFormat::Json).unwrap();
        w.write(&Clk::from_bytes(vec![0xff])).unwrap();
        w.write(&Clk::from_bytes(vec![0x00, 0x01])).unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(out, r#"{"clks": ["/w==", "AAE="]}"#);
        let empty = ClkWriter::new(Vec::new(), OutputFormat::Json)
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(empty, br#"{"clks": []}"#);
    }

    #[test]
    fn binary_concatenates() {
        let mut w = ClkWriter::new(Vec::new(), OutputFormat::Binary).unwrap();
        w.write(&Clk::from_bytes(vec![1, 2])).unwrap();
        w.write(&Clk::from_bytes(vec![3, 4])).unwrap();
        assert_eq!(w.finish().unwrap(), vec![1, 2, 3, 4]);
    }
}
