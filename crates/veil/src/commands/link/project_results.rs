//! `veil link project results`: a run's result, optionally after watching the run to its end with
//! a progress bar per stage.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use veil_client::entity::{RunResult, RunState, RunStatus};
use veil_client::EntityClient;

use super::files::write_atomically;
use super::project::{entity_client, print_out, ProjectArgs, Role};

/// Steps of a stage's progress bar.
const BAR_STEPS: u64 = 1000;

/// Arguments of `veil link project results`.
#[derive(Debug, Args)]
#[command(after_help = "\
Writes the result as the service sends it: {\"groups\": …} (readable by `veil link eval`), \
{\"similarity_scores\": …}, or for a permutations project {\"mask\": …} with the result token \
and {\"permutation\": …, \"rows\": …} with a party's --receipt token (printed by `upload`).

Without --watch, a run that has not completed is an error saying what it is doing.")]
pub struct ResultsArgs {
    #[command(flatten)]
    pub target: ProjectArgs,
    /// The run's id, as printed by `veil link project run create`.
    #[arg(long, value_name = "RUN_ID")]
    pub run: String,
    /// Wait for the run to finish, showing its stages' progress.
    #[arg(long)]
    pub watch: bool,
    /// Seconds between status requests while watching.
    #[arg(long, default_value = "1", value_name = "SECONDS", value_parser = parse_interval)]
    pub interval: Duration,
    /// Fetch this party's permutation with its receipt token (permutations projects).
    #[arg(long, value_name = "TOKEN")]
    pub receipt: Option<String>,
    /// Write the result to this file instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= 3600.0 => Ok(Duration::from_secs_f64(seconds)),
        _ => Err("must be a number of seconds above 0 and at most 3600".to_string()),
    }
}

/// Runs `veil link project results`.
pub async fn run(args: ResultsArgs) -> anyhow::Result<()> {
    let target = args.target.project.resolve(Role::Result)?;
    let client = entity_client(&args.target.server)?;
    if args.watch {
        watch_run(
            &client,
            &target.project_id,
            &args.run,
            &target.token,
            args.interval,
        )
        .await?;
    }
    let token = args.receipt.as_deref().unwrap_or(&target.token);
    let result = client
        .run_result_bytes(&target.project_id, &args.run, token)
        .await
        .with_context(|| format!("fetch the result of run {}", args.run))?;
    let summary = summarise(&result);
    match &args.output {
        Some(path) => {
            write_atomically(path, |out| Ok(out.write_all(&result)?))?;
            eprintln!("run {}: {summary}, written to {}", args.run, path.display());
        }
        None => {
            print_out(&result)?;
            eprintln!("run {}: {summary}", args.run);
        }
    }
    Ok(())
}

/// What a result holds, in a few words.
pub(crate) fn summarise(result: &[u8]) -> String {
    match serde_json::from_slice::<RunResult>(result) {
        Ok(RunResult::Groups { groups }) => format!("{} groups", groups.len()),
        Ok(RunResult::Mask { mask }) => format!(
            "mask of {} rows, {} matched",
            mask.len(),
            mask.iter().filter(|bit| **bit != 0).count()
        ),
        Ok(RunResult::Permutation { permutation, rows }) => {
            format!("permutation of {} rows into {rows}", permutation.len())
        }
        Ok(RunResult::SimilarityScores { similarity_scores }) => {
            format!("{} similarity scores", similarity_scores.len())
        }
        Err(_) => format!("{} bytes", result.len()),
    }
}

/// Polls the run until it completes, showing each stage's progress on stderr; a run that ends in
/// error is an error with the service's message.
pub(crate) async fn watch_run(
    client: &EntityClient,
    project_id: &str,
    run_id: &str,
    token: &str,
    interval: Duration,
) -> anyhow::Result<RunStatus> {
    let mut display = StageDisplay::new(run_id);
    let status = client
        .wait_for_run(project_id, run_id, token, interval, |status| {
            display.update(status)
        })
        .await;
    display.finish();
    let status = status.with_context(|| format!("watch run {run_id}"))?;
    if status.state == RunState::Error {
        anyhow::bail!(
            "run {run_id} failed: {}",
            status
                .message
                .as_deref()
                .unwrap_or("the service gave no reason")
        );
    }
    Ok(status)
}

/// A progress bar per stage on a terminal; otherwise a line per stage.
struct StageDisplay {
    run_id: String,
    terminal: bool,
    stage: Option<u32>,
    bar: Option<ProgressBar>,
}

impl StageDisplay {
    fn new(run_id: &str) -> Self {
        Self {
            run_id: run_id.to_string(),
            terminal: std::io::stderr().is_terminal(),
            stage: None,
            bar: None,
        }
    }

    fn update(&mut self, status: &RunStatus) {
        let Some(stage) = &status.current_stage else {
            return;
        };
        let label = format!(
            "stage {}/{} {}",
            stage.number,
            status.stages.max(stage.number),
            stage.description
        );
        if self.stage != Some(stage.number) {
            self.finish();
            self.stage = Some(stage.number);
            if self.terminal {
                self.bar = Some(stage_bar(&label));
            } else {
                eprintln!("run {}: {label}", self.run_id);
            }
        }
        let Some(bar) = &self.bar else { return };
        let progress = stage.progress.as_ref();
        let relative = progress.and_then(|p| p.relative).unwrap_or(0.0);
        bar.set_position((relative.clamp(0.0, 1.0) * BAR_STEPS as f64) as u64);
        let message = match progress.map(|p| (p.absolute, p.description.as_deref())) {
            Some((Some(absolute), Some(description))) => format!("{description}: {absolute}"),
            Some((Some(absolute), None)) => absolute.to_string(),
            _ => String::new(),
        };
        bar.set_message(message);
    }

    /// Completes the current stage's bar, leaving it on screen.
    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
    }
}

fn stage_bar(label: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(BAR_STEPS), ProgressDrawTarget::stderr());
    let template = format!("{label:<36} {{bar:30}} {{percent:>3}}% {{msg}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_positive_seconds() {
        assert_eq!(parse_interval("0.5").unwrap(), Duration::from_millis(500));
        assert!(parse_interval("0").is_err());
        assert!(parse_interval("-1").is_err());
        assert!(parse_interval("soon").is_err());
    }

    #[test]
    fn summaries_name_what_the_result_holds() {
        assert_eq!(summarise(br#"{"groups": [[[0, 1], [1, 3]]]}"#), "1 groups");
        assert_eq!(
            summarise(br#"{"mask": [1, 0, 1]}"#),
            "mask of 3 rows, 2 matched"
        );
        assert_eq!(
            summarise(br#"{"permutation": [2, 0, 1], "rows": 3}"#),
            "permutation of 3 rows into 3"
        );
        assert_eq!(
            summarise(br#"{"similarity_scores": [[[0, 1], [1, 2], 0.9]]}"#),
            "1 similarity scores"
        );
        assert_eq!(summarise(b"[]"), "2 bytes");
    }
}
