//! Parsing and validating an upload body (`POST /projects/{id}/clks`) as it streams in.
//!
//! Three JSON shapes are accepted, as in the Entity Service's spec: `{"clks": [b64, …]}`,
//! `{"clknblocks": [[b64, block, …], …]}` and `{"encodings": [b64, …], "blocks": {"0": [block, …], …}}`.
//! Every encoding is base64-decoded as it is read and written to a sink (the blob store, for a real
//! upload), so an upload is never held whole in memory; only the block map of a blocking upload is.
//! All encodings must have the same, non-zero length.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{Read, Write};

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer as _;
use serde_json::Value;

/// Standard base64, with or without padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why an upload body was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The body is not a valid upload; the message names the problem.
    #[error("{0}")]
    Invalid(String),
    /// Reading the body or writing the sink failed.
    #[error("{0}")]
    Io(std::io::Error),
}

/// What a valid upload held, besides the encodings written to the sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedUpload {
    /// How many encodings.
    pub count: usize,
    /// Bytes per encoding.
    pub size: usize,
    /// Encoding index (as a string) → its block ids, for blocking uploads.
    pub blocks: Option<BTreeMap<String, Vec<String>>>,
    /// How many distinct block ids (1 without blocking).
    pub block_count: usize,
}

/// A valid upload decoded into memory (tests and small bodies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidUpload {
    /// The decoded encodings, concatenated in upload order.
    pub encodings: Vec<u8>,
    /// Everything else.
    pub parsed: ParsedUpload,
}

/// Parses `body` into memory.
pub fn parse(body: &[u8], uses_blocking: bool) -> Result<ValidUpload, UploadError> {
    let mut encodings = Vec::new();
    let parsed = parse_into(body, uses_blocking, &mut encodings)?;
    Ok(ValidUpload { encodings, parsed })
}

/// Parses an upload from `reader` for a project that does (or does not) use blocking, writing the
/// decoded encodings to `sink` in upload order. On error the sink holds a partial write: discard it.
pub fn parse_into<R: Read, W: Write>(
    reader: R,
    uses_blocking: bool,
    sink: &mut W,
) -> Result<ParsedUpload, UploadError> {
    let buffered = std::io::BufReader::with_capacity(1 << 16, reader);
    let mut deserializer = serde_json::Deserializer::from_reader(buffered);
    let seen = deserializer
        .deserialize_map(BodyVisitor { sink })
        .and_then(|seen| deserializer.end().map(|()| seen))
        .map_err(|err| {
            if err.is_io() {
                UploadError::Io(std::io::Error::from(err))
            } else {
                UploadError::Invalid(format!("request body is not a valid upload: {err}"))
            }
        })?;
    validate(seen, uses_blocking).map_err(UploadError::Invalid)
}

/// A JSON value that is kept only if it is a string (encodings and block ids are small strings;
/// anything else is skipped without building a tree).
struct MaybeText(Option<String>);

impl<'de> de::Deserialize<'de> for MaybeText {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MaybeTextVisitor)
    }
}

struct MaybeTextVisitor;

