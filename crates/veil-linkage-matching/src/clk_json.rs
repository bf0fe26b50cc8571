//! Streaming readers for CLK JSON: clkhash's `{"clks": ["<base64>", …]}` and the Anonlink
//! Entity Service's `{"clknblocks": [["<base64>", "<block id>", …], …]}`.
//!
//! Each CLK is decoded into the [`ClkSet`] as soon as it is parsed and each block id is
//! hashed with [`block_key_id`] at once, so memory holds only the decoded result (16 bytes
//! per 128-byte CLK of overhead at most), never the file text or a list of strings.
//! Wrap files in a `BufReader`.

use std::fmt;
use std::io::Read;

use base64::Engine as _;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::blocked::{block_key_id, RecordBlocks};
use crate::clk::{ClkSet, MAX_CLK_BYTES};
use crate::error::{MatchError, Result};

/// A parsed CLK document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClkDocument {
    /// `{"clks": […]}`: CLKs only.
    Clks(ClkSet),
    /// `{"clknblocks": […]}`: CLKs with each record's block ids (hashed by [`block_key_id`];
    /// integer ids are hashed as their decimal text).
    Blocked(ClkSet, RecordBlocks),
}

impl ClkDocument {
    /// The CLKs.
    pub fn clks(&self) -> &ClkSet {
        match self {
            ClkDocument::Clks(c) | ClkDocument::Blocked(c, _) => c,
        }
    }
}

/// Reads either document kind. `clk_bytes` fixes the expected CLK size; `None` takes the
/// first CLK's size (an empty list then is an error).
pub fn read_clk_document<R: Read>(reader: R, clk_bytes: Option<usize>) -> Result<ClkDocument> {
    read(reader, clk_bytes, true)
}

/// Reads `{"clks": […]}` only (a `clknblocks` document is an error).
pub(crate) fn read_clks_only<R: Read>(reader: R, clk_bytes: Option<usize>) -> Result<ClkSet> {
    match read(reader, clk_bytes, false)? {
        ClkDocument::Clks(c) | ClkDocument::Blocked(c, _) => Ok(c),
    }
}

fn read<R: Read>(reader: R, clk_bytes: Option<usize>, blocked: bool) -> Result<ClkDocument> {
    if let Some(b) = clk_bytes {
        ClkSet::new(b)?;
    }
    let mut acc = Acc {
        clk_bytes,
        set: None,
        buf: Vec::with_capacity(MAX_CLK_BYTES),
        error: None,
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let parsed = DocSeed {
        acc: &mut acc,
        blocked,
    }
    .deserialize(&mut de)
    .and_then(|doc| de.end().map(|()| doc));
    if let Some(err) = acc.error.take() {
        return Err(err);
    }
    let kind = parsed.map_err(|e| MatchError::Json(e.to_string()))?;
    let set = match acc.set.take() {
        Some(set) => set,
        None => match acc.clk_bytes {
            Some(b) => ClkSet::new(b)?,
            None => {
                return Err(MatchError::InvalidArgument(
                    "no CLKs given and no CLK size".into(),
                ))
            }
        },
    };
    Ok(match kind {
        Some(blocks) => ClkDocument::Blocked(set, blocks),
        None => ClkDocument::Clks(set),
    })
}

/// The CLKs decoded so far, and the first library error (reported instead of the JSON
/// error it aborts parsing with).
struct Acc {
    clk_bytes: Option<usize>,
    set: Option<ClkSet>,
    buf: Vec<u8>,
    error: Option<MatchError>,
}

impl Acc {
    fn push<E: de::Error>(&mut self, s: &str) -> std::result::Result<(), E> {
        let r = self.try_push(s);
        r.map_err(|e| {
            let msg = e.to_string();
            self.error = Some(e);
            E::custom(msg)
        })
    }

    fn try_push(&mut self, s: &str) -> Result<()> {
        let index = self.set.as_ref().map_or(0, ClkSet::len);
        self.buf.clear();
        base64::engine::general_purpose::STANDARD
            .decode_vec(s.trim().as_bytes(), &mut self.buf)
            .map_err(|e| MatchError::BadBase64 {
                index,
                reason: e.to_string(),
            })?;
        let set = match self.set.as_mut() {
            Some(set) => set,
            None => self
                .set
                .insert(ClkSet::new(self.clk_bytes.unwrap_or(self.buf.len()))?),
        };
        if self.buf.len() != set.clk_bytes() {
            return Err(MatchError::MixedLengths {
                index,
                expected: set.clk_bytes(),
                found: self.buf.len(),
            });
        }
        set.push(&self.buf)
    }
}

/// The top-level object; yields the blocks if the document is `clknblocks`.
struct DocSeed<'a> {
    acc: &'a mut Acc,
    blocked: bool,
}

impl<'de> DeserializeSeed<'de> for DocSeed<'_> {
    type Value = Option<RecordBlocks>;
    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocSeed<'_> {
    type Value = Option<RecordBlocks>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with a \"clks\" or \"clknblocks\" array")
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut found: Option<Option<RecordBlocks>> = None;
        while let Some(key) = map.next_key::<String>()? {
            let known = key == "clks" || (self.blocked && key == "clknblocks");
            if !known {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if found.is_some() {
                return Err(de::Error::custom(
                    "more than one \"clks\" / \"clknblocks\" array",
                ));
            }
            found = Some(if key == "clks" {
                map.next_value_seed(ClksSeed(&mut *self.acc))?;
                None
            } else {
                Some(map.next_value_seed(RecordsSeed(&mut *self.acc))?)
            });
        }
        let want = if self.blocked {
            "missing field `clks` or `clknblocks`"
        } else {
            "missing field `clks`"
        };
        found.ok_or_else(|| de::Error::custom(want))
    }
}

/// `["<base64>", …]`.
struct ClksSeed<'a>(&'a mut Acc);

impl<'de> DeserializeSeed<'de> for ClksSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ClksSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of base64 strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while seq.next_element_seed(ClkSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// One base64 CLK string, decoded straight into the set.
struct ClkSeed<'a>(&'a mut Acc);

impl<'de> DeserializeSeed<'de> for ClkSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for ClkSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a base64 string")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<(), E> {
        self.0.push(s)
    }
}

/// `[["<base64>", "<block id>", …], …]`.
struct RecordsSeed<'a>(&'a mut Acc);

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_> {
    type Value = RecordBlocks;
    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<RecordBlocks, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_> {
    type Value = RecordBlocks;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of [clk, block id, …] arrays")
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<RecordBlocks, A::Error> {
        let mut blocks = RecordBlocks::new();
        let mut ids = Vec::new();
        while seq
            .next_element_seed(RecordSeed {
                acc: &mut *self.0,
                ids: &mut ids,
            })?
            .is_some()
        {
            blocks.push_record(ids.drain(..));
        }
        Ok(blocks)
    }
}

/// One `["<base64>", "<block id>", …]` record.
struct RecordSeed<'a> {
    acc: &'a mut Acc,
    ids: &'a mut Vec<u64>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array [clk, block id, …]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        if seq.next_element_seed(ClkSeed(&mut *self.acc))?.is_none() {
            return Err(de::Error::custom("a clknblocks entry without a CLK"));
        }
        while let Some(id) = seq.next_element_seed(KeySeed)? {
            self.ids.push(id);
        }
        Ok(())
    }
}

/// A block id: a string, or an integer taken as its decimal text.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = u64;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<u64, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a block id (string or integer)")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<u64, E> {
        Ok(block_key_id(s))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<u64, E> {
        Ok(block_key_id(&v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<u64, E> {
        Ok(block_key_id(&v.to_string()))
    }
}
