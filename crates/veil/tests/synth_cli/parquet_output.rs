//! `veil synth generate -o OUT.parquet`: the format follows the extension, in any letter case;
//! any other extension is a usage error that writes nothing.

use parquet::file::reader::{FileReader, SerializedFileReader};

use super::*;

/// A gaussian-copula model (fast to fit) in `dir`, sealed with a new key; (model, key).
fn model_and_key(dir: &Path) -> (PathBuf, PathBuf) {
    let key = keygen(dir, "root.key");
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
        s(&key),
    ]);
    (model, key)
}

fn generate(model: &Path, key: &Path, out: &Path, rows: &str) -> Run {
    run(&[
        "synth",
        "generate",
        s(model),
        "--rows",
        rows,
        "--seed",
        "3",
        "-o",
        s(out),
        "--root-key-file",
        s(key),
    ])
}

#[test]
fn parquet_output_by_extension_has_every_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let (model, key) = model_and_key(dir.path());
    let out = dir.path().join("synthetic.PARQUET");
    let result = generate(&model, &key, &out, "2500");
    assert_eq!(result.code, 0, "{}", result.stderr);
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"PAR1"), "not a Parquet file");
    let reader = SerializedFileReader::new(std::fs::File::open(&out).unwrap()).unwrap();
    let metadata = reader.metadata().file_metadata();
    assert_eq!(metadata.num_rows(), 2500);

    let csv = dir.path().join("synthetic.csv");
    let result = generate(&model, &key, &csv, "2500");
    assert_eq!(result.code, 0, "{}", result.stderr);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 2501, "a header and the rows");
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let fields: Vec<&str> = metadata
        .schema_descr()
        .columns()
        .iter()
        .map(|column| column.name())
        .collect();
    assert_eq!(fields, header, "same columns in both formats");

    let again = dir.path().join("again.parquet");
    assert_eq!(generate(&model, &key, &again, "2500").code, 0);
    assert_eq!(
        std::fs::read(&again).unwrap(),
        bytes,
        "same seed, same file"
    );
}

#[test]
fn any_other_extension_is_a_usage_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (model, key) = model_and_key(dir.path());
    for (name, needle) in [
        ("synthetic.xlsx", ".xlsx"),
        ("synthetic.pq", ".pq"),
        ("synthetic", "no extension"),
    ] {
        let result = generate(&model, &key, &dir.path().join(name), "10");
        assert_usage_error(&result, &[name, needle, ".csv or .parquet"]);
    }
    assert_eq!(entries(dir.path()), ["model.veil", "root.key"]);
}
