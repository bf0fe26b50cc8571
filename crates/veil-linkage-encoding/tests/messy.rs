//! Differential test against clkhash 0.18.3 on messy inputs (unicode, empty and missing values,
//! long strings, utf-16/utf-32/ascii encodings, integer/date/enum formats, numeric comparisons,
//! prevent_singularity, non power-of-two `l`, `xor_folds`). Fixtures: `tests/data/messy/generate.py`.

use std::path::PathBuf;

use veil_linkage_encoding::{encode_csv, ClkWriter, EncodeOptions, Encoder, OutputFormat, Schema};

const SECRET: &str = "pässwörd 🔑";

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/messy")
        .join(name)
}

fn check(schema_name: &str) {
    let schema = Schema::from_json_str(
        &std::fs::read_to_string(data(&format!("{schema_name}.json"))).unwrap(),
    )
    .unwrap();
    let encoder = Encoder::new(&schema, SECRET.as_bytes()).unwrap();
    let csv = std::fs::File::open(data("messy.csv")).unwrap();
    let mut writer = ClkWriter::new(Vec::new(), OutputFormat::Json).unwrap();
    let options = EncodeOptions {
        threads: 2,
        chunk_rows: 77,
    };
    encode_csv(csv, &encoder, &options, |_| {}, |_, clk| writer.write(&clk)).unwrap();
    let ours: serde_json::Value = serde_json::from_slice(&writer.finish().unwrap()).unwrap();
    let expected: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data(&format!("clkhash-0.18.3.messy.{schema_name}.json"))).unwrap(),
    )
    .unwrap();
    let (a, b) = (
        ours["clks"].as_array().unwrap(),
        expected["clks"].as_array().unwrap(),
    );
    assert_eq!(a.len(), b.len());
    let bad: Vec<usize> = (0..b.len()).filter(|&i| a[i] != b[i]).collect();
    assert!(
        bad.is_empty(),
        "{schema_name}: {} rows differ, first {:?}",
        bad.len(),
        &bad[..bad.len().min(10)]
    );
}

#[test]
fn messy_blake_and_double_hash_mix() {
    check("schema_a");
}

#[test]
fn messy_double_hash_non_power_of_two_l_with_xor_folds() {
    check("schema_b");
}

#[test]
fn messy_tiny_filter_prevent_singularity() {
    check("schema_c");
}
