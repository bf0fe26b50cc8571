//! Parsing of blocklib's blocking-schema JSON (`version` 1).
//!
//! Field names follow blocklib 0.1.x exactly (`blocking-features`,
//! `record-id-col`, `null-sentinel`, `signatureSpecs`, `blocking-filter`,
//! `bf-len`, `number-hash-functions`, `compress-block-key`, `Lambda`,
//! `num-hash-funcs`, `K`, `input-clks`, `random_state`). Unknown extra fields are
//! ignored, as pydantic does. Every error names the JSON path of the field.

use serde_json::{Map, Value};

use crate::error::SchemaError;

/// A reference to a record column: by 0-based index or by header name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureRef {
    /// Column index.
    Index(usize),
    /// Column name, resolved against the header.
    Name(String),
}

/// One element of a `characters-at` `pos` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CharPos {
    /// A single character index (negative counts from the end, like Python).
    Index(i64),
    /// A slice `start:end`; either bound may be omitted (not both).
    Range {
        /// Inclusive start.
        start: Option<i64>,
        /// Exclusive end.
        end: Option<i64>,
    },
}

/// A part of a P-Sig signature strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureSpec {
    /// The whole attribute value.
    FeatureValue {
        /// Column used.
        feature: FeatureRef,
    },
    /// Selected characters / slices of the value, concatenated.
    CharactersAt {
        /// Column used.
        feature: FeatureRef,
        /// Positions, in order.
        pos: Vec<CharPos>,
        /// Original text of each position (for error messages).
        pos_text: Vec<String>,
    },
}

/// P-Sig signature frequency filter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SignatureFilter {
    /// Keep a signature if `n*min <= count <= n*max` (`n` = number of records).
    Ratio {
        /// `min` (default 0).
        min: f64,
        /// `max`.
        max: f64,
    },
    /// Keep a signature if `min <= count <= max`.
    Count {
        /// `min`.
        min: u64,
        /// `max`.
        max: u64,
    },
}

/// `blocking-filter` of a P-Sig schema: signatures are mapped to Bloom-filter positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BloomFilterConfig {
    /// `bf-len`.
    pub bf_len: u64,
    /// `number-hash-functions`.
    pub num_hash_functions: u64,
    /// `compress-block-key`: 10-hex-digit blake2b digest of the key.
    pub compress_block_key: bool,
}

/// Configuration shared by both methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommonConfig {
    /// `blocking-features` (non-empty, all indices or all names).
    pub blocking_features: Vec<FeatureRef>,
    /// `record-id-col` (parsed and validated; output is always positional).
    pub record_id_col: Option<u64>,
    /// `null-sentinel` (default `""`); `None` when the JSON value is not a string.
    pub null_sentinel: Option<String>,
}

/// P-Sig (`type: "p-sig"`) configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct PSigConfig {
    /// Common fields.
    pub common: CommonConfig,
    /// `filter`.
    pub filter: SignatureFilter,
    /// `blocking-filter`.
    pub blocking_filter: BloomFilterConfig,
    /// `signatureSpecs`: one strategy per element, each a list of parts.
    pub signatures: Vec<Vec<SignatureSpec>>,
}

/// Lambda-fold Hamming LSH (`type: "lambda-fold"`) configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaFoldConfig {
    /// Common fields.
    pub common: CommonConfig,
    /// `Lambda`: number of bands (redundant tables).
    pub lambda: u64,
    /// `bf-len`: Bloom filter length when encoding raw records (`input-clks: false`).
    pub bf_len: u64,
    /// `num-hash-funcs`: hash functions when encoding raw records.
    pub num_hash_funcs: u64,
    /// `K`: bits sampled per band.
    pub k: u64,
    /// `input-clks`: the data are CLKs rather than raw records.
    pub input_clks: bool,
    /// `random_state`: seed of Python's `random.seed`.
    pub random_state: i64,
}

/// A parsed blocking schema.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockingSchema {
    /// P-Sig.
    PSig(PSigConfig),
    /// Lambda-fold LSH.
    LambdaFold(LambdaFoldConfig),
}

