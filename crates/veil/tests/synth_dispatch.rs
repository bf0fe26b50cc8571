//! Synthetic data across the secure-environment boundary through the real binary: `synth.train` →
//! `synth.generate` → `synth.analyse` submitted over the HTTP API, embedded in `veil serve`, and over
//! RabbitMQ with a separate `veil dispatcher` (when `VEIL_TEST_AMQP_URL` is set), where canary values
//! planted in the private table must appear nowhere outside the secure environment.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
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
        format!("{id},{},{ward},{score},{}\n", 20 + i % 60, i % 3 == 0)
    };
    let header = "patient_id,age,ward,score,smoker\n";
    let train: String = (0..300).map(|i| row(i, i == 42)).collect();
    let holdout: String = (300..450).map(|i| row(i, false)).collect();
    std::fs::write(root.join("people.csv"), format!("{header}{train}")).unwrap();
    std::fs::write(root.join("holdout.csv"), format!("{header}{holdout}")).unwrap();
    root
}

fn config(dir: &Path, root: &Path, environment: &str) -> String {
    let path = dir.join("veil.toml");
    let text = format!(
        "version = 1\n[dispatcher]\nenvironment = \"{environment}\"\n\
         [dispatcher.sources.clinic]\ntype = \"files\"\nroot = \"{}\"\n",
        root.display()
    );
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A fresh root key, as `VEIL_ROOT_KEY` takes it.
fn root_key() -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "veil-root-key-v1:{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// Every call to the native API goes through here (one place to add an `Authorization` header).
async fn api(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Vec<u8>) {
    let client = reqwest::Client::new();
    let mut request = client.request(method, format!("{base}{path}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

/// Submits a job; its id.
async fn submit(base: &str, kind: &str, params: Value) -> String {
    let body = json!({"kind": kind, "params": params});
    let (status, bytes) = api(base, reqwest::Method::POST, "/api/jobs", Some(body)).await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&bytes));
    let job: Value = serde_json::from_slice(&bytes).unwrap();
    job["id"].as_str().unwrap().to_string()
}

/// Waits for the job to end; its description (job, tasks, events).
async fn wait(base: &str, id: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let (_, bytes) = api(base, reqwest::Method::GET, &format!("/api/jobs/{id}"), None).await;
        let description: Value = serde_json::from_slice(&bytes).unwrap();
        let state = description["job"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if ["succeeded", "failed", "cancelled"].contains(&state.as_str()) {
            return description;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} still {state}: {description:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Submits, waits for success and fetches the result.
async fn run(base: &str, kind: &str, params: Value) -> (String, Vec<u8>, Value) {
    let id = submit(base, kind, params).await;
    let description = wait(base, &id, Duration::from_secs(180)).await;
    assert_eq!(description["job"]["state"], "succeeded", "{description:#}");
    let (status, result) = api(
        base,
        reqwest::Method::GET,
        &format!("/api/jobs/{id}/result"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    (id, result, description)
}

/// Train → generate (on the hub's workers) → analyse; checks each result and returns the
/// descriptions of the three jobs.
async fn train_generate_analyse(base: &str, environment: &str, key: &str) -> Vec<Value> {
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
    vec![train_description, generate_description, analyse_description]
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
    train_generate_analyse(&base, "local", &key).await;

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

/// Records every status message on the broker's status exchange (what dispatchers send the hub).
async fn tap_status(url: &str) -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    use futures::StreamExt;
    use lapin::options::{
        BasicConsumeOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    };
    use lapin::types::FieldTable;
    let connection = lapin::Connection::connect(url, Default::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .exchange_declare(
            "veil.status".into(),
            lapin::ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await
        .unwrap();
    let private = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..Default::default()
    };
    let queue = channel
        .queue_declare("".into(), private, FieldTable::default())
        .await
        .unwrap();
    let name = queue.name().as_str().to_string();
    channel
        .queue_bind(
            name.as_str().into(),
            "veil.status".into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let no_ack = BasicConsumeOptions {
        no_ack: true,
        ..Default::default()
    };
    let mut consumer = channel
        .basic_consume(
            name.as_str().into(),
            "canary-tap".into(),
            no_ack,
            FieldTable::default(),
        )
        .await
        .unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&seen);
    tokio::spawn(async move {
        let _keep = connection;
        while let Some(Ok(delivery)) = consumer.next().await {
            let mut sink = sink.lock().unwrap();
            sink.extend_from_slice(&delivery.data);
            sink.push(b'\n');
        }
    });
    seen
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

    let descriptions = tokio::time::timeout(
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
