//! A `veil serve` for the `veil link project` tests, and the CLI calls they share.

use serde_json::Value;

use crate::common::{free_port, start_server, veil, Process};

pub const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../veil-linkage-encoding/tests/data/febrl_v3_blake.json"
);
pub const SECRET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../veil-linkage-encoding/tests/data/secret.txt"
);
/// Records per generated dataset.
pub const RECORDS: usize = 300;

/// What a finished `veil` run left behind.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A `veil serve` on a free port with a fresh data directory, and a scratch directory.
pub struct Service {
    dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
    _server: Process,
}

impl Service {
    pub async fn start() -> Service {
        Service::start_with(&[]).await
    }

    /// A server with these extra `VEIL_*` settings.
    pub async fn start_with(settings: &[(&'static str, &str)]) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut env = vec![(
            "VEIL_DATA_DIR",
            dir.path().join("data").display().to_string(),
        )];
        env.extend(
            settings
                .iter()
                .map(|(name, value)| (*name, value.to_string())),
        );
        let listen = format!("127.0.0.1:{port}");
        let server = start_server(
            &env,
            &["--listen", &listen],
            &base,
            &dir.path().join("serve.log"),
        )
        .await;
        Service {
            env: vec![("VEIL_SERVER", base)],
            dir,
            _server: server,
        }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let output = veil(&self.env).args(args).output().expect("run veil");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(run.code, 0, "veil {args:?} failed: {}", run.stderr);
        run
    }

    /// Generates datasets into `name/` and encodes them: `name/a.json` (JSON) and `name/b.bin`
    /// (binary), with the truth in `name/truth.csv`.
    pub fn generate(&self, name: &str, seed: u64) {
        let out = self.path(name);
        self.ok(&[
            "link",
            "gen",
            "--records",
            &RECORDS.to_string(),
            "--seed",
            &seed.to_string(),
            "-o",
            &out,
        ]);
        for (csv, clks, format) in [("a.csv", "a.json", "json"), ("b.csv", "b.bin", "binary")] {
            let (csv, clks) = (format!("{out}/{csv}"), format!("{out}/{clks}"));
            self.ok(&[
                "link",
                "encode",
                &csv,
                SCHEMA,
                "--secret-file",
                SECRET,
                "-o",
                &clks,
                "--format",
                format,
            ]);
        }
    }

    /// Creates a project; returns the credentials file's path and contents.
    pub fn create(&self, name: &str, result_type: &str, parties: u32) -> (String, Value) {
        let path = self.path(name);
        let parties = parties.to_string();
        self.ok(&[
            "link",
            "project",
            "create",
            "--schema",
            SCHEMA,
            "--type",
            result_type,
            "--parties",
            &parties,
            "-o",
            &path,
        ]);
        let credentials = read_json(&path);
        (path, credentials)
    }

    /// Uploads `file` as `party`; returns the receipt token.
    pub fn upload(&self, project: &str, party: usize, file: &str) -> String {
        let run = self.ok(&[
            "link",
            "project",
            "upload",
            "--project",
            project,
            "--party",
            &party.to_string(),
            file,
        ]);
        let receipt: Value = serde_json::from_str(&run.stdout).expect("receipt JSON on stdout");
        receipt["receipt_token"]
            .as_str()
            .expect("a receipt token")
            .to_string()
    }

    /// Creates a run and returns its id.
    pub fn create_run(&self, project: &str, threshold: &str) -> String {
        let run = self.ok(&[
            "link",
            "project",
            "run",
            "create",
            "--project",
            project,
            "--threshold",
            threshold,
        ]);
        run.stdout.trim().to_string()
    }

    /// Watches the run to its end and returns the result document.
    pub fn results(&self, project: &str, run: &str, extra: &[&str]) -> Value {
        let mut args = vec![
            "link",
            "project",
            "results",
            "--project",
            project,
            "--run",
            run,
            "--watch",
            "--interval",
            "0.1",
        ];
        args.extend_from_slice(extra);
        let done = self.ok(&args);
        serde_json::from_str(&done.stdout).expect("the result on stdout")
    }
}

pub fn read_json(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// (party, row) pairs of a groups document.
pub fn groups_of(result: &Value) -> Vec<Vec<(u64, u64)>> {
    result["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|group| {
            group
                .as_array()
                .unwrap()
                .iter()
                .map(|record| (record[0].as_u64().unwrap(), record[1].as_u64().unwrap()))
                .collect()
        })
        .collect()
}
