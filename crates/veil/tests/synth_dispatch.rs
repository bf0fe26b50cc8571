//! Synthetic data across the secure-environment boundary through the real binary: `synth.train` →
//! `synth.generate` → `synth.analyse` submitted over the HTTP API, embedded in `veil serve`, and over
//! RabbitMQ with a separate `veil dispatcher` (when `VEIL_TEST_AMQP_URL` is set), where canary values
//! planted in the private table must appear nowhere outside the secure environment.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::synth::{config, root_key, run, submit, tap_status, wait};
use common::{free_port, start_server, veil, Process};
use serde_json::{json, Value};

/// An identifier-like value, a categorical value in one row, a unique float.
const CANARIES: [&str; 3] = ["CANARY-ID-5F3A9", "Canaryward-Zq81", "98765.4321"];

/// 300 rows of a private table with the canaries in row 42; also a holdout without them.
fn private_tables(dir: &Path) -> PathBuf {
    let root = dir.join("clinic");
    std::fs::create_dir_all(&root).unwrap();
    let row = |i: usize, canary: bool| {
        let (id, ward, score) = if canary {
            (
                CANARIES[0].to_string(),
                CANARIES[1].to_string(),
                CANARIES[2].to_string(),
            )
        } else {
            (
                format!("P-{i:05}"),
                format!("W{}", i % 5),
                format!("{}.{:02}", 10 + i % 50, i % 97),
            )
        };
        format!(
            "{id},{},{ward},{score},{}\n",
            20 + i % 60,
            i.is_multiple_of(3)
        )
    };
    let header = "patient_id,age,ward,score,smoker\n";
    let train: String = (0..300).map(|i| row(i, i == 42)).collect();
    let holdout: String = (300..450).map(|i| row(i, false)).collect();
    std::fs::write(root.join("people.csv"), format!("{header}{train}")).unwrap();
    std::fs::write(root.join("holdout.csv"), format!("{header}{holdout}")).unwrap();
    root
}

