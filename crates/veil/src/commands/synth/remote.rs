//! `veil synth … --server URL`: the same commands run as hub jobs (`synth.train`,
//! `synth.generate`, `synth.analyse`) instead of on local files.
//!
//! The CLI submits the job, prints its id (so `veil job describe` can follow it), shows the
//! job's progress while polling, and downloads the job's result into the output file
//! atomically. A job that fails is an error (exit code 1) carrying the job's own message; a
//! refused token, an unknown or malformed job id and a job the hub rejects are usage errors
//! (exit code 2).

use std::io::IsTerminal as _;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use veil_client::{ClientError, VeilClient};
use veil_domain::{JobDescription, JobId, JobState, NewJob};

use crate::commands::link::files::write_atomically;
use crate::UsageError;

/// How often a running job is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Where to run: locally (the default) or as a job on a hub.
#[derive(Debug, Args)]
pub struct RemoteArgs {
    /// Run as a job on the Veil hub at URL instead of on local files; inputs are then paths in
    /// a source of the secure environment, or job ids.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Access token for the hub's native API (`veil login` prints one); only with --server.
    #[arg(long, env = "VEIL_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub token: Option<String>,
}

/// Where the private data is, for train and analyse: only with `--server`.
#[derive(Debug, Args)]
pub struct PlaceArgs {
    /// The secure environment holding the private data (with --server).
    #[arg(long, value_name = "ENV")]
    pub environment: Option<String>,
    /// The private source in that environment (with --server).
    #[arg(long, value_name = "SRC")]
    pub source: Option<String>,
}

impl PlaceArgs {
    /// Local mode: neither flag may be given.
    pub fn check_local(&self) -> anyhow::Result<()> {
        for (flag, value) in [
            ("--environment", &self.environment),
            ("--source", &self.source),
        ] {
            if value.is_some() {
                return Err(UsageError(format!(
                    "{flag} applies only with --server URL (the data is then read in that \
                     secure environment); without --server the input is a local file"
                ))
                .into());
            }
        }
        Ok(())
    }

    /// Hub mode: both flags are needed; the environment's and the source's names.
    pub fn required(&self) -> anyhow::Result<(&str, &str)> {
        let get = |flag: &str, what: &str, value: &'_ Option<String>| match value
            .as_deref()
            .filter(|value| !value.trim().is_empty())
        {
            Some(_) => Ok(()),
            None => Err(UsageError(format!(
                "{flag} is required with --server: name the {what} holding the private data"
            ))),
        };
        get("--environment", "secure environment", &self.environment)?;
        get("--source", "source", &self.source)?;
        Ok((
            self.environment.as_deref().unwrap_or_default(),
            self.source.as_deref().unwrap_or_default(),
        ))
    }
}

/// A connection to the hub named by `--server`.
pub struct Hub {
    client: VeilClient,
    server: String,
}

impl Hub {
    /// A client for `--server` (with `--token` when given); a bad URL is a usage error.
    pub fn connect(server: &str, remote: &RemoteArgs) -> anyhow::Result<Hub> {
        let client = VeilClient::new(server).map_err(|err| UsageError(err.to_string()))?;
        let client = match remote.token.as_deref().map(str::trim) {
            Some(token) if !token.is_empty() => client.with_token(token),
            _ => client,
        };
        Ok(Hub {
            client,
            server: server.to_string(),
        })
    }

    /// An API error as a message naming the problem; a refused token, a missing job and a
    /// rejected request are usage errors.
    fn error(&self, error: ClientError) -> anyhow::Error {
        match error {
            ClientError::Api { status, detail } if status.as_u16() == 401 => UsageError(format!(
                "{} refused the request ({status}: {detail}); give an access token with \
                     --token or VEIL_TOKEN (`veil login` prints one)",
                self.server
            ))
            .into(),
            ClientError::Api { status, detail } if status.is_client_error() => UsageError(format!(
                "{} rejected the request ({status}): {detail}",
                self.server
            ))
            .into(),
            other => anyhow::Error::new(other),
        }
    }

