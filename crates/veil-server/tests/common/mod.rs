//! The whole app in-process for one test: a fresh database, a memory blob store, an in-process worker
//! pool and the HTTP server on an ephemeral port, driven over real HTTP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use reqwest::{Response, StatusCode};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use veil_auth::{Role, TokenIssuer};
use veil_client::VeilClient;
use veil_domain::{Job, JobId, JobState, NewJob};
use veil_metadata::testsuite::{fresh_sqlite, TestDatabase};
use veil_queue::{QueueSettings, SqlQueue, TaskQueue};
use veil_server::{AppState, Limits};
use veil_service::{AccessService, Actor, JobService, Platform, Registry, TaskRunner};
use veil_worker::{WorkerPool, WorkerSettings};

/// What `GET /api/config` must answer verbatim.
pub const REDACTED_CONFIG: &str = "[server]\nlisten = \"127.0.0.1:0\"\n\n[database]\nurl = \"postgres://veil:<redacted>@db.internal/veil\"\n";

/// How long any wait in these tests may take before it counts as a failure. Generous on purpose:
/// the tests share two cores with everything else.
pub const PATIENCE: Duration = Duration::from_secs(60);

const LEASE: Duration = Duration::from_secs(2);
const HEARTBEAT: Duration = Duration::from_millis(500);
const POLL: Duration = Duration::from_millis(20);
const WORKERS: u32 = 4;

/// The key the test server signs its tokens with.
pub const TOKEN_KEY: &[u8] = b"test signing key, at least 32 bytes long";
/// The issuer name of the test server's tokens.
pub const TOKEN_ISSUER: &str = "veil-test";
/// The administrator every test app has; [`TestApp::client`] and [`TestApp::http`] act as them.
pub const ADMIN: &str = "test-admin";
/// Every test user's password.
pub const PASSWORD: &str = "correct horse battery staple";

/// The token issuer of the test server (same key, same issuer).
pub fn token_issuer() -> TokenIssuer {
    TokenIssuer::new(
        TOKEN_KEY,
        TOKEN_ISSUER,
        Duration::from_secs(300),
        Duration::from_secs(3600),
    )
    .expect("token issuer")
}

/// A running server with its workers.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base: String,
    /// The typed client under test.
    pub client: VeilClient,
    /// A raw client, for status codes and headers.
    pub http: reqwest::Client,
    /// The database the app runs on.
    pub database: TestDatabase,
    /// The app's users, tokens and audit log.
    pub access: AccessService,
    /// The administrator's access token.
    pub admin_token: String,
    shutdown: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    runner: TaskRunner,
    workers: Option<JoinHandle<()>>,
}

impl TestApp {
    /// The app on a fresh SQLite database.
    pub async fn start() -> TestApp {
        TestApp::start_on(fresh_sqlite().await).await
    }

    /// The app with its workers on `database` (fresh and migrated).
    pub async fn start_on(database: TestDatabase) -> TestApp {
        let mut app = TestApp::start_without_workers(database).await;
        app.start_workers();
        app
    }

    /// The app with its workers on a fresh SQLite database, creating Entity Service projects only
    /// with an analyst's token (`auth.protect_project_creation`).
    pub async fn start_protected() -> TestApp {
        let mut app = TestApp::launch_with(fresh_sqlite().await, None, true, None).await;
        app.start_workers();
        app
    }

    /// The app with its workers on a fresh SQLite database, accepting the tokens `oidc` verifies.
    pub async fn start_with_oidc(oidc: veil_auth::OidcVerifier) -> TestApp {
        let database = fresh_sqlite().await;
        let mut app = TestApp::launch_with(database, None, false, Some(Arc::new(oidc))).await;
        app.start_workers();
        app
    }

    /// The app with its workers on a fresh SQLite database, with `limits` on every route.
    pub async fn start_with_limits(limits: Limits) -> TestApp {
        let mut app = TestApp::launch(fresh_sqlite().await, Some(limits)).await;
        app.start_workers();
        app
    }

    /// The app on `database` with no worker yet: jobs stay queued until [`TestApp::start_workers`].
    pub async fn start_without_workers(database: TestDatabase) -> TestApp {
        TestApp::launch(database, None).await
    }

    async fn launch(database: TestDatabase, limits: Option<Limits>) -> TestApp {
        TestApp::launch_with(database, limits, false, None).await
    }

