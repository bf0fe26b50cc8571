//! The Kubernetes task runner against the fake API server: the exact Job it submits, success, failure
//! with the pods' log tail, adoption of a redelivered task's Job, and cancellation.

mod common;

use std::time::Duration;

use common::{job_status, FakeApi};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use veil_domain::{JobId, QueueItem, TaskId};
use veil_kube::{
    KubeRunnerError, KubernetesTaskRunner, MountedVolume, ResourceSettings, TaskRunnerSettings,
    VolumeSource,
};

const JOBS: &str = "/apis/batch/v1/namespaces/veil/jobs";

fn item() -> QueueItem {
    let job_id = JobId("7b0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3".parse().unwrap());
    QueueItem {
        task_id: TaskId::for_job(job_id, 3),
        job_id,
        index: 3,
        kind: "sleep".to_string(),
        params: json!({"millis": 5}),
        max_attempts: 5,
    }
}

fn job_path() -> String {
    format!("{JOBS}/veil-task-{}", item().task_id)
}

fn settings() -> TaskRunnerSettings {
    let mut settings = TaskRunnerSettings::new("veil", "registry.example/veil:0.1.0");
    settings.service_account = Some("veil-task".to_string());
    settings.resources = ResourceSettings {
        cpu_request: Some("500m".to_string()),
        memory_request: Some("512Mi".to_string()),
        cpu_limit: Some("2".to_string()),
        memory_limit: Some("2Gi".to_string()),
    };
    settings.env = vec![("VEIL_LOG".to_string(), "info".to_string())];
    settings.env_from_secret = Some("veil-env".to_string());
    settings.command = vec!["/veil".to_string()];
    settings.poll_interval = Duration::from_millis(10);
    settings
}

fn runner(fake: &FakeApi) -> KubernetesTaskRunner {
    KubernetesTaskRunner::new(fake.client(), settings())
}

#[tokio::test]
async fn posted_job_matches_the_golden_file_and_a_completed_job_is_ok() {
    let fake = FakeApi::start().await;
    *fake.state.job_status.lock().unwrap() = Some(job_status("Complete", "", ""));
    runner(&fake)
        .run(&item(), CancellationToken::new())
        .await
        .unwrap();

    let posts = fake.state.requests_to("POST", JOBS);
    assert_eq!(posts.len(), 1, "{posts:#?}");
    let posted = posts[0].body.clone().unwrap();
    let golden_path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/task_job.json");
    if std::env::var_os("VEIL_UPDATE_GOLDEN").is_some() {
        let text = serde_json::to_string_pretty(&posted).unwrap() + "\n";
        std::fs::write(golden_path, text).unwrap();
    }
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(golden_path).unwrap())
        .expect("golden file is JSON");
    assert_eq!(
        posted,
        golden,
        "posted Job differs from tests/data/task_job.json:\n{}",
        serde_json::to_string_pretty(&posted).unwrap()
    );
}

#[tokio::test]
async fn other_container_arguments_change_only_the_args() {
    let fake = FakeApi::start().await;
    *fake.state.job_status.lock().unwrap() = Some(job_status("Complete", "", ""));
    let args = vec!["dispatcher".to_string(), "run-message".to_string()];
    runner(&fake)
        .run_with_args(&item(), args.clone(), CancellationToken::new())
        .await
        .unwrap();
    let posted = fake.state.requests_to("POST", JOBS)[0]
        .body
        .clone()
        .unwrap();
    let golden: Value = serde_json::from_str(include_str!("data/task_job.json")).unwrap();
    let container = &posted["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["args"], json!(args));
    let mut expected = golden.clone();
    expected["spec"]["template"]["spec"]["containers"][0]["args"] = json!(args);
    assert_eq!(
        posted, expected,
        "everything but the args is the default Job"
    );
}

#[tokio::test]
async fn configured_volumes_are_mounted_beside_tmp() {
    let fake = FakeApi::start().await;
    *fake.state.job_status.lock().unwrap() = Some(job_status("Complete", "", ""));
    let mut settings = settings();
    settings.volumes = vec![
        MountedVolume {
            name: "config".into(),
            source: VolumeSource::ConfigMap("veil-config".into()),
            mount_path: "/etc/veil".into(),
            read_only: true,
        },
        MountedVolume {
            name: "records".into(),
            source: VolumeSource::Claim("clinic-records".into()),
            mount_path: "/data/records".into(),
            read_only: true,
        },
    ];
    KubernetesTaskRunner::new(fake.client(), settings)
        .run(&item(), CancellationToken::new())
        .await
        .unwrap();
    let posted = fake.state.requests_to("POST", JOBS)[0]
        .body
        .clone()
        .unwrap();
    let pod = &posted["spec"]["template"]["spec"];
    assert_eq!(
        pod["volumes"],
        json!([
            {"name": "tmp", "emptyDir": {}},
            {"name": "config", "configMap": {"name": "veil-config"}},
            {"name": "records", "persistentVolumeClaim": {"claimName": "clinic-records", "readOnly": true}},
        ])
    );
    assert_eq!(
        pod["containers"][0]["volumeMounts"],
        json!([
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "config", "mountPath": "/etc/veil", "readOnly": true},
            {"name": "records", "mountPath": "/data/records", "readOnly": true},
        ])
    );
}