    /// Checks that `text` names a succeeded job of `kind` (the input of the next step); a
    /// malformed id, an unknown job, another kind or an unfinished job is a usage error.
    pub async fn input_job(&self, text: &str, kind: &str, flag: &str) -> anyhow::Result<JobId> {
        let id: JobId = text.trim().parse().map_err(|_| {
            UsageError(format!(
                "{flag} {text:?}: with --server this is the id of a {kind} job (a UUID)"
            ))
        })?;
        let description = match self.client.describe_job(id).await {
            Ok(description) => description,
            Err(ClientError::Api { status, .. }) if status.as_u16() == 404 => {
                return Err(UsageError(format!("{flag}: no job {id} on {}", self.server)).into())
            }
            Err(err) => return Err(self.error(err)),
        };
        let job = description.job;
        if job.kind != kind {
            return Err(UsageError(format!(
                "{flag}: job {id} is a {} job, not {kind}",
                job.kind
            ))
            .into());
        }
        if job.state != JobState::Succeeded {
            return Err(UsageError(format!(
                "{flag}: job {id} is {}, not succeeded; see `veil job describe {id}`",
                job.state
            ))
            .into());
        }
        Ok(id)
    }

    /// Submits a job of `kind`, prints its id, follows it to the end and returns its result.
    /// A job that does not succeed is an error with its message.
    pub async fn run(&self, kind: &str, params: Value) -> anyhow::Result<(JobId, Bytes)> {
        let job = self
            .client
            .submit_job(&NewJob {
                kind: kind.to_string(),
                params,
                owner: None,
            })
            .await
            .map_err(|err| self.error(err))?;
        let id = job.id;
        println!("{id}");
        eprintln!(
            "submitted {kind} job {id} to {}; follow it with `veil job describe {id}`",
            self.server
        );
        let job = self.follow(id).await?;
        if job.state != JobState::Succeeded {
            anyhow::bail!(
                "{kind} job {id} {}: {}",
                job.state,
                job.error.as_deref().unwrap_or("no error message")
            );
        }
        let result = self
            .client
            .job_result(id)
            .await
            .map_err(|err| self.error(err))?;
        Ok((id, result))
    }

    /// Polls the job until it ends, drawing its progress on stderr when that is a terminal.
    async fn follow(&self, id: JobId) -> anyhow::Result<veil_domain::Job> {
        let bar = if std::io::stderr().is_terminal() {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        let mut display = Display::Spinner;
        display.apply(&bar);
        bar.enable_steady_tick(Duration::from_millis(120));
        loop {
            let description = match self.client.describe_job(id).await {
                Ok(description) => description,
                Err(err) => {
                    bar.finish_and_clear();
                    return Err(self.error(err));
                }
            };
            if description.job.state.is_terminal() {
                bar.finish_and_clear();
                return Ok(description.job);
            }
            let (wanted, message) = progress(&description);
            if wanted != display {
                display = wanted;
                display.apply(&bar);
            }
            if let Display::Bar { current, total } = display {
                bar.set_length(total);
                bar.set_position(current);
            }
            bar.set_message(message);
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

/// What the progress line shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Display {
    /// No total is known: a spinner with the latest news.
    Spinner,
    /// Every task reports a total: a bar over all of them.
    Bar { current: u64, total: u64 },
}

impl Display {
    /// Sets the bar's style for this kind of display.
    fn apply(&self, bar: &ProgressBar) {
        let template = match self {
            Display::Spinner => "{spinner} {elapsed} {msg}",
            Display::Bar { .. } => "{bar:40} {percent:>3}% ({elapsed}) {msg}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
    }
}

/// The display for a job's state: a bar when every task reports a total, and the latest task
/// description, else the latest event.
fn progress(description: &JobDescription) -> (Display, String) {
    let tasks = &description.tasks;
    let totals: Option<u64> = tasks.iter().map(|task| task.progress.total).sum();
    let display = match totals {
        Some(total) if total > 0 && !tasks.is_empty() => Display::Bar {
            current: tasks.iter().map(|task| task.progress.current).sum(),
            total,
        },
        _ => Display::Spinner,
    };
    let message = tasks
        .iter()
        .rev()
        .find_map(|task| task.progress.description.clone())
        .or_else(|| description.events.last().map(|event| event.message.clone()))
        .unwrap_or_else(|| description.job.state.to_string());
    (display, message)
}

/// Writes `bytes` to `path` atomically.
pub fn save(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_atomically(path, |writer| {
        writer
            .write_all(bytes)
            .map_err(|err| anyhow::anyhow!("{}: cannot write: {err}", path.display()))
    })
}
