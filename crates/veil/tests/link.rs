//! `veil link …` driven through the real binary: golden outputs against clkhash 0.18.3 and
//! anonlink 0.15.3 (the linkage crates' fixtures), error reporting, determinism.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use common::veil;

const ENCODING_DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../veil-linkage-encoding/tests/data/"
);
const MATCHING_DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../veil-linkage-matching/tests/data/"
);

fn encoding_data(name: &str) -> String {
    format!("{ENCODING_DATA}{name}")
}

fn matching_data(name: &str) -> String {
    format!("{MATCHING_DATA}{name}")
}

/// What a finished `veil` run left behind.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `veil` with `args` in a clean environment holding only `env` (and PATH).
fn run_with_env(args: &[&str], env: &[(&str, String)]) -> Run {
    let output = veil(env).args(args).output().expect("run veil");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn run(args: &[&str]) -> Run {
    run_with_env(args, &[])
}

/// Runs `veil` and asserts success.
fn run_ok(args: &[&str]) -> Run {
    let result = run(args);
    assert_eq!(result.code, 0, "veil {args:?} failed: {}", result.stderr);
    result
}

/// Asserts exit code 2 with a one-line error mentioning every needle; returns stderr.
fn assert_usage_error(result: &Run, needles: &[&str]) -> String {
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

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

fn secret_file() -> String {
    encoding_data("secret.txt")
}

fn encode_args<'a>(data: &'a str, schema: &'a str, out: &'a str) -> Vec<&'a str> {
    vec!["link", "encode", data, schema, "-o", out]
}

/// The base64 CLKs of a clkhash JSON file.
fn clk_strings(path: &str) -> Vec<String> {
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
fn clk_subset(source: &str, n: usize, out: &Path) {
    let clks: Vec<String> = clk_strings(source).into_iter().take(n).collect();
    std::fs::write(out, serde_json::json!({ "clks": clks }).to_string()).expect("write subset");
}

fn blake_clks(party: &str) -> String {
    matching_data(&format!(
        "clkhash-0.18.3.febrl4_{party}.febrl_v3_blake.json"
    ))
}

#[test]
fn encode_febrl4_a_with_both_schemas_is_byte_identical_to_clkhash() {
    let dir = tempfile::tempdir().unwrap();
    for schema in ["febrl_v3_blake", "febrl_v3_doublehash"] {
        let out = dir.path().join(format!("{schema}.json"));
        let data = encoding_data("febrl4_a.csv");
        let schema_path = encoding_data(&format!("{schema}.json"));
        let secret = secret_file();
        let mut args = encode_args(&data, &schema_path, path_str(&out));
        args.extend(["--secret-file", &secret, "--threads", "2"]);
        let result = run_ok(&args);
        let expected = std::fs::read(encoding_data(&format!(
            "clkhash-0.18.3.febrl4_a.{schema}.json"
        )))
        .unwrap();
        assert!(
            std::fs::read(&out).unwrap() == expected,
            "{schema}: CLKs differ from clkhash"
        );
        // The summary line: records, rate, threads.
        assert!(
            result.stderr.contains("encoded 5000 records")
                && result.stderr.contains("records/s")
                && result.stderr.contains("2 threads"),
            "{}",
            result.stderr
        );
    }
}

#[test]
fn encode_binary_format_is_the_decoded_clks_concatenated() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clks.bin");
    let (data, schema, secret) = (
        encoding_data("febrl4_a.csv"),
        encoding_data("febrl_v3_blake.json"),
        secret_file(),
    );
    let mut args = encode_args(&data, &schema, path_str(&out));
    args.extend(["--secret-file", &secret, "--format", "binary"]);
    run_ok(&args);
    let expected: Vec<u8> = clk_strings(&encoding_data(
        "clkhash-0.18.3.febrl4_a.febrl_v3_blake.json",
    ))
    .iter()
    .flat_map(|clk| {
        base64::engine::general_purpose::STANDARD
            .decode(clk)
            .expect("fixture base64")
    })
    .collect();
    assert_eq!(expected.len(), 5000 * 128);
    assert!(
        std::fs::read(&out).unwrap() == expected,
        "binary CLKs differ"
    );
}

