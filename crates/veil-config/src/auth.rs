//! `[auth]`: how users of the native API authenticate (Veil's own tokens, an OpenID Connect issuer),
//! the first administrator, and whether creating Entity Service projects needs a user token.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::env::KeySources;
use crate::resolve::secret_value;
use crate::ConfigError;

/// `[auth]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthSection {
    pub token_key: Option<String>,
    pub token_key_file: Option<String>,
    pub issuer: Option<String>,
    pub access_token_seconds: Option<u64>,
    pub refresh_token_seconds: Option<u64>,
    pub protect_project_creation: Option<bool>,
    pub admin_user: Option<String>,
    pub admin_password: Option<String>,
    pub admin_password_file: Option<String>,
    pub oidc: Option<OidcSection>,
}

/// `[auth.oidc]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OidcSection {
    pub issuer: String,
    pub jwks_url: String,
    pub audience: String,
    pub roles_claim: Option<String>,
    #[serde(default)]
    pub role_map: BTreeMap<String, String>,
}

/// The validated `[auth]` settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The key that signs Veil's own tokens (at least 32 bytes). When unset, `veil serve` creates one
    /// in the data directory on first start, which is fine for one server; replicas must share a key.
    pub token_key: Option<SecretString>,
    /// The `iss` of Veil's tokens.
    pub issuer: String,
    /// Lifetime of an access token.
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token.
    pub refresh_token_ttl: Duration,
    /// Whether `POST /api/v1/projects` needs a user token (analyst or admin).
    pub protect_project_creation: bool,
    /// The administrator created on first start when no user exists yet.
    pub first_admin: Option<FirstAdmin>,
    /// The external OpenID Connect issuer whose tokens are accepted too.
    pub oidc: Option<OidcConfig>,
}

/// The first administrator, from `auth.admin_user` and `auth.admin_password(_file)`.
#[derive(Debug, Clone)]
pub struct FirstAdmin {
    /// Login name.
    pub name: String,
    /// Password (never has a default).
    pub password: SecretString,
}

/// `[auth.oidc]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The issuer exactly as tokens carry it in `iss`.
    pub issuer: String,
    /// Where the issuer publishes its keys.
    pub jwks_url: String,
    /// The audience (`aud`) tokens must be issued for.
    pub audience: String,
    /// Dotted path of the roles claim (default `realm_access.roles`).
    pub roles_claim: String,
    /// Issuer role name → Veil role name.
    pub role_map: BTreeMap<String, String>,
}

