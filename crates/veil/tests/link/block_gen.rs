//! `veil link block`, `gen`, blocked comparison and the end-to-end run.

use super::support::*;

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
