//! Process-wide `tracing` setup.

use tracing_subscriber::EnvFilter;
use veil_config::LogFormat;

/// Installs the global subscriber: human or JSON lines on stderr, filtered by `filter`.
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