#[test]
fn secret_from_the_environment_gives_the_same_clks() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clks.json");
    let secret = std::fs::read_to_string(secret_file()).unwrap();
    let (data, schema) = (
        encoding_data("febrl4_a.csv"),
        encoding_data("febrl_v3_doublehash.json"),
    );
    let result = run_with_env(
        &encode_args(&data, &schema, path_str(&out)),
        &[("VEIL_LINK_SECRET", secret.trim_end().to_string())],
    );
    assert_eq!(result.code, 0, "{}", result.stderr);
    let expected = std::fs::read(encoding_data(
        "clkhash-0.18.3.febrl4_a.febrl_v3_doublehash.json",
    ))
    .unwrap();
    assert!(std::fs::read(&out).unwrap() == expected, "CLKs differ");
}

#[test]
fn missing_secret_is_exit_2_naming_both_sources() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clks.json");
    let (data, schema) = (
        encoding_data("febrl4_a.csv"),
        encoding_data("febrl_v3_blake.json"),
    );
    let result = run(&encode_args(&data, &schema, path_str(&out)));
    assert_usage_error(&result, &["--secret-file", "VEIL_LINK_SECRET"]);
    assert!(!out.exists());
}

#[test]
fn csv_missing_a_column_is_exit_2_naming_it_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    // FEBRL4 A without its `surname` column (the third).
    let text = std::fs::read_to_string(encoding_data("febrl4_a.csv")).unwrap();
    let without_surname: String = text
        .lines()
        .take(50)
        .map(|line| {
            let mut cells: Vec<&str> = line.split(',').collect();
            cells.remove(2);
            cells.join(",") + "\n"
        })
        .collect();
    let data = dir.path().join("no_surname.csv");
    std::fs::write(&data, without_surname).unwrap();
    let (schema, secret) = (encoding_data("febrl_v3_blake.json"), secret_file());

    let new_output = dir.path().join("new.json");
    let mut args = encode_args(path_str(&data), &schema, path_str(&new_output));
    args.extend(["--secret-file", &secret]);
    assert_usage_error(
        &run(&args),
        &["no_surname.csv", "missing column \"surname\""],
    );
    assert!(!new_output.exists());

    // An existing output is left untouched, and no temporary file is left beside it.
    let existing = dir.path().join("existing.json");
    std::fs::write(&existing, "previous").unwrap();
    let mut args = encode_args(path_str(&data), &schema, path_str(&existing));
    args.extend(["--secret-file", &secret]);
    assert_usage_error(&run(&args), &["surname"]);
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "previous");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["existing.json", "no_surname.csv"]);
}

#[test]
fn invalid_row_is_exit_2_naming_file_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(encoding_data("febrl4_a.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().take(10).collect();
    lines[4] = "rec-x,only,three";
    let data = dir.path().join("short_row.csv");
    std::fs::write(&data, lines.join("\n") + "\n").unwrap();
    let (schema, secret) = (encoding_data("febrl_v3_blake.json"), secret_file());
    let out = dir.path().join("out.json");
    let mut args = encode_args(path_str(&data), &schema, path_str(&out));
    args.extend(["--secret-file", &secret]);
    assert_usage_error(&run(&args), &["short_row.csv", "row 4"]);
    assert!(!out.exists());
}

#[test]
fn schema_error_is_exit_2_naming_the_feature() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(encoding_data("febrl_v3_blake.json")).unwrap())
            .unwrap();
    let feature = schema["features"][2].clone();
    assert_eq!(feature["identifier"], "surname");
    schema["features"][2]["hashing"]["strategy"] = serde_json::json!({ "bitsPerBanana": 3 });
    let schema_path = dir.path().join("broken_schema.json");
    std::fs::write(&schema_path, schema.to_string()).unwrap();
    let (data, secret) = (encoding_data("febrl4_a.csv"), secret_file());
    let out = dir.path().join("out.json");
    let mut args = encode_args(&data, path_str(&schema_path), path_str(&out));
    args.extend(["--secret-file", &secret]);
    assert_usage_error(
        &run(&args),
        &[
            "broken_schema.json",
            "feature \"surname\"",
            "hashing.strategy",
        ],
    );
    assert!(!out.exists());
}

