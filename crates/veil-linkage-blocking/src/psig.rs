//! P-Sig blocking (blocklib `PPRLIndexPSignature`): signatures from record
//! attributes, frequency filtering, and Bloom-filter block keys.

use std::collections::HashMap;

use crate::blocks::{Blocks, BlocksBuilder};
use crate::bloom::{compress_key, flip_bloom_filter, python_tuple_repr};
use crate::error::BlockingError;
use crate::schema::{CharPos, FeatureRef, PSigConfig, SignatureFilter, SignatureSpec};

/// Resolves a feature reference to a column index.
pub(crate) fn resolve(
    f: &FeatureRef,
    header: Option<&[String]>,
    field: &str,
) -> Result<usize, BlockingError> {
    match f {
        FeatureRef::Index(i) => Ok(*i),
        FeatureRef::Name(n) => header
            .and_then(|h| h.iter().position(|c| c == n))
            .ok_or_else(|| BlockingError::UnknownFeature {
                name: n.clone(),
                field: field.to_string(),
            }),
    }
}

/// Python slice bound normalisation.
fn norm(i: i64, len: i64) -> i64 {
    if i < 0 {
        (i + len).max(0)
    } else {
        i.min(len)
    }
}

/// blocklib `generate_by_char_at` on one value. `None` for an empty value.
fn chars_at(
    value: &str,
    pos: &[CharPos],
    pos_text: &[String],
    row: usize,
) -> Result<Option<String>, BlockingError> {
    if value.is_empty() {
        return Ok(None);
    }
    let chars: Vec<char> = value.chars().collect();
    let len = chars.len() as i64;
    let mut out = String::new();
    for (k, p) in pos.iter().enumerate() {
        match *p {
            CharPos::Index(i) => {
                let i = i.min(len - 1);
                let idx = if i < 0 { i + len } else { i };
                if idx < 0 {
                    return Err(BlockingError::PositionOutOfRange {
                        row,
                        pos: pos_text.get(k).cloned().unwrap_or_default(),
                        len: chars.len(),
                    });
                }
                out.push(chars[idx as usize]);
            }
            CharPos::Range { start, end } => {
                let (s, e) = match (start, end) {
                    (Some(a), Some(b)) => (a.min(len - 1), b.min(len)),
                    (None, Some(b)) => (0, b.min(len)),
                    (Some(a), None) => (a.min(len), len),
                    (None, None) => (0, len),
                };
                let (s, e) = (norm(s, len), norm(e, len));
                if s < e {
                    out.extend(&chars[s as usize..e as usize]);
                }
            }
        }
    }
    Ok(Some(out))
}

struct ResolvedSpec<'a> {
    col: usize,
    spec: &'a SignatureSpec,
}

fn spec_feature(spec: &SignatureSpec) -> &FeatureRef {
    match spec {
        SignatureSpec::FeatureValue { feature } | SignatureSpec::CharactersAt { feature, .. } => {
            feature
        }
    }
}

