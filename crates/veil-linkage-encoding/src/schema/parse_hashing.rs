//! Parsing of a feature's `hashing` object (comparison, strategy, hash, missing value).

use serde_json::Value;

use super::parse::{kind, Cx, MAX_BITS, MAX_FRACTIONAL_PRECISION, MAX_N, MAX_RESOLUTION};
use super::{Comparison, HashKind, Hashing, MissingValue, Strategy};
use crate::error::SchemaError;

pub(super) fn parse_hashing(cx: &Cx, v: &Value) -> Result<Hashing, SchemaError> {
    let p = "hashing";
    let m = cx.object(v, p)?;
    cx.only_keys(m, &["hash", "strategy", "comparison", "missingValue"], p)?;
    let comparison = parse_comparison(cx, cx.required(m, "comparison", p)?)?;

    let sp = "hashing.strategy";
    let s = cx.object(cx.required(m, "strategy", p)?, sp)?;
    let keys: Vec<&str> = s.keys().map(String::as_str).collect();
    let strategy = match keys.as_slice() {
        ["bitsPerToken"] => Strategy::BitsPerToken(cx.integer(
            &s["bitsPerToken"],
            "hashing.strategy.bitsPerToken",
            1,
            MAX_BITS,
        )? as u64),
        ["bitsPerFeature"] => Strategy::BitsPerFeature(cx.integer(
            &s["bitsPerFeature"],
            "hashing.strategy.bitsPerFeature",
            1,
            MAX_BITS,
        )? as u64),
        _ => {
            return Err(cx.err(
                sp,
                format!("expected bitsPerToken or bitsPerFeature, found keys {keys:?}"),
            ))
        }
    };

    let hash = match m.get("hash") {
        None => HashKind::Blake,
        Some(h) => {
            let hp = "hashing.hash";
            let hm = cx.object(h, hp)?;
            let ty = cx.string(cx.required(hm, "type", hp)?, "hashing.hash.type")?;
            let ps = hm.get("prevent_singularity");
            match ty {
                "doubleHash" => HashKind::DoubleHash {
                    prevent_singularity: match ps {
                        None => false,
                        Some(b) => cx.boolean(b, "hashing.hash.prevent_singularity")?,
                    },
                },
                "blakeHash" if ps.is_some() => {
                    return Err(cx.err(
                        "hashing.hash.prevent_singularity",
                        "only allowed with doubleHash",
                    ))
                }
                "blakeHash" => HashKind::Blake,
                other => {
                    return Err(cx.err(
                        "hashing.hash.type",
                        format!("expected doubleHash or blakeHash, found {other:?}"),
                    ))
                }
            }
        }
    };

    let missing_value = match m.get("missingValue") {
        None => None,
        Some(mv) => {
            let mp = "hashing.missingValue";
            let mm = cx.object(mv, mp)?;
            let sentinel = cx
                .string(
                    cx.required(mm, "sentinel", mp)?,
                    "hashing.missingValue.sentinel",
                )?
                .to_string();
            let replace_with = cx.opt_string(mm, "replaceWith", mp)?;
            Some(MissingValue {
                sentinel,
                replace_with,
            })
        }
    };
    Ok(Hashing {
        comparison,
        strategy,
        hash,
        missing_value,
    })
}

fn parse_comparison(cx: &Cx, v: &Value) -> Result<Comparison, SchemaError> {
    let p = "hashing.comparison";
    let m = cx.object(v, p)?;
    let ty = cx.string(cx.required(m, "type", p)?, "hashing.comparison.type")?;
    match ty {
        "ngram" => {
            let n = cx.integer(cx.required(m, "n", p)?, "hashing.comparison.n", 1, MAX_N)? as usize;
            let positional = match m.get("positional") {
                None => false,
                Some(b) => cx.boolean(b, "hashing.comparison.positional")?,
            };
            Ok(Comparison::Ngram { n, positional })
        }
        "exact" => Ok(Comparison::Exact),
        "numeric" => {
            let resolution = cx.integer(
                cx.required(m, "resolution", p)?,
                "hashing.comparison.resolution",
                1,
                MAX_RESOLUTION,
            )? as u32;
            let fp = cx
                .opt_integer(m, "fractional_precision", p, 0, MAX_FRACTIONAL_PRECISION)?
                .unwrap_or(0) as u32;
            let tp = "hashing.comparison.thresholdDistance";
            let t = cx.required(m, "thresholdDistance", p)?;
            let scale = 10i128.pow(fp);
            let distance_interval = if let Some(i) = t
                .as_i64()
                .map(i128::from)
                .or_else(|| t.as_u64().map(i128::from))
            {
                if i <= 0 {
                    return Err(cx.err(tp, format!("must be greater than 0, found {i}")));
                }
                i.checked_mul(scale)
                    .ok_or_else(|| cx.err(tp, "too large for the fractional precision"))?
            } else if let Some(f) = t.as_f64() {
                if f.is_nan() || f <= 0.0 {
                    return Err(cx.err(tp, format!("must be greater than 0, found {t}")));
                }
                let scaled = (f * crate::numbers::pow10_f64(fp)).round_ties_even();
                if !scaled.is_finite() || scaled >= 1e37 {
                    return Err(cx.err(tp, "too large for the fractional precision"));
                }
                scaled as i128
            } else {
                return Err(cx.err(tp, format!("expected a number, found {}", kind(t))));
            };
            if distance_interval == 0 {
                return Err(cx.err(
                    tp,
                    "not enough fractional precision to encode thresholdDistance",
                ));
            }
            Ok(Comparison::Numeric {
                distance_interval,
                resolution,
                fractional_precision: fp,
            })
        }
        other => Err(cx.err(
            "hashing.comparison.type",
            format!("expected ngram, exact or numeric, found {other:?}"),
        )),
    }
}