#[test]
fn compare_febrl4_at_0_8_is_byte_identical_to_anonlink() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("candidates.csv");
    let (a, b) = (blake_clks("a"), blake_clks("b"));
    let result = run_ok(&[
        "link",
        "compare",
        &a,
        &b,
        "--threshold",
        "0.8",
        "-o",
        path_str(&out),
    ]);
    let expected = std::fs::read(matching_data(
        "anonlink-0.15.3.febrl_v3_blake.t0.8.candidates.csv",
    ))
    .unwrap();
    assert!(
        std::fs::read(&out).unwrap() == expected,
        "candidates differ from anonlink"
    );
    for needle in [
        "compared 25000000 pairs",
        "comparisons/s",
        "kernel ",
        "4752 candidates",
    ] {
        assert!(
            result.stderr.contains(needle),
            "{needle:?}: {}",
            result.stderr
        );
    }
}

#[test]
fn compare_output_does_not_depend_on_threads() {
    // A 1500 × 1500 subset keeps this fast in debug builds; its expected output is the
    // reference file restricted to the subset's rows (candidates are independent pairs).
    let dir = tempfile::tempdir().unwrap();
    let rows = 1500;
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    clk_subset(&blake_clks("a"), rows, &a);
    clk_subset(&blake_clks("b"), rows, &b);
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let out = dir.path().join(format!("candidates.{threads}.csv"));
        let args = [
            "link",
            "compare",
            path_str(&a),
            path_str(&b),
            "--threshold",
            "0.8",
            "--threads",
            threads,
            "-o",
            path_str(&out),
        ];
        let result = run_ok(&args);
        assert!(
            result.stderr.contains(&format!("{threads} thread")),
            "{}",
            result.stderr
        );
        outputs.push(std::fs::read_to_string(&out).unwrap());
    }
    assert_eq!(outputs[0], outputs[1]);
    let reference = std::fs::read_to_string(matching_data(
        "anonlink-0.15.3.febrl_v3_blake.t0.8.candidates.csv",
    ))
    .unwrap();
    let expected: String = reference
        .lines()
        .enumerate()
        .filter(|(i, line)| {
            let cells: Vec<usize> = line
                .split(',')
                .take(4)
                .filter_map(|cell| cell.parse().ok())
                .collect();
            *i == 0 || (cells[1] < rows && cells[3] < rows)
        })
        .map(|(_, line)| format!("{line}\n"))
        .collect();
    assert!(expected.lines().count() > 100);
    assert_eq!(outputs[0], expected);
}

#[test]
fn bad_threshold_is_exit_2() {
    let (a, b) = (blake_clks("a"), blake_clks("b"));
    for threshold in ["0", "1.5", "-0.2", "high"] {
        let result = run(&[
            "link",
            "compare",
            &a,
            &b,
            "--threshold",
            threshold,
            "-o",
            "/nonexistent/out.csv",
        ]);
        assert_eq!(result.code, 2, "{threshold}: {}", result.stderr);
        assert!(result.stderr.contains("--threshold"), "{}", result.stderr);
    }
}