pub(crate) fn resolve_auth(
    section: AuthSection,
    sources: &KeySources,
) -> Result<AuthConfig, ConfigError> {
    let invalid = |key: &str, message: String| ConfigError::invalid(sources.label(key), message);
    let token_key = secret_value(
        section.token_key,
        section.token_key_file,
        "auth.token_key",
        sources,
    )?;
    if let Some(key) = &token_key {
        if key.trim().len() < 32 {
            return Err(invalid(
                "auth.token_key",
                format!("has {} bytes; at least 32 are needed", key.trim().len()),
            ));
        }
    }
    let issuer = section.issuer.unwrap_or_else(|| "veil".to_string());
    if issuer.trim().is_empty() {
        return Err(invalid("auth.issuer", "must not be empty".into()));
    }
    let seconds = |value: Option<u64>, default: u64, key: &str| match value.unwrap_or(default) {
        0 => Err(invalid(key, "must be greater than 0".into())),
        value => Ok(Duration::from_secs(value)),
    };
    let access_token_ttl = seconds(
        section.access_token_seconds,
        900,
        "auth.access_token_seconds",
    )?;
    let refresh_token_ttl = seconds(
        section.refresh_token_seconds,
        12 * 3600,
        "auth.refresh_token_seconds",
    )?;
    if refresh_token_ttl < access_token_ttl {
        return Err(invalid(
            "auth.refresh_token_seconds",
            "must not be shorter than auth.access_token_seconds".into(),
        ));
    }
    let password = secret_value(
        section.admin_password,
        section.admin_password_file,
        "auth.admin_password",
        sources,
    )?;
    let first_admin = match (section.admin_user, password) {
        (Some(name), Some(password)) if !name.trim().is_empty() => Some(FirstAdmin {
            name: name.trim().to_string(),
            password: SecretString::from(password.trim_end_matches(['\r', '\n']).to_string()),
        }),
        (Some(_), Some(_)) => {
            return Err(invalid("auth.admin_user", "must not be empty".into()));
        }
        (Some(_), None) => {
            return Err(invalid(
                "auth.admin_password",
                "missing: auth.admin_user needs a password (there is no default password); \
                 set auth.admin_password_file or VEIL_ADMIN_PASSWORD_FILE"
                    .into(),
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                "auth.admin_user",
                "missing: a password is set but no user name".into(),
            ));
        }
        (None, None) => None,
    };
    let oidc = match section.oidc {
        None => None,
        Some(oidc) => {
            for (key, value) in [
                ("auth.oidc.issuer", &oidc.issuer),
                ("auth.oidc.audience", &oidc.audience),
            ] {
                if value.trim().is_empty() {
                    return Err(invalid(key, "must not be empty".into()));
                }
            }
            if !(oidc.jwks_url.starts_with("https://") || oidc.jwks_url.starts_with("http://")) {
                return Err(invalid(
                    "auth.oidc.jwks_url",
                    format!("expected an http(s) URL, got `{}`", oidc.jwks_url),
                ));
            }
            Some(OidcConfig {
                issuer: oidc.issuer,
                jwks_url: oidc.jwks_url,
                audience: oidc.audience,
                roles_claim: oidc
                    .roles_claim
                    .unwrap_or_else(|| "realm_access.roles".to_string()),
                role_map: oidc.role_map,
            })
        }
    };
    Ok(AuthConfig {
        token_key: token_key.map(|key| SecretString::from(key.trim().to_string())),
        issuer,
        access_token_ttl,
        refresh_token_ttl,
        protect_project_creation: section.protect_project_creation.unwrap_or(false),
        first_admin,
        oidc,
    })
}

/// Appends the `[auth]` section of `veil config show`, secrets redacted.
pub(crate) fn write_redacted(out: &mut String, auth: &AuthConfig) {
    use std::fmt::Write;
    let quoted = |value: &str| toml::Value::String(value.to_string()).to_string();
    let _ = writeln!(out, "\n[auth]");
    match &auth.token_key {
        Some(_) => {
            let _ = writeln!(out, "token_key = \"[redacted]\"");
        }
        None => {
            let _ = writeln!(
                out,
                "# token_key is not set: `veil serve` keeps one in the data directory"
            );
        }
    }
    let _ = writeln!(out, "issuer = {}", quoted(&auth.issuer));
    let _ = writeln!(
        out,
        "access_token_seconds = {}",
        auth.access_token_ttl.as_secs()
    );
    let _ = writeln!(
        out,
        "refresh_token_seconds = {}",
        auth.refresh_token_ttl.as_secs()
    );
    let _ = writeln!(
        out,
        "protect_project_creation = {}",
        auth.protect_project_creation
    );
    if let Some(admin) = &auth.first_admin {
        let _ = writeln!(out, "admin_user = {}", quoted(&admin.name));
        let _ = writeln!(out, "admin_password = \"[redacted]\"");
    }
    if let Some(oidc) = &auth.oidc {
        let _ = writeln!(out, "\n[auth.oidc]");
        let _ = writeln!(out, "issuer = {}", quoted(&oidc.issuer));
        let _ = writeln!(out, "jwks_url = {}", quoted(&oidc.jwks_url));
        let _ = writeln!(out, "audience = {}", quoted(&oidc.audience));
        let _ = writeln!(out, "roles_claim = {}", quoted(&oidc.roles_claim));
        for (name, role) in &oidc.role_map {
            let _ = writeln!(out, "role_map.{} = {}", quoted(name), quoted(role));
        }
    }
}
