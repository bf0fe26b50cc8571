//! The [`AccessStore`] contract cases, one public async function each; see the trait's docs.

use std::sync::Arc;

use chrono::Duration;
use veil_domain::now;

use crate::{AccessStore, AuditEntry, AuditFilter, MetadataError, UserRecord};

fn user(name: &str, roles: &[&str]) -> UserRecord {
    UserRecord {
        name: name.to_string(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$salt-of-{name}$hash"),
        roles: roles.iter().map(|role| role.to_string()).collect(),
        created_at: veil_domain::Timestamp::from_timestamp_micros(now().timestamp_micros())
            .expect("now"),
    }
}

fn audit(action: &str, actor: &str) -> AuditEntry {
    AuditEntry {
        seq: 0,
        at: now(),
        action: action.to_string(),
        actor: actor.to_string(),
        target: "target".to_string(),
        outcome: "ok".to_string(),
        client: Some("127.0.0.1".to_string()),
        detail: None,
    }
}

/// Users round-trip exactly, are listed by name, and a duplicate name is `AlreadyExists`.
pub async fn users_round_trip_and_names_are_unique(store: Arc<dyn AccessStore>) {
    let ada = user("ada", &["admin", "analyst"]);
    store
        .create_user(&user("zoe", &["read-only"]))
        .await
        .unwrap();
    store.create_user(&ada).await.unwrap();
    assert_eq!(store.get_user("ada").await.unwrap(), ada);
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|user| user.name)
        .collect();
    assert_eq!(names, ["ada", "zoe"]);
    assert_eq!(store.count_users().await.unwrap(), 2);
    let duplicate = store.create_user(&user("ada", &["read-only"])).await;
    assert!(
        matches!(
            duplicate,
            Err(MetadataError::AlreadyExists { what: "user", .. })
        ),
        "{duplicate:?}"
    );
    assert_eq!(
        store.get_user("ada").await.unwrap().roles,
        ["admin", "analyst"]
    );
}

/// A missing user is `NotFound`; deleting or changing it reports `false`.
pub async fn missing_users_are_not_found(store: Arc<dyn AccessStore>) {
    let missing = store.get_user("nobody").await;
    assert!(
        matches!(missing, Err(MetadataError::NotFound { what: "user", .. })),
        "{missing:?}"
    );
    assert!(!store.delete_user("nobody").await.unwrap());
    assert!(!store
        .set_user_roles("nobody", &["admin".to_string()])
        .await
        .unwrap());
    assert_eq!(store.count_users().await.unwrap(), 0);
}

/// Roles can be replaced and users deleted.
pub async fn roles_change_and_users_delete(store: Arc<dyn AccessStore>) {
    store.create_user(&user("bo", &["analyst"])).await.unwrap();
    assert!(store
        .set_user_roles("bo", &["data-owner".to_string(), "read-only".to_string()])
        .await
        .unwrap());
    assert_eq!(
        store.get_user("bo").await.unwrap().roles,
        ["data-owner", "read-only"]
    );
    assert!(store.delete_user("bo").await.unwrap());
    assert!(store.get_user("bo").await.is_err());
    assert!(store.list_users().await.unwrap().is_empty());
}

/// Revocation is idempotent and only names the revoked token.
pub async fn revoked_tokens_stay_revoked(store: Arc<dyn AccessStore>) {
    let expiry = now() + Duration::hours(1);
    assert!(!store.is_token_revoked("jti-1").await.unwrap());
    store.revoke_token("jti-1", expiry).await.unwrap();
    store.revoke_token("jti-1", expiry).await.unwrap();
    assert!(store.is_token_revoked("jti-1").await.unwrap());
    assert!(!store.is_token_revoked("jti-2").await.unwrap());
    // An entry past its expiry may be forgotten: the token is refused for its age anyway.
    store
        .revoke_token("jti-old", now() - Duration::hours(1))
        .await
        .unwrap();
    store.revoke_token("jti-3", expiry).await.unwrap();
    assert!(store.is_token_revoked("jti-1").await.unwrap());
    assert!(store.is_token_revoked("jti-3").await.unwrap());
}

/// The audit log assigns increasing `seq`, filters, and lists the most recent entries oldest first.
pub async fn audit_log_is_ordered_and_filtered(store: Arc<dyn AccessStore>) {
    let mut seqs = Vec::new();
    for index in 0..5 {
        let action = if index % 2 == 0 {
            "login"
        } else {
            "login.failed"
        };
        let mut entry = audit(action, &format!("user{index}"));
        entry.detail = Some(format!("attempt {index}"));
        seqs.push(store.append_audit(&entry).await.unwrap());
    }
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "{seqs:?}");
    let all = store.list_audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].actor, "user0");
    assert_eq!(all[4].detail.as_deref(), Some("attempt 4"));
    assert_eq!(all[4].client.as_deref(), Some("127.0.0.1"));
    let failed = store
        .list_audit(&AuditFilter {
            action: Some("login.failed".into()),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let actors: Vec<&str> = failed.iter().map(|entry| entry.actor.as_str()).collect();
    assert_eq!(actors, ["user1", "user3"]);
    let latest_two = store
        .list_audit(&AuditFilter {
            limit: Some(2),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let actors: Vec<&str> = latest_two
        .iter()
        .map(|entry| entry.actor.as_str())
        .collect();
    assert_eq!(actors, ["user3", "user4"]);
    let by_actor = store
        .list_audit(&AuditFilter {
            actor: Some("user2".into()),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(by_actor.len(), 1);
    let future = store
        .list_audit(&AuditFilter {
            since: Some(now() + Duration::hours(1)),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert!(future.is_empty());
}