impl<'de> Visitor<'de> for MaybeTextVisitor {
    type Value = MaybeText;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<MaybeText, E> {
        Ok(MaybeText(Some(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<MaybeText, E> {
        Ok(MaybeText(Some(v)))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<MaybeText, E> {
        Ok(MaybeText(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<MaybeText, E> {
        Ok(MaybeText(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<MaybeText, E> {
        Ok(MaybeText(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<MaybeText, E> {
        Ok(MaybeText(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<MaybeText, E> {
        Ok(MaybeText(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeText, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(MaybeText(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeText, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(MaybeText(None))
    }
}

/// Encodings read so far.
#[derive(Default)]
struct Encodings {
    count: usize,
    size: Option<usize>,
}

impl Encodings {
    fn push<W: Write, E: de::Error>(&mut self, item: Option<&str>, sink: &mut W) -> Result<(), E> {
        let index = self.count;
        let Some(text) = item else {
            return Err(E::custom(format!(
                "encoding {index} is not a base64 string"
            )));
        };
        let decoded = BASE64
            .decode(text)
            .map_err(|err| E::custom(format!("encoding {index} is not valid base64: {err}")))?;
        match self.size {
            None if decoded.is_empty() => {
                return Err(E::custom(format!("encoding {index} is empty")));
            }
            None => self.size = Some(decoded.len()),
            Some(expected) if decoded.len() != expected => {
                return Err(E::custom(format!(
                    "encoding {index} is {} bytes but encoding 0 is {expected} bytes; \
                     all encodings must have the same length",
                    decoded.len()
                )));
            }
            Some(_) => {}
        }
        sink.write_all(&decoded)
            .map_err(|err| E::custom(format!("cannot store encoding {index}: {err}")))?;
        self.count += 1;
        Ok(())
    }
}

/// Which keys the body held, and their contents.
#[derive(Default)]
struct Seen {
    clks: bool,
    clknblocks: bool,
    encodings: bool,
    external: bool,
    read: Encodings,
    row_blocks: BTreeMap<String, Vec<String>>,
    blocks: Option<Value>,
}

struct BodyVisitor<'a, W> {
    sink: &'a mut W,
}

impl<'de, W: Write> Visitor<'de> for BodyVisitor<'_, W> {
    type Value = Seen;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with 'clks', 'clknblocks' or 'encodings'")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Seen, A::Error> {
        let mut seen = Seen::default();
        while let Some(key) = map.next_key::<String>()? {
            let repeated = match key.as_str() {
                "clks" | "encodings" | "clknblocks" => {
                    seen.clks || seen.encodings || seen.clknblocks || seen.external
                }
                "blocks" => seen.blocks.is_some(),
                _ => false,
            };
            if repeated {
                return Err(de::Error::custom(
                    "the upload must contain exactly one of 'clks', 'clknblocks' or 'encodings', once",
                ));
            }
            match key.as_str() {
                "clks" => {
                    seen.clks = true;
                    map.next_value_seed(EncodingList {
                        seen: &mut seen,
                        sink: self.sink,
                        rows: false,
                    })?;
                }
                "encodings" => {
                    seen.encodings = true;
                    map.next_value_seed(EncodingList {
                        seen: &mut seen,
                        sink: self.sink,
                        rows: false,
                    })?;
                }
                "clknblocks" => {
                    seen.clknblocks = true;
                    map.next_value_seed(EncodingList {
                        seen: &mut seen,
                        sink: self.sink,
                        rows: true,
                    })?;
                }
                "blocks" => seen.blocks = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(seen)
    }
}

/// An array of encodings (or of `[encoding, block, …]` rows), decoded element by element.
struct EncodingList<'s, 'w, W> {
    seen: &'s mut Seen,
    sink: &'w mut W,
    rows: bool,
}

impl<'de, W: Write> DeserializeSeed<'de> for EncodingList<'_, '_, W> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, W: Write> Visitor<'de> for EncodingList<'_, '_, W> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of base64 strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // `{"encodings": {"file": …}}` asks the server to pull from an object store.
        self.seen.external = true;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if !self.rows {
            while let Some(MaybeText(item)) = seq.next_element()? {
                self.seen.read.push(item.as_deref(), self.sink)?;
            }
            return Ok(());
        }
        while let Some(row) = seq.next_element::<Vec<Value>>()? {
            let index = self.seen.read.count;
            if row.len() < 2 {
                return Err(de::Error::custom(format!(
                    "clknblocks entry {index} must be an encoding followed by at least one block id"
                )));
            }
            let ids = row[1..]
                .iter()
                .map(|id| block_id(id, index))
                .collect::<Result<Vec<_>, String>>()
                .map_err(de::Error::custom)?;
            self.seen.read.push(row[0].as_str(), self.sink)?;
            self.seen.row_blocks.insert(index.to_string(), ids);
        }
        Ok(())
    }
}

/// Checks the shape rules once the whole body has been read.
fn validate(seen: Seen, uses_blocking: bool) -> Result<ParsedUpload, String> {
    if seen.external {
        return Err(
            "pulling 'encodings' from an object store is not supported by this server; \
             upload them directly"
                .into(),
        );
    }
    if !(seen.clks || seen.clknblocks || seen.encodings) {
        return Err(
            "the upload must contain exactly one of 'clks', 'clknblocks' or 'encodings'".into(),
        );
    }
    if seen.blocks.is_some() && !seen.encodings {
        return Err("'blocks' may only accompany 'encodings'".into());
    }
    let Some(size) = seen.read.size else {
        return Err("Missing CLKs information: the upload holds no encodings".into());
    };
    let count = seen.read.count;
    let blocks = match (seen.clks, seen.clknblocks, seen.blocks, uses_blocking) {
        (true, _, _, true) => {
            return Err(
                "this project uses blocking: upload 'clknblocks', or 'encodings' with 'blocks'"
                    .into(),
            )
        }
        (_, true, _, false) => {
            return Err(
                "this project does not use blocking: upload 'clks' or 'encodings' without 'blocks'"
                    .into(),
            )
        }
        (_, true, _, true) => Some(seen.row_blocks),
        (_, _, Some(_), false) => {
            return Err("this project does not use blocking: 'blocks' must not be uploaded".into())
        }
        (_, _, None, true) => {
            return Err("this project uses blocking: 'encodings' need 'blocks'".into())
        }
        (_, _, Some(map), true) => Some(block_map(map, count)?),
        (_, _, None, false) => None,
    };
    let block_count = match &blocks {
        Some(blocks) => blocks.values().flatten().collect::<BTreeSet<_>>().len(),
        None => 1,
    };
    Ok(ParsedUpload {
        count,
        size,
        blocks,
        block_count,
    })
}

fn block_id(value: &Value, index: usize) -> Result<String, String> {
    match value {
        Value::String(id) => Ok(id.clone()),
        Value::Number(id) if id.is_i64() || id.is_u64() => Ok(id.to_string()),
        _ => Err(format!(
            "block ids of encoding {index} must be strings or integers"
        )),
    }
}

/// Validates a `blocks` map: keys are encoding indices below `count`, values lists of block ids.
fn block_map(value: Value, count: usize) -> Result<BTreeMap<String, Vec<String>>, String> {
    let Value::Object(map) = value else {
        return Err("'blocks' must map encoding ids to lists of block ids".into());
    };
    let mut blocks = BTreeMap::new();
    for (key, ids) in map {
        let index: usize = key
            .parse()
            .ok()
            .filter(|index| *index < count)
            .ok_or_else(|| {
                format!("'blocks' names encoding '{key}', which is not an index below {count}")
            })?;
        let Value::Array(ids) = ids else {
            return Err(format!(
                "'blocks' entry '{key}' must be a list of block ids"
            ));
        };
        let ids = ids
            .iter()
            .map(|id| block_id(id, index))
            .collect::<Result<Vec<_>, String>>()?;
        blocks.insert(index.to_string(), ids);
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests;
