//! CLK input (`{"clks": [...]}`) and `clknblocks` output.

use std::io::{Read, Write};

use base64::Engine;
use serde::Deserialize;

use crate::blocks::Blocks;
use crate::error::BlockingError;

/// CLKs as read from clkhash JSON: the original base64 text and the decoded bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Clks {
    /// Base64 strings exactly as given (written back unchanged in `clknblocks`).
    pub encoded: Vec<String>,
    /// Decoded bytes; bit `i` is `bytes[i / 8] & (0x80 >> (i % 8))`.
    pub bits: Vec<Vec<u8>>,
}

#[derive(Deserialize)]
struct ClkDoc {
    clks: Vec<String>,
}

/// Decodes one base64 CLK (standard alphabet, padding optional, whitespace ignored).
pub fn decode_clk(s: &str) -> Result<Vec<u8>, String> {
    let cleaned: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let trimmed = cleaned.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .map_err(|e| format!("invalid base64: {e}"))
}

impl Clks {
    /// Builds from base64 strings, decoding each (errors name the CLK index).
    pub fn from_encoded(encoded: Vec<String>) -> Result<Self, BlockingError> {
        let bits = encoded
            .iter()
            .enumerate()
            .map(|(index, s)| decode_clk(s).map_err(|reason| BlockingError::Clk { index, reason }))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Clks { encoded, bits })
    }

    /// Reads clkhash JSON `{"clks": ["<base64>", ...]}`.
    pub fn read_json<R: Read>(reader: R) -> Result<Self, BlockingError> {
        let doc: ClkDoc = serde_json::from_reader(std::io::BufReader::new(reader))
            .map_err(|e| BlockingError::ClkJson(e.to_string()))?;
        Self::from_encoded(doc.clks)
    }

    /// Number of CLKs.
    pub fn len(&self) -> usize {
        self.encoded.len()
    }

    /// True when there are no CLKs.
    pub fn is_empty(&self) -> bool {
        self.encoded.is_empty()
    }
}

/// Streams `{"clknblocks": [["<clk>", "<block id>", ...], ...]}` to `w`, in the
/// Anonlink Entity Service's upload format. `encoded.len()` must equal
/// `blocks.num_records()`.
pub fn write_clknblocks<W: Write>(
    w: W,
    encoded: &[String],
    blocks: &Blocks,
) -> Result<(), BlockingError> {
    if encoded.len() != blocks.num_records() {
        return Err(BlockingError::WrongInput(format!(
            "{} CLKs but blocks for {} records",
            encoded.len(),
            blocks.num_records()
        )));
    }
    let mut w = std::io::BufWriter::new(w);
    w.write_all(b"{\"clknblocks\": [")?;
    for (i, clk) in encoded.iter().enumerate() {
        if i > 0 {
            w.write_all(b", ")?;
        }
        w.write_all(b"[")?;
        serde_json::to_writer(&mut w, clk).map_err(std::io::Error::from)?;
        for key in blocks.record_blocks(i) {
            w.write_all(b", ")?;
            serde_json::to_writer(&mut w, key).map_err(std::io::Error::from)?;
        }
        w.write_all(b"]")?;
    }
    w.write_all(b"]}")?;
    w.flush()?;
    Ok(())
}
