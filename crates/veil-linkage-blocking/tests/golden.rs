//! Golden tests: block assignments identical to blocklib 0.1.11 on fixtures
//! produced by `tests/data/make_golden.py`.

use serde_json::Value;
use veil_linkage_blocking::{block_clks, block_records, BlockingSchema, Blocks, Clks};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{DATA}/{name}")).expect("fixture exists")
}

fn records() -> (Vec<String>, Vec<Vec<String>>) {
    let text = read("records.csv");
    let mut lines = text
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>());
    let header = lines.next().expect("header");
    (header, lines.collect())
}

fn expected(name: &str) -> Vec<Vec<String>> {
    let v: Value = serde_json::from_str(&read(&format!("{name}_expected.json"))).unwrap();
    serde_json::from_value(v["blocks"].clone()).unwrap()
}

fn sorted_blocks(b: &Blocks) -> Vec<Vec<String>> {
    (0..b.num_records())
        .map(|r| {
            let mut v: Vec<String> = b.record_blocks(r).map(str::to_string).collect();
            v.sort();
            v
        })
        .collect()
}

fn schema(name: &str) -> BlockingSchema {
    BlockingSchema::from_json_str(&read(&format!("{name}_schema.json"))).unwrap()
}

#[test]
fn psig_ratio_matches_blocklib() {
    let (header, rows) = records();
    let blocks = block_records(&schema("psig_ratio"), Some(&header), &rows).unwrap();
    assert_eq!(sorted_blocks(&blocks), expected("psig_ratio"));
}

#[test]
fn psig_count_matches_blocklib() {
    let (header, rows) = records();
    let blocks = block_records(&schema("psig_count"), Some(&header), &rows).unwrap();
    assert_eq!(sorted_blocks(&blocks), expected("psig_count"));
}

#[test]
fn lambda_fold_clks_matches_blocklib() {
    let clks = Clks::read_json(read("clks.json").as_bytes()).unwrap();
    let blocks = block_clks(&schema("lambda_clks"), &clks).unwrap();
    assert_eq!(sorted_blocks(&blocks), expected("lambda_clks"));
}

#[test]
fn lambda_fold_records_matches_blocklib() {
    let (header, rows) = records();
    let blocks = block_records(&schema("lambda_records"), Some(&header), &rows).unwrap();
    assert_eq!(sorted_blocks(&blocks), expected("lambda_records"));
}