#[test]
fn bad_clk_inputs_are_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = blake_clks("a");
    let out = dir.path().join("candidates.csv");
    let bad_base64 = dir.path().join("bad_base64.json");
    std::fs::write(&bad_base64, r#"{"clks": ["AAAA", "not*base64!"]}"#).unwrap();
    let result = run(&[
        "link",
        "compare",
        &a,
        path_str(&bad_base64),
        "--threshold",
        "0.8",
        "-o",
        path_str(&out),
    ]);
    assert_usage_error(&result, &["bad_base64.json", "CLK 1", "base64"]);

    let short = dir.path().join("short_clks.json");
    std::fs::write(&short, r#"{"clks": ["AAAA"]}"#).unwrap();
    let result = run(&[
        "link",
        "compare",
        &a,
        path_str(&short),
        "--threshold",
        "0.8",
        "-o",
        path_str(&out),
    ]);
    assert_usage_error(&result, &["short_clks.json", "24 bits", "1024 bits"]);

    let missing = dir.path().join("missing.json");
    let result = run(&[
        "link",
        "compare",
        &a,
        path_str(&missing),
        "--threshold",
        "0.8",
        "-o",
        path_str(&out),
    ]);
    assert_usage_error(&result, &["missing.json"]);
    assert!(!out.exists());
}

/// Groups of a groups JSON file as a set of sets.
fn group_set(path: &Path) -> HashSet<BTreeSet<(u32, u32)>> {
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|group| {
            group
                .as_array()
                .unwrap()
                .iter()
                .map(|record| {
                    let pair = record.as_array().unwrap();
                    (
                        pair[0].as_u64().unwrap() as u32,
                        pair[1].as_u64().unwrap() as u32,
                    )
                })
                .collect()
        })
        .collect()
}

#[test]
fn solve_gives_anonlinks_groups() {
    let dir = tempfile::tempdir().unwrap();
    for (schema, threshold) in [("blake", "0.8"), ("blake", "0.6"), ("doublehash", "0.8")] {
        let out = dir.path().join("groups.json");
        let candidates = matching_data(&format!(
            "anonlink-0.15.3.febrl_v3_{schema}.t{threshold}.candidates.csv"
        ));
        let result = run_ok(&["link", "solve", &candidates, "-o", path_str(&out)]);
        let reference = PathBuf::from(matching_data(&format!(
            "anonlink-0.15.3.febrl_v3_{schema}.t{threshold}.groups.json"
        )));
        let expected = group_set(&reference);
        assert_eq!(group_set(&out), expected, "{schema} t{threshold}");
        assert!(
            result
                .stderr
                .contains(&format!("into {} groups", expected.len())),
            "{}",
            result.stderr
        );
    }
    let garbage = dir.path().join("garbage.csv");
    std::fs::write(
        &garbage,
        "dataset_a,row_a,dataset_b,row_b,score\n0,1,1,x,0.9\n",
    )
    .unwrap();
    let result = run(&["link", "solve", path_str(&garbage), "-o", "groups.json"]);
    assert_usage_error(&result, &["garbage.csv", "line 2"]);
}

#[test]
fn eval_reports_precision_recall_and_f1_of_the_groups() {
    let groups = matching_data("anonlink-0.15.3.febrl_v3_blake.t0.8.groups.json");
    let truth_path = matching_data("febrl4_truth.csv");
    let result = run_ok(&["link", "eval", &groups, &truth_path]);

    // Recompute from the files: predicted pairs are (dataset 0, dataset 1) records sharing a group.
    let truth: HashSet<(u32, u32)> = std::fs::read_to_string(&truth_path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            (cells[2].parse().unwrap(), cells[3].parse().unwrap())
        })
        .collect();
    let mut predicted = HashSet::new();
    for group in group_set(Path::new(&groups)) {
        for &(_, row_a) in group.iter().filter(|record| record.0 == 0) {
            for &(_, row_b) in group.iter().filter(|record| record.0 == 1) {
                predicted.insert((row_a, row_b));
            }
        }
    }
    let true_positives = predicted.intersection(&truth).count();
    let precision = true_positives as f64 / predicted.len() as f64;
    let recall = true_positives as f64 / truth.len() as f64;
    let f1 = 2.0 * precision * recall / (precision + recall);
    assert_eq!((predicted.len(), truth.len()), (4752, 5000));
    let lines: Vec<&str> = result.stdout.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "precision {precision:.6} ({true_positives} of 4752"
        )),
        "{}",
        result.stdout
    );
    assert!(
        lines[1].starts_with(&format!("recall    {recall:.6} ({true_positives} of 5000")),
        "{}",
        result.stdout
    );
    assert_eq!(lines[2], format!("F1        {f1:.6}"));
    assert_eq!(lines.len(), 3, "{}", result.stdout);

    // With low-threshold candidates: a histogram and a threshold suggestion.
    let candidates = matching_data("anonlink-0.15.3.febrl_v3_blake.t0.6.candidates.csv");
    let result = run_ok(&[
        "link",
        "eval",
        &groups,
        &truth_path,
        "--candidates",
        &candidates,
    ]);
    assert!(
        result
            .stdout
            .contains("similarity histogram of 131580 candidates"),
        "{}",
        result.stdout
    );
    assert!(result.stdout.contains("  0.60-0.61 "), "{}", result.stdout);
    assert!(result.stdout.contains("  0.99-1.00 "), "{}", result.stdout);
    let suggestion = result
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("suggested threshold: "))
        .expect("a suggestion line");
    let threshold: f64 = suggestion
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.65..0.85).contains(&threshold), "{suggestion}");

    let result = run(&["link", "eval", &truth_path, &truth_path]);
    assert_usage_error(&result, &["febrl4_truth.csv", "invalid JSON"]);
}

