//! `veil login`: exchanges a user's password for an access token, printed for `VEIL_TOKEN`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::UsageError;

/// Arguments of `veil login`.
#[derive(Debug, Args)]
#[command(after_help = "Example: export VEIL_TOKEN=$(veil login --user ada --password-file pw)")]
pub struct LoginArgs {
    /// Base URL of the Veil server.
    #[arg(long, env = "VEIL_SERVER", default_value = veil_client::DEFAULT_SERVER)]
    server: String,
    /// Login name.
    #[arg(long)]
    user: String,
    /// File holding the password (first line); else VEIL_USER_PASSWORD, else standard input.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Print the whole token pair as JSON (with the refresh token) instead of the access token.
    #[arg(long)]
    json: bool,
}

/// Runs `veil login`.
pub async fn run(args: LoginArgs) -> anyhow::Result<()> {
    let password = super::user::read_password(args.password_file.as_ref())?;
    let client = super::plain_client(&args.server)?;
    let pair = match client.login(&args.user, &password).await {
        Ok(pair) => pair,
        Err(veil_client::ClientError::Api { status, detail }) if status.as_u16() == 401 => {
            return Err(UsageError(format!("login refused: {detail}")).into())
        }
        Err(err) => return Err(err).context("sign in"),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&pair)?);
    } else {
        println!("{}", pair["access_token"].as_str().unwrap_or_default());
    }
    Ok(())
}