impl BlockingSchema {
    /// Parses schema JSON text.
    pub fn from_json_str(text: &str) -> Result<Self, SchemaError> {
        let v: Value = serde_json::from_str(text).map_err(|e| SchemaError::Json(e.to_string()))?;
        Self::from_value(&v)
    }

    /// Parses a schema from a JSON value.
    pub fn from_value(v: &Value) -> Result<Self, SchemaError> {
        let root = as_object(v, "(root)")?;
        let version = get(root, "", "version")?;
        match version.as_f64() {
            Some(1.0) => {}
            Some(_) => {
                return Err(SchemaError::invalid(
                    "version",
                    "only version 1 is supported",
                ))
            }
            None => return Err(SchemaError::invalid("version", "expected a number")),
        }
        let ty = get_str(root, "", "type")?;
        let config = as_object(get(root, "", "config")?, "config")?;
        let common = parse_common(config)?;
        match ty {
            "p-sig" => Ok(BlockingSchema::PSig(parse_psig(config, common)?)),
            "lambda-fold" => Ok(BlockingSchema::LambdaFold(parse_lambda(config, common)?)),
            other => Err(SchemaError::invalid(
                "type",
                format!("unknown blocking type `{other}` (expected `p-sig` or `lambda-fold`)"),
            )),
        }
    }
}

fn path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn as_object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>, SchemaError> {
    v.as_object()
        .ok_or_else(|| SchemaError::invalid(field, "expected a JSON object"))
}

fn get<'a>(m: &'a Map<String, Value>, prefix: &str, key: &str) -> Result<&'a Value, SchemaError> {
    m.get(key).ok_or_else(|| SchemaError::Missing {
        field: path(prefix, key),
    })
}

fn get_str<'a>(m: &'a Map<String, Value>, prefix: &str, key: &str) -> Result<&'a str, SchemaError> {
    get(m, prefix, key)?
        .as_str()
        .ok_or_else(|| SchemaError::invalid(path(prefix, key), "expected a string"))
}

fn to_u64(v: &Value, field: &str) -> Result<u64, SchemaError> {
    if let Some(x) = v.as_u64() {
        return Ok(x);
    }
    match v.as_f64() {
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f < 9.0e15 => Ok(f as u64),
        Some(_) => Err(SchemaError::invalid(
            field,
            "expected a non-negative integer",
        )),
        None => Err(SchemaError::invalid(field, "expected an integer")),
    }
}

fn get_u64(m: &Map<String, Value>, prefix: &str, key: &str) -> Result<u64, SchemaError> {
    to_u64(get(m, prefix, key)?, &path(prefix, key))
}

/// Rejects values above a sanity limit (keeps hostile schemas from exhausting memory or time).
fn bounded(x: u64, field: &str, max: u64) -> Result<u64, SchemaError> {
    if x > max {
        Err(SchemaError::invalid(
            field,
            format!("{x} exceeds the supported maximum {max}"),
        ))
    } else {
        Ok(x)
    }
}

fn get_bool(m: &Map<String, Value>, prefix: &str, key: &str) -> Result<bool, SchemaError> {
    get(m, prefix, key)?
        .as_bool()
        .ok_or_else(|| SchemaError::invalid(path(prefix, key), "expected a boolean"))
}

fn parse_feature(v: &Value, field: &str) -> Result<FeatureRef, SchemaError> {
    match v {
        Value::String(s) => Ok(FeatureRef::Name(s.clone())),
        Value::Number(_) => {
            let i = to_u64(v, field)?;
            usize::try_from(i)
                .map(FeatureRef::Index)
                .map_err(|_| SchemaError::invalid(field, "column index too large"))
        }
        _ => Err(SchemaError::invalid(
            field,
            "expected a column index or name",
        )),
    }
}

