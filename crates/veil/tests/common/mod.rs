//! Helpers for tests that drive the real `veil` binary.

#![allow(dead_code)]

pub mod synth;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// The binary under test: `$VEIL_BIN` when set (say, a release build; a relative path is taken from
/// the workspace root), else the one Cargo built for these tests.
///
/// # Panics
/// When `VEIL_BIN` names no file.
pub fn veil_binary() -> PathBuf {
    let Some(path) = std::env::var_os("VEIL_BIN") else {
        return PathBuf::from(env!("CARGO_BIN_EXE_veil"));
    };
    let workspace_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = workspace_root.join(path);
    assert!(
        path.is_file(),
        "VEIL_BIN names {}, which is not a file",
        path.display()
    );
    path
}

/// A `veil` command with a clean environment: only the variables given here reach the binary.
pub fn veil(env: &[(&str, String)]) -> Command {
    let mut command = Command::new(veil_binary());
    command.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command.stdin(Stdio::null());
    command
}

/// The environment of a server and its workers sharing `data_dir`, the server listening on `port`,
/// with leases short enough that a killed worker's tasks are redelivered within seconds.
pub fn short_lease_env(data_dir: &Path, port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("VEIL_DATA_DIR", data_dir.display().to_string()),
        ("VEIL_LISTEN", format!("127.0.0.1:{port}")),
        ("VEIL_QUEUE_LEASE_SECONDS", "2".to_string()),
        ("VEIL_QUEUE_HEARTBEAT_SECONDS", "1".to_string()),
        ("VEIL_QUEUE_BACKOFF_BASE_MS", "100".to_string()),
        ("VEIL_QUEUE_POLL_INTERVAL_MS", "50".to_string()),
        ("VEIL_LOG", "info".to_string()),
    ]
}

/// A child process whose output goes to a log file, killed when dropped.
pub struct Process {
    /// The child.
    pub child: Child,
    /// Where its stderr goes.
    pub log: PathBuf,
}

impl Process {
    /// Starts `command` with stdout and stderr appended to `log`.
    pub fn spawn(mut command: Command, log: &Path) -> Process {
        let file = std::fs::File::create(log).expect("create log file");
        let err = file.try_clone().expect("clone log file");
        command.stdout(file).stderr(err);
        let child = command.spawn().expect("start veil");
        Process {
            child,
            log: log.to_path_buf(),
        }
    }

    /// Sends SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the process to exit, returning its exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// The log so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `GET /healthz` until it answers 200 or `timeout` passes.
pub async fn wait_healthy(base: &str, timeout: Duration) -> bool {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(response) = client.get(format!("{base}/healthz")).send().await {
            if response.status().is_success() {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

/// The administrator every test server creates on start (`auth.admin_user`).
pub const ADMIN: &str = "test-admin";
/// The administrator's password.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Signs in to the server at `base` as [`ADMIN`] and returns the access token.
///
/// # Panics
/// When the login is refused.
pub async fn admin_token(base: &str) -> String {
    let client = veil_client::VeilClient::new(base).expect("a client");
    let pair = client
        .login(ADMIN, ADMIN_PASSWORD)
        .await
        .expect("the test administrator signs in");
    pair["access_token"]
        .as_str()
        .expect("an access token")
        .to_string()
}

/// A client of the native API at `base`, signed in as [`ADMIN`].
pub async fn admin_client(base: &str) -> veil_client::VeilClient {
    let token = admin_token(base).await;
    veil_client::VeilClient::new(base)
        .expect("a client")
        .with_token(token)
}

/// Starts `veil serve ARGS…` with `env` (plus the test administrator), logging to `log`, and waits
/// until `base` answers `/healthz`.
///
/// # Panics
/// When the server is not healthy within 30 s (the panic shows its log).
pub async fn start_server(
    env: &[(&str, String)],
    args: &[&str],
    base: &str,
    log: &Path,
) -> Process {
    let mut command = veil(env);
    command
        .env("VEIL_ADMIN_USER", ADMIN)
        .env("VEIL_ADMIN_PASSWORD", ADMIN_PASSWORD);
    command.arg("serve").args(args);
    let server = Process::spawn(command, log);
    assert!(
        wait_healthy(base, Duration::from_secs(30)).await,
        "server did not start:\n{}",
        server.output()
    );
    server
}

/// Starts `veil worker --concurrency CONCURRENCY` with `env`, logging to `log`.
pub fn start_worker(env: &[(&str, String)], concurrency: u32, log: &Path) -> Process {
    let mut command = veil(env);
    command.args(["worker", "--concurrency", &concurrency.to_string()]);
    Process::spawn(command, log)
}
