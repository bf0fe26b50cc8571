//! Parsing and validating an upload body (`POST /projects/{id}/clks`) before anything is stored.
//!
//! Three JSON shapes are accepted, as in the Entity Service's spec: `{"clks": [b64, …]}`,
//! `{"clknblocks": [[b64, block, …], …]}` and `{"encodings": [b64, …], "blocks": {"0": [block, …], …}}`.
//! Every encoding is base64-decoded and all must have the same, non-zero length.

use std::collections::{BTreeMap, BTreeSet};

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use crate::{EntityError, EntityResult};

/// Standard base64, with or without padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The accepted upload shapes; exactly one of `clks`, `clknblocks`, `encodings` must be present.
#[derive(Debug, Deserialize)]
struct UploadBody {
    clks: Option<Vec<Value>>,
    clknblocks: Option<Vec<Vec<Value>>>,
    encodings: Option<Value>,
    blocks: Option<Value>,
}

/// A valid upload, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidUpload {
    /// The decoded encodings, concatenated in upload order.
    pub encodings: Vec<u8>,
    /// How many encodings.
    pub count: usize,
    /// Bytes per encoding.
    pub size: usize,
    /// Encoding index (as a string) → its block ids, for blocking uploads.
    pub blocks: Option<BTreeMap<String, Vec<String>>>,
    /// How many distinct block ids (1 without blocking).
    pub block_count: usize,
}

fn bad(detail: impl Into<String>) -> EntityError {
    EntityError::bad_request(detail)
}

/// Parses and validates `body` for a project that does (or does not) use blocking.
pub fn parse(body: &[u8], uses_blocking: bool) -> EntityResult<ValidUpload> {
    let body: UploadBody = serde_json::from_slice(body)
        .map_err(|err| bad(format!("request body is not a valid upload: {err}")))?;
    let present = [
        body.clks.is_some(),
        body.clknblocks.is_some(),
        body.encodings.is_some(),
    ];
    if present.iter().filter(|p| **p).count() != 1 {
        return Err(bad(
            "the upload must contain exactly one of 'clks', 'clknblocks' or 'encodings'",
        ));
    }
    if body.blocks.is_some() && body.encodings.is_none() {
        return Err(bad("'blocks' may only accompany 'encodings'"));
    }
    if let Some(clks) = body.clks {
        if uses_blocking {
            return Err(bad(
                "this project uses blocking: upload 'clknblocks', or 'encodings' with 'blocks'",
            ));
        }
        let (encodings, size) = decode_all(clks.iter())?;
        return Ok(ValidUpload {
            encodings,
            count: clks.len(),
            size,
            blocks: None,
            block_count: 1,
        });
    }
    if let Some(rows) = body.clknblocks {
        if !uses_blocking {
            return Err(bad(
                "this project does not use blocking: upload 'clks' or 'encodings' without 'blocks'",
            ));
        }
        let mut blocks = BTreeMap::new();
        for (index, row) in rows.iter().enumerate() {
            if row.len() < 2 {
                return Err(bad(format!(
                    "clknblocks entry {index} must be an encoding followed by at least one block id"
                )));
            }
            let ids = row[1..]
                .iter()
                .map(|id| block_id(id, index))
                .collect::<EntityResult<Vec<_>>>()?;
            blocks.insert(index.to_string(), ids);
        }
        let (encodings, size) = decode_all(rows.iter().filter_map(|row| row.first()))?;
        return finish_blocked(encodings, rows.len(), size, blocks);
    }
    let list = match body.encodings {
        Some(Value::Array(list)) => list,
        Some(Value::Object(_)) => {
            return Err(bad(
                "pulling 'encodings' from an object store is not supported by this server; \
                 upload them directly",
            ))
        }
        _ => return Err(bad("'encodings' must be an array of base64 strings")),
    };
    let (encodings, size) = decode_all(list.iter())?;
    match (body.blocks, uses_blocking) {
        (None, false) => Ok(ValidUpload {
            encodings,
            count: list.len(),
            size,
            blocks: None,
            block_count: 1,
        }),
        (Some(_), false) => Err(bad(
            "this project does not use blocking: 'blocks' must not be uploaded",
        )),
        (None, true) => Err(bad("this project uses blocking: 'encodings' need 'blocks'")),
        (Some(map), true) => {
            let blocks = block_map(map, list.len())?;
            finish_blocked(encodings, list.len(), size, blocks)
        }
    }
}

