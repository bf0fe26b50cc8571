//! A typed client for the Anonlink Entity Service REST API v1: projects, uploads and runs. It works
//! against any Entity Service (Veil's `/api/v1`, or the original), retries rate-limited calls (503,
//! 429) with exponential backoff and streams upload bodies ([`UploadBody`]).
//!
//! Tokens go in the `Authorization` header as they are, as Entity Service clients send them.

mod body;
mod error;
mod types;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use error::problem;

pub use body::{ProgressFn, UploadBody};
/// The chunk type of [`UploadBody::from_chunks`].
pub use bytes::Bytes;
pub use error::{EntityClientError, EntityResult};
pub use types::{
    NewProject, NewRun, PartyRow, ProjectCredentials, ProjectDescription, ResultType,
    RunDescription, RunResult, RunStage, RunState, RunStatus, RunSummary, StageProgress,
    UploadReceipt,
};

/// The longest a call without an upload body may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(300);

/// How rate-limited calls are retried: delays double from `first_delay` up to `max_delay`; a
/// server's `Retry-After` (seconds) is honoured up to `max_delay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, at least 1.
    pub attempts: u32,
    /// Delay before the second attempt.
    pub first_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 8,
            first_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(15),
        }
    }
}

impl RetryPolicy {
    /// The delay after failed attempt `attempt` (1-based), or the server's `retry_after`.
    fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let doubled = self
            .first_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        retry_after.unwrap_or(doubled).min(self.max_delay)
    }
}

