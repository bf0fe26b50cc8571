//! Python-compatible number parsing (`int(s, 10)`, `float(s)`), as clkhash relies on it for
//! integer formats and numeric comparisons.
//!
//! Python accepts surrounding Unicode whitespace, a sign, `_` between digits and any Unicode
//! decimal digit (category Nd, Unicode 14 as in Python 3.11); integers are limited to 4300 digits.

use std::fmt::Write as _;

/// Python 3.11 refuses to parse integers with more decimal digits than this.
pub const MAX_INT_DIGITS: usize = 4300;

/// First code point ("zero") of every run of ten Unicode decimal digits (Unicode 14.0).
const DECIMAL_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

/// Value of a Unicode decimal digit (`unicodedata.decimal`).
pub fn decimal_value(c: char) -> Option<u8> {
    let cp = c as u32;
    if c.is_ascii() {
        return c.is_ascii_digit().then(|| (cp - 0x30) as u8);
    }
    let idx = DECIMAL_ZEROS.partition_point(|&z| z <= cp);
    let zero = DECIMAL_ZEROS[idx.checked_sub(1)?];
    (cp - zero < 10).then(|| (cp - zero) as u8)
}

/// Python's `str.isspace`.
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Maps Unicode digits to ASCII and strips whitespace; `None` if another non-ASCII char remains.
fn to_ascii_trimmed(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_py_space(c) {
            out.push(' ');
        } else if let Some(d) = decimal_value(c) {
            out.push((b'0' + d) as char);
        } else if c.is_ascii() {
            out.push(c);
        } else {
            return None;
        }
    }
    Some(out.trim_matches(' ').to_string())
}

/// Removes `_` separators, which Python allows only between two digits.
fn strip_underscores(s: &str) -> Option<String> {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let ok =
                i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !ok {
                return None;
            }
        }
    }
    Some(s.replace('_', ""))
}

/// A parsed Python integer kept as its canonical decimal text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyInt {
    /// `str(int(s))`: no leading zeros, `-` only for negative numbers.
    pub canonical: String,
}

impl PyInt {
    /// The value, if it fits in 128 bits.
    pub fn to_i128(&self) -> Option<i128> {
        self.canonical.parse().ok()
    }

    /// Compares with an `i64` bound (works for any size).
    pub fn cmp_i64(&self, bound: i64) -> std::cmp::Ordering {
        match self.to_i128() {
            Some(v) => v.cmp(&i128::from(bound)),
            None if self.canonical.starts_with('-') => std::cmp::Ordering::Less,
            None => std::cmp::Ordering::Greater,
        }
    }
}

/// Python's `int(s, 10)`; `None` where Python raises `ValueError`.
pub fn parse_py_int(s: &str) -> Option<PyInt> {
    let t = to_ascii_trimmed(s)?;
    let (negative, body) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, &t[..]),
    };
    if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit() || c == b'_') {
        return None;
    }
    let digits = strip_underscores(body)?;
    if digits.len() > MAX_INT_DIGITS {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    let canonical = match (trimmed.is_empty(), negative) {
        (true, _) => "0".to_string(),
        (false, true) => format!("-{trimmed}"),
        (false, false) => trimmed.to_string(),
    };
    Some(PyInt { canonical })
}

/// Python's `float(s)`; `None` where Python raises `ValueError`.
pub fn parse_py_float(s: &str) -> Option<f64> {
    let t = to_ascii_trimmed(s)?;
    let lower = t.to_ascii_lowercase();
    let unsigned = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    if matches!(unsigned, "inf" | "infinity" | "nan") {
        return lower.parse().ok();
    }
    let plain = strip_underscores(&t)?;
    let b = plain.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut mantissa_digits = i - int_start;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        mantissa_digits += i - frac_start;
    }
    if mantissa_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    plain.parse().ok()
}

/// `float(10 ** p)` correctly rounded, as Python converts the integer power.
pub fn pow10_f64(p: u32) -> f64 {
    format!("1e{p}").parse().unwrap_or(f64::INFINITY)
}

/// clkhash's `NumericComparison.tokenize` for a non-empty value: writes the `2r + 1`
/// neighbourhood tokens into `out`, calling `emit` after each one.
pub fn numeric_tokens(
    word: &str,
    distance_interval: i128,
    resolution: u32,
    fractional_precision: u32,
    out: &mut String,
    mut emit: impl FnMut(&mut String),
) -> Result<(), String> {
    let overflow = || format!("numeric value {word:?} is too large to encode");
    let v = match parse_py_int(word) {
        Some(int) => {
            let v = int.to_i128().ok_or_else(overflow)?;
            v.checked_mul(10i128.pow(fractional_precision))
                .ok_or_else(overflow)?
        }
        None => {
            let f = parse_py_float(word)
                .ok_or_else(|| format!("could not convert string to float: {word:?}"))?;
            let scaled = if fractional_precision > 0 {
                (f * pow10_f64(fractional_precision)).round_ties_even()
            } else {
                f.trunc()
            };
            if scaled.is_nan() {
                return Err(format!("cannot convert float NaN to integer: {word:?}"));
            }
            if !(-1.7e38..=1.7e38).contains(&scaled) {
                return Err(overflow());
            }
            scaled as i128
        }
    };
    let r = i128::from(resolution);
    let mut v = v.checked_mul(2 * r).ok_or_else(overflow)?;
    let di = distance_interval;
    let residue = v.rem_euclid(di);
    if residue != 0 {
        v = if residue * 2 < di {
            v - residue
        } else {
            v.checked_add(di - residue).ok_or_else(overflow)?
        };
    }
    for i in -r..=r {
        let t = i
            .checked_mul(di)
            .and_then(|d| v.checked_add(d))
            .ok_or_else(overflow)?;
        out.clear();
        let _ = write!(out, "{t}");
        emit(out);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_int_rules() {
        let c = |s: &str| parse_py_int(s).map(|p| p.canonical);
        assert_eq!(c(" +007 ").as_deref(), Some("7"));
        assert_eq!(c("-0").as_deref(), Some("0"));
        assert_eq!(c("1_000").as_deref(), Some("1000"));
        assert_eq!(c("\u{663}\u{664}").as_deref(), Some("34"));
        assert_eq!(c("\u{2003}-12\u{1f}").as_deref(), Some("-12"));
        for bad in ["", " ", "+", "1__0", "_1", "1_", "1.0", "0x10", "1 2", "١a"] {
            assert_eq!(c(bad), None, "{bad:?}");
        }
        assert!(parse_py_int(&"9".repeat(4300)).is_some());
        assert!(parse_py_int(&"9".repeat(4301)).is_none());
    }

    #[test]
    fn python_float_rules() {
        assert_eq!(parse_py_float(" 1.5 "), Some(1.5));
        assert_eq!(parse_py_float("1_0.2_5"), Some(10.25));
        assert_eq!(parse_py_float(".5e1"), Some(5.0));
        assert_eq!(parse_py_float("1."), Some(1.0));
        assert_eq!(parse_py_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(parse_py_float("nan").is_some_and(f64::is_nan));
        for bad in ["", ".", "e5", "1e", "1_.5", "1._5", "0x1p3", "1,5", "--1"] {
            assert_eq!(parse_py_float(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn numeric_neighbourhood_matches_clkhash_docs() {
        // threshold 8, resolution 2: x = 25 -> [88, 96, 104, 112, 120]
        let mut buf = String::new();
        let mut got = Vec::new();
        numeric_tokens("25", 8, 2, 0, &mut buf, |t| got.push(t.clone())).unwrap();
        assert_eq!(got, ["88", "96", "104", "112", "120"]);
    }
}