#[tokio::test]
async fn a_running_job_is_followed_until_it_completes() {
    let fake = FakeApi::start().await;
    let runner = runner(&fake);
    let run = tokio::spawn(async move { runner.run(&item(), CancellationToken::new()).await });
    fake.state.wait_for("GET", &job_path()).await;
    assert!(
        !run.is_finished(),
        "a Job without conditions is still running"
    );
    fake.state
        .objects
        .lock()
        .unwrap()
        .get_mut(&job_path())
        .unwrap()["status"] = job_status("Complete", "", "");
    tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("runner noticed completion")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_failed_job_reports_the_pods_log_tail() {
    let fake = FakeApi::start().await;
    *fake.state.job_status.lock().unwrap() = Some(job_status(
        "Failed",
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    ));
    *fake.state.pods.lock().unwrap() = vec![
        json!({"metadata": {"name": "task-pod-b", "creationTimestamp": "2026-01-01T00:01:00Z"}}),
        json!({"metadata": {"name": "task-pod-a", "creationTimestamp": "2026-01-01T00:00:00Z"}}),
    ];
    fake.state.logs.lock().unwrap().extend([
        (
            "task-pod-a".to_string(),
            "starting\nerror: first try\n".to_string(),
        ),
        (
            "task-pod-b".to_string(),
            "starting\nerror: params.millis is too large\n".to_string(),
        ),
    ]);
    let err = runner(&fake)
        .run(&item(), CancellationToken::new())
        .await
        .unwrap_err();
    let KubeRunnerError::Failed { reason, logs, .. } = &err else {
        panic!("expected a failed Job, got {err:?}");
    };
    assert_eq!(
        reason,
        "BackoffLimitExceeded: Job has reached the specified backoff limit"
    );
    assert_eq!(
        logs,
        "--- pod task-pod-a ---\nstarting\nerror: first try\n\
         --- pod task-pod-b ---\nstarting\nerror: params.millis is too large"
    );
    assert!(
        err.to_string()
            .contains("error: params.millis is too large"),
        "{err}"
    );

    let name = format!("veil-task-{}", item().task_id);
    let listed = fake
        .state
        .requests_to("GET", "/api/v1/namespaces/veil/pods");
    let selector = format!("labelSelector=batch.kubernetes.io%2Fjob-name%3D{name}");
    assert!(listed[0].query.contains(&selector), "{}", listed[0].query);
    let log = fake
        .state
        .requests_to("GET", "/api/v1/namespaces/veil/pods/task-pod-b/log");
    assert!(log[0].query.contains("tailLines=50"), "{}", log[0].query);
    assert!(log[0].query.contains("container=task"), "{}", log[0].query);
}

#[tokio::test]
async fn cancellation_deletes_the_job_in_the_background() {
    let fake = FakeApi::start().await;
    let runner = runner(&fake);
    let cancel = CancellationToken::new();
    let run = {
        let cancel = cancel.clone();
        tokio::spawn(async move { runner.run(&item(), cancel).await })
    };
    fake.state.wait_for("POST", JOBS).await;
    cancel.cancel();
    let result = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("runner stopped on cancellation")
        .unwrap();
    assert!(
        matches!(result, Err(KubeRunnerError::Cancelled { .. })),
        "{result:?}"
    );
    let deletes = fake.state.requests_to("DELETE", &job_path());
    assert_eq!(deletes.len(), 1);
    assert_eq!(
        deletes[0].body.as_ref().unwrap()["propagationPolicy"],
        "Background"
    );
    assert!(fake.state.objects.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_redelivered_task_adopts_its_running_job() {
    let fake = FakeApi::start().await;
    let mut existing =
        serde_json::to_value(veil_kube::build_job(&item(), &settings()).unwrap()).unwrap();
    existing["status"] = job_status("Complete", "", "");
    fake.state
        .objects
        .lock()
        .unwrap()
        .insert(job_path(), existing);
    runner(&fake)
        .run(&item(), CancellationToken::new())
        .await
        .unwrap();
    let methods: Vec<String> = fake
        .state
        .requests()
        .iter()
        .map(|request| request.method.clone())
        .collect();
    assert_eq!(
        methods,
        ["POST", "GET"],
        "409, then the existing Job is followed"
    );
}

#[tokio::test]
async fn a_failed_job_of_an_earlier_attempt_is_replaced() {
    let fake = FakeApi::start().await;
    let mut existing =
        serde_json::to_value(veil_kube::build_job(&item(), &settings()).unwrap()).unwrap();
    existing["status"] = job_status("Failed", "BackoffLimitExceeded", "");
    fake.state
        .objects
        .lock()
        .unwrap()
        .insert(job_path(), existing);
    *fake.state.job_status.lock().unwrap() = Some(job_status("Complete", "", ""));
    runner(&fake)
        .run(&item(), CancellationToken::new())
        .await
        .unwrap();
    let calls: Vec<(String, String)> = fake
        .state
        .requests()
        .iter()
        .map(|request| (request.method.clone(), request.path.clone()))
        .collect();
    let (post, get, delete) = (
        ("POST".to_string(), JOBS.to_string()),
        ("GET".to_string(), job_path()),
        ("DELETE".to_string(), job_path()),
    );
    assert_eq!(calls, [post.clone(), get, delete, post]);
}
