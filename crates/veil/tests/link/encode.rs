//! `veil link encode`.

use super::support::*;

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
