//! A small fake of the Kubernetes API server over plain HTTP on 127.0.0.1: an in-memory object store
//! (POST to a collection, GET/PUT/DELETE of an object, 409 and 404 as the real server answers), a pod
//! list and pod logs given by the test, and a record of every request.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Option<Value>,
}

/// What the fake holds and has seen.
#[derive(Default)]
pub struct FakeState {
    pub requests: Mutex<Vec<Recorded>>,
    /// Objects by their path, e.g. `/apis/batch/v1/namespaces/veil/jobs/NAME`.
    pub objects: Mutex<BTreeMap<String, Value>>,
    /// The status a Job gets when it is created (none: it keeps running).
    pub job_status: Mutex<Option<Value>>,
    /// The pods listed under `/api/v1/namespaces/*/pods`.
    pub pods: Mutex<Vec<Value>>,
    /// Pod logs by pod name.
    pub logs: Mutex<BTreeMap<String, String>>,
}

impl FakeState {
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn requests_to(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|request| request.method == method && request.path == path)
            .collect()
    }

    /// Waits until a request with `method` to `path` has arrived.
    pub async fn wait_for(&self, method: &str, path: &str) {
        for _ in 0..500 {
            if !self.requests_to(method, path).is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no {method} {path} within 5 s; saw {:#?}", self.requests());
    }
}

/// A running fake API server.
pub struct FakeApi {
    pub url: String,
    pub state: Arc<FakeState>,
}

impl FakeApi {
    pub async fn start() -> FakeApi {
        let state = Arc::new(FakeState::default());
        let router = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        FakeApi { url, state }
    }

    /// A kube client talking to this fake, default namespace `veil`.
    pub fn client(&self) -> kube::Client {
        let mut config = kube::Config::new(self.url.parse().unwrap());
        config.default_namespace = "veil".to_string();
        kube::Client::try_from(config).unwrap()
    }
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": if code < 300 { "Success" } else { "Failure" },
        "message": message,
        "reason": reason,
        "code": code,
    });
    (StatusCode::from_u16(code).unwrap(), axum::Json(body)).into_response()
}

async fn handle(
    State(state): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let body_json: Option<Value> = serde_json::from_slice(&body).ok();
    state.requests.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        query: uri.query().unwrap_or_default().to_string(),
        body: body_json.clone(),
    });
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();

    // Pod logs and the pod list.
    if method == Method::GET && segments.last() == Some(&"log") && segments.len() >= 2 {
        let pod = segments[segments.len() - 2];
        return match state.logs.lock().unwrap().get(pod) {
            Some(text) => text.clone().into_response(),
            None => status(404, "NotFound", &format!("pods \"{pod}\" not found")),
        };
    }
    if method == Method::GET && segments.len() == 5 && segments[4] == "pods" {
        let items = state.pods.lock().unwrap().clone();
        let list = json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items});
        return axum::Json(list).into_response();
    }

    let mut objects = state.objects.lock().unwrap();
    match method {
        Method::POST => {
            let Some(mut object) = body_json else {
                return status(400, "BadRequest", "no JSON body");
            };
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let key = format!("{path}/{name}");
            if objects.contains_key(&key) {
                return status(409, "AlreadyExists", &format!("\"{name}\" already exists"));
            }
            object["metadata"]["resourceVersion"] = json!("1");
            object["metadata"]["uid"] = json!(format!("uid-{name}"));
            if path.ends_with("/jobs") {
                if let Some(job_status) = state.job_status.lock().unwrap().clone() {
                    object["status"] = job_status;
                }
            }
            objects.insert(key, object.clone());
            (StatusCode::CREATED, axum::Json(object)).into_response()
        }
        Method::GET => match objects.get(&path) {
            Some(object) => axum::Json(object.clone()).into_response(),
            None => status(404, "NotFound", "not found"),
        },
        Method::PUT => {
            let Some(mut object) = body_json else {
                return status(400, "BadRequest", "no JSON body");
            };
            if !objects.contains_key(&path) {
                return status(404, "NotFound", "not found");
            }
            object["metadata"]["resourceVersion"] = json!("2");
            objects.insert(path, object.clone());
            axum::Json(object).into_response()
        }
        Method::DELETE => match objects.remove(&path) {
            Some(_) => status(200, "", ""),
            None => status(404, "NotFound", "not found"),
        },
        _ => status(405, "MethodNotAllowed", "method not allowed"),
    }
}

/// A Job status whose only condition is `type_` = True.
pub fn job_status(type_: &str, reason: &str, message: &str) -> Value {
    json!({"conditions": [{"type": type_, "status": "True", "reason": reason, "message": message}]})
}
