//! A server and two worker processes share a job of 50 tasks; one worker is SIGKILLed mid-task. The job
//! must still succeed with every task's result committed exactly once.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{free_port, start_server, veil, Process};
use veil_domain::{JobState, NewJob, TaskState};

const TASKS: u32 = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_survives_a_worker_killed_mid_task() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let env = vec![
        (
            "VEIL_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
        ("VEIL_LISTEN", format!("127.0.0.1:{port}")),
        ("VEIL_QUEUE_LEASE_SECONDS", "2".to_string()),
        ("VEIL_QUEUE_HEARTBEAT_SECONDS", "1".to_string()),
        ("VEIL_QUEUE_BACKOFF_BASE_MS", "100".to_string()),
        ("VEIL_QUEUE_POLL_INTERVAL_MS", "50".to_string()),
        ("VEIL_LOG", "info".to_string()),
    ];
    let _server = start_server(
        &env,
        &["--workers", "0"],
        &base,
        &dir.path().join("server.log"),
    )
    .await;

    let start_worker = |name: &str| {
        let mut command = veil(&env);
        command.args(["worker", "--concurrency", "2"]);
        Process::spawn(command, &dir.path().join(format!("{name}.log")))
    };
    let mut victim = start_worker("worker-a");
    let survivor = start_worker("worker-b");

    let client = common::admin_client(&base).await;
    let params = serde_json::json!({ "tasks": TASKS, "millis": 400 });
    let job = client
        .submit_job(&NewJob {
            kind: "sleep".into(),
            params,
            owner: Some("crash-test".into()),
        })
        .await
        .unwrap();

    // Kill the victim once the job is well under way and both workers hold tasks: each worker runs at
    // most 2 at once, so 3 or more running tasks mean the victim holds at least one.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let description = client.describe_job(job.id).await.unwrap();
        let count = |state| {
            description
                .tasks
                .iter()
                .filter(|t| t.state == state)
                .count()
        };
        if count(TaskState::Succeeded) >= 4 && count(TaskState::Running) >= 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "job made no progress:\n{}\n{}",
            victim.output(),
            survivor.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    victim.kill();

    let finished = client
        .wait_for_job(job.id, Duration::from_secs(180))
        .await
        .unwrap();
    let description = client.describe_job(job.id).await.unwrap();
    let events: Vec<&str> = description
        .events
        .iter()
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(
        finished.state,
        JobState::Succeeded,
        "{:?}\n{events:#?}",
        finished.error
    );
    assert!(
        events
            .iter()
            .any(|e| e.contains("retried after lease expired")),
        "the killed worker's in-flight task must be redelivered: {events:#?}"
    );

    assert_eq!(description.tasks.len(), TASKS as usize);
    assert!(description
        .tasks
        .iter()
        .all(|t| t.state == TaskState::Succeeded));
    let result: serde_json::Value =
        serde_json::from_slice(&client.job_result(job.id).await.unwrap()).unwrap();
    let indices: Vec<u64> = result["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(
        indices,
        (0..TASKS as u64).collect::<Vec<_>>(),
        "every task result exactly once, in order"
    );

    let task_dir = dir
        .path()
        .join("data/blobs/jobs")
        .join(job.id.to_string())
        .join("tasks");
    let committed: BTreeSet<String> = std::fs::read_dir(&task_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        committed.len(),
        TASKS as usize,
        "one result directory per task: {committed:?}"
    );
    for index in 0..TASKS {
        let files: Vec<_> = std::fs::read_dir(task_dir.join(format!("{index:06}")))
            .unwrap()
            .collect();
        assert_eq!(
            files.len(),
            1,
            "task {index} has exactly one committed result and no partial files"
        );
    }

    if std::env::var_os("VEIL_TEST_SHOW_DESCRIBE").is_some() {
        let token = common::admin_token(&base).await;
        let output = veil(&[("VEIL_SERVER", base.clone()), ("VEIL_TOKEN", token)])
            .args(["job", "describe", &job.id.to_string()])
            .output()
            .unwrap();
        eprintln!("{}", String::from_utf8_lossy(&output.stdout));
    }
}