    /// The app with its workers on a fresh SQLite database and Entity-Service-style options.
    pub async fn launch_with(
        database: TestDatabase,
        limits: Option<Limits>,
        protect_project_creation: bool,
        oidc: Option<Arc<veil_auth::OidcVerifier>>,
    ) -> TestApp {
        let settings = QueueSettings {
            backoff_base: Duration::from_millis(20),
            backoff_max: Duration::from_millis(200),
        };
        let queue: Arc<dyn TaskQueue> = Arc::new(SqlQueue::new(&database.database, settings));
        let platform = Platform {
            store: database.database.metadata_store(),
            queue,
            blobs: veil_blob::open("memory://", &Default::default()).expect("memory blob store"),
            registry: Arc::new(Registry::with_builtin_kinds()),
            max_attempts: 3,
        };
        let shutdown = CancellationToken::new();
        let runner = TaskRunner::new(platform.clone(), LEASE, HEARTBEAT);
        let access = AccessService::new(
            database.database.access_store(),
            Arc::new(token_issuer()),
            oidc,
        );
        access
            .add_user(ADMIN, PASSWORD, &[Role::Admin], &Actor::local_cli())
            .await
            .expect("add the test administrator");
        let admin_token = token_issuer()
            .issue(ADMIN, &[Role::Admin])
            .expect("issue a token")
            .access_token;
        let entity_service = veil_entity_service::router(veil_entity_service::EntityState::new(
            database.database.clone(),
            platform.blobs.clone(),
            JobService::new(platform.clone()),
            veil_entity_service::RunSettings {
                chunk_comparisons: 1_000_000,
                max_candidates: 1_000_000,
            },
        ));
        let state = AppState {
            jobs: JobService::new(platform),
            redacted_config: Arc::from(REDACTED_CONFIG),
            access: access.clone(),
            protect_project_creation,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral port");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let router = match limits {
            Some(limits) => veil_server::router_with_limits(state, Some(entity_service), &limits),
            None => veil_server::router_with_v1(state, Some(entity_service)),
        };
        let server = tokio::spawn(veil_server::serve(listener, router, shutdown.clone()));

        let mut headers = reqwest::header::HeaderMap::new();
        let bearer = format!("Bearer {admin_token}");
        headers.insert(
            reqwest::header::AUTHORIZATION,
            bearer.parse().expect("header value"),
        );
        let http = reqwest::Client::builder()
            .timeout(PATIENCE)
            .default_headers(headers)
            .build()
            .expect("build HTTP client");
        TestApp {
            client: VeilClient::new(&base)
                .expect("client for the test server")
                .with_token(&admin_token),
            base,
            http,
            database,
            access,
            admin_token,
            shutdown,
            server,
            runner,
            workers: None,
        }
    }

    /// Starts the in-process worker pool.
    pub fn start_workers(&mut self) {
        assert!(self.workers.is_none(), "workers already started");
        let mut settings = WorkerSettings::new(WORKERS, POLL);
        settings.shutdown_grace = Duration::from_secs(2);
        let pool = WorkerPool::new(self.runner.clone(), settings);
        self.workers = Some(tokio::spawn(pool.run(self.shutdown.clone())));
    }

    /// Stops the server and the workers, then removes the database.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let server = tokio::time::timeout(PATIENCE, self.server)
            .await
            .expect("server stops in time")
            .expect("server task did not panic");
        server.expect("server ran without I/O errors");
        if let Some(workers) = self.workers {
            tokio::time::timeout(PATIENCE, workers)
                .await
                .expect("workers stop in time")
                .expect("worker task did not panic");
        }
        self.database.teardown().await;
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("GET reaches the server")
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST reaches the server")
    }

    /// `POST path` with these bytes as an `application/json` body.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Response {
        self.http
            .post(self.url(path))
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .expect("POST reaches the server")
    }

    /// Submits a job through the typed client.
    pub async fn submit(&self, kind: &str, params: serde_json::Value) -> Job {
        self.client
            .submit_job(&NewJob {
                kind: kind.to_string(),
                params,
                owner: Some("tester".to_string()),
            })
            .await
            .expect("job accepted")
    }

    /// Waits for the job to finish and checks it succeeded.
    pub async fn wait_for_success(&self, id: JobId) -> Job {
        let job = self
            .client
            .wait_for_job(id, PATIENCE)
            .await
            .expect("job finishes in time");
        assert_eq!(
            job.state,
            JobState::Succeeded,
            "job {id} ended {}: {:?}",
            job.state,
            job.error
        );
        job
    }

    /// Polls `check` until it returns `Some`, panicking with `what` after [`PATIENCE`].
    pub async fn eventually<T>(&self, what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(value) = check().await {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "gave up after {PATIENCE:?} waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The response's `content-type`, or an empty string.
pub fn content_type(response: &Response) -> String {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Checks that `response` is a problem-JSON answer with `status` whose detail mentions every one of
/// `mentions`, and returns the problem document.
pub async fn expect_problem(
    response: Response,
    status: StatusCode,
    mentions: &[&str],
) -> serde_json::Value {
    let url = response.url().clone();
    assert_eq!(response.status(), status, "status of {url}");
    assert_eq!(
        content_type(&response),
        "application/problem+json",
        "content type of {url}"
    );
    let problem: serde_json::Value = response.json().await.expect("problem body is JSON");
    assert_eq!(problem["type"], "about:blank", "{problem}");
    assert_eq!(
        problem["title"].as_str(),
        status.canonical_reason(),
        "{problem}"
    );
    assert_eq!(problem["status"], status.as_u16(), "{problem}");
    let detail = problem["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("problem without a detail: {problem}"));
    for mention in mentions {
        assert!(
            detail.contains(mention),
            "detail of {url} should mention {mention:?}: {detail}"
        );
    }
    problem
}
