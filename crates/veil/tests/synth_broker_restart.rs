//! RabbitMQ restarted while a `veil dispatcher` trains a model: the dispatcher and the hub reconnect,
//! the unacknowledged task is delivered again, and the job succeeds with a model that opens.
//!
//! Restarting the broker disturbs every other test that uses it, so this runs only when
//! `VEIL_TEST_BROKER_RESTART=1` (and `VEIL_TEST_AMQP_URL`) are set: `.ci/run` runs it on its own,
//! after the test suite. It restarts the broker with `rabbitmqctl stop_app` / `start_app`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::synth::{big_table, broker_env, config, root_key, submit, tap_status, wait};
use common::{free_port, start_server, veil, Process};
use serde_json::json;

fn rabbitmqctl(action: &str) {
    let status = Command::new("rabbitmqctl")
        .arg(action)
        .status()
        .expect("run rabbitmqctl");
    assert!(status.success(), "rabbitmqctl {action} failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_task_is_survived() {
    let Some(url) = veil_queue::testsuite::amqp_url_from_env() else {
        return;
    };
    if std::env::var("VEIL_TEST_BROKER_RESTART").as_deref() != Ok("1") {
        eprintln!("skipped: set VEIL_TEST_BROKER_RESTART=1 to restart RabbitMQ in this test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = big_table(dir.path());
    let environment = format!("restart-{}", uuid::Uuid::new_v4().simple());
    let config = config(dir.path(), &root, &environment);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let key = root_key();
    let shared = |data_dir: &str| broker_env(dir.path(), data_dir, &url, &key);
    let mut server_env = shared("hub");
    server_env.push(("VEIL_LISTEN", format!("127.0.0.1:{port}")));
    let server = start_server(&server_env, &[], &base, &dir.path().join("serve.log")).await;
    let mut command = veil(&shared("secure"));
    command.args(["dispatcher", "--config", &config]);
    let dispatcher = Process::spawn(command, &dir.path().join("dispatcher.log"));

    let params = json!({
        "environment": environment, "source": "clinic", "path": "people.csv", "model": "cart",
    });
    let status = tap_status(&url).await;
    let job = submit(&base, "synth.train", params).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let task = veil_domain::TaskId::for_job(job.parse().unwrap(), 0).to_string();
    let running = |seen: &[u8]| {
        String::from_utf8_lossy(seen).lines().any(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .is_ok_and(|update| update["task_id"] == task && update["state"] == "running")
        })
    };
    while !running(&status.lock().unwrap()) {
        assert!(
            Instant::now() < deadline,
            "the dispatcher never ran the task:\n{}",
            dispatcher.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    rabbitmqctl("stop_app");
    tokio::time::sleep(Duration::from_secs(2)).await;
    rabbitmqctl("start_app");

    let description = wait(&base, &job, Duration::from_secs(300)).await;
    assert_eq!(
        description["job"]["state"],
        "succeeded",
        "{description:#}\n--- dispatcher\n{}\n--- server\n{}",
        dispatcher.output(),
        server.output()
    );
    let log = dispatcher.output();
    assert!(
        log.contains("broker connection lost"),
        "the restart reached the dispatcher mid-task:\n{log}"
    );
    let model = std::fs::read(dir.path().join(format!("blobs/jobs/{job}/result"))).unwrap();
    let ring = veil_seal::KeyRing::from_sources(Some(&key), None, &[]).unwrap();
    assert!(veil_seal::open(&model, &ring, "model").is_ok());
}
