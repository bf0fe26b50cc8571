//! `veil synth train|generate|analyse --server URL` through the real binary, against `veil serve`
//! running the secure environment's dispatcher embedded: the jobs run on the hub, their results
//! land in the output files, and the jobs are visible with `veil job describe`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::synth::{config, root_key};
use common::{admin_token, free_port, start_server, veil, Process};

/// A private table of 300 rows and a holdout of 150, in the source root `clinic`.
fn private_tables(dir: &Path) -> PathBuf {
    let root = dir.join("clinic");
    std::fs::create_dir_all(&root).unwrap();
    let row = |i: usize| {
        format!(
            "P-{i:05},{},W{},{}.{:02},{}\n",
            20 + i % 60,
            i % 5,
            10 + i % 50,
            i % 97,
            i.is_multiple_of(3)
        )
    };
    let header = "patient_id,age,ward,score,smoker\n";
    let train: String = (0..300).map(row).collect();
    let holdout: String = (300..450).map(row).collect();
    std::fs::write(root.join("people.csv"), format!("{header}{train}")).unwrap();
    std::fs::write(root.join("holdout.csv"), format!("{header}{holdout}")).unwrap();
    root
}

/// A running hub with the environment `local` (source `clinic`) embedded.
struct Hub {
    _server: Process,
    base: String,
    key: String,
    token: String,
    dir: tempfile::TempDir,
}

impl Hub {
    async fn start() -> Hub {
        let dir = tempfile::tempdir().unwrap();
        let root = private_tables(dir.path());
        let config = config(dir.path(), &root, "local");
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let key = root_key();
        let env = [
            (
                "VEIL_DATA_DIR",
                dir.path().join("data").display().to_string(),
            ),
            ("VEIL_LISTEN", format!("127.0.0.1:{port}")),
            ("VEIL_ROOT_KEY", key.clone()),
        ];
        let log = dir.path().join("serve.log");
        let server = start_server(&env, &["--config", &config], &base, &log).await;
        let token = admin_token(&base).await;
        Hub {
            _server: server,
            base,
            key,
            token,
            dir,
        }
    }

    /// A path in the test's directory (outside the source's root).
    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `veil ARGS…` with the token and `extra` variables, off the async runtime.
    async fn veil(&self, args: &[&str], extra: &[(&str, String)]) -> Output {
        let mut env = vec![("VEIL_TOKEN", self.token.clone())];
        env.extend(extra.iter().cloned());
        self.veil_with(args, env).await
    }

    /// Runs `veil ARGS…` with exactly `env`.
    async fn veil_with(&self, args: &[&str], env: Vec<(&str, String)>) -> Output {
        let mut command = veil(&env);
        command.args(args);
        tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap()
    }

    /// `veil job describe ID`: checks it succeeds and shows the job succeeded with its kind.
    async fn assert_described(&self, id: &str, kind: &str) {
        let output = self
            .veil(&["job", "describe", "--server", &self.base, id], &[])
            .await;
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{}", show(&output));
        assert!(text.contains("succeeded") && text.contains(kind), "{text}");
    }
}

