//! The binary's command line: configuration errors, startup, and the operator commands.

mod common;

use std::time::Duration;

use common::{free_port, start_server, veil};

fn run(args: &[&str], env: &[(&str, String)]) -> (i32, String, String) {
    let output = veil(env).args(args).output().expect("run veil");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

#[test]
fn unknown_config_key_is_one_line_naming_the_key_with_exit_code_2() {
    let file = config_file("version = 1\n[server]\nlisten = \"127.0.0.1:1\"\nworkerz = 3\n");
    let path = file.path().display().to_string();
    let (code, _, stderr) = run(&["serve", "--config", &path], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("server.workerz") && stderr.contains("unknown field"),
        "{stderr}"
    );
}

#[test]
fn unusable_tls_files_are_named_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("VEIL_DATA_DIR", dir.path().display().to_string()),
        ("VEIL_LISTEN", format!("127.0.0.1:{}", free_port())),
        ("VEIL_TLS_CERT_FILE", "/nonexistent/cert.pem".to_string()),
        ("VEIL_TLS_KEY_FILE", "/nonexistent/key.pem".to_string()),
    ];
    let (code, _, stderr) = run(&["serve"], &env);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("/nonexistent/cert.pem"), "{stderr}");
}

#[test]
fn bad_url_is_named_with_exit_code_2() {
    let (code, _, stderr) = run(
        &["serve"],
        &[("VEIL_METADATA_URL", "mysql://db/veil".into())],
    );
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr.trim(),
        "error: VEIL_METADATA_URL: unsupported scheme `mysql` (expected sqlite:// or postgres://)"
    );
    let file = config_file("version = 1\n[blob]\nurl = \"ftp://files/veil\"\n");
    let path = file.path().display().to_string();
    let (code, _, stderr) = run(&["worker", "--config", &path], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr
            .trim()
            .starts_with("error: blob.url: unsupported scheme `ftp`"),
        "{stderr}"
    );
}

#[test]
fn unreadable_secret_file_is_named_with_exit_code_2() {
    let env = [(
        "VEIL_S3_SECRET_ACCESS_KEY_FILE",
        "/nonexistent/veil-secret".to_string(),
    )];
    let (code, _, stderr) = run(&["config", "check"], &env);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.starts_with("error: VEIL_S3_SECRET_ACCESS_KEY_FILE: cannot read secret file /nonexistent/veil-secret"),
        "{stderr}"
    );
}

#[test]
fn missing_config_file_is_named_with_exit_code_2() {
    let (code, _, stderr) = run(&["serve", "--config", "/nonexistent/veil.toml"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("/nonexistent/veil.toml"), "{stderr}");
}

#[test]
fn config_check_prints_the_effective_config_with_secrets_redacted() {
    let env = [
        (
            "VEIL_METADATA_URL",
            "postgres://veil:hunter2@db.internal/veil".to_string(),
        ),
        ("VEIL_S3_SECRET_ACCESS_KEY", "very-secret".to_string()),
    ];
    let (code, stdout, stderr) = run(&["config", "check"], &env);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("db.internal")
            && !stdout.contains("hunter2")
            && !stdout.contains("very-secret"),
        "{stdout}"
    );
}

