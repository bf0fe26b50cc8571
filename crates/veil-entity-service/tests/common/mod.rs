//! The test harness: the compatibility API nested at `/api/v1` on an ephemeral port over a complete
//! platform — a fresh SQLite (or PostgreSQL) database with its queue, an in-memory blob store, and
//! in-process workers that run linkage jobs — driven over real HTTP.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use veil_blob::BlobStore;
use veil_entity_service::runs::LinkageRunJob;
use veil_entity_service::{EntityState, RunSettings};
use veil_metadata::testsuite::TestDatabase;
use veil_queue::{QueueSettings, SqlQueue};
use veil_service::{JobService, Platform, Registry, TaskRunner};
use veil_worker::{WorkerPool, WorkerSettings};

/// Settings small enough that test projects split into several tasks.
/// The request body limit the test server applies, as `veil serve` does with `server.max_body_mib`.
pub const TEST_BODY_LIMIT: usize = 8 * 1024 * 1024;

pub const TEST_SETTINGS: RunSettings = RunSettings {
    chunk_comparisons: 2_000,
    max_candidates: 1_000_000,
};

pub struct App {
    pub base: String,
    pub http: reqwest::Client,
    pub blobs: Arc<dyn BlobStore>,
    pub state: EntityState,
    database: TestDatabase,
    server: tokio::task::JoinHandle<()>,
    workers: tokio::task::JoinHandle<()>,
    shutdown: CancellationToken,
}

impl App {
    pub async fn start(database: TestDatabase) -> App {
        Self::start_with(database, TEST_SETTINGS).await
    }

