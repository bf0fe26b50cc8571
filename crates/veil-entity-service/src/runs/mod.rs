//! Linkage runs: the `/runs` endpoints and the platform job that computes them.
//!
//! A run is stored at once (`created`); when every party has uploaded, it is planned into comparison
//! tasks ([`plan`]) and submitted as a [`LinkageRunJob`] ([`submit`]). The job's tasks run on the
//! platform's workers (leases, retries, crash recovery are the platform's); its final step merges the
//! candidates and writes the result ([`output`]). The run's status is derived from the job
//! ([`status`]).

pub mod candidates;
pub mod handlers;
pub mod job;
pub mod output;
pub mod plan;
pub mod status;
pub mod submit;

pub use job::{LinkageRunJob, RunJobParams, RUN_JOB_KIND};
