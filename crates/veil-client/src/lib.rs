//! A typed client for Veil's native HTTP API. It depends only on the domain types, never on the server.
//! [`entity`] is the client of the Anonlink Entity Service API (`/api/v1`).

pub mod entity;

use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use veil_domain::{Job, JobDescription, JobFilter, JobId, NewJob, QueueStats};

pub use entity::{EntityClient, EntityClientError};

/// The server the CLI talks to unless told otherwise.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8851";

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server URL is not usable.
    #[error("invalid server URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server could not be reached.
    #[error("cannot reach Veil at {url}: {source}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// The transport error.
        source: reqwest::Error,
    },
    /// The server answered with an error status.
    #[error("{status}: {detail}")]
    Api {
        /// The status code.
        status: StatusCode,
        /// The problem's detail, as the server put it.
        detail: String,
    },
    /// The server's answer could not be decoded.
    #[error("unexpected answer from {url}: {reason}")]
    Decode {
        /// The URL called.
        url: String,
        /// What could not be decoded.
        reason: String,
    },
    /// A wait ran out of time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}

/// A client bound to one Veil server.
#[derive(Debug, Clone)]
pub struct VeilClient {
    base: url::Url,
    http: reqwest::Client,
    token: Option<String>,
}

impl VeilClient {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:8851`).
    pub fn new(base: &str) -> Result<Self, ClientError> {
        let invalid = |reason: String| ClientError::InvalidUrl {
            url: base.to_string(),
            reason,
        };
        let mut parsed = url::Url::parse(base).map_err(|err| invalid(err.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("expected http:// or https://".to_string()));
        }
        if !parsed.path().ends_with('/') {
            let path = format!("{}/", parsed.path());
            parsed.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|err| invalid(err.to_string()))?;
        Ok(Self {
            base: parsed,
            http,
            token: None,
        })
    }

    /// The same client, sending `token` as `Authorization: Bearer` (the native API needs one; see
    /// [`VeilClient::login`]).
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// `POST /api/auth/login`: a token pair for `username`.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<serde_json::Value, ClientError> {
        let body = serde_json::json!({"username": username, "password": password});
        self.json(Method::POST, "api/auth/login", Some(body)).await
    }

    fn url(&self, path: &str) -> Result<url::Url, ClientError> {
        self.base.join(path).map_err(|err| ClientError::InvalidUrl {
            url: path.to_string(),
            reason: err.to_string(),
        })
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<Bytes, ClientError> {
        let url = self.url(path)?;
        let mut request = self.http.request(method, url.clone());
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let unreachable = |source| ClientError::Unreachable {
            url: url.to_string(),
            source,
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unreachable)?;
        if status.is_success() {
            return Ok(bytes);
        }
        let detail = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|problem| {
                problem
                    .get("detail")
                    .and_then(|d| d.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        Err(ClientError::Api { status, detail })
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, ClientError> {
        let bytes = self.send(method, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|err| ClientError::Decode {
            url: path.to_string(),
            reason: err.to_string(),
        })
    }

    /// `GET /healthz`.
    pub async fn health(&self) -> Result<(), ClientError> {
        self.send(Method::GET, "healthz", None).await.map(|_| ())
    }

    /// Submits a job.
    pub async fn submit_job(&self, request: &NewJob) -> Result<Job, ClientError> {
        let body = serde_json::to_value(request).map_err(|err| ClientError::Decode {
            url: "api/jobs".into(),
            reason: err.to_string(),
        })?;
        self.json(Method::POST, "api/jobs", Some(body)).await
    }

    /// Lists jobs, newest first.
    pub async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, ClientError> {
        let mut url = self.url("api/jobs")?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(state) = filter.state {
                query.append_pair("state", state.as_str());
            }
            if let Some(kind) = &filter.kind {
                query.append_pair("kind", kind);
            }
            if let Some(limit) = filter.limit {
                query.append_pair("limit", &limit.to_string());
            }
        }
        let path = match url.query() {
            Some(query) => format!("api/jobs?{query}"),
            None => "api/jobs".to_string(),
        };
        self.json(Method::GET, &path, None).await
    }

    /// A job with its tasks and event log.
    pub async fn describe_job(&self, id: JobId) -> Result<JobDescription, ClientError> {
        self.json(Method::GET, &format!("api/jobs/{id}"), None)
            .await
    }

    /// Cancels a job.
    pub async fn cancel_job(&self, id: JobId) -> Result<Job, ClientError> {
        self.json(Method::POST, &format!("api/jobs/{id}/cancel"), None)
            .await
    }

    /// A succeeded job's result bytes.
    pub async fn job_result(&self, id: JobId) -> Result<Bytes, ClientError> {
        self.send(Method::GET, &format!("api/jobs/{id}/result"), None)
            .await
    }

    /// The server's effective configuration (TOML, secrets redacted).
    pub async fn config(&self) -> Result<String, ClientError> {
        let bytes = self.send(Method::GET, "api/config", None).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Queue depth by condition.
    pub async fn queue_stats(&self) -> Result<QueueStats, ClientError> {
        self.json(Method::GET, "api/queue", None).await
    }

    /// Polls a job until it is finished or `timeout` passes.
    pub async fn wait_for_job(&self, id: JobId, timeout: Duration) -> Result<Job, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            let job = self.describe_job(id).await?.job;
            if job.state.is_terminal() {
                return Ok(job);
            }
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout(timeout));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_http_urls() {
        assert!(matches!(
            VeilClient::new("ftp://x"),
            Err(ClientError::InvalidUrl { .. })
        ));
        assert!(matches!(
            VeilClient::new("not a url"),
            Err(ClientError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn joins_paths_below_a_prefix() {
        let client = VeilClient::new("http://host:1/veil").unwrap();
        assert_eq!(
            client.url("api/jobs").unwrap().as_str(),
            "http://host:1/veil/api/jobs"
        );
    }
}
