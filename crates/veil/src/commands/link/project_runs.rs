//! `veil link project run …`: create, list, inspect and delete an Entity Service project's runs.

use anyhow::Context;
use clap::{Args, Subcommand};
use veil_client::entity::NewRun;

use super::project::{entity_client, parse_run_threshold, print_out, ProjectArgs, Role};

/// `veil link project run …`
#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// Create a run; prints its id. It starts once every party has uploaded.
    Create(RunCreateArgs),
    /// List the project's runs: id, state, creation time.
    List(ProjectArgs),
    /// Print a run's status document (JSON).
    Status(RunArgs),
    /// Delete a run (cancelling it if it is still computing).
    Delete(RunArgs),
}

/// Arguments of `veil link project run create`.
#[derive(Debug, Args)]
pub struct RunCreateArgs {
    #[command(flatten)]
    pub target: ProjectArgs,
    /// Record pairs at least this similar (Sørensen–Dice) are candidates; in (0, 1].
    #[arg(long, value_name = "T", value_parser = parse_run_threshold)]
    pub threshold: f64,
    /// A label for people.
    #[arg(long)]
    pub name: Option<String>,
    /// Free text for people.
    #[arg(long)]
    pub notes: Option<String>,
}

/// Arguments of the commands about one run.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: ProjectArgs,
    /// The run's id, as printed by `veil link project run create`.
    #[arg(long, value_name = "RUN_ID")]
    pub run: String,
}

/// Runs a `veil link project run` command.
pub async fn run(command: RunCommand) -> anyhow::Result<()> {
    match command {
        RunCommand::Create(args) => {
            let target = args.target.project.resolve(Role::Result)?;
            let run = entity_client(&args.target.server)?
                .create_run(
                    &target.project_id,
                    &target.token,
                    &NewRun {
                        threshold: args.threshold,
                        name: args.name,
                        notes: args.notes,
                    },
                )
                .await
                .with_context(|| format!("create a run in project {}", target.project_id))?;
            eprintln!(
                "created run {} (threshold {}) in project {}",
                run.run_id, args.threshold, target.project_id
            );
            print_out(run.run_id.as_bytes())?;
        }
        RunCommand::List(args) => {
            let target = args.project.resolve(Role::Result)?;
            let runs = entity_client(&args.server)?
                .runs(&target.project_id, &target.token)
                .await
                .with_context(|| format!("list the runs of project {}", target.project_id))?;
            let mut table = format!("{:<48}  {:<10}  TIME_ADDED\n", "RUN_ID", "STATE");
            for run in runs {
                table.push_str(&format!(
                    "{:<48}  {:<10}  {}\n",
                    run.run_id,
                    run.state,
                    run.time_added.as_deref().unwrap_or("-")
                ));
            }
            print_out(table.as_bytes())?;
        }
        RunCommand::Status(args) => {
            let target = args.target.project.resolve(Role::Result)?;
            let status = entity_client(&args.target.server)?
                .run_status(&target.project_id, &args.run, &target.token)
                .await
                .with_context(|| format!("status of run {}", args.run))?;
            print_out(serde_json::to_string_pretty(&status)?.as_bytes())?;
        }
        RunCommand::Delete(args) => {
            let target = args.target.project.resolve(Role::Result)?;
            entity_client(&args.target.server)?
                .delete_run(&target.project_id, &args.run, &target.token)
                .await
                .with_context(|| format!("delete run {}", args.run))?;
            eprintln!("deleted run {}", args.run);
        }
    }
    Ok(())
}