fn parse_common(config: &Map<String, Value>) -> Result<CommonConfig, SchemaError> {
    let field = "config.blocking-features";
    let arr = get(config, "config", "blocking-features")?
        .as_array()
        .ok_or_else(|| SchemaError::invalid(field, "expected an array"))?;
    if arr.is_empty() {
        return Err(SchemaError::invalid(field, "must not be empty"));
    }
    let blocking_features = arr
        .iter()
        .enumerate()
        .map(|(i, v)| parse_feature(v, &format!("{field}[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let first_is_name = matches!(blocking_features[0], FeatureRef::Name(_));
    if blocking_features
        .iter()
        .any(|f| matches!(f, FeatureRef::Name(_)) != first_is_name)
    {
        return Err(SchemaError::invalid(
            field,
            "all features must be of the same kind: either names or indices",
        ));
    }
    let record_id_col = match config.get("record-id-col") {
        None | Some(Value::Null) => None,
        Some(v) => Some(to_u64(v, "config.record-id-col")?),
    };
    let null_sentinel = match config.get("null-sentinel") {
        None => Some(String::new()),
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => None,
    };
    Ok(CommonConfig {
        blocking_features,
        record_id_col,
        null_sentinel,
    })
}

fn parse_psig(
    config: &Map<String, Value>,
    common: CommonConfig,
) -> Result<PSigConfig, SchemaError> {
    let filter_obj = as_object(get(config, "config", "filter")?, "config.filter")?;
    let p = "config.filter";
    let filter = match get_str(filter_obj, p, "type")? {
        "ratio" => {
            let unit = |key: &str, default: Option<f64>| -> Result<f64, SchemaError> {
                let f = path(p, key);
                let x = match (filter_obj.get(key), default) {
                    (None, Some(d)) => d,
                    (None, None) => return Err(SchemaError::Missing { field: f }),
                    (Some(v), _) => v
                        .as_f64()
                        .ok_or_else(|| SchemaError::invalid(&f, "expected a number"))?,
                };
                if (0.0..=1.0).contains(&x) {
                    Ok(x)
                } else {
                    Err(SchemaError::invalid(f, "must be between 0 and 1"))
                }
            };
            SignatureFilter::Ratio {
                max: unit("max", None)?,
                min: unit("min", Some(0.0))?,
            }
        }
        "count" => SignatureFilter::Count {
            max: get_u64(filter_obj, p, "max")?,
            min: get_u64(filter_obj, p, "min")?,
        },
        other => {
            return Err(SchemaError::invalid(
                "config.filter.type",
                format!("unknown filter type `{other}` (expected `ratio` or `count`)"),
            ))
        }
    };
    let p = "config.blocking-filter";
    let bf = as_object(get(config, "config", "blocking-filter")?, p)?;
    if get_str(bf, p, "type")? != "bloom filter" {
        return Err(SchemaError::invalid(
            "config.blocking-filter.type",
            "expected `bloom filter`",
        ));
    }
    let bf_len = get_u64(bf, p, "bf-len")?;
    if bf_len == 0 {
        return Err(SchemaError::invalid(
            "config.blocking-filter.bf-len",
            "must be positive",
        ));
    }
    let compress_block_key = match bf.get("compress-block-key") {
        None | Some(Value::Null) => false,
        Some(_) => get_bool(bf, p, "compress-block-key")?,
    };
    let blocking_filter = BloomFilterConfig {
        bf_len,
        num_hash_functions: bounded(
            get_u64(bf, p, "number-hash-functions")?,
            "config.blocking-filter.number-hash-functions",
            1 << 16,
        )?,
        compress_block_key,
    };
    let f = "config.signatureSpecs";
    let specs = get(config, "config", "signatureSpecs")?
        .as_array()
        .ok_or_else(|| SchemaError::invalid(f, "expected an array of strategies"))?;
    let mut signatures = Vec::with_capacity(specs.len());
    for (i, strategy) in specs.iter().enumerate() {
        let sf = format!("{f}[{i}]");
        let parts = strategy
            .as_array()
            .ok_or_else(|| SchemaError::invalid(&sf, "expected an array of signature specs"))?;
        let mut out = Vec::with_capacity(parts.len());
        for (j, part) in parts.iter().enumerate() {
            out.push(parse_spec(part, &format!("{sf}[{j}]"))?);
        }
        signatures.push(out);
    }
    Ok(PSigConfig {
        common,
        filter,
        blocking_filter,
        signatures,
    })
}

fn parse_spec(v: &Value, field: &str) -> Result<SignatureSpec, SchemaError> {
    let m = as_object(v, field)?;
    let ty = get_str(m, field, "type")?;
    let feature = parse_feature(get(m, field, "feature")?, &path(field, "feature"))?;
    match ty {
        "feature-value" => Ok(SignatureSpec::FeatureValue { feature }),
        "characters-at" | "characters_at" => {
            let cf = path(field, "config");
            let cfg = as_object(get(m, field, "config")?, &cf)?;
            let pf = path(&cf, "pos");
            let arr = get(cfg, &cf, "pos")?
                .as_array()
                .ok_or_else(|| SchemaError::invalid(&pf, "expected an array"))?;
            let mut pos = Vec::with_capacity(arr.len());
            let mut pos_text = Vec::with_capacity(arr.len());
            for (k, p) in arr.iter().enumerate() {
                let ef = format!("{pf}[{k}]");
                let (parsed, text) = match p {
                    Value::Number(_) => {
                        let i = to_u64(p, &ef)?;
                        let i = i64::try_from(i)
                            .map_err(|_| SchemaError::invalid(&ef, "position too large"))?;
                        (CharPos::Index(i), i.to_string())
                    }
                    Value::String(s) => (parse_pos_str(s, &ef)?, s.clone()),
                    _ => return Err(SchemaError::invalid(ef, "expected an integer or a string")),
                };
                pos.push(parsed);
                pos_text.push(text);
            }
            Ok(SignatureSpec::CharactersAt {
                feature,
                pos,
                pos_text,
            })
        }
        "metaphone" => Err(SchemaError::Unsupported {
            field: path(field, "type"),
            reason: "the `metaphone` signature (double metaphone) is not implemented by Veil; \
                     use `feature-value` or `characters-at`"
                .into(),
        }),
        other => Err(SchemaError::invalid(
            path(field, "type"),
            format!("unknown signature type `{other}`"),
        )),
    }
}

fn parse_int(s: &str, field: &str) -> Result<i64, SchemaError> {
    s.trim()
        .parse::<i64>()
        .map_err(|_| SchemaError::invalid(field, format!("`{s}` is not an integer")))
}

fn parse_pos_str(s: &str, field: &str) -> Result<CharPos, SchemaError> {
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        [single] => Ok(CharPos::Index(parse_int(single, field)?)),
        [a, b] => {
            let start = if a.is_empty() {
                None
            } else {
                Some(parse_int(a, field)?)
            };
            let end = if b.is_empty() {
                None
            } else {
                Some(parse_int(b, field)?)
            };
            match (start, end) {
                (None, None) => Err(SchemaError::invalid(field, format!("invalid range `{s}`"))),
                (Some(x), Some(y)) if x >= y => Err(SchemaError::invalid(
                    field,
                    format!("start must be less than end in `{s}`"),
                )),
                _ => Ok(CharPos::Range { start, end }),
            }
        }
        _ => Err(SchemaError::invalid(field, format!("invalid range `{s}`"))),
    }
}

fn parse_lambda(
    config: &Map<String, Value>,
    common: CommonConfig,
) -> Result<LambdaFoldConfig, SchemaError> {
    let p = "config";
    let rs_field = "config.random_state";
    let rs = get(config, p, "random_state")?;
    let random_state = rs
        .as_i64()
        .ok_or_else(|| SchemaError::invalid(rs_field, "expected an integer"))?;
    Ok(LambdaFoldConfig {
        common,
        lambda: bounded(get_u64(config, p, "Lambda")?, "config.Lambda", 1 << 16)?,
        bf_len: bounded(get_u64(config, p, "bf-len")?, "config.bf-len", 1 << 24)?,
        num_hash_funcs: bounded(
            get_u64(config, p, "num-hash-funcs")?,
            "config.num-hash-funcs",
            1 << 16,
        )?,
        k: bounded(get_u64(config, p, "K")?, "config.K", 1 << 24)?,
        input_clks: get_bool(config, p, "input-clks")?,
        random_state,
    })
}
