//! A `veil dispatcher` killed (SIGKILL) while it trains a model: the broker redelivers the task to
//! the dispatcher that replaces it, and the task completes exactly once. Needs `VEIL_TEST_AMQP_URL`.

mod common;

use std::time::{Duration, Instant};

use common::synth::{big_table, broker_env, config, root_key, submit, tap_status, wait};
use common::{free_port, start_server, veil, Process};
use serde_json::{json, Value};

/// The status updates seen for `task`, as (state, permanent).
fn updates(seen: &[u8], task: &str) -> Vec<String> {
    String::from_utf8_lossy(seen)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|update| update["task_id"] == task)
        .map(|update| update["state"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_dispatcher_s_training_is_redelivered_and_completes_once() {
    let Some(url) = veil_queue::testsuite::amqp_url_from_env() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = big_table(dir.path());
    let environment = format!("redeliver-{}", uuid::Uuid::new_v4().simple());
    let config = config(dir.path(), &root, &environment);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let key = root_key();
    let shared = |data_dir: &str| broker_env(dir.path(), data_dir, &url, &key);
    let status = tap_status(&url).await;
    let mut server_env = shared("hub");
    server_env.push(("VEIL_LISTEN", format!("127.0.0.1:{port}")));
    let _server = start_server(&server_env, &[], &base, &dir.path().join("serve.log")).await;
    let dispatcher = |log: &str| {
        let mut command = veil(&shared("secure"));
        command.args(["dispatcher", "--config", &config]);
        Process::spawn(command, &dir.path().join(log))
    };
    let mut first = dispatcher("first.log");

    let params = json!({
        "environment": environment, "source": "clinic", "path": "people.csv", "model": "cart",
    });
    let job = submit(&base, "synth.train", params).await;
    let task = veil_domain::TaskId::for_job(job.parse().unwrap(), 0).to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !updates(&status.lock().unwrap(), &task).contains(&"running".to_string()) {
        assert!(
            Instant::now() < deadline,
            "never running:\n{}",
            first.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Into the task (reading the table), well before it can end.
    tokio::time::sleep(Duration::from_millis(100)).await;
    first.kill();
    let before = updates(&status.lock().unwrap(), &task);
    assert!(
        !before.contains(&"succeeded".to_string()),
        "the task ended before the kill; make the table bigger: {before:?}"
    );

    let second = dispatcher("second.log");
    let description = wait(&base, &job, Duration::from_secs(300)).await;
    assert_eq!(
        description["job"]["state"],
        "succeeded",
        "{description:#}\n{}",
        second.output()
    );
    let seen = updates(&status.lock().unwrap(), &task);
    let count = |state: &str| seen.iter().filter(|s| *s == state).count();
    assert_eq!(count("succeeded"), 1, "{seen:?}");
    assert!(count("running") >= 2, "delivered again: {seen:?}");
    let model = std::fs::read(dir.path().join(format!("blobs/jobs/{job}/result"))).unwrap();
    let ring = veil_seal::KeyRing::from_sources(Some(&key), None, &[]).unwrap();
    assert!(veil_seal::open(&model, &ring, "model").is_ok());
}
