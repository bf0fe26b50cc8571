-- Access control (the native API's users), revoked tokens and the audit log.
-- `roles` is a comma-separated list of role names; `password_hash` a PHC string (argon2id).
-- Timestamps are INTEGER microseconds since the epoch.

CREATE TABLE users (
    name          TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    roles         TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

-- Tokens revoked by logout before they expire; rows past `expires_at` may be deleted at any time.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at);

-- Append-only record of security-relevant events: logins, failed logins, rejected tokens, user and
-- role changes, deletions.
CREATE TABLE audit_log (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    action  TEXT NOT NULL,
    actor   TEXT NOT NULL,
    target  TEXT NOT NULL,
    outcome TEXT NOT NULL,
    client  TEXT,
    detail  TEXT
);
CREATE INDEX audit_log_by_action ON audit_log (action, seq);
