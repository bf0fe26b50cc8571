//! The binary's Kubernetes commands without a cluster: `veil task run` runs one stored task and
//! commits its result (what a task Job runs), and `veil serve --register-k8s` with the file channel
//! writes the registration requests on start and the deletions on shutdown.

mod common;

use std::time::Duration;

use common::{free_port, start_server, veil};
use veil_domain::{NewJob, TaskId};

#[tokio::test]
async fn task_run_commits_one_stored_task_and_names_bad_ids() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let env = vec![
        ("VEIL_DATA_DIR", data.display().to_string()),
        ("VEIL_LISTEN", format!("127.0.0.1:{port}")),
    ];
    let mut server = start_server(
        &env,
        &["--workers", "0"],
        &base,
        &dir.path().join("serve.log"),
    )
    .await;
    let client = common::admin_client(&base).await;
    let job = client
        .submit_job(&NewJob {
            kind: "sleep".into(),
            params: serde_json::json!({"tasks": 2, "millis": 1}),
            owner: None,
        })
        .await
        .unwrap();

    let task = TaskId::for_job(job.id, 1).to_string();
    let output = veil(&env)
        .args(["task", "run", "--task-id", &task])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let result = data
        .join("blobs")
        .join(veil_service::task_result_key(job.id, 1));
    assert!(result.is_file(), "no result at {}", result.display());

    let output = veil(&env)
        .args(["task", "run", "--task-id", "not-a-task"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not-a-task"), "{stderr}");

    let unknown = TaskId::new_random().to_string();
    let output = veil(&env)
        .args(["task", "run", "--task-id", &unknown])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&unknown), "{stderr}");
    server.terminate(Duration::from_secs(10));
}

#[tokio::test]
async fn serve_register_k8s_writes_and_withdraws_the_service_through_files() {
    let dir = tempfile::tempdir().unwrap();
    let requests = dir.path().join("k8s");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let env = vec![
        (
            "VEIL_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
        ("VEIL_LISTEN", format!("127.0.0.1:{port}")),
        (
            "VEIL_REGISTRATION_FILE_PATH",
            requests.display().to_string(),
        ),
        ("VEIL_REGISTRATION_IN_CLUSTER", "false".to_string()),
        ("VEIL_REGISTRATION_ADDRESS", "10.9.8.7".to_string()),
        ("VEIL_REGISTRATION_SERVICE_NAME", "veil-hpc".to_string()),
    ];
    let mut server = start_server(
        &env,
        &["--workers", "0", "--register-k8s"],
        &base,
        &dir.path().join("serve.log"),
    )
    .await;
    let read = |name: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(requests.join(name))
            .unwrap_or_else(|err| panic!("{name}: {err}\n{}", server_log(dir.path())));
        serde_json::from_str(&text).unwrap()
    };
    let service = read("create-service-veil-hpc.json");
    assert_eq!(service["path"], "/api/v1/namespaces/default/services");
    assert_eq!(service["body"]["spec"]["ports"][0]["targetPort"], port);
    assert!(service["body"]["spec"].get("selector").is_none());
    let endpoints = read("create-endpoints-veil-hpc.json");
    assert_eq!(
        endpoints["body"]["subsets"][0]["addresses"][0]["ip"],
        "10.9.8.7"
    );
    assert!(!requests.join("delete-service-veil-hpc.json").exists());

    let status = server
        .terminate(Duration::from_secs(20))
        .expect("server stopped");
    assert!(status.success(), "{}", server.output());
    assert_eq!(
        read("delete-service-veil-hpc.json")["path"],
        "/api/v1/namespaces/default/services/veil-hpc"
    );
    assert_eq!(read("delete-endpoints-veil-hpc.json")["method"], "DELETE");
}

fn server_log(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
}
