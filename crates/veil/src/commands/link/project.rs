//! `veil link project …`: record linkage through an Anonlink Entity Service (Veil's `/api/v1`, or
//! any other): create a project, upload each party's encodings, create runs, fetch results.
//!
//! The credentials file written by `create` is the service's answer as it is (`project_id`,
//! `result_token`, `update_tokens`), so other Entity Service tools can read it, and every other
//! subcommand takes it as `--project FILE` (or `--project-id` with `--token`). Unlike the local
//! `veil link` commands these run on the async runtime: they mostly wait on the network.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use veil_client::entity::{NewProject, ProjectCredentials, ResultType};
use veil_client::EntityClient;

use super::files::{bad_input, open_input, write_atomically};
use super::project_results::{self, ResultsArgs};
use super::project_runs::{self, RunCommand};
use super::project_upload::{self, UploadArgs};
use super::usage;

/// `veil link project …`
#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project; prints (or writes with -o) its credentials: project id, result token,
    /// one update token per party.
    Create(CreateArgs),
    /// Upload one party's encodings (clks or clknblocks JSON, or binary) with a progress bar.
    Upload(UploadArgs),
    /// Create, list, inspect or delete runs (linkage at a similarity threshold).
    #[command(subcommand)]
    Run(RunCommand),
    /// Fetch a run's result; with --watch, wait for it with a progress bar per stage.
    Results(ResultsArgs),
    /// Delete a project with its uploads and runs.
    Delete(ProjectArgs),
}

/// The result types, named as the API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResultTypeArg {
    /// Groups of matching records (any number of parties).
    Groups,
    /// A mask for the result token and a permutation per party (2 parties).
    Permutations,
    /// Every candidate pair with its similarity (2 parties).
    #[value(name = "similarity_scores", alias = "similarity-scores")]
    SimilarityScores,
}

impl From<ResultTypeArg> for ResultType {
    fn from(arg: ResultTypeArg) -> Self {
        match arg {
            ResultTypeArg::Groups => ResultType::Groups,
            ResultTypeArg::Permutations => ResultType::Permutations,
            ResultTypeArg::SimilarityScores => ResultType::SimilarityScores,
        }
    }
}

/// Arguments of `veil link project create`.
#[derive(Debug, Args)]
#[command(after_help = "\
The credentials are secrets: the result token reads every result, each update token uploads \
one party's encodings. Hand each party only its own update token. With -o the file is created \
readable by its owner only.")]
pub struct CreateArgs {
    #[command(flatten)]
    pub server: ServiceArgs,
    /// The linkage schema every party encodes with (clkhash JSON).
    #[arg(long, value_name = "FILE")]
    pub schema: PathBuf,
    /// What runs produce.
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub result_type: ResultTypeArg,
    /// How many parties upload encodings (more than 2 only for `groups`).
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub parties: u32,
    /// A label for people.
    #[arg(long, default_value = "")]
    pub name: String,
    /// Free text for people.
    #[arg(long, default_value = "")]
    pub notes: String,
    /// Uploads carry blocks (`clknblocks`, as written by `veil link block`).
    #[arg(long)]
    pub blocking: bool,
    /// Write the credentials to this file instead of printing them.
    #[arg(short = 'o', long = "output", value_name = "PROJECT.json")]
    pub output: Option<PathBuf>,
}

/// Which project, and the token to use on it.
#[derive(Debug, Args)]
pub struct ProjectRef {
    /// The project's credentials file, as written by `veil link project create`.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "project_id",
        conflicts_with = "project_id"
    )]
    pub project: Option<PathBuf>,
    /// The project's id (with --token, instead of --project).
    #[arg(long, value_name = "ID", requires = "token")]
    pub project_id: Option<String>,
    /// The token to use (the result token, or for `upload` a party's update token); overrides
    /// the one in --project.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
}

/// Which Entity Service to talk to.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// Base URL of the Entity Service: Veil's (`veil serve`) or any other; `/api/v1` is added
    /// unless the URL already ends in it.
    #[arg(long, env = "VEIL_SERVER", default_value = veil_client::DEFAULT_SERVER)]
    pub server: String,
}

/// Server and project, for commands that need the result token.
#[derive(Debug, Args)]
pub struct ProjectArgs {
    #[command(flatten)]
    pub server: ServiceArgs,
    #[command(flatten)]
    pub project: ProjectRef,
}

