//! `veil user`, `veil login` and `veil audit` through the real binary: users are managed in the
//! configured database, sign in over HTTP, and leave an audit trail.

mod common;

use common::{free_port, start_server, veil};

fn run(args: &[&str], env: &[(&str, String)]) -> (i32, String, String) {
    let output = veil(env).args(args).output().expect("run veil");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_managed_sign_in_and_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let data = (
        "VEIL_DATA_DIR",
        dir.path().join("data").display().to_string(),
    );
    let password = ("VEIL_USER_PASSWORD", "a long enough password".to_string());

    let (code, stdout, stderr) = run(
        &["user", "add", "ada", "--role", "analyst"],
        &[data.clone(), password.clone()],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("added user ada (analyst)"), "{stdout}");
    for (args, expected) in [
        (
            vec!["user", "add", "ada", "--role", "analyst"],
            "already exists",
        ),
        (vec!["user", "add", "bo", "--role", "root"], "unknown role"),
        (vec!["user", "add", "bo"], "at least one --role"),
        (vec!["user", "add", "bad name", "--admin"], "user name"),
        (vec!["user", "delete", "nobody"], "user nobody not found"),
    ] {
        let (code, _, stderr) = run(&args, &[data.clone(), password.clone()]);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let weak = ("VEIL_USER_PASSWORD", "short".to_string());
    let (code, _, stderr) = run(&["user", "add", "bo", "--admin"], &[data.clone(), weak]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("at least 12 characters"), "{stderr}");
    let (code, stdout, _) = run(&["user", "list"], std::slice::from_ref(&data));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("ada") && stdout.contains("analyst"),
        "{stdout}"
    );
    assert!(!stdout.contains("argon2"), "never the hash: {stdout}");

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let env = vec![data.clone(), ("VEIL_LISTEN", format!("127.0.0.1:{port}"))];
    let mut server = start_server(&env, &[], &base, &dir.path().join("serve.log")).await;
    let server_env = ("VEIL_SERVER", base.clone());
    let (code, token, stderr) = run(
        &["login", "--user", "ada"],
        &[server_env.clone(), password.clone()],
    );
    assert_eq!(code, 0, "{stderr}");
    let token = token.trim().to_string();
    let wrong = ("VEIL_USER_PASSWORD", "not ada's password".to_string());
    let (code, _, stderr) = run(&["login", "--user", "ada"], &[server_env.clone(), wrong]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("login refused"), "{stderr}");

    let signed_in = [server_env.clone(), ("VEIL_TOKEN", token.clone())];
    let (code, _, stderr) = run(&["job", "list"], &signed_in);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run(&["config", "show"], &signed_in);
    assert_eq!(code, 1, "config is for admins");
    assert!(
        stderr.contains("403") || stderr.contains("admin"),
        "{stderr}"
    );

    let (code, stdout, _) = run(&["user", "delete", "ada"], std::slice::from_ref(&data));
    assert_eq!(code, 0);
    assert!(stdout.contains("deleted user ada"));
    let (code, _, _) = run(&["job", "list"], &signed_in);
    assert_eq!(code, 1, "a deleted user's token stops working");

    let (code, stdout, _) = run(&["audit", "--limit", "100"], std::slice::from_ref(&data));
    assert_eq!(code, 0);
    for action in [
        "user.add",
        "login ",
        "login.failed",
        "user.delete",
        "access.denied",
        "token.rejected",
    ] {
        assert!(stdout.contains(action), "{action} missing from:\n{stdout}");
    }
    let (code, stdout, _) = run(&["audit", "--action", "login.failed", "--json"], &[data]);
    assert_eq!(code, 0);
    let entries: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(entries.len(), 1, "{stdout}");
    assert_eq!(entries[0]["actor"], "ada");
    assert!(
        !stdout.contains("not ada's password"),
        "passwords never reach the audit log"
    );
    server.terminate(std::time::Duration::from_secs(20));
}