    pub async fn start_with(database: TestDatabase, settings: RunSettings) -> App {
        let blobs = veil_blob::open("memory://", &Default::default()).expect("memory blob store");
        let mut registry = Registry::new();
        registry.register(Arc::new(LinkageRunJob::new(2)));
        let platform = Platform {
            store: database.database.metadata_store(),
            queue: Arc::new(SqlQueue::new(
                &database.database,
                QueueSettings {
                    backoff_base: Duration::from_millis(10),
                    backoff_max: Duration::from_millis(100),
                },
            )),
            blobs: blobs.clone(),
            registry: Arc::new(registry),
            max_attempts: 3,
        };
        let state = EntityState::new(
            database.database.clone(),
            blobs.clone(),
            JobService::new(platform.clone()),
            settings,
        );
        let runner = TaskRunner::new(platform, Duration::from_secs(10), Duration::from_secs(2));
        let shutdown = CancellationToken::new();
        let pool = WorkerPool::new(runner, WorkerSettings::new(2, Duration::from_millis(20)));
        let workers = tokio::spawn(pool.run(shutdown.clone()));
        let app = axum::Router::new()
            .nest_service("/api/v1", veil_entity_service::router(state.clone()))
            .layer(tower_http::limit::RequestBodyLimitLayer::new(
                TEST_BODY_LIMIT,
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral port");
        let base = format!("http://{}/api/v1", listener.local_addr().expect("address"));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        App {
            base,
            http: reqwest::Client::new(),
            blobs,
            state,
            database,
            server,
            workers,
            shutdown,
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.workers.await;
        self.server.abort();
        self.database.teardown().await;
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("Authorization", token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        if status.is_client_error() || status.is_server_error() {
            let content_type = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_string();
            assert_eq!(content_type, "application/problem+json", "{path}");
        }
        let text = response.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        if status.is_client_error() {
            assert_eq!(value["status"], status.as_u16(), "{value}");
            assert!(value["detail"].as_str().is_some_and(|d| !d.is_empty()));
        }
        (status, value)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn create(&self, body: Value) -> Project {
        let (status, created) = self.post("/projects", None, body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        Project {
            id: created["project_id"].as_str().unwrap().to_string(),
            result: created["result_token"].as_str().unwrap().to_string(),
            updates: created["update_tokens"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_string())
                .collect(),
        }
    }

    pub async fn contributed(&self, project: &Project) -> u64 {
        let (status, body) = self
            .get(&format!("/projects/{}", project.id), Some(&project.result))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["parties_contributed"].as_u64().unwrap()
    }

    pub async fn blob_count(&self, project: &Project) -> usize {
        let prefix = format!("entity-service/projects/{}", project.id);
        self.blobs.list(&prefix).await.unwrap().len()
    }
}

pub struct Project {
    pub id: String,
    pub result: String,
    pub updates: Vec<String>,
}

pub fn is_token(value: &str) -> bool {
    value.len() == 48 && value.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

pub fn clks(count: usize, size: usize, seed: u8) -> Vec<String> {
    (0..count)
        .map(|i| STANDARD.encode(vec![seed.wrapping_add(i as u8); size]))
        .collect()
}

pub fn schema() -> Value {
    json!({"version": 3, "clkConfig": {"l": 1024}, "features": []})
}

/// Deterministic pseudo-random bytes (SplitMix64).
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// `count` random encodings of `size` bytes; encoding `i` of every party with the same `base`
/// derives from the same record, with `noise` bits flipped per party `salt` (so parties overlap).
pub fn party_encodings(
    base: u64,
    salt: u64,
    count: usize,
    size: usize,
    noise: usize,
) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let mut clk = random_bytes(base * 1_000_003 + i as u64, size);
            let flips = random_bytes(salt * 7_919 + i as u64, noise * 4);
            for flip in flips.chunks_exact(4) {
                let bit =
                    u32::from_le_bytes([flip[0], flip[1], flip[2], flip[3]]) as usize % (size * 8);
                clk[bit / 8] ^= 1 << (bit % 8);
            }
            clk
        })
        .collect()
}

pub fn base64_all(encodings: &[Vec<u8>]) -> Vec<String> {
    encodings.iter().map(|clk| STANDARD.encode(clk)).collect()
}

impl App {
    pub async fn delete(&self, path: &str, token: &str) -> StatusCode {
        self.send(reqwest::Method::DELETE, path, Some(token), None)
            .await
            .0
    }

    /// Uploads `encodings` as `{"clks": …}` for `party`; returns the receipt token.
    pub async fn upload_json(
        &self,
        project: &Project,
        party: usize,
        encodings: &[Vec<u8>],
    ) -> String {
        let (status, body) = self
            .post(
                &format!("/projects/{}/clks", project.id),
                Some(&project.updates[party]),
                json!({"clks": base64_all(encodings)}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["receipt_token"].as_str().unwrap().to_string()
    }

    /// Uploads `encodings` to `/binaryclks` for `party`; returns the status and body.
    pub async fn upload_binary(
        &self,
        project: &Project,
        party: usize,
        encodings: &[Vec<u8>],
        count: usize,
        size: usize,
    ) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/projects/{}/binaryclks", self.base, project.id))
            .header("Authorization", &project.updates[party])
            .header("Hash-Count", count.to_string())
            .header("Hash-Size", size.to_string())
            .header("Content-Type", "application/octet-stream")
            .body(encodings.concat())
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.expect("JSON body"))
    }

    /// Creates a run; returns its id.
    pub async fn create_run(&self, project: &Project, threshold: f64) -> String {
        let (status, body) = self
            .post(
                &format!("/projects/{}/runs", project.id),
                Some(&project.result),
                json!({"threshold": threshold, "name": "test run"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["threshold"], threshold);
        body["run_id"].as_str().unwrap().to_string()
    }

    /// Polls the run's status until it is completed or in error; checks on the way that stage and
    /// progress never go backwards. Returns the final status.
    pub async fn wait_for_run(&self, project: &Project, run: &str) -> Value {
        let path = format!("/projects/{}/runs/{run}/status", project.id);
        let mut last = (0i64, 0i64);
        for _ in 0..3000 {
            let (status, body) = self.get(&path, Some(&project.result)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let stage = body["current_stage"]["number"].as_i64().unwrap();
            let absolute = body["current_stage"]["progress"]["absolute"]
                .as_i64()
                .unwrap_or(0);
            assert!(
                (stage, absolute) >= last,
                "progress went backwards: {last:?} → {body}"
            );
            last = (stage, absolute);
            match body["state"].as_str().unwrap() {
                "completed" | "error" => return body,
                "created" | "queued" | "running" => {}
                other => panic!("unknown run state {other}"),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("run {run} did not finish");
    }

    /// The run's result with `token` (status and JSON).
    pub async fn result(
        &self,
        project: &Project,
        run: &str,
        token: &str,
        query: &str,
    ) -> (StatusCode, Value) {
        self.get(
            &format!("/projects/{}/runs/{run}/result{query}", project.id),
            Some(token),
        )
        .await
    }
}

/// `[[p, r], [p, r], score]` entries as tuples.
pub fn score_tuples(value: &Value) -> Vec<(u32, u32, u32, u32, f64)> {
    value
        .as_array()
        .expect("similarity_scores array")
        .iter()
        .map(|entry| {
            let ((da, ra), (db, rb), score): ((u32, u32), (u32, u32), f64) =
                serde_json::from_value(entry.clone()).expect("[[p, r], [p, r], score]");
            (da, ra, db, rb, score)
        })
        .collect()
}
