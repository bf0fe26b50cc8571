//! The HTTP API end to end: the whole app (server, in-process workers, a fresh database, a memory blob
//! store) runs in-process on an ephemeral port and is driven over real HTTP, through the typed
//! `VeilClient` and through raw `reqwest` where status codes and headers matter.
//!
//! Cases live in `tests/api/`: job lifecycle and listing in `jobs.rs`, error answers in `errors.rs`,
//! cancellation in `cancel.rs`, operations endpoints (health, readiness, config, metrics) in `ops.rs`,
//! the body-size and rate limits in `limits.rs`, login and roles in `auth.rs`, and every route against
//! every kind of bad credential in `auth_matrix.rs`.

mod common;

#[path = "api/auth.rs"]
mod auth;
#[path = "api/auth_matrix.rs"]
mod auth_matrix;
#[path = "api/cancel.rs"]
mod cancel;
#[path = "api/errors.rs"]
mod errors;
#[path = "api/jobs.rs"]
mod jobs;
#[path = "api/limits.rs"]
mod limits;
#[path = "api/oidc.rs"]
mod oidc;
#[path = "api/ops.rs"]
mod ops;
