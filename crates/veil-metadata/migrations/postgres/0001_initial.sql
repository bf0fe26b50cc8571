-- Jobs, their tasks and event logs, plus the embedded task queue (veil-queue's SqlQueue).
-- Ids are UUID strings, states their lowercase names, params and progress JSON text (read back verbatim).

CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    params      TEXT NOT NULL,
    owner       TEXT NOT NULL,
    state       TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    started_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    error       TEXT,
    task_count  BIGINT NOT NULL
);
CREATE INDEX jobs_by_created_at ON jobs (created_at DESC);

CREATE TABLE tasks (
    id          TEXT PRIMARY KEY,
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx         BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    params      TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    BIGINT NOT NULL,
    progress    TEXT NOT NULL,
    result_key  TEXT,
    error       TEXT,
    started_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    UNIQUE (job_id, idx)
);

CREATE TABLE job_events (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id  TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at      TIMESTAMPTZ NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX job_events_by_job ON job_events (job_id, seq);

-- status: ready | leased | dead | done | cancelled. seq orders items by enqueue time.
CREATE TABLE queue_items (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY,
    task_id          TEXT PRIMARY KEY,
    job_id           TEXT NOT NULL,
    idx              BIGINT NOT NULL,
    kind             TEXT NOT NULL,
    params           TEXT NOT NULL,
    max_attempts     BIGINT NOT NULL,
    attempts         BIGINT NOT NULL,
    status           TEXT NOT NULL,
    not_before       TIMESTAMPTZ NOT NULL,
    lease_token      TEXT,
    lease_owner      TEXT,
    lease_expires_at TIMESTAMPTZ,
    last_error       TEXT,
    enqueued_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX queue_items_by_status ON queue_items (status, seq);
CREATE INDEX queue_items_by_job ON queue_items (job_id);
