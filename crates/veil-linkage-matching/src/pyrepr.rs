//! Python's `repr(float)`: shortest round-trip digits, Python's layout.
//!
//! Python prints fixed notation with at least one fractional digit (`1.0`, `0.0001`) when the
//! decimal exponent `e` (as in `d.ddd × 10^e`) satisfies `-4 <= e < 16`, otherwise
//! scientific notation with a signed, at least two-digit exponent (`1e-05`, `1.5e+16`).

/// Format `x` exactly as Python's `repr(x)` does.
pub fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` yields the shortest round-trip digits as `d.ddde<exp>`.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if x < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let body = if exp < 0 {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        } else if exp + 1 >= n {
            format!("{}{}.0", digits, "0".repeat((exp + 1 - n) as usize))
        } else {
            let (int, frac) = digits.split_at((exp + 1) as usize);
            format!("{int}.{frac}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mant = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mant}e{esign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::python_float_repr as r;

    #[test]
    fn matches_python() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (0.8125, "0.8125"),
            (0.9090909090909091, "0.9090909090909091"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.000012345, "1.2345e-05"),
            (123.0, "123.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1.2345e300, "1.2345e+300"),
            (5e-324, "5e-324"),
            (-2.5, "-2.5"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (1.0 / 3.0, "0.3333333333333333"),
            (2.0 / 3.0, "0.6666666666666666"),
            (123456789.125, "123456789.125"),
            (9999999999999998.0, "9999999999999998.0"),
        ];
        for &(x, want) in cases {
            assert_eq!(r(x), want, "{x:?}");
        }
    }

    #[test]
    fn round_trips() {
        for i in 0..10_000u32 {
            let x = f64::from(i) / 7919.0 * 1.37e-3_f64.powi((i % 7) as i32 - 3);
            assert_eq!(r(x).parse::<f64>().ok(), Some(x));
        }
    }
}
