//! Who may do what in Veil.
//!
//! - [`password`]: argon2id password hashes for local users;
//! - [`token`]: Veil's own short-lived access tokens and longer-lived refresh tokens (HS256 JWTs signed
//!   with a key from config, so they survive restarts), with revocation by token id;
//! - [`oidc`]: bearer tokens from an external OpenID Connect issuer (Keycloak and the like), RS256 or
//!   ES256, checked against the issuer's JWKS (fetched, cached, refreshed on an unknown key id), with
//!   issuer, audience and expiry checked and roles mapped from a configurable claim;
//! - [`role`]: the roles and the per-route [`Requirement`]s checked against a [`Principal`].
//!
//! The crate does no HTTP serving and keeps no state beyond caches: the server decides where tokens come
//! from and where users and revocations are stored.

mod error;
pub mod oidc;
pub mod password;
pub mod role;
pub mod token;

pub use error::AuthError;
pub use oidc::{OidcSettings, OidcVerifier};
pub use password::{hash_password, verify_password, MIN_PASSWORD_LENGTH};
pub use role::{Principal, PrincipalSource, Requirement, Role};
pub use token::{Claims, MemoryRevocations, Revocations, TokenIssuer, TokenKind, TokenPair};

/// Result of this crate's operations.
pub type Result<T, E = AuthError> = std::result::Result<T, E>;
