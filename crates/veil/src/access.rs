//! Builds the [`AccessService`] from config: the token signing key (from `auth.token_key`, or kept
//! in the data directory), the OpenID Connect verifier, and the first administrator.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;
use veil_auth::{OidcSettings, OidcVerifier, Role, TokenIssuer};
use veil_config::Config;
use veil_metadata::Database;
use veil_service::AccessService;

use crate::UsageError;

/// Where `veil serve` keeps its token signing key when `auth.token_key` is not set.
fn generated_key_path(config: &Config) -> PathBuf {
    config.data_dir.join("auth-token.key")
}

/// Reads the generated key, creating it (random, owner-only) on first use.
fn generated_key(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(key) if key.trim().len() >= 32 => return Ok(key.trim().to_string()),
        Ok(_) => {
            return Err(UsageError(format!(
                "{}: the token signing key is shorter than 32 bytes; delete the file to generate a new one",
                path.display()
            ))
            .into())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("read {}", path.display())),
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("create directory {}", parent.display()))?;
    }
    let key: String = {
        use rand::Rng;
        let mut rng = rand::rngs::OsRng;
        (0..48)
            .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.gen_range(0..36)]))
            .collect()
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            std::io::Write::write_all(&mut file, key.as_bytes())
                .with_context(|| format!("write {}", path.display()))?;
            tracing::info!(path = %path.display(), "created the token signing key");
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => generated_key(path),
        Err(err) => Err(err).with_context(|| format!("create {}", path.display())),
    }
}

fn oidc_verifier(config: &Config) -> anyhow::Result<Option<Arc<OidcVerifier>>> {
    let Some(oidc) = &config.auth.oidc else {
        return Ok(None);
    };
    let mut settings = OidcSettings::new(&oidc.issuer, &oidc.jwks_url, &oidc.audience);
    settings.roles_claim = oidc.roles_claim.clone();
    for (name, role) in &oidc.role_map {
        let role: Role = role
            .parse()
            .map_err(|err| UsageError(format!("auth.oidc.role_map.{name}: {err}")))?;
        settings.role_map.insert(name.clone(), role);
    }
    let verifier =
        OidcVerifier::new(settings).map_err(|err| UsageError(format!("auth.oidc: {err}")))?;
    Ok(Some(Arc::new(verifier)))
}

/// The access service of `database` under `config`'s `[auth]` settings.
pub async fn access_service(config: &Config, database: &Database) -> anyhow::Result<AccessService> {
    let key = match &config.auth.token_key {
        Some(key) => key.expose_secret().to_string(),
        None => {
            if database.dialect() == "postgres" {
                tracing::warn!(
                    "auth.token_key is not set: this server signs tokens with a key of its own data \
                     directory, so tokens are not accepted by other replicas; set auth.token_key_file"
                );
            }
            generated_key(&generated_key_path(config))?
        }
    };
    let issuer = TokenIssuer::new(
        key.as_bytes(),
        &config.auth.issuer,
        config.auth.access_token_ttl,
        config.auth.refresh_token_ttl,
    )
    .map_err(|err| UsageError(format!("auth: {err}")))?;
    Ok(AccessService::new(
        database.access_store(),
        Arc::new(issuer),
        oidc_verifier(config)?,
    ))
}

/// Creates the configured first administrator when the database has no user yet.
pub async fn ensure_first_admin(config: &Config, access: &AccessService) -> anyhow::Result<()> {
    let Some(admin) = &config.auth.first_admin else {
        return Ok(());
    };
    let created = access
        .ensure_first_admin(&admin.name, admin.password.expose_secret())
        .await
        .map_err(|err| UsageError(format!("auth.admin_user {}: {err}", admin.name)))?;
    if created {
        tracing::info!(user = %admin.name, "created the first administrator (auth.admin_user)");
    }
    Ok(())
}
