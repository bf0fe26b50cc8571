//! [`AccessService`]: local users, login, token refresh and logout, bearer-token authentication
//! (Veil's own tokens and an optional OpenID Connect issuer) and the audit log.
//!
//! Every security-relevant event goes both to the log (target `veil::audit`) and to the audit table,
//! so `veil audit` can read it back. Events never carry a password or a token.

use std::sync::Arc;

use veil_auth::{
    hash_password, verify_password, AuthError, OidcVerifier, Principal, Role, TokenIssuer,
    TokenKind, TokenPair,
};
use veil_domain::now;
use veil_metadata::{AccessStore, AuditEntry, AuditFilter, MetadataError, UserRecord};

use crate::{Result, ServiceError};

/// What the API says for every failed login, whether the user or the password was wrong.
const LOGIN_FAILED: &str = "unknown user or wrong password";

/// A user as shown to operators: never the password hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserInfo {
    /// Login name.
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// When the user was created.
    pub created_at: veil_domain::Timestamp,
}

/// Who caused an event and from where, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// A user name, `cli:<name>` for local commands, or `anonymous`.
    pub name: String,
    /// The client's address, when the event came over the network.
    pub client: Option<String>,
}

impl Actor {
    /// A caller over the network, known or not.
    pub fn remote(name: impl Into<String>, client: Option<String>) -> Self {
        Self {
            name: name.into(),
            client,
        }
    }

    /// The operator running a local command.
    pub fn local_cli() -> Self {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_string());
        Self {
            name: format!("cli:{user}"),
            client: None,
        }
    }
}

/// One event to audit.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    /// What happened (`login`, `login.failed`, `user.add`, …).
    pub action: &'a str,
    /// What it was done to.
    pub target: &'a str,
    /// `ok`, `denied` or `failed`.
    pub outcome: &'a str,
    /// Anything else worth knowing (never a secret).
    pub detail: Option<String>,
}

/// Users, tokens and the audit log.
#[derive(Clone)]
pub struct AccessService {
    store: Arc<dyn AccessStore>,
    tokens: Arc<TokenIssuer>,
    oidc: Option<Arc<OidcVerifier>>,
}

fn role_names(roles: &[Role]) -> Vec<String> {
    roles.iter().map(|role| role.as_str().to_string()).collect()
}

fn parse_roles(user: &UserRecord) -> Result<Vec<Role>> {
    user.roles
        .iter()
        .map(|name| name.parse::<Role>())
        .collect::<Result<_, _>>()
        .map_err(|err| {
            ServiceError::Metadata(MetadataError::Corrupt(format!("user {}: {err}", user.name)))
        })
}

fn unauthenticated(err: AuthError) -> ServiceError {
    if err.is_unauthenticated() {
        ServiceError::Unauthenticated(err.to_string())
    } else if matches!(err, AuthError::Jwks { .. }) {
        ServiceError::Unavailable(err.to_string())
    } else {
        ServiceError::Metadata(MetadataError::Corrupt(err.to_string()))
    }
}

/// Checks a user name: 1–64 characters of letters, digits, `.`, `_`, `-` and `@`.
pub fn check_user_name(name: &str) -> Result<()> {
    let valid = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if valid {
        Ok(())
    } else {
        Err(ServiceError::InvalidRequest(format!(
            "user name {name:?}: use 1 to 64 letters, digits, '.', '_', '-' or '@'"
        )))
    }
}

impl AccessService {
    /// The service over `store`, signing tokens with `tokens` and accepting `oidc` tokens when given.
    pub fn new(
        store: Arc<dyn AccessStore>,
        tokens: Arc<TokenIssuer>,
        oidc: Option<Arc<OidcVerifier>>,
    ) -> Self {
        Self {
            store,
            tokens,
            oidc,
        }
    }

    /// Records `event` by `actor` in the log and the audit table. A failure to write the table is
    /// logged, never hidden, but does not fail the caller's request.
    pub async fn audit(&self, actor: &Actor, event: AuditEvent<'_>) {
        tracing::info!(
            target: "veil::audit",
            action = event.action,
            actor = %actor.name,
            target_name = event.target,
            outcome = event.outcome,
            client = actor.client.as_deref().unwrap_or("-"),
            detail = event.detail.as_deref().unwrap_or(""),
            "audit"
        );
        let entry = AuditEntry {
            seq: 0,
            at: now(),
            action: event.action.to_string(),
            actor: actor.name.clone(),
            target: event.target.to_string(),
            outcome: event.outcome.to_string(),
            client: actor.client.clone(),
            detail: event.detail,
        };
        if let Err(err) = self.store.append_audit(&entry).await {
            tracing::error!(error = %err, action = %entry.action, "cannot write the audit table");
        }
    }

