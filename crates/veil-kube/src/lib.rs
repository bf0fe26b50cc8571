//! Veil on Kubernetes.
//!
//! - [`KubernetesTaskRunner`] runs one queued task as a batch/v1 Job that executes
//!   `veil task run --task-id ID` in a hardened pod, follows it to completion, reports a failed Job with
//!   its pods' last log lines and deletes the Job on cancellation.
//! - [`Registration`] registers a Veil server as a Service (with a pod selector in the cluster, or with an
//!   Endpoints object naming the host outside it) and deletes both on shutdown; a file channel writes the
//!   same requests to a directory instead.
//! - [`connect`] builds an API client from a URL, a bearer-token file or client certificate, and a CA
//!   file, always verifying the server's certificate.
//!
//! The objects sent are built by pure functions ([`build_job`], [`service_payload`],
//! [`endpoints_payload`]) so that they are tested without a cluster.

mod client;
mod error;
mod job_spec;
mod registration;
mod runner;

pub use client::{client_config, connect, ApiSettings};
pub use error::{ClientError, KubeRunnerError, RegistrationError};
pub use job_spec::{
    build_job, build_job_with_args, dns_label, job_name, task_labels, task_run_args, MountedVolume,
    ResourceSettings, TaskRunnerSettings, VolumeSource, JOB_ID_LABEL, JOB_NAME_POD_LABEL,
    JOB_NAME_PREFIX, MAX_NAME_LENGTH, TASK_CONTAINER, TASK_ID_LABEL,
};
pub use registration::{
    detect_address, endpoints_payload, service_payload, Channel, Placement, PortSettings,
    Registration, RegistrationSettings,
};
pub use runner::{job_outcome, JobOutcome, KubernetesTaskRunner};

pub use kube::Client;
pub use tokio_util::sync::CancellationToken;
