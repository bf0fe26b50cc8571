//! A re-implementation of the part of Python's `datetime.strptime` that clkhash's date
//! format uses, followed by `strftime("%Y%m%d")` (glibc: the year is not zero padded).
//!
//! Supported directives: `%Y %y %m %d %j %b %B %a %A %H %I %M %S %f %p %w %u %%`. Schemas using
//! other directives (`%U %W %V %G %z %Z %c %x %X`) are rejected when the schema is parsed.
//! Matching follows Python: the format becomes a case-insensitive regular expression anchored at
//! the start (leftmost-first alternation, like Python's backtracking), whitespace runs in the
//! format match `\s+`, and the match must consume the whole value.

use regex::Regex;

use crate::numbers::decimal_value;

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A compiled strptime pattern.
#[derive(Debug, Clone)]
pub struct DatePattern {
    source: String,
    regex: Regex,
}

/// Python's `_strptime` sorts names by length (longest first, stable) before joining them.
fn names_regex(names: impl Iterator<Item = String>) -> String {
    let mut v: Vec<String> = names.collect();
    v.sort_by_key(|s| std::cmp::Reverse(s.chars().count()));
    v.join("|")
}

fn directive_regex(d: char) -> Option<String> {
    let re = match d {
        'd' => r"(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])".to_string(),
        'f' => r"(?P<f>[0-9]{1,6})".to_string(),
        'H' => r"(?P<H>2[0-3]|[0-1]\d|\d)".to_string(),
        'I' => r"(?P<I>1[0-2]|0[1-9]|[1-9])".to_string(),
        'j' => {
            r"(?P<j>36[0-6]|3[0-5]\d|[1-2]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9])".to_string()
        }
        'm' => r"(?P<m>1[0-2]|0[1-9]|[1-9])".to_string(),
        'M' => r"(?P<M>[0-5]\d|\d)".to_string(),
        'S' => r"(?P<S>6[0-1]|[0-5]\d|\d)".to_string(),
        'w' => r"(?P<w>[0-6])".to_string(),
        'u' => r"(?P<u>[1-7])".to_string(),
        'y' => r"(?P<y>\d\d)".to_string(),
        'Y' => r"(?P<Y>\d\d\d\d)".to_string(),
        'p' => "(?P<p>am|pm)".to_string(),
        'B' => format!(
            "(?P<B>{})",
            names_regex(MONTHS.iter().map(|s| s.to_string()))
        ),
        'b' => format!(
            "(?P<b>{})",
            names_regex(MONTHS.iter().map(|s| s[..3].to_string()))
        ),
        'A' => format!("(?P<A>{})", names_regex(DAYS.iter().map(|s| s.to_string()))),
        'a' => format!(
            "(?P<a>{})",
            names_regex(DAYS.iter().map(|s| s[..3].to_string()))
        ),
        '%' => "%".to_string(),
        _ => return None,
    };
    Some(re)
}

