//! JSON → [`Schema`] with clkhash 0.18.3's validation rules and path-naming errors.

use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde_json::{Map, Value};

use super::{
    Case, Feature, Format, HashedFeature, Kdf, KdfHash, Schema, StringFormat, StringRule,
    TextEncoding,
};
use crate::date::DatePattern;
use crate::error::{FeatureRef, SchemaError};

/// Largest supported filter length before folding, in bits (positions are kept in `u32`).
const MAX_HASH_LEN: u64 = 1 << 31;
/// Largest supported bit count in a strategy (clkhash has none; guards against endless loops).
pub(super) const MAX_BITS: i128 = 1 << 20;
/// Largest supported n-gram size.
pub(super) const MAX_N: i128 = 4096;
/// Largest supported numeric resolution.
pub(super) const MAX_RESOLUTION: i128 = 1 << 16;
/// Largest supported `fractional_precision` (so that scaled values fit in 128 bits).
pub(super) const MAX_FRACTIONAL_PRECISION: i128 = 30;

/// Error context: global, or inside one feature.
pub(super) struct Cx(pub(super) Option<FeatureRef>);

impl Cx {
    pub(super) fn err(&self, path: &str, message: impl Into<String>) -> SchemaError {
        let message = message.into();
        match &self.0 {
            Some(feature) => SchemaError::Feature {
                feature: feature.clone(),
                path: path.to_string(),
                message,
            },
            None => SchemaError::Global {
                path: path.to_string(),
                message,
            },
        }
    }