/// A run threshold: a number in (0, 1].
pub(crate) fn parse_run_threshold(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(value) if value > 0.0 && value <= 1.0 => Ok(value),
        Ok(_) => Err("must be greater than 0 and at most 1".to_string()),
        Err(_) => Err("not a number".to_string()),
    }
}

/// Which of the project's tokens a command uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The result token.
    Result,
    /// Party `n`'s update token.
    Party(usize),
}

/// A project to act on: its id, the token for the command and, when known, the credentials.
#[derive(Debug, Clone)]
pub struct Target {
    /// The project's id.
    pub project_id: String,
    /// The token the command uses.
    pub token: String,
    /// The credentials file's contents, when `--project` was given.
    pub credentials: Option<ProjectCredentials>,
}

impl ProjectRef {
    /// The project id and the token for `role`; file problems are usage errors naming the file.
    pub fn resolve(&self, role: Role) -> anyhow::Result<Target> {
        let Some(path) = &self.project else {
            let (Some(project_id), Some(token)) = (&self.project_id, &self.token) else {
                return Err(usage(
                    "give --project FILE, or --project-id ID with --token TOKEN",
                ));
            };
            return Ok(Target {
                project_id: project_id.clone(),
                token: token.clone(),
                credentials: None,
            });
        };
        let credentials = read_credentials(path)?;
        let token = match (&self.token, role) {
            (Some(token), _) => token.clone(),
            (None, Role::Result) => credentials.result_token.clone(),
            (None, Role::Party(party)) => credentials
                .update_tokens
                .get(party)
                .cloned()
                .ok_or_else(|| {
                    bad_input(
                        path,
                        format!(
                            "has {} update tokens, so there is no party {party} (parties count from 0)",
                            credentials.update_tokens.len()
                        ),
                    )
                })?,
        };
        Ok(Target {
            project_id: credentials.project_id.clone(),
            token,
            credentials: Some(credentials),
        })
    }
}

/// Reads a credentials file written by `create` (or by any Entity Service client).
pub fn read_credentials(path: &Path) -> anyhow::Result<ProjectCredentials> {
    let file = std::io::BufReader::new(open_input(path)?);
    serde_json::from_reader(file).map_err(|err| {
        bad_input(
            path,
            format!(
                "not a project credentials file (project_id, result_token, update_tokens): {err}"
            ),
        )
    })
}

/// Writes `text` to stdout, with a final line break; a reader that went away (`… | head`) is no
/// error.
pub fn print_out(text: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(text)
        .and_then(|()| match text.ends_with(b"\n") {
            true => Ok(()),
            false => stdout.write_all(b"\n"),
        })
        .and_then(|()| stdout.flush());
    match written {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::anyhow!("cannot write to stdout: {err}"))
        }
        _ => Ok(()),
    }
}

/// A client for `--server`; a bad URL is a usage error.
pub fn entity_client(server: &ServiceArgs) -> anyhow::Result<EntityClient> {
    EntityClient::new(&server.server).map_err(|err| usage(err.to_string()))
}

/// Runs a `veil link project` command.
pub async fn run(command: ProjectCommand) -> anyhow::Result<()> {
    match command {
        ProjectCommand::Create(args) => create(args).await,
        ProjectCommand::Upload(args) => project_upload::run(args).await,
        ProjectCommand::Run(command) => project_runs::run(command).await,
        ProjectCommand::Results(args) => project_results::run(args).await,
        ProjectCommand::Delete(args) => {
            let target = args.project.resolve(Role::Result)?;
            entity_client(&args.server)?
                .delete_project(&target.project_id, &target.token)
                .await
                .with_context(|| format!("delete project {}", target.project_id))?;
            eprintln!("deleted project {}", target.project_id);
            Ok(())
        }
    }
}

