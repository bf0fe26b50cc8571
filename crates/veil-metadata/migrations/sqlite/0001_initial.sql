-- Jobs, their tasks and event logs, plus the embedded task queue (veil-queue's SqlQueue).
-- Timestamps are INTEGER microseconds since the Unix epoch (exact round trip, ordered comparisons);
-- ids are UUID strings, states their lowercase names, params and progress JSON text.

CREATE TABLE jobs (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    params      TEXT NOT NULL,
    owner       TEXT NOT NULL,
    state       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,
    error       TEXT,
    task_count  INTEGER NOT NULL
);
CREATE INDEX jobs_by_created_at ON jobs (created_at DESC);

CREATE TABLE tasks (
    id          TEXT PRIMARY KEY NOT NULL,
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    params      TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    progress    TEXT NOT NULL,
    result_key  TEXT,
    error       TEXT,
    started_at  INTEGER,
    finished_at INTEGER,
    UNIQUE (job_id, idx)
);

CREATE TABLE job_events (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id  TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at      INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX job_events_by_job ON job_events (job_id, seq);

-- status: ready | leased | dead | done | cancelled. seq orders items by enqueue time.
CREATE TABLE queue_items (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id          TEXT NOT NULL UNIQUE,
    job_id           TEXT NOT NULL,
    idx              INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    params           TEXT NOT NULL,
    max_attempts     INTEGER NOT NULL,
    attempts         INTEGER NOT NULL,
    status           TEXT NOT NULL,
    not_before       INTEGER NOT NULL,
    lease_token      TEXT,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    last_error       TEXT,
    enqueued_at      INTEGER NOT NULL
);
CREATE INDEX queue_items_by_status ON queue_items (status, seq);
CREATE INDEX queue_items_by_job ON queue_items (job_id);
