//! Errors (exit code 2, a message naming the problem, no output left behind) and determinism.

use super::*;

/// A trained gaussian-copula model (fast to fit) in `dir`, sealed with `key`.
fn trained_model(dir: &Path, key: &Path) -> PathBuf {
    let model = dir.join("model.veil");
    run_ok(&[
        "synth",
        "train",
        ADULT,
        "--model",
        "gaussian-copula",
        "-o",
        s(&model),
        "--root-key-file",
        s(key),
    ]);
    model
}

#[test]
fn train_without_a_root_key_says_to_run_keygen() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.veil");
    let result = run(&["synth", "train", ADULT, "--model", "cart", "-o", s(&model)]);
    assert_usage_error(&result, &["no root key", "veil keygen"]);
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn root_key_comes_from_the_environment_too() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "root.key");
    let model = dir.path().join("model.veil");
    let args = [
        "synth",
        "train",
        ADULT,
        "--model",
        "gaussian-copula",
        "-o",
        s(&model),
    ];
    let by_file = run_env(&args, &[("VEIL_ROOT_KEY_FILE", s(&key).to_string())]);
    assert_eq!(by_file.code, 0, "{}", by_file.stderr);
    let text = std::fs::read_to_string(&key).unwrap();
    let out = dir.path().join("out.csv");
    let generate = [
        "synth",
        "generate",
        s(&model),
        "--rows",
        "10",
        "-o",
        s(&out),
    ];
    let by_value = run_env(&generate, &[("VEIL_ROOT_KEY", text.trim().to_string())]);
    assert_eq!(by_value.code, 0, "{}", by_value.stderr);
}

#[test]
fn generate_with_another_key_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "root.key");
    let other = keygen(dir.path(), "other.key");
    let model = trained_model(dir.path(), &key);
    let out = dir.path().join("out.csv");
    let result = run(&[
        "synth",
        "generate",
        s(&model),
        "--rows",
        "10",
        "-o",
        s(&out),
        "--root-key-file",
        s(&other),
    ]);
    assert_usage_error(&result, &["model.veil", "not in the key ring"]);
    assert_eq!(entries(dir.path()), ["model.veil", "other.key", "root.key"]);
}

#[test]
fn corrupt_and_unsealed_models_fail_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "root.key");
    let model = trained_model(dir.path(), &key);
    let mut bytes = std::fs::read(&model).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&model, &bytes).unwrap();
    let out = dir.path().join("out.csv");
    let generate = |model: &Path| {
        run(&[
            "synth",
            "generate",
            s(model),
            "--rows",
            "10",
            "-o",
            s(&out),
            "--root-key-file",
            s(&key),
        ])
    };
    assert_usage_error(&generate(&model), &["model.veil", "corrupt"]);
    let plain = dir.path().join("plain.json");
    std::fs::write(&plain, br#"{"model": "gaussian-copula"}"#).unwrap();
    assert_usage_error(&generate(&plain), &["plain.json", "not a Veil sealed file"]);
    assert_eq!(
        entries(dir.path()),
        ["model.veil", "plain.json", "root.key"]
    );
}

#[test]
fn bad_train_arguments_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "root.key");
    let model = dir.path().join("model.veil");
    let train = |extra: &[&str], input: &str| {
        let base = [
            "synth",
            "train",
            input,
            "-o",
            s(&model),
            "--root-key-file",
            s(&key),
        ];
        run(&[&base[..], extra].concat())
    };
    let unknown_kind = train(&["--model", "cart", "--column", "age=bogus"], ADULT);
    assert_usage_error(&unknown_kind, &["unknown column kind", "bogus"]);
    let epsilon = train(&["--model", "cart", "--epsilon", "1"], ADULT);
    assert_usage_error(&epsilon, &["--epsilon", "bayes-net"]);
    let missing = dir.path().join("no-such-data.csv");
    let result = train(&["--model", "cart"], s(&missing));
    assert_usage_error(&result, &["no-such-data.csv"]);
    let unknown_column = train(&["--model", "cart", "--column", "agee=integer"], ADULT);
    assert_usage_error(&unknown_column, &["agee"]);
    assert_eq!(entries(dir.path()), ["root.key"]);
}

#[test]
fn an_output_never_replaces_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "root.key");
    let model = trained_model(dir.path(), &key);
    let sealed = std::fs::read(&model).unwrap();
    let result = run(&[
        "synth",
        "generate",
        s(&model),
        "--rows",
        "10",
        "-o",
        s(&model),
        "--root-key-file",
        s(&key),
    ]);
    assert_usage_error(&result, &["model.veil", "would replace the input"]);
    assert_eq!(std::fs::read(&model).unwrap(), sealed);
    let data = dir.path().join("data.csv");
    std::fs::copy(ADULT, &data).unwrap();
    let result = run(&[
        "synth",
        "train",
        s(&data),
        "--model",
        "cart",
        "-o",
        s(&data),
        "--root-key-file",
        s(&key),
    ]);
    assert_usage_error(&result, &["data.csv", "would replace the input"]);
    assert_eq!(std::fs::read(&data).unwrap(), std::fs::read(ADULT).unwrap());
    assert_eq!(entries(dir.path()), ["data.csv", "model.veil", "root.key"]);
}

#[test]
fn keygen_never_overwrites_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("root.key");
    std::fs::write(&existing, "precious").unwrap();
    let result = run(&["keygen", "-o", s(&existing)]);
    assert_usage_error(&result, &["root.key", "already exists"]);
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "precious");
    assert_eq!(entries(dir.path()), ["root.key"]);
}

#[test]
fn same_seed_gives_byte_identical_synthetic_data() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "root.key");
    let mut outputs = Vec::new();
    for (run_index, model_seed, sample_seed) in [(0, "5", "7"), (1, "5", "7"), (2, "5", "8")] {
        let model = dir.path().join(format!("cart-{run_index}.veil"));
        run_ok(&[
            "synth",
            "train",
            ADULT,
            "--model",
            "cart",
            "--seed",
            model_seed,
            "-o",
            s(&model),
            "--root-key-file",
            s(&key),
        ]);
        let out = dir.path().join(format!("out-{run_index}.csv"));
        run_ok(&[
            "synth",
            "generate",
            s(&model),
            "--rows",
            "2500",
            "--seed",
            sample_seed,
            "-o",
            s(&out),
            "--root-key-file",
            s(&key),
        ]);
        outputs.push(std::fs::read(&out).unwrap());
    }
    assert_eq!(outputs[0], outputs[1], "same seeds, different output");
    assert_ne!(outputs[0], outputs[2], "another sampling seed, same output");
}