/// Exit code, stdout and stderr, for assertion messages.
fn show(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The job id a command printed as its first stdout line.
fn job_id(output: &Output) -> String {
    assert!(output.status.success(), "{}", show(output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let id = stdout.lines().next().unwrap_or_default().trim().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{}", show(output));
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn train_generate_and_analyse_run_as_hub_jobs() {
    let hub = Hub::start().await;
    let base = hub.base.as_str();
    let model = hub.out("model.sealed");
    let model_arg = model.display().to_string();
    // No local root key: the model is saved as it is, sealed under the environment's key.
    let output = hub
        .veil(
            &[
                "synth",
                "train",
                "people.csv",
                "--model",
                "cart",
                "--seed",
                "3",
                "--server",
                base,
                "--environment",
                "local",
                "--source",
                "clinic",
                "-o",
                &model_arg,
            ],
            &[],
        )
        .await;
    let train_id = job_id(&output);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("environment's root key"),
        "{}",
        show(&output)
    );
    assert!(std::fs::read(&model).unwrap().starts_with(b"VEILSEAL"));
    hub.assert_described(&train_id, "synth.train").await;

    let csv = hub.out("synthetic.csv");
    let csv_arg = csv.display().to_string();
    let output = hub
        .veil(
            &[
                "synth", "generate", &train_id, "--rows", "500", "--seed", "5", "--server", base,
                "-o", &csv_arg,
            ],
            &[],
        )
        .await;
    let generate_id = job_id(&output);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 501, "{}", &text[..80]);
    assert!(text.starts_with("age,ward,score,smoker\n"));
    hub.assert_described(&generate_id, "synth.generate").await;

    // The same job in Parquet: the hub streams that format and the CLI saves it as it is.
    let parquet = hub.out("synthetic.parquet");
    let parquet_arg = parquet.display().to_string();
    let output = hub
        .veil(
            &[
                "synth",
                "generate",
                &train_id,
                "--rows",
                "500",
                "--seed",
                "5",
                "--server",
                base,
                "-o",
                &parquet_arg,
            ],
            &[],
        )
        .await;
    job_id(&output);
    let file = std::fs::File::open(&parquet).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
    let rows = parquet::file::reader::FileReader::metadata(&reader)
        .file_metadata()
        .num_rows();
    assert_eq!(rows, 500);

    let html = hub.out("report.html");
    let json = hub.out("report.json");
    let (html_arg, json_arg) = (html.display().to_string(), json.display().to_string());
    let key = [("VEIL_ROOT_KEY", hub.key.clone())];
    let output = hub
        .veil(
            &[
                "synth",
                "analyse",
                "people.csv",
                &generate_id,
                "--holdout",
                "holdout.csv",
                "--target",
                "smoker",
                "--server",
                base,
                "--environment",
                "local",
                "--source",
                "clinic",
                "-o",
                &html_arg,
                "--json",
                &json_arg,
            ],
            &key,
        )
        .await;
    let analyse_id = job_id(&output);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("quality:"),
        "{}",
        show(&output)
    );
    assert!(std::fs::read_to_string(&html).unwrap().contains("<html"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["real_rows"], 300);
    assert_eq!(report["synthetic_rows"], 500);
    assert_eq!(report["holdout_rows"], 150);
    hub.assert_described(&analyse_id, "synth.analyse").await;

    // With the local key ring holding the environment's key, the model is checked before saving.
    let checked = hub.out("checked.sealed");
    let output = hub
        .veil(
            &[
                "synth",
                "train",
                "people.csv",
                "--model",
                "gaussian-copula",
                "--server",
                base,
                "--environment",
                "local",
                "--source",
                "clinic",
                "-o",
                &checked.display().to_string(),
            ],
            &key,
        )
        .await;
    job_id(&output);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("opens with the local root key ring"),
        "{}",
        show(&output)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_mode_errors_name_the_problem_and_write_nothing() {
    let hub = Hub::start().await;
    let base = hub.base.as_str();
    let model = hub.out("model.sealed");
    let model_arg = model.display().to_string();
    let train = |path: &'static str| {
        vec![
            "synth",
            "train",
            path,
            "--model",
            "cart",
            "--server",
            base,
            "--environment",
            "local",
            "--source",
            "clinic",
            "-o",
            &model_arg,
        ]
    };

    // A path outside the source's root: the job fails, its message is shown, nothing is written.
    let output = hub.veil(&train("../veil.toml"), &[]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert!(
        stderr.contains("failed") && stderr.contains("clinic"),
        "{}",
        show(&output)
    );
    assert!(!model.exists());

    // No token: the 401 says how to get one.
    let output = hub.veil_with(&train("people.csv"), Vec::new()).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    assert!(
        stderr.contains("401") && stderr.contains("VEIL_TOKEN"),
        "{}",
        show(&output)
    );
    assert!(!model.exists());

    // A malformed and an unknown model job id.
    let csv = hub.out("synthetic.csv").display().to_string();
    let unknown = uuid::Uuid::new_v4().to_string();
    for (model, expected) in [("not-a-uuid", "UUID"), (unknown.as_str(), "no job")] {
        let args = [
            "synth", "generate", model, "--rows", "10", "--server", base, "-o", &csv,
        ];
        let output = hub.veil(&args, &[]).await;
        assert_eq!(output.status.code(), Some(2), "{}", show(&output));
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(expected),
            "{}",
            show(&output)
        );
    }

    // --environment without --server, and --server without --source.
    let data = hub.out("people.csv");
    std::fs::write(&data, "a,b\n1,2\n").unwrap();
    let data = data.display().to_string();
    let local = [
        "synth",
        "train",
        &data,
        "--model",
        "cart",
        "--environment",
        "local",
        "-o",
        &model_arg,
    ];
    let output = hub
        .veil(&local, &[("VEIL_ROOT_KEY", hub.key.clone())])
        .await;
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--environment"));
    let no_source = [
        "synth",
        "train",
        "people.csv",
        "--model",
        "cart",
        "--server",
        base,
        "--environment",
        "local",
        "-o",
        &model_arg,
    ];
    let output = hub.veil(&no_source, &[]).await;
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--source"));
    assert!(!model.exists());
}
