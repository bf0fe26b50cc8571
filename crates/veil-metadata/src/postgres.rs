//! The production dialect: a PostgreSQL server.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::Result;

/// Connection options for a `postgres://…` or `postgresql://…` URL.
pub(crate) fn connect_options(url: &str) -> Result<PgConnectOptions> {
    Ok(PgConnectOptions::from_str(url)?)
}

/// Opens a pool of at most `max_connections` connections.
pub(crate) async fn connect(options: PgConnectOptions, max_connections: u32) -> Result<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(max_connections.max(1))
        .connect_with(options)
        .await?;
    Ok(pool)
}
