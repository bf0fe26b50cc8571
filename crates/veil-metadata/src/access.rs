//! [`AccessStore`]: the native API's users, the revocation list of logged-out tokens and the audit log,
//! kept in the metadata database so that every server replica sees the same ones.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use veil_domain::Timestamp;

use crate::{with_pool, Database, DbTimestamp, MetadataError, Result};

/// How many audit entries `list_audit` returns when the filter sets no limit.
const DEFAULT_AUDIT_LIMIT: u32 = 100;

/// A local user of the native API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The login name, unique.
    pub name: String,
    /// The password's PHC hash string (argon2id); never the password.
    pub password_hash: String,
    /// Role names, e.g. `admin`, `analyst`.
    pub roles: Vec<String>,
    /// When the user was created.
    pub created_at: Timestamp,
}

/// One security-relevant event, as it is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, increasing; assigned by the store (ignored by `append_audit`).
    pub seq: i64,
    /// When it happened.
    pub at: Timestamp,
    /// What happened, e.g. `login`, `user.add`, `project.token_rejected`.
    pub action: String,
    /// Who did it: a user name, `cli:<os user>`, or `anonymous`.
    pub actor: String,
    /// What it was done to: a user name, a route, a project id.
    pub target: String,
    /// `ok`, `denied` or `failed`.
    pub outcome: String,
    /// The client's address, when the event came over the network.
    pub client: Option<String>,
    /// Anything else worth knowing (never a secret).
    pub detail: Option<String>,
}

/// Which audit entries to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this action.
    pub action: Option<String>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only entries at or after this time.
    pub since: Option<Timestamp>,
    /// The most recent this many (default 100), returned oldest first.
    pub limit: Option<u32>,
}

/// Users, revoked tokens and the audit log.
///
/// Contract, checked by the conformance suite for every implementation:
/// - creating a user whose name exists is [`MetadataError::AlreadyExists`]; reading a missing user is
///   [`MetadataError::NotFound`]; deleting or changing a missing user reports `false`;
/// - revoking a token twice is harmless, and a revoked token stays revoked until its expiry;
/// - the audit log is append-only, `seq` increases, and listing returns the most recent matching entries
///   oldest first.
#[async_trait]
pub trait AccessStore: Send + Sync + 'static {
    /// Adds a user.
    async fn create_user(&self, user: &UserRecord) -> Result<()>;
    /// The user with this name.
    async fn get_user(&self, name: &str) -> Result<UserRecord>;
    /// Every user, by name.
    async fn list_users(&self) -> Result<Vec<UserRecord>>;
    /// Removes a user; returns whether it existed.
    async fn delete_user(&self, name: &str) -> Result<bool>;
    /// Replaces a user's roles; returns whether the user exists.
    async fn set_user_roles(&self, name: &str, roles: &[String]) -> Result<bool>;
    /// How many users exist.
    async fn count_users(&self) -> Result<u64>;
    /// Puts token `jti` on the revocation list until `expires_at` (and forgets expired entries).
    async fn revoke_token(&self, jti: &str, expires_at: Timestamp) -> Result<()>;
    /// Whether token `jti` was revoked.
    async fn is_token_revoked(&self, jti: &str) -> Result<bool>;
    /// Appends an entry (its `seq` is ignored); returns the assigned `seq`.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<i64>;
    /// The most recent entries matching `filter`, oldest first.
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>>;
}

/// The [`AccessStore`] of both SQL dialects.
#[derive(Debug, Clone)]
pub struct SqlAccessStore {
    database: Database,
}

impl SqlAccessStore {
    /// The store backed by `database`, which must be migrated.
    pub fn new(database: Database) -> Self {
        Self { database }
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    name: String,
    password_hash: String,
    roles: String,
    created_at: DbTimestamp,
}

impl From<UserRow> for UserRecord {
    fn from(row: UserRow) -> Self {
        UserRecord {
            name: row.name,
            password_hash: row.password_hash,
            roles: split_roles(&row.roles),
            created_at: row.created_at.0,
        }
    }
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    seq: i64,
    at: DbTimestamp,
    action: String,
    actor: String,
    target: String,
    outcome: String,
    client: Option<String>,
    detail: Option<String>,
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> Self {
        AuditEntry {
            seq: row.seq,
            at: row.at.0,
            action: row.action,
            actor: row.actor,
            target: row.target,
            outcome: row.outcome,
            client: row.client,
            detail: row.detail,
        }
    }
}

fn split_roles(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|role| !role.is_empty())
        .map(str::to_string)
        .collect()
}