async fn create(args: CreateArgs) -> anyhow::Result<()> {
    let result_type = ResultType::from(args.result_type);
    if args.parties < 2 {
        return Err(usage("--parties must be at least 2"));
    }
    if args.parties > 2 && result_type != ResultType::Groups {
        return Err(usage(format!(
            "--type {} links exactly 2 parties; only groups supports --parties {}",
            result_type.as_str(),
            args.parties
        )));
    }
    let schema: serde_json::Value =
        serde_json::from_reader(std::io::BufReader::new(open_input(&args.schema)?))
            .map_err(|err| bad_input(&args.schema, format!("not valid JSON: {err}")))?;
    if !schema.is_object() {
        return Err(bad_input(&args.schema, "the schema must be a JSON object"));
    }
    let client = entity_client(&args.server)?;
    let credentials = client
        .create_project(&NewProject {
            schema,
            result_type,
            number_parties: args.parties,
            name: args.name,
            notes: args.notes,
            uses_blocking: args.blocking,
        })
        .await
        .with_context(|| format!("create a project on {}", client.base_url()))?;
    let text = serde_json::to_string_pretty(&credentials)?;
    match &args.output {
        Some(path) => {
            write_atomically(path, |out| {
                writeln!(out, "{text}")?;
                Ok(())
            })?;
            eprintln!(
                "created {} project {} for {} parties; credentials written to {}",
                result_type.as_str(),
                credentials.project_id,
                args.parties,
                path.display()
            );
        }
        None => print_out(text.as_bytes())?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// `veil link project …` parsed on its own.
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: ProjectCommand,
    }

    fn parse(args: &[&str]) -> Result<ProjectCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once("project").chain(args.iter().copied()))
            .map(|cli| cli.command)
    }

    fn credentials_file(dir: &Path) -> PathBuf {
        let path = dir.join("project.json");
        std::fs::write(
            &path,
            r#"{"project_id": "p1", "result_token": "r", "update_tokens": ["u0", "u1"]}"#,
        )
        .unwrap();
        path
    }

    fn reference(project: Option<&Path>, id: Option<&str>, token: Option<&str>) -> ProjectRef {
        ProjectRef {
            project: project.map(Path::to_path_buf),
            project_id: id.map(str::to_string),
            token: token.map(str::to_string),
        }
    }

    #[test]
    fn credentials_give_the_token_for_each_role() {
        let dir = tempfile::tempdir().unwrap();
        let path = credentials_file(dir.path());
        let target = reference(Some(&path), None, None);
        assert_eq!(target.resolve(Role::Result).unwrap().token, "r");
        let party = target.resolve(Role::Party(1)).unwrap();
        assert_eq!(
            (party.project_id.as_str(), party.token.as_str()),
            ("p1", "u1")
        );
        let err = target.resolve(Role::Party(2)).unwrap_err().to_string();
        assert!(
            err.contains("project.json") && err.contains("no party 2"),
            "{err}"
        );
        let explicit = reference(Some(&path), None, Some("t")).resolve(Role::Result);
        assert_eq!(explicit.unwrap().token, "t");
        let bare = reference(None, Some("p9"), Some("t"))
            .resolve(Role::Result)
            .unwrap();
        assert_eq!((bare.project_id.as_str(), bare.token.as_str()), ("p9", "t"));
    }

    #[test]
    fn bad_credentials_files_are_usage_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds.json");
        std::fs::write(&path, r#"{"project_id": "p"}"#).unwrap();
        let err = reference(Some(&path), None, None)
            .resolve(Role::Result)
            .unwrap_err();
        assert!(err.downcast_ref::<crate::UsageError>().is_some());
        assert!(err.to_string().contains("creds.json"), "{err}");
        let missing = dir.path().join("missing.json");
        let err = read_credentials(&missing).unwrap_err().to_string();
        assert!(err.contains("missing.json"), "{err}");
    }

    #[test]
    fn the_command_line_needs_a_project_and_a_valid_threshold() {
        assert!(parse(&["run", "create", "--threshold", "0.8"]).is_err());
        assert!(parse(&["run", "create", "--project-id", "p", "--threshold", "0.8"]).is_err());
        assert!(parse(&["run", "create", "--project", "p.json", "--threshold", "1.5"]).is_err());
        assert!(parse(&["run", "create", "--project", "p.json", "--threshold", "x"]).is_err());
        let ok = parse(&["run", "create", "--project", "p.json", "--threshold", "0.8"]).unwrap();
        assert!(
            matches!(ok, ProjectCommand::Run(RunCommand::Create(args)) if args.threshold == 0.8)
        );
        let ok = parse(&[
            "create",
            "--schema",
            "s.json",
            "--type",
            "similarity_scores",
        ])
        .unwrap();
        assert!(matches!(
            ok,
            ProjectCommand::Create(CreateArgs {
                result_type: ResultTypeArg::SimilarityScores,
                parties: 2,
                ..
            })
        ));
        assert!(parse(&[
            "create",
            "--schema",
            "s.json",
            "--type",
            "similarity-scores"
        ])
        .is_ok());
        assert!(parse(&["create", "--schema", "s.json", "--type", "pairs"]).is_err());
    }
}
