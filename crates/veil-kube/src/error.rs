//! Errors of the Kubernetes task runner, of service registration and of building an API client.

use std::path::PathBuf;

/// Why connecting to the Kubernetes API could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A setting is missing or inconsistent; the message names it.
    #[error("{0}")]
    Settings(String),
    /// The API configuration (URL, CA file, client certificate) could not be loaded.
    #[error("load the Kubernetes API configuration: {0}")]
    Config(String),
    /// The client could not be built from the configuration (for example an unreadable key).
    #[error("build the Kubernetes client: {0}")]
    Client(#[source] Box<kube::Error>),
}

/// Why a task's Kubernetes Job did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum KubeRunnerError {
    /// The task id cannot name a Job (it has no letter or digit).
    #[error("task id `{0}` cannot name a Kubernetes Job")]
    InvalidTaskId(String),
    /// An API call failed.
    #[error("{action} Job {job}: {source}")]
    Api {
        /// What was being done (`create`, `read`, `delete`).
        action: &'static str,
        /// The Job's name.
        job: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },
    /// The Job disappeared while it was being watched (deleted by someone else).
    #[error("Job {job} disappeared before it finished")]
    Disappeared {
        /// The Job's name.
        job: String,
    },
    /// The Job failed; `logs` holds the last log lines of its pods.
    #[error("Job {job} failed ({reason}); last log lines:\n{logs}")]
    Failed {
        /// The Job's name.
        job: String,
        /// The reason and message of the Job's `Failed` condition.
        reason: String,
        /// The tail of each pod's log, or why it could not be read.
        logs: String,
    },
    /// The run was cancelled and the Job deleted.
    #[error("Job {job} cancelled and deleted")]
    Cancelled {
        /// The Job's name.
        job: String,
    },
}

impl KubeRunnerError {
    pub(crate) fn api(action: &'static str, job: &str, source: kube::Error) -> Self {
        KubeRunnerError::Api {
            action,
            job: job.to_string(),
            source: Box::new(source),
        }
    }
}

/// Why registering (or deregistering) a Veil server as a Kubernetes Service failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// The settings cannot describe a valid Service; the message says why.
    #[error("{0}")]
    Settings(String),
    /// An API call failed.
    #[error("{action} {kind} {namespace}/{name}: {source}")]
    Api {
        /// What was being done (`create`, `replace`, `delete`).
        action: &'static str,
        /// `Service` or `Endpoints`.
        kind: &'static str,
        /// The namespace.
        namespace: String,
        /// The object's name.
        name: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },
    /// The file channel could not write a payload.
    #[error("write registration payload {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// This host's address could not be detected; set it explicitly.
    #[error("detect this host's address (set it explicitly instead): {0}")]
    Address(String),
}
