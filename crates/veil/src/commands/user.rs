//! `veil user …` and `veil audit`: manage the native API's users and read the audit log, directly in
//! the configured metadata database (run them where `veil serve` runs, with the same config).

use std::fmt::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use veil_auth::Role;
use veil_metadata::AuditFilter;
use veil_service::{AccessService, Actor, ServiceError};

use crate::cli::ProcessArgs;
use crate::UsageError;

/// `veil user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is read from --password-file, else from VEIL_USER_PASSWORD, else
    /// from the first line of standard input.
    Add {
        #[command(flatten)]
        process: ProcessArgs,
        /// Login name.
        name: String,
        /// A role (repeatable): admin, analyst, data-owner, read-only.
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        /// Shorthand for `--role admin`.
        #[arg(long)]
        admin: bool,
        /// File holding the password (first line).
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
    /// List users and their roles.
    List {
        #[command(flatten)]
        process: ProcessArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a user; their tokens stop working at once.
    Delete {
        #[command(flatten)]
        process: ProcessArgs,
        /// Login name.
        name: String,
    },
    /// Replace a user's roles.
    Roles {
        #[command(flatten)]
        process: ProcessArgs,
        /// Login name.
        name: String,
        /// A role (repeatable).
        #[arg(long = "role", value_name = "ROLE", required = true)]
        roles: Vec<String>,
    },
}

/// `veil audit`
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    process: ProcessArgs,
    /// Only this action (e.g. `login.failed`, `user.add`, `project.token_rejected`).
    #[arg(long)]
    action: Option<String>,
    /// Only this actor.
    #[arg(long)]
    actor: Option<String>,
    /// The most recent N entries.
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Print JSON lines.
    #[arg(long)]
    json: bool,
}

async fn access(process: &ProcessArgs) -> anyhow::Result<AccessService> {
    let config = crate::commands::process::load_quiet(process)?;
    let database = crate::platform::open_database(&config).await?;
    crate::access::access_service(&config, &database).await
}

fn parse_roles(names: &[String], admin: bool) -> anyhow::Result<Vec<Role>> {
    let mut roles = names
        .iter()
        .map(|name| {
            name.parse::<Role>()
                .map_err(|err| UsageError(format!("--role: {err}")).into())
        })
        .collect::<anyhow::Result<Vec<Role>>>()?;
    if admin {
        roles.push(Role::Admin);
    }
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(UsageError("give at least one --role (or --admin)".into()).into());
    }
    Ok(roles)
}

pub(crate) fn read_password(file: Option<&PathBuf>) -> anyhow::Result<String> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|err| UsageError(format!("--password-file {}: {err}", path.display())))?,
        None => match std::env::var("VEIL_USER_PASSWORD") {
            Ok(password) => password,
            Err(_) => {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(|err| UsageError(format!("read the password from stdin: {err}")))?;
                line
            }
        },
    };
    Ok(text.lines().next().unwrap_or_default().to_string())
}

/// Service errors a user caused (bad name, weak password, duplicate, unknown user) exit 2.
fn usage(err: ServiceError) -> anyhow::Error {
    match err {
        ServiceError::InvalidRequest(_)
        | ServiceError::Conflict(_)
        | ServiceError::NotFound { .. } => UsageError(err.to_string()).into(),
        other => other.into(),
    }
}

/// Runs a `veil user` subcommand.
pub async fn run(command: UserCommand) -> anyhow::Result<()> {
    let actor = Actor::local_cli();
    match command {
        UserCommand::Add {
            process,
            name,
            roles,
            admin,
            password_file,
        } => {
            let roles = parse_roles(&roles, admin)?;
            let password = read_password(password_file.as_ref())?;
            let access = access(&process).await?;
            let user = access
                .add_user(&name, &password, &roles, &actor)
                .await
                .map_err(usage)?;
            println!("added user {} ({})", user.name, role_list(&user.roles));
        }
        UserCommand::List { process, json } => {
            let users = access(&process).await?.list_users().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                let mut out = String::new();
                let _ = writeln!(out, "{:<24} {:<32} CREATED", "NAME", "ROLES");
                for user in &users {
                    let created = user.created_at.format("%Y-%m-%d %H:%M:%S");
                    let _ = writeln!(
                        out,
                        "{:<24} {:<32} {created}",
                        user.name,
                        role_list(&user.roles)
                    );
                }
                print!("{out}");
            }
        }
        UserCommand::Delete { process, name } => {
            access(&process)
                .await?
                .delete_user(&name, &actor)
                .await
                .map_err(usage)?;
            println!("deleted user {name}");
        }
        UserCommand::Roles {
            process,
            name,
            roles,
        } => {
            let roles = parse_roles(&roles, false)?;
            access(&process)
                .await?
                .set_roles(&name, &roles, &actor)
                .await
                .map_err(usage)?;
            println!("user {name} now has roles {}", role_list(&roles));
        }
    }
    Ok(())
}

fn role_list(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs `veil audit`.
pub async fn audit(args: AuditArgs) -> anyhow::Result<()> {
    let access = access(&args.process).await?;
    let filter = AuditFilter {
        action: args.action,
        actor: args.actor,
        since: None,
        limit: Some(args.limit),
    };
    let entries = access.audit_log(&filter).await?;
    let mut out = String::new();
    for entry in &entries {
        if args.json {
            let _ = writeln!(out, "{}", serde_json::to_string(entry)?);
            continue;
        }
        let _ = writeln!(
            out,
            "{} #{:<6} {:<24} {:<7} actor={} target={} client={}{}",
            entry.at.format("%Y-%m-%dT%H:%M:%SZ"),
            entry.seq,
            entry.action,
            entry.outcome,
            entry.actor,
            entry.target,
            entry.client.as_deref().unwrap_or("-"),
            entry
                .detail
                .as_deref()
                .map(|detail| format!(" ({detail})"))
                .unwrap_or_default(),
        );
    }
    print!("{out}");
    Ok(())
}