fn digits_value(s: &str) -> Option<u32> {
    s.chars()
        .try_fold(0u32, |acc, c| Some(acc * 10 + u32::from(decimal_value(c)?)))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 0001-01-01 (day 1), like `date.toordinal()`.
fn to_ordinal(y: i64, m: u32, d: u32) -> i64 {
    let py = y - 1;
    let before_year = py * 365 + py / 4 - py / 100 + py / 400;
    let before_month: i64 = (1..m).map(|mm| i64::from(days_in_month(y, mm))).sum();
    before_year + before_month + i64::from(d)
}

fn from_ordinal(mut n: i64) -> Option<(i64, u32, u32)> {
    let mut y = 1;
    // Jump by 400-year cycles (146097 days) first.
    let cycles = (n - 1) / 146_097;
    y += cycles * 400;
    n -= cycles * 146_097;
    loop {
        let len = if is_leap(y) { 366 } else { 365 };
        if n <= len {
            break;
        }
        n -= len;
        y += 1;
    }
    for m in 1..=12 {
        let dim = i64::from(days_in_month(y, m));
        if n <= dim {
            return (1..=9999).contains(&y).then_some((y, m, n as u32));
        }
        n -= dim;
    }
    None
}

impl DatePattern {
    /// Compiles a strptime format; the error names the unsupported or invalid directive.
    pub fn parse(format: &str) -> Result<DatePattern, String> {
        let mut re = String::from("(?i)^(?:");
        let mut chars = format.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '%' {
                let d = chars
                    .next()
                    .ok_or("stray % at the end of the date format")?;
                re.push_str(
                    &directive_regex(d)
                        .ok_or_else(|| format!("unsupported strptime directive '%{d}'"))?,
                );
            } else if c.is_whitespace() {
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
                re.push_str(r"\s+");
            } else {
                re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
            }
        }
        re.push(')');
        let regex = Regex::new(&re).map_err(|e| format!("invalid date format: {e}"))?;
        Ok(DatePattern {
            source: format.to_string(),
            regex,
        })
    }

    /// The format as written in the schema.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Parses `value` like `datetime.strptime` and returns `strftime("%Y%m%d")`.
    pub fn normalise(&self, value: &str) -> Result<String, String> {
        let caps = self.regex.captures(value).ok_or_else(|| {
            format!(
                "time data {value:?} does not match format {:?}",
                self.source
            )
        })?;
        let end = caps.get(0).map_or(0, |m| m.end());
        if end != value.len() {
            return Err(format!("unconverted data remains: {:?}", &value[end..]));
        }
        let num = |name: &str| {
            caps.name(name)
                .and_then(|m| digits_value(m.as_str().trim_start()))
        };
        let name_index = |name: &str, list: &[&str], abbrev: bool| {
            caps.name(name).and_then(|m| {
                let s = m.as_str().to_lowercase();
                list.iter()
                    .position(|n| if abbrev { n[..3] == s } else { *n == s })
            })
        };
        let mut year: Option<i64> = None;
        if let Some(y) = num("y") {
            year = Some(i64::from(if y <= 68 { y + 2000 } else { y + 1900 }));
        }
        if let Some(y) = num("Y") {
            year = Some(i64::from(y));
        }
        let mut month = 1;
        if let Some(m) = name_index("b", &MONTHS, true).or_else(|| name_index("B", &MONTHS, false))
        {
            month = m as u32 + 1;
        }
        if let Some(m) = num("m") {
            month = m;
        }
        let day = num("d").unwrap_or(1);
        if num("S").is_some_and(|s| s > 59) {
            return Err("second must be in 0..59".to_string());
        }
        let julian = num("j");
        let leap_year_fix = year.is_none() && month == 2 && day == 29;
        let y = year.unwrap_or(if leap_year_fix { 1904 } else { 1900 });
        let (y, m, d) = match julian {
            Some(j) => {
                if !(1..=9999).contains(&y) {
                    return Err(format!("year {y} is out of range"));
                }
                from_ordinal(i64::from(j) - 1 + to_ordinal(y, 1, 1))
                    .ok_or("date value out of range")?
            }
            None => {
                if !(1..=9999).contains(&y) {
                    return Err(format!("year {y} is out of range"));
                }
                if !(1..=12).contains(&month) || day < 1 || day > days_in_month(y, month) {
                    return Err("day is out of range for month".to_string());
                }
                (y, month, day)
            }
        };
        let y = if leap_year_fix { 1900 } else { y };
        if d > days_in_month(y, m) {
            return Err("day is out of range for month".to_string());
        }
        Ok(format!("{y}{m:02}{d:02}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(f: &str, v: &str) -> Result<String, String> {
        DatePattern::parse(f).unwrap().normalise(v)
    }

    #[test]
    fn common_formats() {
        assert_eq!(norm("%Y-%m-%d", "1990-02-03").unwrap(), "19900203");
        assert_eq!(norm("%d/%m/%Y", "3/2/1990").unwrap(), "19900203");
        assert_eq!(norm("%d %B %Y", "3   FEBRUARY 1990").unwrap(), "19900203");
        assert_eq!(norm("%y%m%d", "690101").unwrap(), "19690101");
        assert_eq!(norm("%y%m%d", "680101").unwrap(), "20680101");
        assert_eq!(norm("%Y-%m-%d", "0005-01-02").unwrap(), "50102");
        assert_eq!(norm("%Y %j", "2001 032").unwrap(), "20010201");
        assert_eq!(norm("%Y", "١٩٩٠").unwrap(), "19900101");
        assert!(norm("%Y%m%d", "١٩٩٠٠٢٠٣").is_err());
    }

    #[test]
    fn invalid_dates() {
        assert!(norm("%Y-%m-%d", "1990-02-30").is_err());
        assert!(norm("%m-%d", "02-29").is_err());
        assert!(norm("%Y-%m-%d", "1990-02-03x").is_err());
        assert!(norm("%Y-%m-%d", "0000-01-01").is_err());
        assert!(DatePattern::parse("%Y-%q").is_err());
        assert!(DatePattern::parse("%Y%").is_err());
    }
}