    pub(super) fn object<'v>(
        &self,
        v: &'v Value,
        path: &str,
    ) -> Result<&'v Map<String, Value>, SchemaError> {
        v.as_object()
            .ok_or_else(|| self.err(path, format!("expected an object, found {}", kind(v))))
    }

    pub(super) fn only_keys(
        &self,
        m: &Map<String, Value>,
        allowed: &[&str],
        path: &str,
    ) -> Result<(), SchemaError> {
        match m.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(self.err(
                path,
                format!("unknown key {k:?} (allowed: {})", allowed.join(", ")),
            )),
            None => Ok(()),
        }
    }

    pub(super) fn required<'v>(
        &self,
        m: &'v Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Result<&'v Value, SchemaError> {
        m.get(key)
            .ok_or_else(|| self.err(&join(path, key), "required field is missing"))
    }

    pub(super) fn string<'v>(&self, v: &'v Value, path: &str) -> Result<&'v str, SchemaError> {
        v.as_str()
            .ok_or_else(|| self.err(path, format!("expected a string, found {}", kind(v))))
    }

    pub(super) fn opt_string(
        &self,
        m: &Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Result<Option<String>, SchemaError> {
        m.get(key)
            .map(|v| self.string(v, &join(path, key)).map(str::to_string))
            .transpose()
    }

    pub(super) fn boolean(&self, v: &Value, path: &str) -> Result<bool, SchemaError> {
        v.as_bool()
            .ok_or_else(|| self.err(path, format!("expected a boolean, found {}", kind(v))))
    }

    pub(super) fn integer(
        &self,
        v: &Value,
        path: &str,
        min: i128,
        max: i128,
    ) -> Result<i128, SchemaError> {
        let n = v
            .as_i64()
            .map(i128::from)
            .or_else(|| v.as_u64().map(i128::from))
            .ok_or_else(|| self.err(path, format!("expected an integer, found {}", kind(v))))?;
        if n < min {
            return Err(self.err(path, format!("must be at least {min}, found {n}")));
        }
        if n > max {
            return Err(self.err(path, format!("at most {max} is supported, found {n}")));
        }
        Ok(n)
    }

    pub(super) fn opt_integer(
        &self,
        m: &Map<String, Value>,
        key: &str,
        path: &str,
        min: i128,
        max: i128,
    ) -> Result<Option<i128>, SchemaError> {
        m.get(key)
            .map(|v| self.integer(v, &join(path, key), min, max))
            .transpose()
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a fractional number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses the whole schema document.
pub(super) fn parse_schema(root: &Value) -> Result<Schema, SchemaError> {
    let cx = Cx(None);
    let top = cx.object(root, "schema")?;
    let version = cx.required(top, "version", "")?;
    match version.as_f64() {
        Some(3.0) => {}
        Some(v) if v == 1.0 || v == 2.0 => {
            return Err(cx.err(
                "version",
                format!(
                    "version {version} schemas are not supported; convert the schema to version 3"
                ),
            ))
        }
        Some(_) => {
            return Err(cx.err(
                "version",
                format!("schema version {version} is not supported (expected 3)"),
            ))
        }
        None => {
            return Err(cx.err(
                "version",
                format!("expected a number, found {}", kind(version)),
            ))
        }
    }
    let clk = cx.object(cx.required(top, "clkConfig", "")?, "clkConfig")?;
    let l = cx.integer(
        cx.required(clk, "l", "clkConfig")?,
        "clkConfig.l",
        1,
        i128::from(u32::MAX),
    )? as u64;
    if !l.is_multiple_of(8) {
        return Err(cx.err("clkConfig.l", format!("must be a multiple of 8, found {l}")));
    }
    let declared_xor_folds = cx
        .opt_integer(clk, "xorFolds", "clkConfig", 0, 63)?
        .unwrap_or(0) as u32;
    let xor_folds = cx
        .opt_integer(clk, "xor_folds", "clkConfig", 0, 31)?
        .unwrap_or(0) as u32;
    if (l << xor_folds) > MAX_HASH_LEN {
        return Err(cx.err(
            "clkConfig",
            format!("l * 2^xor_folds may be at most {MAX_HASH_LEN} bits"),
        ));
    }
    let kdf = parse_kdf(&cx, cx.required(clk, "kdf", "clkConfig")?)?;
    let features_v = cx.required(top, "features", "")?;
    let items = features_v.as_array().ok_or_else(|| {
        cx.err(
            "features",
            format!("expected an array, found {}", kind(features_v)),
        )
    })?;
    let features = items
        .iter()
        .enumerate()
        .map(|(i, v)| parse_feature(i, v))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Schema {
        l: l as usize,
        xor_folds,
        declared_xor_folds,
        kdf,
        features,
    })
}

fn parse_kdf(cx: &Cx, v: &Value) -> Result<Kdf, SchemaError> {
    let path = "clkConfig.kdf";
    let m = cx.object(v, path)?;
    let ty = cx.string(cx.required(m, "type", path)?, "clkConfig.kdf.type")?;
    if ty != "HKDF" {
        return Err(cx.err(
            "clkConfig.kdf.type",
            format!("expected \"HKDF\", found {ty:?}"),
        ));
    }
    let hash = match m.get("hash") {
        None => KdfHash::Sha256,
        Some(h) => match h.as_str() {
            Some("SHA256") => KdfHash::Sha256,
            Some("SHA512") => KdfHash::Sha512,
            _ => {
                return Err(cx.err(
                    "clkConfig.kdf.hash",
                    format!("expected \"SHA256\" or \"SHA512\", found {h}"),
                ))
            }
        },
    };
    let decode = |key: &str| -> Result<Option<Vec<u8>>, SchemaError> {
        let Some(text) = cx.opt_string(m, key, path)? else {
            return Ok(None);
        };
        decode_base64(&text)
            .map(Some)
            .map_err(|e| cx.err(&join(path, key), format!("invalid base64: {e}")))
    };
    let salt = decode("salt")?;
    let info = decode("info")?;
    let key_size = cx
        .opt_integer(m, "keySize", path, 1, 1 << 16)?
        .unwrap_or(64) as usize;
    Ok(Kdf {
        hash,
        salt,
        info,
        key_size,
    })
}

/// Python's lenient `base64.b64decode`: characters outside the alphabet are discarded.
fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let cleaned: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect();
    let config = GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical);
    GeneralPurpose::new(&STANDARD, config).decode(cleaned)
}

fn parse_feature(index: usize, v: &Value) -> Result<Feature, SchemaError> {
    let name = v.get("identifier").and_then(Value::as_str);
    let cx = Cx(Some(match name {
        Some(n) => FeatureRef::Named(n.to_string()),
        None => FeatureRef::Index(index),
    }));
    let m = cx.object(v, "")?;
    let identifier = cx
        .string(cx.required(m, "identifier", "")?, "identifier")?
        .to_string();
    let ignored = match m.get("ignored") {
        None => false,
        Some(b) => cx.boolean(b, "ignored")?,
    };
    let description = cx.opt_string(m, "description", "")?;
    if ignored && !(m.contains_key("format") && m.contains_key("hashing")) {
        cx.only_keys(m, &["identifier", "ignored", "description"], "")?;
        return Ok(Feature {
            identifier,
            description,
            hashed: None,
        });
    }
    let (format, format_description) = parse_format(&cx, cx.required(m, "format", "")?)?;
    let hashing = super::parse_hashing::parse_hashing(&cx, cx.required(m, "hashing", "")?)?;
    let description = format_description.or(description);
    let hashed = (!ignored).then(|| Box::new(HashedFeature { format, hashing }));
    Ok(Feature {
        identifier,
        description,
        hashed,
    })
}