const USER_COLUMNS: &str = "name, password_hash, roles, created_at";
const AUDIT_COLUMNS: &str = "seq, at, action, actor, target, outcome, client, detail";

#[async_trait]
impl AccessStore for SqlAccessStore {
    async fn create_user(&self, user: &UserRecord) -> Result<()> {
        let sql = format!("INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4)");
        let outcome = with_pool!(&self.database, pool => {
            sqlx::query(&sql)
                .bind(&user.name)
                .bind(&user.password_hash)
                .bind(user.roles.join(","))
                .bind(DbTimestamp(user.created_at))
                .execute(pool)
                .await
                .map(|_| ())
        });
        match outcome {
            Ok(()) => Ok(()),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                Err(MetadataError::AlreadyExists {
                    what: "user",
                    id: user.name.clone(),
                })
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn get_user(&self, name: &str) -> Result<UserRecord> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1");
        let row: Option<UserRow> = with_pool!(&self.database, pool => {
            sqlx::query_as(&sql).bind(name).fetch_optional(pool).await?
        });
        row.map(UserRecord::from)
            .ok_or_else(|| MetadataError::NotFound {
                what: "user",
                id: name.to_string(),
            })
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY name");
        let rows: Vec<UserRow> = with_pool!(&self.database, pool => {
            sqlx::query_as(&sql).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(UserRecord::from).collect())
    }

    async fn delete_user(&self, name: &str) -> Result<bool> {
        let deleted = with_pool!(&self.database, pool => {
            sqlx::query("DELETE FROM users WHERE name = $1")
                .bind(name)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted == 1)
    }

    async fn set_user_roles(&self, name: &str, roles: &[String]) -> Result<bool> {
        let updated = with_pool!(&self.database, pool => {
            sqlx::query("UPDATE users SET roles = $1 WHERE name = $2")
                .bind(roles.join(","))
                .bind(name)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(updated == 1)
    }

    async fn count_users(&self) -> Result<u64> {
        let count: i64 = with_pool!(&self.database, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(pool).await?
        });
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn revoke_token(&self, jti: &str, expires_at: Timestamp) -> Result<()> {
        let now = DbTimestamp(veil_domain::now());
        with_pool!(&self.database, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (jti) DO NOTHING",
            )
            .bind(jti)
            .bind(DbTimestamp(expires_at))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    async fn is_token_revoked(&self, jti: &str) -> Result<bool> {
        let found: Option<i32> = with_pool!(&self.database, pool => {
            sqlx::query_scalar("SELECT 1 FROM revoked_tokens WHERE jti = $1")
                .bind(jti)
                .fetch_optional(pool)
                .await?
        });
        Ok(found.is_some())
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<i64> {
        let seq: i64 = with_pool!(&self.database, pool => {
            sqlx::query_scalar(
                "INSERT INTO audit_log (at, action, actor, target, outcome, client, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
            )
            .bind(DbTimestamp(entry.at))
            .bind(&entry.action)
            .bind(&entry.actor)
            .bind(&entry.target)
            .bind(&entry.outcome)
            .bind(&entry.client)
            .bind(&entry.detail)
            .fetch_one(pool)
            .await?
        });
        Ok(seq)
    }

    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log \
             WHERE ($1 IS NULL OR action = $1) AND ($2 IS NULL OR actor = $2) \
             AND ($3 IS NULL OR at >= $3) \
             ORDER BY seq DESC LIMIT $4"
        );
        let limit = i64::from(filter.limit.unwrap_or(DEFAULT_AUDIT_LIMIT));
        let mut rows: Vec<AuditRow> = with_pool!(&self.database, pool => {
            sqlx::query_as(&sql)
                .bind(filter.action.as_deref())
                .bind(filter.actor.as_deref())
                .bind(filter.since.map(DbTimestamp))
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        rows.reverse();
        Ok(rows.into_iter().map(AuditEntry::from).collect())
    }
}
