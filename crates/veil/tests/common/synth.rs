//! Helpers for the synth tests: the native API, root keys, configs and a tap on the status exchange.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

/// A dispatcher config for `environment` with the files source `clinic` at `root`.
pub fn config(dir: &Path, root: &Path, environment: &str) -> String {
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
pub fn root_key() -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "veil-root-key-v1:{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// Every call to the native API goes through here (one place to add an `Authorization` header).
pub async fn api(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Vec<u8>) {
    let client = reqwest::Client::new();
    let token = super::admin_token(base).await;
    let mut request = client
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

/// Submits a job; its id.
pub async fn submit(base: &str, kind: &str, params: Value) -> String {
    let body = json!({"kind": kind, "params": params});
    let (status, bytes) = api(base, reqwest::Method::POST, "/api/jobs", Some(body)).await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&bytes));
    let job: Value = serde_json::from_slice(&bytes).unwrap();
    job["id"].as_str().unwrap().to_string()
}

/// Waits for the job to end; its description (job, tasks, events).
pub async fn wait(base: &str, id: &str, timeout: Duration) -> Value {
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
pub async fn run(base: &str, kind: &str, params: Value) -> (String, Vec<u8>, Value) {
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

/// Records every status message on the broker's status exchange (what dispatchers send the hub).
pub async fn tap_status(url: &str) -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
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

/// A table big enough that training takes a while.
pub fn big_table(dir: &Path) -> PathBuf {
    let root = dir.join("clinic");
    std::fs::create_dir_all(&root).unwrap();
    let mut csv = String::from("age,ward,score,smoker,visits\n");
    for i in 0..120_000u64 {
        let mixed = i.wrapping_mul(2_654_435_761) % 1000;
        csv.push_str(&format!(
            "{},W{},{}.{},{},{}\n",
            18 + mixed % 70,
            (i + mixed) % 12,
            mixed % 90,
            i % 10,
            mixed % 3 == 0,
            (i * 7 + mixed) % 40
        ));
    }
    std::fs::write(root.join("people.csv"), csv).unwrap();
    root
}

/// The environment of a hub or dispatcher process on the broker at `url`: its own data directory
/// `dir/data_dir`, the object store shared under `dir/blobs`, and the root key `key`.
pub fn broker_env(dir: &Path, data_dir: &str, url: &str, key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("VEIL_DATA_DIR", dir.join(data_dir).display().to_string()),
        ("VEIL_QUEUE_URL", url.to_string()),
        (
            "VEIL_BLOB_URL",
            format!("file://{}", dir.join("blobs").display()),
        ),
        ("VEIL_ROOT_KEY", key.to_string()),
        ("VEIL_LOG", "info".to_string()),
    ]
}
