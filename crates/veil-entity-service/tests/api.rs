//! The compatibility API over real HTTP: the router nested at `/api/v1` on an ephemeral port, a fresh
//! SQLite (or, with `VEIL_TEST_POSTGRES_URL`, PostgreSQL) database and an in-memory blob store.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};
use veil_blob::BlobStore;
use veil_entity_service::EntityState;
use veil_metadata::testsuite::{fresh_postgres, fresh_sqlite, postgres_url_from_env, TestDatabase};

struct App {
    base: String,
    http: reqwest::Client,
    blobs: Arc<dyn BlobStore>,
    database: TestDatabase,
    server: tokio::task::JoinHandle<()>,
}

impl App {
    async fn start(database: TestDatabase) -> App {
        let blobs = veil_blob::open("memory://", &Default::default()).expect("memory blob store");
        let state = EntityState::new(database.database.clone(), blobs.clone());
        let app = axum::Router::new().nest_service("/api/v1", veil_entity_service::router(state));
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
            database,
            server,
        }
    }

    async fn stop(self) {
        self.server.abort();
        self.database.teardown().await;
    }

    async fn send(
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

    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    async fn create(&self, body: Value) -> Project {
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

    async fn contributed(&self, project: &Project) -> u64 {
        let (status, body) = self
            .get(&format!("/projects/{}", project.id), Some(&project.result))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["parties_contributed"].as_u64().unwrap()
    }

    async fn blob_count(&self, project: &Project) -> usize {
        let prefix = format!("entity-service/projects/{}", project.id);
        self.blobs.list(&prefix).await.unwrap().len()
    }
}

struct Project {
    id: String,
    result: String,
    updates: Vec<String>,
}

fn is_token(value: &str) -> bool {
    value.len() == 48 && value.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

fn clks(count: usize, size: usize, seed: u8) -> Vec<String> {
    (0..count)
        .map(|i| STANDARD.encode(vec![seed.wrapping_add(i as u8); size]))
        .collect()
}

fn schema() -> Value {
    json!({"version": 3, "clkConfig": {"l": 1024}, "features": []})
}

#[tokio::test]
async fn create_list_and_describe_with_each_token_kind() {
    let app = App::start(fresh_sqlite().await).await;
    let groups = app
        .create(json!({"schema": schema(), "result_type": "groups", "name": "n", "notes": "x"}))
        .await;
    assert!(is_token(&groups.id) && is_token(&groups.result));
    assert_eq!(groups.updates.len(), 2);
    assert!(groups.updates.iter().all(|t| is_token(t)));

    let (status, list) = app.get("/projects", None).await;
    assert_eq!(status, StatusCode::OK);
    let listed = list.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["project_id"], groups.id.as_str());
    assert!(listed[0]["time_added"].as_str().is_some());

    let path = format!("/projects/{}", groups.id);
    let (status, body) = app.get(&path, Some(&groups.result)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["project_id"], groups.id.as_str());
    assert_eq!(body["name"], "n");
    assert_eq!(body["notes"], "x");
    assert_eq!(body["result_type"], "groups");
    assert_eq!(body["number_parties"], 2);
    assert_eq!(body["parties_contributed"], 0);
    assert_eq!(body["uses_blocking"], false);
    assert_eq!(body["error"], false);
    assert_eq!(body["schema"], schema());
    // As in the original: groups projects describe only to the result token.
    assert_eq!(
        app.get(&path, Some(&groups.updates[0])).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&path, Some(&"0".repeat(48))).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.get(&path, None).await.0, StatusCode::FORBIDDEN);
    let unknown = format!("/projects/{}", "a".repeat(48));
    assert_eq!(
        app.get(&unknown, Some(&groups.result)).await.0,
        StatusCode::FORBIDDEN
    );

    let perms = app
        .create(json!({"schema": schema(), "result_type": "permutations"}))
        .await;
    let path = format!("/projects/{}", perms.id);
    for token in [&perms.result, &perms.updates[0], &perms.updates[1]] {
        let (status, body) = app.get(&path, Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["name"], "");
    }
    assert_eq!(
        app.get(&path, Some(&groups.result)).await.0,
        StatusCode::FORBIDDEN
    );
    app.stop().await;
}