fn finish_blocked(
    encodings: Vec<u8>,
    count: usize,
    size: usize,
    blocks: BTreeMap<String, Vec<String>>,
) -> EntityResult<ValidUpload> {
    let block_count = blocks.values().flatten().collect::<BTreeSet<_>>().len();
    Ok(ValidUpload {
        encodings,
        count,
        size,
        blocks: Some(blocks),
        block_count,
    })
}

/// Decodes every encoding; all must be base64 strings of the same non-zero length.
fn decode_all<'a>(items: impl Iterator<Item = &'a Value>) -> EntityResult<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut size = None;
    for (index, item) in items.enumerate() {
        let Value::String(text) = item else {
            return Err(bad(format!("encoding {index} is not a base64 string")));
        };
        let decoded = BASE64
            .decode(text)
            .map_err(|err| bad(format!("encoding {index} is not valid base64: {err}")))?;
        match size {
            None if decoded.is_empty() => {
                return Err(bad(format!("encoding {index} is empty")));
            }
            None => size = Some(decoded.len()),
            Some(expected) if decoded.len() != expected => {
                return Err(bad(format!(
                    "encoding {index} is {} bytes but encoding 0 is {expected} bytes; \
                     all encodings must have the same length",
                    decoded.len()
                )));
            }
            Some(_) => {}
        }
        out.extend_from_slice(&decoded);
    }
    match size {
        Some(size) => Ok((out, size)),
        None => Err(bad(
            "Missing CLKs information: the upload holds no encodings",
        )),
    }
}

fn block_id(value: &Value, index: usize) -> EntityResult<String> {
    match value {
        Value::String(id) => Ok(id.clone()),
        Value::Number(id) if id.is_i64() || id.is_u64() => Ok(id.to_string()),
        _ => Err(bad(format!(
            "block ids of encoding {index} must be strings or integers"
        ))),
    }
}

/// Validates a `blocks` map: keys are encoding indices below `count`, values lists of block ids.
fn block_map(value: Value, count: usize) -> EntityResult<BTreeMap<String, Vec<String>>> {
    let Value::Object(map) = value else {
        return Err(bad("'blocks' must map encoding ids to lists of block ids"));
    };
    let mut blocks = BTreeMap::new();
    for (key, ids) in map {
        let index: usize = key
            .parse()
            .ok()
            .filter(|index| *index < count)
            .ok_or_else(|| {
                bad(format!(
                    "'blocks' names encoding '{key}', which is not an index below {count}"
                ))
            })?;
        let Value::Array(ids) = ids else {
            return Err(bad(format!(
                "'blocks' entry '{key}' must be a list of block ids"
            )));
        };
        let ids = ids
            .iter()
            .map(|id| block_id(id, index))
            .collect::<EntityResult<Vec<_>>>()?;
        blocks.insert(index.to_string(), ids);
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clks_decode_and_concatenate() {
        let upload = parse(br#"{"clks": ["AAE=", "AgM="]}"#, false).unwrap();
        assert_eq!(upload.encodings, vec![0, 1, 2, 3]);
        assert_eq!((upload.count, upload.size, upload.block_count), (2, 2, 1));
    }

    #[test]
    fn invalid_uploads_are_named() {
        let err = parse(br#"{"clks": ["AAE=", "!!"]}"#, false).unwrap_err();
        assert!(err.to_string().contains("encoding 1"), "{err}");
        let err = parse(br#"{"clks": ["AAE=", "AAEC"]}"#, false).unwrap_err();
        assert!(err.to_string().contains("same length"), "{err}");
        assert!(parse(br#"{"clks": []}"#, false).is_err());
        assert!(parse(br#"{}"#, false).is_err());
        assert!(parse(br#"[1]"#, false).is_err());
    }

    #[test]
    fn blocking_shapes() {
        let upload = parse(
            br#"{"clknblocks": [["AAE=", "1", 2], ["AgM=", "1"]]}"#,
            true,
        )
        .unwrap();
        assert_eq!(upload.block_count, 2);
        let upload = parse(br#"{"encodings": ["AAE="], "blocks": {"0": ["x"]}}"#, true).unwrap();
        assert_eq!(upload.blocks.unwrap()["0"], vec!["x".to_string()]);
        assert!(parse(br#"{"encodings": ["AAE="], "blocks": {"1": ["x"]}}"#, true).is_err());
        assert!(parse(br#"{"encodings": ["AAE="]}"#, true).is_err());
        assert!(parse(br#"{"clknblocks": [["AAE="]]}"#, true).is_err());
    }
}