/// Signatures of one record, as `(strategy, "<strategy>_<parts joined by _>")`.
fn record_signatures(
    strategies: &[Vec<ResolvedSpec<'_>>],
    row: &[String],
    row_idx: usize,
    null: Option<&str>,
) -> Result<Vec<String>, BlockingError> {
    let mut out = Vec::with_capacity(strategies.len());
    for (i, strategy) in strategies.iter().enumerate() {
        let mut parts: Vec<Option<String>> = Vec::with_capacity(strategy.len());
        for rs in strategy {
            let value = row.get(rs.col).ok_or(BlockingError::MissingColumn {
                row: row_idx,
                len: row.len(),
                column: rs.col,
            })?;
            if Some(value.as_str()) == null {
                parts.clear();
                break;
            }
            parts.push(match rs.spec {
                SignatureSpec::FeatureValue { .. } => Some(value.clone()),
                SignatureSpec::CharactersAt { pos, pos_text, .. } => {
                    chars_at(value, pos, pos_text, row_idx)?
                }
            });
        }
        if !parts.is_empty() {
            let joined: Vec<&str> = parts.iter().flatten().map(String::as_str).collect();
            out.push(format!("{i}_{}", joined.join("_")));
        }
    }
    Ok(out)
}

/// Computes P-Sig blocks for raw records (`header` resolves feature names).
///
/// Block ids are exactly blocklib's single-party reversed-index keys:
/// `str(tuple(bloom positions))`, or its 10-hex-digit blake2b digest when
/// `compress-block-key` is set. Records whose signatures are all filtered out
/// get no block (blocklib reports this as incomplete coverage).
pub fn psig_blocks(
    config: &PSigConfig,
    header: Option<&[String]>,
    rows: &[Vec<String>],
) -> Result<Blocks, BlockingError> {
    for (i, f) in config.common.blocking_features.iter().enumerate() {
        resolve(f, header, &format!("config.blocking-features[{i}]"))?;
    }
    let mut strategies = Vec::with_capacity(config.signatures.len());
    for (i, strategy) in config.signatures.iter().enumerate() {
        let mut resolved = Vec::with_capacity(strategy.len());
        for (j, spec) in strategy.iter().enumerate() {
            let field = format!("config.signatureSpecs[{i}][{j}].feature");
            let col = resolve(spec_feature(spec), header, &field)?;
            resolved.push(ResolvedSpec { col, spec });
        }
        strategies.push(resolved);
    }
    let null = config.common.null_sentinel.as_deref();

    // Intern signatures and count records per signature.
    let mut sig_index: HashMap<String, usize> = HashMap::new();
    let mut sig_names: Vec<String> = Vec::new();
    let mut counts: Vec<u64> = Vec::new();
    let mut per_record: Vec<Vec<usize>> = Vec::with_capacity(rows.len());
    for (r, row) in rows.iter().enumerate() {
        let sigs = record_signatures(&strategies, row, r, null)?;
        let mut ids = Vec::with_capacity(sigs.len());
        for s in sigs {
            let id = *sig_index.entry(s.clone()).or_insert_with(|| {
                sig_names.push(s);
                counts.push(0);
                counts.len() - 1
            });
            counts[id] += 1;
            ids.push(id);
        }
        per_record.push(ids);
    }

    let n = rows.len() as f64;
    let keep = |c: u64| match config.filter {
        SignatureFilter::Ratio { min, max } => n * max >= c as f64 && c as f64 >= n * min,
        SignatureFilter::Count { min, max } => max >= c && c >= min,
    };
    let bf = config.blocking_filter;
    let keys: Vec<Option<String>> = sig_names
        .iter()
        .zip(&counts)
        .map(|(s, &c)| {
            keep(c).then(|| {
                let key =
                    python_tuple_repr(&flip_bloom_filter(s, bf.bf_len, bf.num_hash_functions));
                if bf.compress_block_key {
                    compress_key(&key)
                } else {
                    key
                }
            })
        })
        .collect();
    if !rows.is_empty() && keys.iter().all(Option::is_none) {
        return Err(BlockingError::AllFiltered);
    }
    let mut builder = BlocksBuilder::new();
    for ids in per_record {
        builder.push_record(ids.into_iter().filter_map(|id| keys[id].clone()));
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca(v: &str, pos: Vec<CharPos>) -> Option<String> {
        let text = vec![String::new(); pos.len()];
        chars_at(v, &pos, &text, 0).unwrap()
    }

    #[test]
    fn characters_at_follows_python_semantics() {
        use CharPos::*;
        assert_eq!(
            ca("Little Whinging", vec![Index(0), Index(3)]).unwrap(),
            "Lt"
        );
        let r = |start, end| Range { start, end };
        assert_eq!(ca("Little", vec![r(None, Some(4))]).unwrap(), "Litt");
        assert_eq!(ca("ab", vec![Index(9)]).unwrap(), "b");
        assert_eq!(ca("abcdef", vec![r(Some(2), None)]).unwrap(), "cdef");
        assert_eq!(ca("abcdef", vec![r(Some(1), Some(3))]).unwrap(), "bc");
        assert_eq!(ca("abcdef", vec![Index(-1)]).unwrap(), "f");
        assert_eq!(ca("", vec![Index(0)]), None);
        assert!(chars_at("ab", &[Index(-5)], &["-5".into()], 3).is_err());
    }
}
