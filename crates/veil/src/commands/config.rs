//! `veil config …`: a server's effective configuration, or a local check of a config file.

use super::client;
use crate::cli::ConfigCommand;

/// Runs a `veil config` subcommand.
pub async fn run(command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Show { server } => {
            print!("{}", client(&server)?.config().await?);
        }
        ConfigCommand::Check { config } => {
            let config = crate::platform::load_config(config.as_deref())?;
            print!("{}", config.to_redacted_toml());
        }
    }
    Ok(())
}
