//! The job and task state machines.
//!
//! A job moves `pending → queued → running → succeeded | failed | cancelled`; a task moves
//! `queued → running → succeeded | failed | cancelled` and may go back from `running` to `queued` when it
//! is retried. Storage backends persist states as the lowercase names returned by `as_str`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A state name that is not one of the known states.
#[derive(Debug, thiserror::Error)]
#[error("`{input}` is not a valid {what} state")]
pub struct StateParseError {
    /// Which state machine the name was meant for.
    pub what: &'static str,
    /// The rejected input.
    pub input: String,
}

macro_rules! state_enum {
    ($name:ident, $what:literal, [$($variant:ident => $text:literal),+ $(,)?]) => {
        impl $name {
            /// Every state, in lifecycle order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The state's persisted, lowercase name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = StateParseError;
            fn from_str(input: &str) -> Result<Self, Self::Err> {
                match input {
                    $($text => Ok($name::$variant),)+
                    _ => Err(StateParseError { what: $what, input: input.to_string() }),
                }
            }
        }
    };
}

/// Where a job is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Accepted, tasks not yet queued.
    Pending,
    /// Tasks queued, none started.
    Queued,
    /// At least one task has started.
    Running,
    /// Every task and the final step succeeded.
    Succeeded,
    /// A task failed after its retry budget, or planning failed.
    Failed,
    /// Cancelled by an operator.
    Cancelled,
}

state_enum!(JobState, "job", [
    Pending => "pending",
    Queued => "queued",
    Running => "running",
    Succeeded => "succeeded",
    Failed => "failed",
    Cancelled => "cancelled",
]);

impl JobState {
    /// Whether the job can no longer change.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }

    /// Whether the state machine allows moving from `self` to `next`.
    pub fn can_become(self, next: JobState) -> bool {
        use JobState::*;
        match (self, next) {
            (Pending, Queued) | (Queued, Running) => true,
            (from, Failed | Cancelled) => !from.is_terminal(),
            (Running, Succeeded) => true,
            _ => false,
        }
    }
}

/// Where a task is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Waiting in the queue (first delivery or a retry).
    Queued,
    /// Claimed by a worker that holds its lease.
    Running,
    /// Finished; its result is committed.
    Succeeded,
    /// Failed after its retry budget (dead-lettered).
    Failed,
    /// Its job was cancelled before it finished.
    Cancelled,
}

state_enum!(TaskState, "task", [
    Queued => "queued",
    Running => "running",
    Succeeded => "succeeded",
    Failed => "failed",
    Cancelled => "cancelled",
]);

impl TaskState {
    /// Whether the task can no longer change.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::Succeeded | TaskState::Failed | TaskState::Cancelled
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_names() {
        for state in JobState::ALL {
            assert_eq!(state.as_str().parse::<JobState>().unwrap(), *state);
            assert_eq!(
                serde_json::to_string(state).unwrap(),
                format!("\"{state}\"")
            );
        }
        for state in TaskState::ALL {
            assert_eq!(state.as_str().parse::<TaskState>().unwrap(), *state);
        }
    }

    #[test]
    fn terminal_job_states_never_change() {
        for from in JobState::ALL.iter().filter(|s| s.is_terminal()) {
            for to in JobState::ALL {
                assert!(!from.can_become(*to), "{from} -> {to} must be refused");
            }
        }
    }

    #[test]
    fn jobs_follow_the_documented_lifecycle() {
        use JobState::*;
        assert!(Pending.can_become(Queued));
        assert!(Queued.can_become(Running));
        assert!(Running.can_become(Succeeded));
        assert!(!Pending.can_become(Succeeded));
        assert!(!Queued.can_become(Succeeded));
        assert!(Queued.can_become(Cancelled));
        assert!(Running.can_become(Failed));
    }
}