const LAMBDA_FOLD_SCHEMA: &str = r#"{"version": 1, "type": "lambda-fold", "config": {
  "blocking-features": [1], "Lambda": 5, "bf-len": 1024, "num-hash-funcs": 10, "K": 10,
  "input-clks": true, "random_state": 0}}"#;

#[test]
fn block_is_deterministic_keeps_the_clks_and_prints_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let clks = dir.path().join("clks.json");
    clk_subset(&blake_clks("a"), 1000, &clks);
    let schema = dir.path().join("lambda_fold.json");
    std::fs::write(&schema, LAMBDA_FOLD_SCHEMA).unwrap();
    let mut outputs = Vec::new();
    for name in ["one.json", "two.json"] {
        let out = dir.path().join(name);
        let result = run_ok(&[
            "link",
            "block",
            path_str(&clks),
            path_str(&schema),
            "-o",
            path_str(&out),
        ]);
        for needle in [
            "Records:            1000",
            "Number of blocks:",
            "Block size min/max:",
            "Coverage:",
        ] {
            assert!(
                result.stderr.contains(needle),
                "{needle:?}: {}",
                result.stderr
            );
        }
        outputs.push(std::fs::read(&out).unwrap());
    }
    assert!(outputs[0] == outputs[1], "blocking is not deterministic");
    let doc: serde_json::Value = serde_json::from_slice(&outputs[0]).unwrap();
    let entries = doc["clknblocks"].as_array().unwrap();
    let original = clk_strings(path_str(&clks));
    assert_eq!(entries.len(), original.len());
    for (entry, clk) in entries.iter().zip(&original) {
        let entry = entry.as_array().unwrap();
        assert_eq!(entry[0].as_str(), Some(clk.as_str()));
        // Lambda = 5 bands: every record is in one block per band.
        assert_eq!(entry.len(), 1 + 5);
    }

    // P-Sig cannot block CLKs: a usage error naming the schema file.
    let psig = dir.path().join("psig_schema.json");
    std::fs::write(
        &psig,
        r#"{"version": 1, "type": "p-sig", "config": {"blocking-features": [1],
        "filter": {"type": "ratio", "max": 0.02, "min": 0.0},
        "blocking-filter": {"type": "bloom filter", "number-hash-functions": 4, "bf-len": 2048},
        "signatureSpecs": [[{"type": "feature-value", "feature": 1}]]}}"#,
    )
    .unwrap();
    let out = dir.path().join("never.json");
    let result = run(&[
        "link",
        "block",
        path_str(&clks),
        path_str(&psig),
        "-o",
        path_str(&out),
    ]);
    assert_usage_error(&result, &["psig_schema.json"]);
    assert!(!out.exists());
}

