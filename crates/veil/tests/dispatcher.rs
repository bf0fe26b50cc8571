//! The secure-environment dispatcher through the real binary: embedded in `veil serve` (no broker),
//! and as a separate `veil dispatcher` process on RabbitMQ when `VEIL_TEST_AMQP_URL` is set.

mod common;

use std::time::Duration;

use common::{free_port, start_server, veil, Process};
use serde_json::Value;

fn clinic(dir: &std::path::Path) -> std::path::PathBuf {
    let root = dir.join("clinic");
    std::fs::create_dir_all(&root).unwrap();
    let mut csv = String::from("patient,age,ward\n");
    for i in 0..40 {
        csv.push_str(&format!("Patient-{i},{},W{}\n", 20 + i, i % 11));
    }
    std::fs::write(root.join("people.csv"), csv).unwrap();
    root
}

fn config(dir: &std::path::Path, root: &std::path::Path, environment: &str) -> String {
    let path = dir.join("veil.toml");
    let text = format!(
        "version = 1\n[dispatcher]\nenvironment = \"{environment}\"\n\
         [dispatcher.sources.clinic]\ntype = \"files\"\nroot = \"{}\"\n",
        root.display()
    );
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Submits a profile job through the CLI, waits, and fetches the result over HTTP.
async fn profile(base: &str, environment: &str) -> Value {
    let params =
        format!(r#"{{"environment": "{environment}", "source": "clinic", "path": "people.csv"}}"#);
    let token = common::admin_token(base).await;
    let output = tokio::task::spawn_blocking({
        let base = base.to_string();
        let token = token.clone();
        move || {
            veil(&[("VEIL_TOKEN", token)])
                .args([
                    "job",
                    "submit",
                    "source.profile",
                    "--server",
                    &base,
                    "--params",
                    &params,
                    "--wait",
                ])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let id = stdout.trim();
    reqwest::Client::new()
        .get(format!("{base}/api/jobs/{id}/result"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veil_serve_runs_an_embedded_dispatcher() {
    let dir = tempfile::tempdir().unwrap();
    let root = clinic(dir.path());
    let config = config(dir.path(), &root, "local");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let env = [
        (
            "VEIL_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
        ("VEIL_LISTEN", format!("127.0.0.1:{port}")),
    ];
    let _server = start_server(
        &env,
        &["--config", &config],
        &base,
        &dir.path().join("serve.log"),
    )
    .await;
    let result = profile(&base, "local").await;
    assert_eq!(result["rows"], 40);
    assert_eq!(result["columns"][2]["distinct"], 11);
    assert!(!result.to_string().contains("Patient-"));
}

/// What a dispatcher's task Job runs: one message, here, with the result in the object store.
#[test]
fn run_message_runs_one_task_and_commits_its_result() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let root = clinic(dir.path());
    let config = config(dir.path(), &root, "clinic");
    let blobs = dir.path().join("blobs");
    let env = [("VEIL_BLOB_URL", format!("file://{}", blobs.display()))];
    let job_id = veil_domain::JobId::new_random();
    let message = |path: &str| {
        let message = veil_dispatch::DispatchMessage {
            version: veil_dispatch::MESSAGE_VERSION,
            task_id: veil_domain::TaskId::for_job(job_id, 0),
            job_id,
            index: 0,
            kind: "source.profile".into(),
            params: serde_json::json!({"environment": "clinic", "source": "clinic", "path": path}),
            result_key: "jobs/pod-test/result".into(),
        };
        base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&message).unwrap())
    };
    let run = |encoded: &str| {
        veil(&env)
            .args([
                "dispatcher",
                "--config",
                &config,
                "run-message",
                "--message",
                encoded,
            ])
            .output()
            .unwrap()
    };
    let output = run(&message("people.csv"));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stored: Value =
        serde_json::from_slice(&std::fs::read(blobs.join("jobs/pod-test/result")).unwrap())
            .unwrap();
    assert_eq!(stored["rows"], 40);

    let escape = run(&message("../veil.toml"));
    let stderr = String::from_utf8_lossy(&escape.stderr);
    assert_eq!(escape.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("\"clinic\""), "{stderr}");
    let garbage = run("not base64!");
    assert_eq!(garbage.status.code(), Some(2));
}

#[test]
fn veil_dispatcher_needs_a_broker() {
    let output = veil(&[]).arg("dispatcher").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("queue.url"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_separate_dispatcher_serves_its_environment_over_rabbitmq() {
    let Some(url) = veil_queue::testsuite::amqp_url_from_env() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = clinic(dir.path());
    let environment = format!("test-{}", uuid::Uuid::new_v4().simple());
    let config = config(dir.path(), &root, &environment);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let shared_blobs = format!("file://{}", dir.path().join("blobs").display());
    let env = [
        (
            "VEIL_DATA_DIR",
            dir.path().join("hub").display().to_string(),
        ),
        ("VEIL_LISTEN", format!("127.0.0.1:{port}")),
        ("VEIL_QUEUE_URL", url.clone()),
        ("VEIL_BLOB_URL", shared_blobs.clone()),
    ];
    let _server = start_server(&env, &[], &base, &dir.path().join("serve.log")).await;
    let dispatcher_env = [
        (
            "VEIL_DATA_DIR",
            dir.path().join("secure").display().to_string(),
        ),
        ("VEIL_QUEUE_URL", url),
        ("VEIL_BLOB_URL", shared_blobs),
        ("VEIL_LOG", "info".to_string()),
    ];
    let mut command = veil(&dispatcher_env);
    command.args(["dispatcher", "--config", &config]);
    let dispatcher = Process::spawn(command, &dir.path().join("dispatcher.log"));
    let result = tokio::time::timeout(Duration::from_secs(120), profile(&base, &environment))
        .await
        .unwrap_or_else(|_| panic!("no result; dispatcher log:\n{}", dispatcher.output()));
    assert_eq!(result["rows"], 40);
    let log = dispatcher.output();
    assert!(
        !log.contains("guest:guest"),
        "the broker password is not logged: {log}"
    );
}
