//! One person record: clean generation from an entity index and corruption.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::corrupt::{digit_error, swap_day_month, typo};
use crate::lists::{nicknames, tables, STATES};
use crate::CorruptionRates;

/// The FEBRL4 column names, in order.
pub const HEADER: [&str; 11] = [
    "rec_id",
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
];

/// A person record; `fields` follow [`HEADER`] without `rec_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// given_name … soc_sec_id.
    pub fields: [String; 10],
}

/// Field indices into [`Person::fields`].
pub mod field {
    /// given_name
    pub const GIVEN: usize = 0;
    /// surname
    pub const SURNAME: usize = 1;
    /// street_number
    pub const STREET_NUMBER: usize = 2;
    /// address_1
    pub const ADDRESS_1: usize = 3;
    /// address_2
    pub const ADDRESS_2: usize = 4;
    /// suburb
    pub const SUBURB: usize = 5;
    /// postcode
    pub const POSTCODE: usize = 6;
    /// state
    pub const STATE: usize = 7;
    /// date_of_birth
    pub const DOB: usize = 8;
    /// soc_sec_id
    pub const SSN: usize = 9;
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        _ => 31,
    }
}

impl Person {
    /// Generates a clean record from an entity's random stream.
    pub fn generate(rng: &mut ChaCha8Rng) -> Self {
        let t = tables();
        let given = if rng.gen_bool(0.5) {
            t.female.sample(rng)
        } else {
            t.male.sample(rng)
        };
        let surname = t.surnames.sample(rng);
        let street_number = 1 + (rng.gen::<f64>().powi(3) * 999.0) as u32;
        let address_1 = format!("{} {}", t.streets.sample(rng), t.street_types.sample(rng));
        let address_2 = if rng.gen_bool(0.1) {
            String::new()
        } else {
            let suffix = t.place_suffixes.sample(rng);
            let base = if rng.gen_bool(0.5) {
                t.streets.sample(rng)
            } else {
                t.suburbs.sample(rng)
            };
            if suffix.is_empty() {
                base.to_string()
            } else {
                format!("{base} {suffix}")
            }
        };
        let suburb = t.suburbs.sample(rng);
        let total: u32 = STATES.iter().map(|s| s.1).sum();
        let mut u = rng.gen_range(0..total);
        let mut state = STATES[0];
        for s in STATES {
            if u < s.1 {
                state = s;
                break;
            }
            u -= s.1;
        }
        let postcode = rng.gen_range(state.2..=state.3);
        let year = rng.gen_range(1920..=2005);
        let month = rng.gen_range(1..=12);
        let day = rng.gen_range(1..=days_in_month(year, month));
        let ssn = rng.gen_range(1_000_000..=9_999_999u32);
        Person {
            fields: [
                given.to_string(),
                surname.to_string(),
                street_number.to_string(),
                address_1,
                address_2,
                suburb.to_string(),
                format!("{postcode:04}"),
                state.0.to_string(),
                format!("{year:04}{month:02}{day:02}"),
                ssn.to_string(),
            ],
        }
    }

    /// Applies corruption at `rates`, counting what was applied into `counts`.
    pub fn corrupt(
        &mut self,
        rates: &CorruptionRates,
        rng: &mut ChaCha8Rng,
        counts: &mut CorruptionCounts,
    ) {
        use field::*;
        let f = &mut self.fields;
        if rng.gen_bool(rates.nickname) {
            if let Some(nicks) = nicknames(&f[GIVEN]) {
                f[GIVEN] = nicks[rng.gen_range(0..nicks.len())].to_string();
                counts.nicknames += 1;
            }
        }
        if rng.gen_bool(rates.name_swap) {
            f.swap(GIVEN, SURNAME);
            counts.name_swaps += 1;
        }
        for i in [GIVEN, SURNAME, ADDRESS_1, ADDRESS_2, SUBURB] {
            if rng.gen_bool(rates.typo) && !f[i].is_empty() {
                f[i] = typo(&f[i], rng);
                counts.typos += 1;
            }
        }
        for i in [STREET_NUMBER, POSTCODE, SSN] {
            if rng.gen_bool(rates.digit_error) {
                f[i] = digit_error(&f[i], rng);
                counts.digit_errors += 1;
            }
        }
        if rng.gen_bool(rates.date_swap) {
            if let Some(d) = swap_day_month(&f[DOB]) {
                f[DOB] = d;
                counts.date_swaps += 1;
            }
        }
        for v in f.iter_mut() {
            if rng.gen_bool(rates.missing) && !v.is_empty() {
                v.clear();
                counts.missing += 1;
            }
        }
    }
}

/// How many corruptions of each kind were applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CorruptionCounts {
    /// Typos in string fields.
    pub typos: u64,
    /// Fields blanked.
    pub missing: u64,
    /// Given/surname swaps.
    pub name_swaps: u64,
    /// Given names replaced by a nickname.
    pub nicknames: u64,
    /// Day/month swaps.
    pub date_swaps: u64,
    /// Digit errors in street number, postcode or social security id.
    pub digit_errors: u64,
}

impl CorruptionCounts {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &CorruptionCounts) {
        self.typos += other.typos;
        self.missing += other.missing;
        self.name_swaps += other.name_swaps;
        self.nicknames += other.nicknames;
        self.date_swaps += other.date_swaps;
        self.digit_errors += other.digit_errors;
    }
}

/// Appends one CSV line (quoting a field only if it needs it) to `out`.
pub fn write_csv_line(out: &mut Vec<u8>, rec_id: &str, fields: &[String]) {
    write_field(out, rec_id);
    for f in fields {
        out.push(b',');
        write_field(out, f);
    }
    out.push(b'\n');
}

fn write_field(out: &mut Vec<u8>, f: &str) {
    if f.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        out.extend_from_slice(f.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(f.as_bytes());
    }
}