fn parse_format(cx: &Cx, v: &Value) -> Result<(Format, Option<String>), SchemaError> {
    let p = "format";
    let m = cx.object(v, p)?;
    let ty = cx.string(cx.required(m, "type", p)?, "format.type")?;
    let description = cx.opt_string(m, "description", p)?;
    let format = match ty {
        "string" => {
            let encoding = match m.get("encoding") {
                None => TextEncoding::Utf8,
                Some(e) => match e.as_str() {
                    Some("ascii") => TextEncoding::Ascii,
                    Some("utf-8") => TextEncoding::Utf8,
                    Some("utf-16") => TextEncoding::Utf16,
                    Some("utf-32") => TextEncoding::Utf32,
                    _ => {
                        return Err(cx.err(
                            "format.encoding",
                            format!("expected one of ascii, utf-8, utf-16, utf-32, found {e}"),
                        ))
                    }
                },
            };
            let rule = if let Some(pattern) = m.get("pattern") {
                cx.only_keys(m, &["type", "encoding", "pattern", "description"], p)?;
                let source = cx.string(pattern, "format.pattern")?.to_string();
                let regex = regex::Regex::new(&format!(r"\A(?:{source})\z")).map_err(|e| {
                    cx.err(
                        "format.pattern",
                        format!("invalid or unsupported regular expression: {e}"),
                    )
                })?;
                StringRule::Pattern { source, regex }
            } else {
                cx.only_keys(
                    m,
                    &[
                        "type",
                        "encoding",
                        "case",
                        "minLength",
                        "maxLength",
                        "description",
                    ],
                    p,
                )?;
                let case = match m.get("case") {
                    None => Case::Mixed,
                    Some(c) => match c.as_str() {
                        Some("upper") => Case::Upper,
                        Some("lower") => Case::Lower,
                        Some("mixed") => Case::Mixed,
                        _ => {
                            return Err(cx.err(
                                "format.case",
                                format!("expected upper, lower or mixed, found {c}"),
                            ))
                        }
                    },
                };
                let min_length = cx
                    .opt_integer(m, "minLength", p, 0, i128::from(u64::MAX))?
                    .map(|n| n as u64);
                let max_length = cx
                    .opt_integer(m, "maxLength", p, 1, i128::from(u64::MAX))?
                    .map(|n| n as u64);
                StringRule::Limits {
                    case,
                    min_length,
                    max_length,
                }
            };
            Format::String(StringFormat { encoding, rule })
        }
        "integer" => {
            cx.only_keys(m, &["type", "minimum", "maximum", "description"], p)?;
            let lim = |key| cx.opt_integer(m, key, p, i128::from(i64::MIN), i128::from(i64::MAX));
            Format::Integer {
                minimum: lim("minimum")?.map(|n| n as i64),
                maximum: lim("maximum")?.map(|n| n as i64),
            }
        }
        "date" => {
            cx.only_keys(m, &["type", "format", "description"], p)?;
            let text = cx.string(cx.required(m, "format", p)?, "format.format")?;
            Format::Date(DatePattern::parse(text).map_err(|e| cx.err("format.format", e))?)
        }
        "enum" => {
            cx.only_keys(m, &["type", "values", "description"], p)?;
            let arr = cx.required(m, "values", p)?;
            let items = arr.as_array().ok_or_else(|| {
                cx.err(
                    "format.values",
                    format!("expected an array, found {}", kind(arr)),
                )
            })?;
            let values = items
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    cx.string(s, &format!("format.values[{i}]"))
                        .map(str::to_string)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Format::Enum { values }
        }
        other => {
            return Err(cx.err(
                "format.type",
                format!("expected string, integer, date or enum, found {other:?}"),
            ))
        }
    };
    Ok((format, description))
}
