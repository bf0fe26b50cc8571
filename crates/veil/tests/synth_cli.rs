//! `veil keygen` and `veil synth …` driven through the real binary: the end-to-end flow on the
//! Adult fixture, canaries that must never leave the private data, errors, determinism.

mod common;

use std::path::{Path, PathBuf};

use common::veil;

/// The 2,000-row UCI Adult sample the synthesis crate is tested on.
const ADULT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../veil-synth/tests/data/adult_train_2000.csv"
);

const MODELS: [&str; 3] = ["gaussian-copula", "cart", "bayes-net"];

/// What a finished `veil` run left behind.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `veil` with only `env` (and PATH) in its environment.
fn run_env(args: &[&str], env: &[(&str, String)]) -> Run {
    let output = veil(env).args(args).output().expect("run veil");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn run(args: &[&str]) -> Run {
    run_env(args, &[])
}

fn run_ok(args: &[&str]) -> Run {
    let result = run(args);
    assert_eq!(result.code, 0, "veil {args:?} failed: {}", result.stderr);
    result
}

/// Asserts exit code 2 and a message holding every needle.
fn assert_usage_error(result: &Run, needles: &[&str]) {
    assert_eq!(result.code, 2, "expected exit code 2: {}", result.stderr);
    for needle in needles {
        assert!(
            result.stderr.contains(needle),
            "missing {needle:?} in {}",
            result.stderr
        );
    }
}

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

/// The names in `dir`, sorted: checks that nothing (no temporary file) was left behind.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Creates a root key in `dir` and returns its path.
fn keygen(dir: &Path, name: &str) -> PathBuf {
    let key = dir.join(name);
    let result = run_ok(&["keygen", "-o", s(&key)]);
    assert_eq!(result.stdout.trim().len(), 16, "key id: {}", result.stdout);
    key
}

/// Splits the fixture into its first `train` rows and the rest, in `dir`.
fn split_adult(dir: &Path, train: usize) -> (PathBuf, PathBuf) {
    let text = std::fs::read_to_string(ADULT).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let write = |name: &str, rows: &[&str]| {
        let path = dir.join(name);
        std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
        path
    };
    (
        write("train.csv", &rows[..train]),
        write("holdout.csv", &rows[train..]),
    )
}

#[test]
fn keygen_train_generate_analyse_end_to_end_for_every_model() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "root.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "mode {mode:o}");
    }
    let (train, holdout) = split_adult(dir.path(), 1600);
    let header = std::fs::read_to_string(ADULT)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    for model in MODELS {
        let model_path = dir.path().join(format!("{model}.veil"));
        let trained = run_ok(&[
            "synth",
            "train",
            s(&train),
            "--model",
            model,
            "--seed",
            "3",
            "-o",
            s(&model_path),
            "--root-key-file",
            s(&key),
        ]);
        assert!(trained.stderr.contains("1600 rows"), "{}", trained.stderr);
        assert!(
            trained.stderr.contains("sealed with root key"),
            "{}",
            trained.stderr
        );
        let synthetic = dir.path().join(format!("{model}.csv"));
        run_ok(&[
            "synth",
            "generate",
            s(&model_path),
            "--rows",
            "1500",
            "-o",
            s(&synthetic),
            "--root-key-file",
            s(&key),
        ]);
        let text = std::fs::read_to_string(&synthetic).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(header.as_str()), "{model}");
        assert_eq!(lines.count(), 1500, "{model}");

        let html = dir.path().join(format!("{model}.html"));
        let json = dir.path().join(format!("{model}.json"));
        let analysed = run_ok(&[
            "synth",
            "analyse",
            s(&train),
            s(&synthetic),
            "--holdout",
            s(&holdout),
            "-o",
            s(&html),
            "--json",
            s(&json),
        ]);
        assert!(analysed.stdout.contains("quality:"), "{}", analysed.stdout);
        assert!(analysed.stdout.contains("TSTR AUC"), "{}", analysed.stdout);
        assert!(
            analysed.stdout.contains("exact copies"),
            "{}",
            analysed.stdout
        );
        assert!(
            analysed.stdout.contains("closer to a training row"),
            "{}",
            analysed.stdout
        );
        assert!(std::fs::read_to_string(&html)
            .unwrap()
            .starts_with("<!DOCTYPE html>"));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let overall = report["quality"]["overall"]
            .as_f64()
            .expect("quality score");
        assert!((0.5..=1.0).contains(&overall), "{model}: quality {overall}");
    }
}

