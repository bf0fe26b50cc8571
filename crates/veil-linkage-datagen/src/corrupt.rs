//! Corruption operators: keyboard typos, digit errors, day/month swaps.

use rand::Rng;

/// QWERTY neighbours of a lowercase letter or digit.
pub fn keyboard_neighbours(c: char) -> &'static str {
    match c {
        'q' => "wa12",
        'w' => "qeas23",
        'e' => "wrsd34",
        'r' => "etdf45",
        't' => "ryfg56",
        'y' => "tugh67",
        'u' => "yihj78",
        'i' => "uojk89",
        'o' => "ipkl90",
        'p' => "ol0",
        'a' => "qwsz",
        's' => "awedxz",
        'd' => "serfcx",
        'f' => "drtgvc",
        'g' => "ftyhbv",
        'h' => "gyujnb",
        'j' => "huikmn",
        'k' => "jiolm",
        'l' => "kop",
        'z' => "asx",
        'x' => "zsdc",
        'c' => "xdfv",
        'v' => "cfgb",
        'b' => "vghn",
        'n' => "bhjm",
        'm' => "njk",
        '1' => "2q",
        '2' => "13qw",
        '3' => "24we",
        '4' => "35er",
        '5' => "46rt",
        '6' => "57ty",
        '7' => "68yu",
        '8' => "79ui",
        '9' => "80io",
        '0' => "9op",
        _ => "etaoinshr",
    }
}

fn pick(s: &str, rng: &mut impl Rng) -> char {
    let chars: Vec<char> = s.chars().collect();
    chars[rng.gen_range(0..chars.len())]
}

/// Applies one typo (insert, delete, keyboard substitution or transposition).
/// Empty values are left unchanged. The result contains only characters of
/// the input and letters/digits.
pub fn typo(value: &str, rng: &mut impl Rng) -> String {
    let mut chars: Vec<char> = value.chars().collect();
    if chars.is_empty() {
        return String::new();
    }
    let n = chars.len();
    match rng.gen_range(0..4u8) {
        0 => {
            let i = rng.gen_range(0..=n);
            let near = chars[i.min(n - 1)];
            chars.insert(i, pick(keyboard_neighbours(near), rng));
        }
        1 if n >= 2 => {
            chars.remove(rng.gen_range(0..n));
        }
        3 if n >= 2 => {
            let i = rng.gen_range(0..n - 1);
            if chars[i] == chars[i + 1] {
                chars[i] = pick(keyboard_neighbours(chars[i]), rng);
            } else {
                chars.swap(i, i + 1);
            }
        }
        _ => {
            let i = rng.gen_range(0..n);
            chars[i] = pick(keyboard_neighbours(chars[i]), rng);
        }
    }
    chars.into_iter().collect()
}

/// Replaces one digit with a keyboard-adjacent digit, or transposes two
/// adjacent digits. Values without digits are unchanged.
pub fn digit_error(value: &str, rng: &mut impl Rng) -> String {
    let mut chars: Vec<char> = value.chars().collect();
    let digits: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i].is_ascii_digit())
        .collect();
    if digits.is_empty() {
        return value.to_string();
    }
    let i = digits[rng.gen_range(0..digits.len())];
    let can_swap = i + 1 < chars.len() && chars[i + 1].is_ascii_digit() && chars[i] != chars[i + 1];
    if can_swap && rng.gen_bool(0.3) {
        chars.swap(i, i + 1);
    } else {
        let near: String = keyboard_neighbours(chars[i])
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        chars[i] = pick(&near, rng);
    }
    chars.into_iter().collect()
}

/// Swaps day and month of a `YYYYMMDD` date when the result is a valid,
/// different date; `None` otherwise.
pub fn swap_day_month(date: &str) -> Option<String> {
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (y, m, d) = (&date[0..4], &date[4..6], &date[6..8]);
    let (mi, di): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    if di == mi || !(1..=12).contains(&di) || mi > 28 {
        return None;
    }
    Some(format!("{y}{d}{m}"))
}