    /// The most recent audit entries matching `filter`, oldest first.
    pub async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        Ok(self.store.list_audit(filter).await?)
    }

    /// Adds a local user with `roles` (at least one).
    pub async fn add_user(
        &self,
        name: &str,
        password: &str,
        roles: &[Role],
        actor: &Actor,
    ) -> Result<UserInfo> {
        check_user_name(name)?;
        if roles.is_empty() {
            return Err(ServiceError::InvalidRequest(
                "a user needs at least one role".into(),
            ));
        }
        let password_hash =
            hash_password(password).map_err(|err| ServiceError::InvalidRequest(err.to_string()))?;
        let record = UserRecord {
            name: name.to_string(),
            password_hash,
            roles: role_names(roles),
            created_at: now(),
        };
        match self.store.create_user(&record).await {
            Ok(()) => {}
            Err(MetadataError::AlreadyExists { .. }) => {
                return Err(ServiceError::Conflict(format!(
                    "user {name} already exists"
                )));
            }
            Err(err) => return Err(err.into()),
        }
        let detail = Some(format!("roles {}", record.roles.join(",")));
        self.audit(
            actor,
            AuditEvent {
                action: "user.add",
                target: name,
                outcome: "ok",
                detail,
            },
        )
        .await;
        Ok(UserInfo {
            name: record.name,
            roles: roles.to_vec(),
            created_at: record.created_at,
        })
    }

    /// Creates `name` as the first administrator when no user exists yet; returns whether it did.
    pub async fn ensure_first_admin(&self, name: &str, password: &str) -> Result<bool> {
        if self.store.count_users().await? > 0 {
            return Ok(false);
        }
        let actor = Actor::remote("config", None);
        match self.add_user(name, password, &[Role::Admin], &actor).await {
            Ok(_) => Ok(true),
            // Another replica created it first.
            Err(ServiceError::Conflict(_)) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Every user, by name.
    pub async fn list_users(&self) -> Result<Vec<UserInfo>> {
        let users = self.store.list_users().await?;
        users
            .iter()
            .map(|user| {
                Ok(UserInfo {
                    name: user.name.clone(),
                    roles: parse_roles(user)?,
                    created_at: user.created_at,
                })
            })
            .collect()
    }

    /// Deletes a user. Their tokens stop working at once, since every request re-reads the user.
    pub async fn delete_user(&self, name: &str, actor: &Actor) -> Result<()> {
        if !self.store.delete_user(name).await? {
            return Err(ServiceError::NotFound {
                what: "user",
                id: name.to_string(),
            });
        }
        self.audit(
            actor,
            AuditEvent {
                action: "user.delete",
                target: name,
                outcome: "ok",
                detail: None,
            },
        )
        .await;
        Ok(())
    }

    /// Replaces a user's roles (at least one). Takes effect on the user's next request.
    pub async fn set_roles(&self, name: &str, roles: &[Role], actor: &Actor) -> Result<()> {
        if roles.is_empty() {
            return Err(ServiceError::InvalidRequest(
                "a user needs at least one role".into(),
            ));
        }
        if !self.store.set_user_roles(name, &role_names(roles)).await? {
            return Err(ServiceError::NotFound {
                what: "user",
                id: name.to_string(),
            });
        }
        let detail = Some(format!("roles {}", role_names(roles).join(",")));
        self.audit(
            actor,
            AuditEvent {
                action: "user.roles",
                target: name,
                outcome: "ok",
                detail,
            },
        )
        .await;
        Ok(())
    }

    /// Checks `name`'s password and issues a token pair. Unknown users and wrong passwords get the
    /// same answer and are audited as `login.failed`.
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        client: Option<String>,
    ) -> Result<TokenPair> {
        let actor = Actor::remote(name, client);
        let user = match self.store.get_user(name).await {
            Ok(user) => Some(user),
            Err(MetadataError::NotFound { .. }) => None,
            Err(err) => return Err(err.into()),
        };
        let verified = match &user {
            Some(user) => verify_password(password, &user.password_hash)
                .map_err(|err| ServiceError::Metadata(MetadataError::Corrupt(err.to_string())))?,
            None => {
                // As slow as a wrong password, so timing does not tell which user names exist.
                let _ = verify_password(password, unknown_user_hash());
                false
            }
        };
        let Some(user) = user.filter(|_| verified) else {
            self.audit(
                &actor,
                AuditEvent {
                    action: "login.failed",
                    target: name,
                    outcome: "denied",
                    detail: None,
                },
            )
            .await;
            return Err(ServiceError::Unauthenticated(LOGIN_FAILED.into()));
        };
        let roles = parse_roles(&user)?;
        let pair = self
            .tokens
            .issue(&user.name, &roles)
            .map_err(|err| ServiceError::Metadata(MetadataError::Corrupt(err.to_string())))?;
        self.audit(
            &actor,
            AuditEvent {
                action: "login",
                target: name,
                outcome: "ok",
                detail: None,
            },
        )
        .await;
        Ok(pair)
    }

    /// Exchanges a refresh token for a new pair; the old refresh token is revoked (rotation), and the
    /// new tokens carry the user's current roles.
    pub async fn refresh(&self, refresh_token: &str, client: Option<String>) -> Result<TokenPair> {
        let claims = self
            .tokens
            .decode(refresh_token, TokenKind::Refresh)
            .map_err(unauthenticated)?;
        let actor = Actor::remote(&claims.sub, client);
        if self.store.is_token_revoked(&claims.jti).await? {
            self.audit(
                &actor,
                AuditEvent {
                    action: "token.refresh",
                    target: &claims.sub,
                    outcome: "denied",
                    detail: Some("revoked refresh token".into()),
                },
            )
            .await;
            return Err(ServiceError::Unauthenticated(
                AuthError::Revoked.to_string(),
            ));
        }
        let user = self.current_user(&claims.sub).await?;
        let roles = parse_roles(&user)?;
        self.store
            .revoke_token(&claims.jti, timestamp(claims.exp))
            .await?;
        self.tokens
            .issue(&user.name, &roles)
            .map_err(|err| ServiceError::Metadata(MetadataError::Corrupt(err.to_string())))
    }

    /// Revokes the access token (and the refresh token, when given) until they expire.
    pub async fn logout(
        &self,
        access_token: &str,
        refresh_token: Option<&str>,
        client: Option<String>,
    ) -> Result<()> {
        let access = self
            .tokens
            .decode(access_token, TokenKind::Access)
            .map_err(unauthenticated)?;
        self.store
            .revoke_token(&access.jti, timestamp(access.exp))
            .await?;
        if let Some(refresh_token) = refresh_token {
            let refresh = self
                .tokens
                .decode(refresh_token, TokenKind::Refresh)
                .map_err(unauthenticated)?;
            if refresh.sub != access.sub {
                return Err(ServiceError::Forbidden(
                    "the refresh token belongs to another user".into(),
                ));
            }
            self.store
                .revoke_token(&refresh.jti, timestamp(refresh.exp))
                .await?;
        }
        let actor = Actor::remote(&access.sub, client);
        self.audit(
            &actor,
            AuditEvent {
                action: "logout",
                target: &access.sub,
                outcome: "ok",
                detail: None,
            },
        )
        .await;
        Ok(())
    }

    /// The principal a bearer token stands for: a Veil access token that is not revoked and whose
    /// user still exists (with the user's current roles), or a token of the OpenID Connect issuer.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal> {
        let local = match self.tokens.decode(bearer, TokenKind::Access) {
            Ok(claims) => claims,
            Err(local_err) => {
                let foreign = matches!(
                    local_err,
                    AuthError::BadSignature
                        | AuthError::Algorithm(_)
                        | AuthError::Claim { .. }
                        | AuthError::Malformed(_)
                );
                return match (&self.oidc, foreign) {
                    (Some(oidc), true) => oidc.verify(bearer).await.map_err(unauthenticated),
                    _ => Err(unauthenticated(local_err)),
                };
            }
        };
        if self.store.is_token_revoked(&local.jti).await? {
            return Err(ServiceError::Unauthenticated(
                AuthError::Revoked.to_string(),
            ));
        }
        let user = self.current_user(&local.sub).await?;
        let roles = parse_roles(&user)?;
        let mut principal = TokenIssuer::principal_of(local);
        principal.roles = roles;
        Ok(principal)
    }

    async fn current_user(&self, name: &str) -> Result<UserRecord> {
        match self.store.get_user(name).await {
            Ok(user) => Ok(user),
            Err(MetadataError::NotFound { .. }) => Err(ServiceError::Unauthenticated(
                "the token's user no longer exists".into(),
            )),
            Err(err) => Err(err.into()),
        }
    }
}

/// A hash no password matches, checked when the user does not exist.
fn unknown_user_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&uuid::Uuid::new_v4().to_string()).unwrap_or_default())
}

fn timestamp(seconds: i64) -> veil_domain::Timestamp {
    chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_else(now)
}