#[test]
fn unreachable_server_is_reported() {
    let port = free_port();
    let (code, _, stderr) = run(
        &[
            "job",
            "list",
            "--server",
            &format!("http://127.0.0.1:{port}"),
        ],
        &[],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cannot reach Veil"), "{stderr}");
    let (code, _, stderr) = run(&["job", "describe", "not-a-uuid"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a valid job id"), "{stderr}");
}

#[tokio::test]
async fn serve_runs_jobs_and_shuts_down_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let env = vec![(
        "VEIL_DATA_DIR",
        dir.path().join("data").display().to_string(),
    )];
    let listen = format!("127.0.0.1:{port}");
    let args = ["--listen", &listen, "--log-format", "json"];
    let mut server = start_server(&env, &args, &base, &dir.path().join("serve.log")).await;
    assert!(
        dir.path().join("data/veil.db").exists(),
        "embedded SQLite lives in the data dir"
    );

    let server_env = [
        ("VEIL_SERVER", base.clone()),
        ("VEIL_TOKEN", common::admin_token(&base).await),
    ];
    let (code, _, stderr) = run(&["job", "list"], &server_env[..1]);
    assert_eq!(code, 1, "the native API needs a token: {stderr}");
    assert!(
        stderr.contains("401") || stderr.contains("Bearer"),
        "{stderr}"
    );
    let (code, stdout, stderr) = run(
        &[
            "job",
            "submit",
            "echo",
            "--params",
            r#"{"message":"hello"}"#,
            "--wait",
        ],
        &server_env,
    );
    assert_eq!(code, 0, "{stderr}");
    let id = stdout.trim().to_string();
    let (code, stdout, _) = run(&["job", "list"], &server_env);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&id) && stdout.contains("succeeded"),
        "{stdout}"
    );
    let (code, stdout, _) = run(&["job", "describe", &id], &server_env);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("State     succeeded") && stdout.contains("queued 1 tasks"),
        "{stdout}"
    );
    let (code, _, stderr) = run(&["job", "cancel", &id], &server_env);
    assert_eq!(code, 1);
    assert!(stderr.contains("already succeeded"), "{stderr}");
    let (code, stdout, _) = run(&["config", "show"], &server_env);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&format!("listen = \"127.0.0.1:{port}\"")),
        "{stdout}"
    );

    let status = server
        .terminate(Duration::from_secs(20))
        .expect("serve exits after SIGTERM");
    assert!(status.success(), "{}", server.output());
    let log = server.output();
    assert!(log.contains("shutdown requested"), "{log}");
    for line in log.lines() {
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(line);
        assert!(
            parsed.is_ok(),
            "--log-format json writes one JSON object per line: {line}"
        );
    }
}

#[tokio::test]
async fn sigterm_releases_unfinished_tasks_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let env = vec![
        (
            "VEIL_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
        ("VEIL_WORKER_SHUTDOWN_GRACE_SECONDS", "1".to_string()),
        ("VEIL_QUEUE_POLL_INTERVAL_MS", "50".to_string()),
    ];
    let listen = format!("127.0.0.1:{port}");
    let args = ["--listen", &listen, "--workers", "2"];
    let mut server = start_server(&env, &args, &base, &dir.path().join("serve.log")).await;

    let client = common::admin_client(&base).await;
    let params = serde_json::json!({ "tasks": 2, "millis": 600_000 });
    let request = veil_domain::NewJob {
        kind: "sleep".into(),
        params,
        owner: None,
    };
    let job = client.submit_job(&request).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let tasks = client.describe_job(job.id).await.unwrap().tasks;
        if tasks
            .iter()
            .all(|t| t.state == veil_domain::TaskState::Running)
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "tasks never started: {tasks:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let status = server
        .terminate(Duration::from_secs(30))
        .expect("serve exits after the grace period");
    assert!(status.success(), "{}", server.output());
    let log = server.output();
    assert!(
        log.contains("grace period over; releasing unfinished tasks"),
        "{log}"
    );

    // The tasks went back to the queue unfinished, without spending an attempt; a new process takes them.
    let args = ["--listen", &listen, "--workers", "0"];
    let _restarted = start_server(&env, &args, &base, &dir.path().join("serve2.log")).await;
    let description = client.describe_job(job.id).await.unwrap();
    assert!(
        description
            .tasks
            .iter()
            .all(|t| t.state == veil_domain::TaskState::Queued),
        "{:?}",
        description.tasks
    );
    let released = description
        .events
        .iter()
        .filter(|e| e.message.contains("released unfinished"))
        .count();
    assert_eq!(released, 2, "{:?}", description.events);
    assert_eq!(client.queue_stats().await.unwrap().ready, 2);
}
