//! `veil selftest` through the real binary: it passes against a running `veil serve`, leaves no
//! project behind, and fails with the failing step named (and exit code 1) when the server is down.

mod common;

use common::{free_port, short_lease_env, start_server, veil};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selftest_passes_against_a_local_server_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let env = short_lease_env(dir.path(), port);
    let _server = start_server(&env, &[], &base, &dir.path().join("serve.log")).await;

    let output = tokio::task::spawn_blocking({
        let base = base.clone();
        move || {
            veil(&[])
                .args(["selftest", "--server", &base, "--records", "100"])
                .output()
                .expect("run veil selftest")
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    for needle in [
        "ok    create a two-party linkage project",
        "ok    check the groups against the matching engine",
        "ok    delete the project",
        "selftest passed",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in {stdout}");
    }
    let projects: serde_json::Value = reqwest::get(format!("{base}/api/v1/projects"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        projects,
        serde_json::json!([]),
        "the selftest's project is gone"
    );
}

#[test]
fn selftest_names_the_failing_step_when_the_server_is_down() {
    let base = format!("http://127.0.0.1:{}", free_port());
    let output = veil(&[])
        .args(["selftest", "--server", &base])
        .output()
        .expect("run veil selftest");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("FAIL  the server is healthy"), "{stdout}");
    assert!(
        stderr.contains("selftest step failed: the server is healthy"),
        "{stderr}"
    );
}
