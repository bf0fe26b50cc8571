//! Identifiers of jobs and tasks.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An identifier string that is not a valid UUID.
#[derive(Debug, thiserror::Error)]
#[error("`{input}` is not a valid {what} id (expected a UUID)")]
pub struct IdParseError {
    /// What kind of id was expected.
    pub what: &'static str,
    /// The rejected input.
    pub input: String,
}

macro_rules! uuid_id {
    ($name:ident, $what:literal) => {
        #[doc = concat!("Identifier of a ", $what, ".")]
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            #[doc = concat!("A new random ", $what, " id.")]
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(input: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(input).map(Self).map_err(|_| IdParseError {
                    what: $what,
                    input: input.to_string(),
                })
            }
        }
    };
}

uuid_id!(JobId, "job");
uuid_id!(TaskId, "task");

impl TaskId {
    /// The deterministic id of task number `index` of `job`: re-planning a job never creates new task ids,
    /// so enqueueing the same task twice is idempotent.
    pub fn for_job(job: JobId, index: u32) -> Self {
        Self(Uuid::new_v5(&job.0, &index.to_be_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_strings() {
        let job = JobId::new_random();
        assert_eq!(job.to_string().parse::<JobId>().unwrap(), job);
    }

    #[test]
    fn bad_id_names_what_was_expected() {
        let err = "nope".parse::<JobId>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`nope` is not a valid job id (expected a UUID)"
        );
    }

    #[test]
    fn task_ids_are_deterministic_per_job_and_index() {
        let job = JobId::new_random();
        assert_eq!(TaskId::for_job(job, 3), TaskId::for_job(job, 3));
        assert_ne!(TaskId::for_job(job, 3), TaskId::for_job(job, 4));
        assert_ne!(
            TaskId::for_job(job, 3),
            TaskId::for_job(JobId::new_random(), 3)
        );
    }
}
