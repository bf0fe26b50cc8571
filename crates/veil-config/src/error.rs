//! Configuration errors. Each names the key (file key or environment variable) at fault.

use std::path::PathBuf;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("config file {path}: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has an unknown or mistyped key.
    #[error("config file {path}: key `{key}`: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Dotted path of the offending key (`.` for the document itself).
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A value is present but not acceptable.
    #[error("{key}: {message}")]
    Invalid {
        /// The key (`server.listen`) or environment variable (`VEIL_LISTEN`) at fault.
        key: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A secret file named by a `*_file` key or `*_FILE` variable could not be read.
    #[error("{key}: cannot read secret file {path}: {source}")]
    SecretFile {
        /// The key or variable naming the file.
        key: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }
}