/// Markers that appear once in the private data and must appear nowhere downstream.
const CANARIES: [&str; 3] = ["CANARY-7f3a", "Canaryland-7f3a", "987654.321"];

/// The fixture with a unique `name` per row, a float `score` column, and three rows carrying
/// canaries: a unique name, a categorical value found once, and an extreme exact float.
fn private_csv_with_canaries(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(ADULT).unwrap();
    let mut lines = text.lines();
    let mut out = format!("name,score,{}\n", lines.next().unwrap());
    for (index, line) in lines.enumerate() {
        let score = (index % 89) as f64 * 1.25 + 10.0;
        out += &format!("P{index:05},{score:.2},{line}\n");
    }
    let row = "41,Private,150000,HS-grad,9,Married-civ-spouse,Craft-repair,Husband,White,\
               Male,0,0,40";
    out += &format!("CANARY-7f3a-1c2d,20.00,{row},United-States,<=50K\n");
    out += &format!("P90001,987654.321,{row},United-States,>50K\n");
    out += &format!("P90002,30.00,{row},Canaryland-7f3a,<=50K\n");
    let path = dir.join("private.csv");
    std::fs::write(&path, out).unwrap();
    path
}

fn assert_no_canary(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for canary in CANARIES {
        assert!(!text.contains(canary), "{canary:?} leaked into {what}");
    }
}

#[test]
fn canaries_never_leave_the_private_data() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "root.key");
    let private = private_csv_with_canaries(dir.path());
    let ring = veil_seal::KeyRing::from_sources(None, Some(&key), &[]).unwrap();
    for model in MODELS {
        let model_path = dir.path().join(format!("{model}.veil"));
        let synthetic = dir.path().join(format!("{model}.csv"));
        let html = dir.path().join(format!("{model}.html"));
        let json = dir.path().join(format!("{model}.json"));
        let key_arg = ["--root-key-file", s(&key)];
        let mut runs = vec![];
        let train = [
            &["synth", "train", s(&private), "--model", model][..],
            &key_arg,
        ];
        runs.push(run_ok(
            &[&train.concat()[..], &["-o", s(&model_path)]].concat(),
        ));
        assert!(
            runs[0].stderr.contains("1 excluded: name"),
            "{}",
            runs[0].stderr
        );
        let generate = ["synth", "generate", s(&model_path), "--rows", "3000"];
        runs.push(run_ok(
            &[&generate[..], &key_arg, &["-o", s(&synthetic)]].concat(),
        ));
        runs.push(run_ok(&[
            "synth",
            "analyse",
            s(&private),
            s(&synthetic),
            "-o",
            s(&html),
            "--json",
            s(&json),
        ]));
        for (index, result) in runs.iter().enumerate() {
            assert_no_canary(
                &format!("{model} run {index} stdout"),
                result.stdout.as_bytes(),
            );
            assert_no_canary(
                &format!("{model} run {index} stderr"),
                result.stderr.as_bytes(),
            );
        }
        for path in [&synthetic, &html, &json, &model_path] {
            assert_no_canary(&path.display().to_string(), &std::fs::read(path).unwrap());
        }
        let plaintext = veil_seal::read_sealed_file(&model_path, &ring, "model").unwrap();
        assert!(plaintext.starts_with(b"{"), "{model}: model is JSON");
        assert_no_canary(&format!("{model} model plaintext"), &plaintext);
    }
}

#[path = "synth_cli/errors.rs"]
mod errors;
#[path = "synth_cli/parquet_output.rs"]
mod parquet_output;
