//! `veil job …`: list, describe, cancel and submit jobs on a server.

use std::fmt::Write;
use std::time::Duration;

use veil_domain::{JobDescription, JobFilter, JobId, JobState, NewJob, TaskCounts, Timestamp};

use super::client;
use crate::cli::JobCommand;
use crate::UsageError;

fn parse_id(text: &str) -> anyhow::Result<JobId> {
    text.parse()
        .map_err(|err: veil_domain::IdParseError| UsageError(err.to_string()).into())
}

/// Runs a `veil job` subcommand.
pub async fn run(command: JobCommand) -> anyhow::Result<()> {
    match command {
        JobCommand::List {
            server,
            state,
            kind,
            limit,
        } => {
            let state = match state {
                Some(text) => Some(
                    text.parse::<JobState>()
                        .map_err(|err| UsageError(err.to_string()))?,
                ),
                None => None,
            };
            let jobs = client(&server)?
                .list_jobs(&JobFilter {
                    owner: None,
                    state,
                    kind,
                    limit: Some(limit),
                })
                .await?;
            print!("{}", render_list(&jobs));
        }
        JobCommand::Describe { server, id, json } => {
            let description = client(&server)?.describe_job(parse_id(&id)?).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&description)?);
            } else {
                print!("{}", render_description(&description, veil_domain::now()));
            }
        }
        JobCommand::Cancel { server, id } => {
            let job = client(&server)?.cancel_job(parse_id(&id)?).await?;
            println!("job {} is {}", job.id, job.state);
        }
        JobCommand::Submit {
            server,
            kind,
            params,
            wait,
        } => {
            let params: serde_json::Value = serde_json::from_str(&params)
                .map_err(|err| UsageError(format!("--params is not valid JSON: {err}")))?;
            let client = client(&server)?;
            let job = client
                .submit_job(&NewJob {
                    kind,
                    params,
                    owner: None,
                })
                .await?;
            println!("{}", job.id);
            if wait {
                let job = client
                    .wait_for_job(job.id, Duration::from_secs(24 * 3600))
                    .await?;
                eprintln!("job {} {}", job.id, job.state);
                if job.state != JobState::Succeeded {
                    anyhow::bail!(
                        "job {} ended {}: {}",
                        job.id,
                        job.state,
                        job.error.unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(())
}

fn time(at: Option<Timestamp>) -> String {
    at.map(|at| at.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string())
        .unwrap_or_else(|| "-".to_string())
}

fn seconds(duration: Option<chrono::Duration>) -> String {
    match duration {
        Some(duration) => format!("{:.1}s", duration.num_milliseconds() as f64 / 1000.0),
        None => "-".to_string(),
    }
}

/// The `veil job list` table.
pub fn render_list(jobs: &[veil_domain::Job]) -> String {
    let mut out = format!(
        "{:<36}  {:<12}  {:<10}  {:>6}  {:<23}\n",
        "ID", "KIND", "STATE", "TASKS", "CREATED"
    );
    for job in jobs {
        let _ = writeln!(
            out,
            "{:<36}  {:<12}  {:<10}  {:>6}  {:<23}",
            job.id,
            job.kind,
            job.state,
            job.task_count,
            time(Some(job.created_at))
        );
    }
    out
}

/// The `veil job describe` report.
pub fn render_description(description: &JobDescription, now: Timestamp) -> String {
    let job = &description.job;
    let mut counts = TaskCounts::default();
    for task in &description.tasks {
        counts.add(task.state, 1);
    }
    let mut out = String::new();
    let _ = writeln!(out, "Job       {}", job.id);
    let _ = writeln!(out, "Kind      {}", job.kind);
    let _ = writeln!(out, "Owner     {}", job.owner);
    let _ = writeln!(out, "State     {}", job.state);
    let _ = writeln!(out, "Created   {}", time(Some(job.created_at)));
    let _ = writeln!(out, "Started   {}", time(job.started_at));
    let _ = writeln!(out, "Finished  {}", time(job.finished_at));
    let _ = writeln!(out, "Duration  {}", seconds(job.duration(now)));
    let _ = writeln!(
        out,
        "Tasks     {} ({} succeeded, {} running, {} queued, {} failed, {} cancelled)",
        job.task_count,
        counts.succeeded,
        counts.running,
        counts.queued,
        counts.failed,
        counts.cancelled
    );
    if let Some(error) = &job.error {
        let _ = writeln!(out, "Error     {error}");
    }
    let _ = writeln!(out, "\nEvents");
    for event in &description.events {
        let _ = writeln!(
            out,
            "  {}  {}",
            event.at.format("%H:%M:%S%.3f"),
            event.message
        );
    }
    let _ = writeln!(out, "\nTasks");
    let _ = writeln!(
        out,
        "  {:>6}  {:<10}  {:>8}  {:>9}  {:>8}  ERROR",
        "INDEX", "STATE", "ATTEMPTS", "DURATION", "PROGRESS"
    );
    for task in &description.tasks {
        let progress = match task.progress.fraction() {
            Some(fraction) => format!("{:.0}%", fraction * 100.0),
            None => task.progress.current.to_string(),
        };
        let _ = writeln!(
            out,
            "  {:>6}  {:<10}  {:>8}  {:>9}  {:>8}  {}",
            task.index,
            task.state,
            task.attempts,
            seconds(task.duration(now)),
            progress,
            task.error.as_deref().unwrap_or("")
        );
    }
    out
}