fn read_csv_rows(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| line.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn gen_is_deterministic_and_its_truth_is_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let records = 700;
    let (one, two, other) = (
        dir.path().join("one"),
        dir.path().join("two"),
        dir.path().join("other"),
    );
    let n = records.to_string();
    for (out, seed, threads) in [(&one, "11", "2"), (&two, "11", "1"), (&other, "12", "2")] {
        let result = run_ok(&[
            "link",
            "gen",
            "--records",
            &n,
            "--seed",
            seed,
            "--threads",
            threads,
            "-o",
            path_str(out),
        ]);
        assert!(result.stderr.contains("true matches"), "{}", result.stderr);
    }
    for file in ["a.csv", "b.csv", "truth.csv"] {
        let bytes = std::fs::read(one.join(file)).unwrap();
        assert!(
            bytes == std::fs::read(two.join(file)).unwrap(),
            "{file} differs for one seed"
        );
        assert!(
            bytes != std::fs::read(other.join(file)).unwrap(),
            "{file} is the same for two seeds"
        );
    }

    let a = read_csv_rows(&one.join("a.csv"));
    let b = read_csv_rows(&one.join("b.csv"));
    let truth = read_csv_rows(&one.join("truth.csv"));
    assert_eq!(a[0][0], "rec_id");
    assert_eq!(a[0], b[0]);
    assert_eq!(truth[0], ["rec_id_a", "rec_id_b", "row_a", "row_b"]);
    assert_eq!((a.len() - 1, b.len() - 1), (records, records));
    let (mut rows_a, mut rows_b) = (HashSet::new(), HashSet::new());
    for pair in &truth[1..] {
        let (row_a, row_b): (usize, usize) = (pair[2].parse().unwrap(), pair[3].parse().unwrap());
        assert_eq!(a[row_a + 1][0], pair[0], "rec_id_a of {pair:?}");
        assert_eq!(b[row_b + 1][0], pair[1], "rec_id_b of {pair:?}");
        assert!(
            rows_a.insert(row_a) && rows_b.insert(row_b),
            "row used twice: {pair:?}"
        );
    }
    assert!(truth.len() > 1);
}

#[test]
fn generated_data_links_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    run_ok(&[
        "link",
        "gen",
        "--records",
        "400",
        "--seed",
        "3",
        "-o",
        path_str(&data),
    ]);
    let (schema, secret) = (encoding_data("febrl_v3_blake.json"), secret_file());
    for party in ["a", "b"] {
        let csv = data.join(format!("{party}.csv"));
        let out = dir.path().join(format!("{party}.json"));
        let mut args = encode_args(path_str(&csv), &schema, path_str(&out));
        args.extend(["--secret-file", &secret]);
        run_ok(&args);
    }
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let candidates = dir.path().join("candidates.csv");
    let groups = dir.path().join("groups.json");
    run_ok(&[
        "link",
        "compare",
        path_str(&a),
        path_str(&b),
        "--threshold",
        "0.8",
        "-o",
        path_str(&candidates),
    ]);
    run_ok(&[
        "link",
        "solve",
        path_str(&candidates),
        "-o",
        path_str(&groups),
    ]);
    let truth = data.join("truth.csv");
    let result = run_ok(&["link", "eval", path_str(&groups), path_str(&truth)]);
    let f1: f64 = result
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("F1"))
        .expect("an F1 line")
        .trim()
        .parse()
        .unwrap();
    assert!(f1 > 0.9, "{}", result.stdout);
}