/// The base URL of the API: `server` with `/api/v1/` appended unless it already ends in `/api/v1`.
pub fn api_base_url(server: &str) -> EntityResult<url::Url> {
    let invalid = |reason: String| EntityClientError::InvalidUrl {
        url: server.to_string(),
        reason,
    };
    let mut url = url::Url::parse(server.trim()).map_err(|err| invalid(err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("expected http:// or https://".to_string()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("expected no query or fragment".to_string()));
    }
    let path = url.path().trim_end_matches('/').to_string();
    let path = if path.ends_with("/api/v1") {
        format!("{path}/")
    } else {
        format!("{path}/api/v1/")
    };
    url.set_path(&path);
    Ok(url)
}

/// A client bound to one Entity Service.
#[derive(Debug, Clone)]
pub struct EntityClient {
    base: url::Url,
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl EntityClient {
    /// A client for the service at `server` (e.g. `http://host:8851` or `http://host:8851/api/v1`).
    pub fn new(server: &str) -> EntityResult<Self> {
        let base = api_base_url(server)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|err| EntityClientError::InvalidUrl {
                url: server.to_string(),
                reason: err.to_string(),
            })?;
        Ok(Self {
            base,
            http,
            retry: RetryPolicy::default(),
        })
    }

    /// The same client with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The API's base URL (ending in `/api/v1/`).
    pub fn base_url(&self) -> &url::Url {
        &self.base
    }

    /// The URL of `segments` below the base, each percent-encoded as one path segment.
    fn url(&self, segments: &[&str]) -> url::Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Sends the request `build` makes (once per attempt), retrying 503 and 429 answers. Returns
    /// the body of a successful answer.
    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        token: Option<&str>,
        upload: Option<&UploadBody>,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> EntityResult<Bytes> {
        let url = self.url(segments);
        let attempts = self.retry.attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = build(self.http.request(method.clone(), url.clone()));
            if let Some(token) = token {
                let value =
                    HeaderValue::from_str(token).map_err(|_| EntityClientError::InvalidToken)?;
                request = request.header(AUTHORIZATION, value);
            }
            let failure = Arc::new(Mutex::new(None));
            match upload {
                Some(body) => {
                    request = request
                        .header(CONTENT_LENGTH, body.len())
                        .body(body.attempt(failure.clone()));
                }
                None => request = request.timeout(CALL_TIMEOUT),
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(source) => {
                    if let Some(read) = failure.lock().ok().and_then(|mut slot| slot.take()) {
                        return Err(EntityClientError::Body {
                            path: upload.and_then(UploadBody::file).map(Into::into),
                            source: read,
                        });
                    }
                    return Err(EntityClientError::Unreachable {
                        url: url.to_string(),
                        source,
                    });
                }
            };
            let status = response.status();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|text| text.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = response
                .bytes()
                .await
                .map_err(|source| EntityClientError::Unreachable {
                    url: url.to_string(),
                    source,
                })?;
            if status.is_success() {
                return Ok(body);
            }
            let rate_limited = matches!(
                status,
                StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
            );
            if rate_limited && attempt < attempts {
                tokio::time::sleep(self.retry.delay(attempt, retry_after)).await;
                continue;
            }
            return Err(problem(status, &body, attempt));
        }
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        token: Option<&str>,
        body: Option<&impl serde::Serialize>,
    ) -> EntityResult<T> {
        let bytes = self
            .send(method, segments, token, None, |request| match body {
                Some(body) => request.json(body),
                None => request,
            })
            .await?;
        self.decode(segments, &bytes)
    }

    fn decode<T: DeserializeOwned>(&self, segments: &[&str], bytes: &[u8]) -> EntityResult<T> {
        serde_json::from_slice(bytes).map_err(|err| EntityClientError::Decode {
            url: self.url(segments).to_string(),
            reason: err.to_string(),
        })
    }

    /// `GET /status`: the service's status document.
    pub async fn service_status(&self) -> EntityResult<serde_json::Value> {
        self.json(Method::GET, &["status"], None, None::<&()>).await
    }

    /// `POST /projects`: creates a project and returns its credentials.
    pub async fn create_project(&self, project: &NewProject) -> EntityResult<ProjectCredentials> {
        self.json(Method::POST, &["projects"], None, Some(project))
            .await
    }

    /// `GET /projects/{id}` with the result token (or, for permutations, an update token).
    pub async fn project(&self, project_id: &str, token: &str) -> EntityResult<ProjectDescription> {
        self.json(
            Method::GET,
            &["projects", project_id],
            Some(token),
            None::<&()>,
        )
        .await
    }

    /// `DELETE /projects/{id}` with the result token.
    pub async fn delete_project(&self, project_id: &str, token: &str) -> EntityResult<()> {
        self.send(
            Method::DELETE,
            &["projects", project_id],
            Some(token),
            None,
            |r| r,
        )
        .await
        .map(|_| ())
    }

    /// `POST /projects/{id}/clks` with a party's update token: `body` is a JSON upload document
    /// (`{"clks": …}`, `{"clknblocks": …}` or `{"encodings": …}`), streamed as it is.
    pub async fn upload_json(
        &self,
        project_id: &str,
        token: &str,
        body: &UploadBody,
    ) -> EntityResult<UploadReceipt> {
        let segments = ["projects", project_id, "clks"];
        let bytes = self
            .send(Method::POST, &segments, Some(token), Some(body), |r| {
                r.header(CONTENT_TYPE, "application/json")
            })
            .await?;
        self.decode(&segments, &bytes)
    }

    /// `POST /projects/{id}/binaryclks` with a party's update token: `body` is `count` encodings of
    /// `size` bytes each, concatenated.
    pub async fn upload_binary(
        &self,
        project_id: &str,
        token: &str,
        count: u64,
        size: u64,
        body: &UploadBody,
    ) -> EntityResult<UploadReceipt> {
        let segments = ["projects", project_id, "binaryclks"];
        let bytes = self
            .send(Method::POST, &segments, Some(token), Some(body), |r| {
                r.header(CONTENT_TYPE, "application/octet-stream")
                    .header("Hash-Count", count)
                    .header("Hash-Size", size)
            })
            .await?;
        self.decode(&segments, &bytes)
    }

    /// `POST /projects/{id}/runs` with the result token.
    pub async fn create_run(
        &self,
        project_id: &str,
        token: &str,
        run: &NewRun,
    ) -> EntityResult<RunDescription> {
        self.json(
            Method::POST,
            &["projects", project_id, "runs"],
            Some(token),
            Some(run),
        )
        .await
    }

    /// `GET /projects/{id}/runs` with the result token.
    pub async fn runs(&self, project_id: &str, token: &str) -> EntityResult<Vec<RunSummary>> {
        self.json(
            Method::GET,
            &["projects", project_id, "runs"],
            Some(token),
            None::<&()>,
        )
        .await
    }

    /// `GET /projects/{id}/runs/{run_id}/status` with the result token.
    pub async fn run_status(
        &self,
        project_id: &str,
        run_id: &str,
        token: &str,
    ) -> EntityResult<RunStatus> {
        self.json(
            Method::GET,
            &["projects", project_id, "runs", run_id, "status"],
            Some(token),
            None::<&()>,
        )
        .await
    }

    /// `GET /projects/{id}/runs/{run_id}/result` as the server sent it (JSON). `token` is the
    /// result token, or a party's receipt token for its permutation. A run that has not completed
    /// answers 404.
    pub async fn run_result_bytes(
        &self,
        project_id: &str,
        run_id: &str,
        token: &str,
    ) -> EntityResult<Bytes> {
        self.send(
            Method::GET,
            &["projects", project_id, "runs", run_id, "result"],
            Some(token),
            None,
            |r| r,
        )
        .await
    }

    /// The run's result, parsed.
    pub async fn run_result(
        &self,
        project_id: &str,
        run_id: &str,
        token: &str,
    ) -> EntityResult<RunResult> {
        let bytes = self.run_result_bytes(project_id, run_id, token).await?;
        self.decode(&["projects", project_id, "runs", run_id, "result"], &bytes)
    }

    /// `DELETE /projects/{id}/runs/{run_id}` with the result token.
    pub async fn delete_run(
        &self,
        project_id: &str,
        run_id: &str,
        token: &str,
    ) -> EntityResult<()> {
        self.send(
            Method::DELETE,
            &["projects", project_id, "runs", run_id],
            Some(token),
            None,
            |r| r,
        )
        .await
        .map(|_| ())
    }

    /// Polls the run's status every `interval` until it is completed or in error, passing each
    /// status to `on_status`; returns the final status.
    pub async fn wait_for_run(
        &self,
        project_id: &str,
        run_id: &str,
        token: &str,
        interval: Duration,
        mut on_status: impl FnMut(&RunStatus),
    ) -> EntityResult<RunStatus> {
        loop {
            let status = self.run_status(project_id, run_id, token).await?;
            on_status(&status);
            if status.state.is_final() {
                return Ok(status);
            }
            tokio::time::sleep(interval).await;
        }
    }
}

#[cfg(test)]
mod tests;
