//! Helpers shared by the `veil link` tests.

#![allow(dead_code)]

pub use std::collections::{BTreeSet, HashSet};
pub use std::path::{Path, PathBuf};

use crate::common::veil;
pub use base64::Engine as _;

pub const ENCODING_DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../veil-linkage-encoding/tests/data/"
);
pub const MATCHING_DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../veil-linkage-matching/tests/data/"
);

pub fn encoding_data(name: &str) -> String {
    format!("{ENCODING_DATA}{name}")
}

pub fn matching_data(name: &str) -> String {
    format!("{MATCHING_DATA}{name}")
}

/// What a finished `veil` run left behind.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `veil` with `args` in a clean environment holding only `env` (and PATH).
pub fn run_with_env(args: &[&str], env: &[(&str, String)]) -> Run {
    let output = veil(env).args(args).output().expect("run veil");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub fn run(args: &[&str]) -> Run {
    run_with_env(args, &[])
}

/// Runs `veil` and asserts success.
pub fn run_ok(args: &[&str]) -> Run {
    let result = run(args);
    assert_eq!(result.code, 0, "veil {args:?} failed: {}", result.stderr);
    result
}

/// Asserts exit code 2 with a one-line error mentioning every needle; returns stderr.
pub fn assert_usage_error(result: &Run, needles: &[&str]) -> String {
    assert_eq!(result.code, 2, "expected exit code 2: {}", result.stderr);
    assert_eq!(result.stderr.trim().lines().count(), 1, "{}", result.stderr);
    for needle in needles {
        assert!(
            result.stderr.contains(needle),
            "missing {needle:?} in {}",
            result.stderr
        );
    }
    result.stderr.clone()
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

pub fn secret_file() -> String {
    encoding_data("secret.txt")
}

pub fn encode_args<'a>(data: &'a str, schema: &'a str, out: &'a str) -> Vec<&'a str> {
    vec!["link", "encode", data, schema, "-o", out]
}

/// The base64 CLKs of a clkhash JSON file.
pub fn clk_strings(path: &str) -> Vec<String> {
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("read CLKs")).expect("CLK JSON");
    doc["clks"]
        .as_array()
        .expect("clks array")
        .iter()
        .map(|clk| clk.as_str().expect("base64 string").to_string())
        .collect()
}

/// Writes the first `n` CLKs of a clkhash JSON file as a new clkhash JSON file.
pub fn clk_subset(source: &str, n: usize, out: &Path) {
    let clks: Vec<String> = clk_strings(source).into_iter().take(n).collect();
    std::fs::write(out, serde_json::json!({ "clks": clks }).to_string()).expect("write subset");
}

pub fn blake_clks(party: &str) -> String {
    matching_data(&format!(
        "clkhash-0.18.3.febrl4_{party}.febrl_v3_blake.json"
    ))
}