#[tokio::test]
async fn invalid_project_requests_are_400() {
    let app = App::start(fresh_sqlite().await).await;
    for body in [
        json!({"schema": schema(), "result_type": "permutations", "number_parties": 3}),
        json!({"schema": schema(), "result_type": "similarity_scores", "number_parties": 3}),
        json!({"result_type": "groups"}),
        json!({"schema": schema()}),
        json!({"schema": schema(), "result_type": "mapping"}),
        json!({"schema": schema(), "result_type": "groups", "number_parties": 1}),
        json!({"schema": "text", "result_type": "groups"}),
        json!([1, 2]),
    ] {
        let (status, problem) = app.post("/projects", None, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {problem}");
    }
    let (status, _) = app
        .post("/projects", None, json!({"schema": schema()}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let three = app
        .create(json!({"schema": schema(), "result_type": "groups", "number_parties": 3}))
        .await;
    assert_eq!(three.updates.len(), 3);
    let (_, list) = app.get("/projects", None).await;
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "nothing stored for invalid requests"
    );
    app.stop().await;
}

/// Create, upload, refuse a second upload, reject invalid uploads without storing, retry.
async fn upload_flow(app: &App) {
    let project = app
        .create(json!({"schema": schema(), "result_type": "groups"}))
        .await;
    let clks_path = format!("/projects/{}/clks", project.id);
    let first = clks(5, 128, 1);
    let (status, receipt) = app
        .post(
            &clks_path,
            Some(&project.updates[0]),
            json!({"clks": first}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_eq!(receipt["message"], "Updated");
    assert!(is_token(receipt["receipt_token"].as_str().unwrap()));
    assert_eq!(app.contributed(&project).await, 1);
    let keys = app
        .blobs
        .list(&format!("entity-service/projects/{}", project.id))
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    let stored = app.blobs.get(&keys[0]).await.unwrap();
    let expected: Vec<u8> = first
        .iter()
        .flat_map(|c| STANDARD.decode(c).unwrap())
        .collect();
    assert_eq!(stored.to_vec(), expected);

    let (status, _) = app
        .post(
            &clks_path,
            Some(&project.updates[0]),
            json!({"clks": first}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "one upload per party");
    for token in [project.result.as_str(), &"f".repeat(48)] {
        let (status, _) = app
            .post(&clks_path, Some(token), json!({"clks": first}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, _) = app.post(&clks_path, None, json!({"clks": first})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let second = &project.updates[1];
    let mut bad_base64 = clks(3, 128, 9);
    bad_base64[1] = "not base64!".to_string();
    let mut unequal = clks(3, 128, 9);
    unequal[2] = STANDARD.encode([1u8; 64]);
    for body in [
        json!({"clks": bad_base64}),
        json!({"clks": unequal}),
        json!({"clks": clks(3, 64, 9)}),
        json!({"clks": []}),
        json!({"clks": clks(3, 128, 9), "blocks": {"0": ["1"]}}),
    ] {
        let (status, problem) = app.post(&clks_path, Some(second), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        assert_eq!(app.contributed(&project).await, 1);
        assert_eq!(app.blob_count(&project).await, 1, "nothing stored");
    }
    let (status, receipt) = app
        .post(&clks_path, Some(second), json!({"clks": clks(3, 128, 9)}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "retry succeeds: {receipt}");
    assert_eq!(app.contributed(&project).await, 2);
    assert_eq!(app.blob_count(&project).await, 2);
    let (_, body) = app
        .get(&format!("/projects/{}", project.id), Some(&project.result))
        .await;
    assert_eq!(body["error"], false);
}

#[tokio::test]
async fn uploads_on_sqlite() {
    let app = App::start(fresh_sqlite().await).await;
    upload_flow(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn uploads_on_postgres() {
    let Some(url) = postgres_url_from_env() else {
        eprintln!("skipped: VEIL_TEST_POSTGRES_URL is not set");
        return;
    };
    let app = App::start(fresh_postgres(&url).await).await;
    upload_flow(&app).await;
    let blocked = app
        .create(json!({"schema": schema(), "result_type": "groups", "uses_blocking": true}))
        .await;
    let path = format!("/projects/{}/clks", blocked.id);
    let rows = json!({"clknblocks": [[clks(1, 8, 0)[0], "a", 1]]});
    assert_eq!(
        app.post(&path, Some(&blocked.updates[0]), rows).await.0,
        StatusCode::CREATED
    );
    let delete = app
        .send(
            reqwest::Method::DELETE,
            &format!("/projects/{}", blocked.id),
            Some(&blocked.result),
            None,
        )
        .await;
    assert_eq!(delete.0, StatusCode::NO_CONTENT);
    app.stop().await;
}

#[tokio::test]
async fn blocking_rules_both_ways() {
    let app = App::start(fresh_sqlite().await).await;
    let blocked = app
        .create(json!({"schema": schema(), "result_type": "groups", "uses_blocking": true}))
        .await;
    let path = format!("/projects/{}/clks", blocked.id);
    let one = &blocked.updates[0];
    let encodings = clks(2, 16, 3);
    for body in [
        json!({"clks": encodings}),
        json!({"encodings": encodings}),
        json!({"clknblocks": [[encodings[0]], [encodings[1], "b"]]}),
        json!({"encodings": encodings, "blocks": {"7": ["b"]}}),
    ] {
        let (status, problem) = app.post(&path, Some(one), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    }
    let rows = json!({"clknblocks": [[encodings[0], "b1", 2], [encodings[1], "b1"]]});
    assert_eq!(
        app.post(&path, Some(one), rows).await.0,
        StatusCode::CREATED
    );
    let body = json!({"encodings": clks(4, 16, 5), "blocks": {"0": ["b1"], "3": ["b2", 7]}});
    assert_eq!(
        app.post(&path, Some(&blocked.updates[1]), body).await.0,
        StatusCode::CREATED
    );
    assert_eq!(app.contributed(&blocked).await, 2);
    assert_eq!(
        app.blob_count(&blocked).await,
        4,
        "encodings and blocks per upload"
    );

    let plain = app
        .create(json!({"schema": schema(), "result_type": "groups"}))
        .await;
    let path = format!("/projects/{}/clks", plain.id);
    let one = &plain.updates[0];
    for body in [
        json!({"clknblocks": [[encodings[0], "b"]]}),
        json!({"encodings": encodings, "blocks": {"0": ["b"]}}),
        json!({"encodings": {"file": {"bucket": "b", "path": "p"}}}),
    ] {
        let (status, problem) = app.post(&path, Some(one), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    }
    let body = json!({"encodings": encodings});
    assert_eq!(
        app.post(&path, Some(one), body).await.0,
        StatusCode::CREATED
    );
    assert_eq!(app.contributed(&plain).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn delete_removes_rows_and_blobs() {
    let app = App::start(fresh_sqlite().await).await;
    let project = app
        .create(json!({"schema": schema(), "result_type": "groups"}))
        .await;
    let keep = app
        .create(json!({"schema": schema(), "result_type": "groups"}))
        .await;
    let path = format!("/projects/{}", project.id);
    let body = json!({"clks": clks(2, 8, 1)});
    app.post(&format!("{path}/clks"), Some(&project.updates[0]), body)
        .await;
    assert_eq!(app.blob_count(&project).await, 1);

    let delete = |token: Option<String>| {
        let path = path.clone();
        let app = &app;
        async move {
            app.send(reqwest::Method::DELETE, &path, token.as_deref(), None)
                .await
                .0
        }
    };
    assert_eq!(
        delete(Some(project.updates[0].clone())).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(delete(None).await, StatusCode::FORBIDDEN);
    assert_eq!(
        delete(Some(project.result.clone())).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.blob_count(&project).await, 0);
    assert_eq!(
        app.get(&path, Some(&project.result)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete(Some(project.result.clone())).await,
        StatusCode::FORBIDDEN
    );
    let (_, list) = app.get("/projects", None).await;
    assert_eq!(
        list,
        json!([{"project_id": keep.id, "time_added": list[0]["time_added"]}])
    );
    let (_, status) = app.get("/status", None).await;
    assert_eq!(status["project_count"], 1);
    app.stop().await;
}

#[tokio::test]
async fn doubled_slashes_status_version_and_external_upload() {
    let app = App::start(fresh_sqlite().await).await;
    let (status, body) = app.get("/status", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok", "project_count": 0, "rate": 0}));
    let (status, body) = app.get("/version", None).await;
    assert_eq!(status, StatusCode::OK);
    for field in ["anonlink", "entityservice", "python"] {
        assert!(body[field].as_str().is_some(), "{field} in {body}");
    }

    let (status, created) = app
        .post(
            "//projects",
            None,
            json!({"schema": schema(), "result_type": "groups"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["project_id"].as_str().unwrap();
    let token = created["result_token"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("//projects//{id}"), Some(token)).await.0,
        StatusCode::OK
    );

    let update = created["update_tokens"][0].as_str().unwrap();
    let (status, problem) = app
        .get(
            &format!("/projects/{id}/authorize-external-upload"),
            Some(update),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(problem["title"], "Feature Disabled");

    assert_eq!(app.get("/nothing", None).await.0, StatusCode::NOT_FOUND);
    let put = app
        .send(reqwest::Method::PUT, "/projects", None, None)
        .await;
    assert_eq!(put.0, StatusCode::METHOD_NOT_ALLOWED);
    app.stop().await;
}