/// The block ids of every record of a clknblocks file.
fn record_block_ids(path: &Path) -> Vec<HashSet<String>> {
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    doc["clknblocks"]
        .as_array()
        .expect("clknblocks array")
        .iter()
        .map(|entry| {
            let entry = entry.as_array().unwrap();
            entry[1..]
                .iter()
                .map(|id| id.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn blocked_compare_gives_all_pairs_candidates_sharing_a_block() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("lambda_fold.json");
    std::fs::write(&schema, LAMBDA_FOLD_SCHEMA).unwrap();
    let mut clks = Vec::new();
    let mut blocked = Vec::new();
    for party in ["a", "b"] {
        let subset = dir.path().join(format!("{party}.json"));
        clk_subset(&blake_clks(party), 1500, &subset);
        let out = dir.path().join(format!("{party}.blocks.json"));
        run_ok(&[
            "link",
            "block",
            path_str(&subset),
            path_str(&schema),
            "-o",
            path_str(&out),
        ]);
        clks.push(subset);
        blocked.push(out);
    }
    let (all, only_shared) = (dir.path().join("all.csv"), dir.path().join("blocked.csv"));
    for (inputs, out) in [(&clks, &all), (&blocked, &only_shared)] {
        run_ok(&[
            "link",
            "compare",
            path_str(&inputs[0]),
            path_str(&inputs[1]),
            "--threshold",
            "0.6",
            "-o",
            path_str(out),
        ]);
    }
    let (ids_a, ids_b) = (record_block_ids(&blocked[0]), record_block_ids(&blocked[1]));
    let all_rows = std::fs::read_to_string(&all).unwrap();
    let mut lines = all_rows.lines();
    let mut want = vec![lines.next().unwrap().to_string()];
    let mut dropped = 0;
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        let (row_a, row_b): (usize, usize) =
            (fields[1].parse().unwrap(), fields[3].parse().unwrap());
        if ids_a[row_a].is_disjoint(&ids_b[row_b]) {
            dropped += 1;
        } else {
            want.push(line.to_string());
        }
    }
    let got = std::fs::read_to_string(&only_shared).unwrap();
    assert_eq!(got.lines().collect::<Vec<_>>(), want);
    // The fixture must exercise both kept and dropped pairs.
    assert!(
        dropped > 0 && want.len() > 100,
        "dropped {dropped}, kept {}",
        want.len()
    );

    // Mixing clknblocks and plain CLK files is a usage error.
    let result = run(&[
        "link",
        "compare",
        path_str(&blocked[0]),
        path_str(&clks[1]),
        "--threshold",
        "0.6",
        "-o",
        path_str(&dir.path().join("never.csv")),
    ]);
    assert_usage_error(&result, &["mixed inputs", "one kind"]);
}

const BLOCKING_DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../veil-linkage-blocking/tests/data/"
);

#[test]
fn block_with_records_runs_p_sig_and_matches_blocklib() {
    let dir = tempfile::tempdir().unwrap();
    let records = format!("{BLOCKING_DATA}records.csv");
    let schema = format!("{BLOCKING_DATA}psig_ratio_schema.json");
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{BLOCKING_DATA}psig_ratio_expected.json")).unwrap(),
    )
    .unwrap();
    let expected = expected["blocks"].as_array().unwrap();
    let clks = dir.path().join("clks.json");
    let fake: Vec<String> = (0..expected.len())
        .map(|_| "AAAAAAAAAAA=".to_string())
        .collect();
    std::fs::write(&clks, serde_json::json!({ "clks": fake }).to_string()).unwrap();
    let out = dir.path().join("blocks.json");
    run_ok(&[
        "link",
        "block",
        path_str(&clks),
        &schema,
        "--records",
        &records,
        "-o",
        path_str(&out),
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let entries = doc["clknblocks"].as_array().unwrap();
    assert_eq!(entries.len(), expected.len());
    for (entry, want) in entries.iter().zip(expected) {
        let mut got: Vec<&str> = entry.as_array().unwrap()[1..]
            .iter()
            .map(|b| b.as_str().unwrap())
            .collect();
        let mut want: Vec<&str> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_str().unwrap())
            .collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "block ids as blocklib computes them");
    }

    // One CLK too few for the records: a usage error naming the records file, nothing written.
    let short = dir.path().join("short.json");
    std::fs::write(
        &short,
        serde_json::json!({ "clks": &fake[1..] }).to_string(),
    )
    .unwrap();
    let never = dir.path().join("never.json");
    let result = run(&[
        "link",
        "block",
        path_str(&short),
        &schema,
        "--records",
        &records,
        "-o",
        path_str(&never),
    ]);
    assert_usage_error(&result, &["records.csv", "CLK file has"]);
    assert!(!never.exists());
}