/// Train → generate (on the hub's workers) → analyse; checks each result and returns the
/// descriptions of the three jobs and the train job's id.
async fn train_generate_analyse(base: &str, environment: &str, key: &str) -> (Vec<Value>, String) {
    let train = json!({
        "environment": environment, "source": "clinic", "path": "people.csv", "model": "cart",
        "seed": 3,
    });
    let (train_id, model, train_description) = run(base, "synth.train", train).await;
    assert!(model.starts_with(b"VEILSEAL"), "the model is sealed");

    let generate = json!({"model_job": train_id, "rows": 2000, "seed": 11});
    let (generate_id, csv, generate_description) = run(base, "synth.generate", generate).await;
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(csv.lines().count(), 2001);
    assert!(csv.starts_with("age,ward,score,smoker\n"), "{}", &csv[..60]);

    let analyse = json!({
        "environment": environment, "source": "clinic", "path": "people.csv",
        "synthetic_job": generate_id, "holdout": "holdout.csv", "target": "smoker",
    });
    let (_, sealed, analyse_description) = run(base, "synth.analyse", analyse).await;
    let ring = veil_seal::KeyRing::from_sources(Some(key), None, &[]).unwrap();
    let bundle = veil_seal::open(&sealed, &ring, "report").unwrap();
    let bundle: Value = serde_json::from_slice(&bundle).unwrap();
    assert_eq!(bundle["report"]["real_rows"], 300);
    assert_eq!(bundle["report"]["synthetic_rows"], 2000);
    assert_eq!(bundle["report"]["holdout_rows"], 150);
    assert!(bundle["html"].as_str().unwrap().contains("<html"));
    for canary in CANARIES {
        assert!(
            !csv.contains(canary) && !bundle.to_string().contains(canary),
            "{canary}"
        );
    }
    let descriptions = vec![train_description, generate_description, analyse_description];
    (descriptions, train_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veil_serve_trains_generates_and_analyses_in_its_embedded_environment() {
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
    let _server = start_server(
        &env,
        &["--config", &config],
        &base,
        &dir.path().join("serve.log"),
    )
    .await;
    let (_, train_id) = train_generate_analyse(&base, "local", &key).await;

    // Generating in the environment instead of on the hub's workers gives the same rows.
    let rows = |environment: Option<&str>| {
        let mut params = json!({"model_job": train_id, "rows": 500, "seed": 5});
        if let Some(environment) = environment {
            params["environment"] = json!(environment);
        }
        run(&base, "synth.generate", params)
    };
    let (_, on_hub, _) = rows(None).await;
    let (_, in_environment, _) = rows(Some("local")).await;
    assert_eq!(on_hub, in_environment);

    // Outside the source's root: the job fails with the source named, nothing else.
    let escape = json!({
        "environment": "local", "source": "clinic", "path": "../veil.toml", "model": "cart",
    });
    let id = submit(&base, "synth.train", escape).await;
    let description = wait(&base, &id, Duration::from_secs(60)).await;
    assert_eq!(description["job"]["state"], "failed", "{description:#}");
    assert!(
        description.to_string().contains("\\\"clinic\\\""),
        "{description:#}"
    );
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// Where each canary occurs in `bytes`, named by `what`.
fn canaries_in(what: &str, bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes).to_lowercase();
    CANARIES
        .iter()
        .filter(|canary| text.contains(&canary.to_lowercase()))
        .map(|canary| format!("{canary} in {what}"))
        .collect()
}

/// The task message the hub sent for each task: the task's stored params (and ids) are all it
/// carries, so they are rebuilt from the job descriptions.
fn dispatched_messages(descriptions: &[Value]) -> Vec<u8> {
    let mut messages = Vec::new();
    for description in descriptions {
        for task in description["tasks"].as_array().unwrap() {
            messages.extend_from_slice(task.to_string().as_bytes());
            messages.push(b'\n');
        }
    }
    messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_values_never_leave_the_secure_environment() {
    let Some(url) = veil_queue::testsuite::amqp_url_from_env() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let secure = dir.path().join("secure");
    let root = private_tables(&secure);
    let environment = format!("canary-{}", uuid::Uuid::new_v4().simple());
    let config = config(&secure, &root, &environment);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let blobs = dir.path().join("blobs");
    let hub = dir.path().join("hub");
    let key = root_key();
    let shared = |data_dir: &Path| {
        vec![
            ("VEIL_DATA_DIR", data_dir.display().to_string()),
            ("VEIL_QUEUE_URL", url.clone()),
            ("VEIL_BLOB_URL", format!("file://{}", blobs.display())),
            ("VEIL_ROOT_KEY", key.clone()),
            ("VEIL_LOG", "debug".to_string()),
        ]
    };
    let status = tap_status(&url).await;
    let mut server_env = shared(&hub);
    server_env.push(("VEIL_LISTEN", format!("127.0.0.1:{port}")));
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let server = start_server(&server_env, &[], &base, &logs.join("serve.log")).await;
    let mut command = veil(&shared(&secure.join("data")));
    command.args(["dispatcher", "--config", &config]);
    let dispatcher = Process::spawn(command, &logs.join("dispatcher.log"));

    let (descriptions, _) = tokio::time::timeout(
        Duration::from_secs(300),
        train_generate_analyse(&base, &environment, &key),
    )
    .await
    .unwrap_or_else(|_| panic!("no result; dispatcher log:\n{}", dispatcher.output()));
    drop(dispatcher);
    drop(server);

    // The scan finds canaries where they are: in the private table.
    let planted = canaries_in(
        "the private table",
        &std::fs::read(root.join("people.csv")).unwrap(),
    );
    assert_eq!(planted.len(), CANARIES.len(), "{planted:?}");
    let mut found = Vec::new();
    let mut scanned = 0;
    for file in files(&hub)
        .into_iter()
        .chain(files(&blobs))
        .chain(files(&logs))
    {
        found.extend(canaries_in(
            &file.display().to_string(),
            &std::fs::read(&file).unwrap(),
        ));
        scanned += 1;
    }
    assert!(
        files(&blobs).len() >= 5,
        "results, model and CSV are in the store"
    );
    assert!(
        files(&hub)
            .iter()
            .any(|f| f.to_string_lossy().contains(".db")),
        "the hub's database was scanned"
    );
    found.extend(canaries_in(
        "the task messages",
        &dispatched_messages(&descriptions),
    ));
    let status = status.lock().unwrap().clone();
    assert!(!status.is_empty(), "status messages were observed");
    found.extend(canaries_in("the status messages", &status));
    let log = std::fs::read_to_string(logs.join("dispatcher.log")).unwrap();
    assert!(
        log.contains("synth.train"),
        "the dispatcher ran the tasks: {log}"
    );
    assert!(found.is_empty(), "{found:?} ({scanned} files scanned)");
}
