//! Value validation and normalisation per feature format (clkhash's `FieldSpec.validate` and
//! `format_value` for values that are not the missing-value sentinel).

use std::borrow::Cow;

use crate::numbers::parse_py_int;
use crate::schema::{Case, Format, StringRule, TextEncoding};

/// Validates `value` and returns the string that is tokenised.
pub fn validate_and_format<'a>(format: &Format, value: &'a str) -> Result<Cow<'a, str>, String> {
    match format {
        Format::String(s) => {
            if s.encoding == TextEncoding::Ascii && !value.is_ascii() {
                return Err(format!(
                    "expected a value that can be encoded in ascii, read {value:?}"
                ));
            }
            match &s.rule {
                StringRule::Pattern { source, regex } => {
                    if !regex.is_match(value) {
                        return Err(format!("expected a value matching the regular expression {source:?}, read {value:?}"));
                    }
                }
                StringRule::Limits {
                    case,
                    min_length,
                    max_length,
                } => {
                    if min_length.is_some() || max_length.is_some() {
                        let len = value.chars().count() as u64;
                        if let Some(min) = min_length.filter(|&m| len < m) {
                            return Err(format!("expected a string of length at least {min}, read {value:?} of length {len}"));
                        }
                        if let Some(max) = max_length.filter(|&m| len > m) {
                            return Err(format!("expected a string of length at most {max}, read {value:?} of length {len}"));
                        }
                    }
                    match case {
                        Case::Upper if value.to_uppercase() != value => {
                            return Err(format!("expected an upper case string, read {value:?}"))
                        }
                        Case::Lower if value.to_lowercase() != value => {
                            return Err(format!("expected a lower case string, read {value:?}"))
                        }
                        _ => {}
                    }
                }
            }
            Ok(Cow::Borrowed(value))
        }
        Format::Integer { minimum, maximum } => {
            let int =
                parse_py_int(value).ok_or_else(|| format!("invalid integer, read {value:?}"))?;
            if let Some(min) = minimum.filter(|&m| int.cmp_i64(m).is_lt()) {
                return Err(format!(
                    "expected an integer of at least {min}, read {value:?}"
                ));
            }
            if let Some(max) = maximum.filter(|&m| int.cmp_i64(m).is_gt()) {
                return Err(format!(
                    "expected an integer of at most {max}, read {value:?}"
                ));
            }
            if int.canonical == value {
                Ok(Cow::Borrowed(value))
            } else {
                Ok(Cow::Owned(int.canonical))
            }
        }
        Format::Date(pattern) => pattern.normalise(value).map(Cow::Owned).map_err(|e| {
            format!(
                "invalid date {value:?} for format {:?}: {e}",
                pattern.source()
            )
        }),
        Format::Enum { values } => {
            if values.iter().any(|v| v == value) {
                Ok(Cow::Borrowed(value))
            } else {
                Err(format!("expected one of {values:?}, read {value:?}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::date::DatePattern;
    use crate::schema::StringFormat;

    fn string(rule: StringRule) -> Format {
        Format::String(StringFormat {
            encoding: TextEncoding::Utf8,
            rule,
        })
    }

    #[test]
    fn string_limits_and_case() {
        let f = string(StringRule::Limits {
            case: Case::Upper,
            min_length: Some(2),
            max_length: Some(3),
        });
        assert!(validate_and_format(&f, "AB").is_ok());
        assert!(validate_and_format(&f, "A").is_err());
        assert!(validate_and_format(&f, "ABCD").is_err());
        assert!(validate_and_format(&f, "Ab").is_err());
        // 'ß' upper-cases to "SS", so it is not upper case; length counts code points.
        assert!(validate_and_format(&f, "ÄÖ").is_ok());
        assert!(validate_and_format(&f, "ßA").is_err());
    }

    #[test]
    fn pattern_is_a_full_match() {
        let regex = regex::Regex::new(r"\A(?:[0-9]{4})\z").unwrap();
        let f = string(StringRule::Pattern {
            source: "[0-9]{4}".into(),
            regex,
        });
        assert!(validate_and_format(&f, "2000").is_ok());
        assert!(validate_and_format(&f, "20001").is_err());
    }

    #[test]
    fn integers_are_normalised_and_bounded() {
        let f = Format::Integer {
            minimum: Some(-5),
            maximum: Some(100),
        };
        assert_eq!(validate_and_format(&f, " +07 ").unwrap(), "7");
        assert_eq!(validate_and_format(&f, "-0").unwrap(), "0");
        assert!(validate_and_format(&f, "101").is_err());
        assert!(validate_and_format(&f, "-6").is_err());
        assert!(validate_and_format(&f, "1e2").is_err());
        assert!(validate_and_format(&f, &"9".repeat(50)).is_err());
    }

    #[test]
    fn dates_and_enums() {
        let f = Format::Date(DatePattern::parse("%d/%m/%Y").unwrap());
        assert_eq!(validate_and_format(&f, "01/02/1990").unwrap(), "19900201");
        assert!(validate_and_format(&f, "31/02/1990").is_err());
        let f = Format::Enum {
            values: vec!["m".into(), "f".into()],
        };
        assert!(validate_and_format(&f, "m").is_ok());
        assert!(validate_and_format(&f, "M").is_err());
    }
}
