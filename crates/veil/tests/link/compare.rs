//! `veil link compare`, `solve` and `eval`.

use super::support::*;

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
