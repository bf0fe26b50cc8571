-- Linkage runs of the Anonlink Entity Service compatibility API (crate veil-entity-service). A run is
-- `created` until every party has uploaded, `submitting` while its platform job is being planned and
-- submitted (a crash there is recovered at startup), then `submitted` with the job that computes it; its
-- live state is the job's. `error` marks a run that failed before a job existed (`message` says why).
-- `stage_seen` / `progress_seen` are the highest stage and progress reported so far, so that reported
-- progress never goes backwards when a task is retried.

CREATE TABLE es_runs (
    run_id            TEXT PRIMARY KEY,
    project_id        TEXT NOT NULL REFERENCES es_projects (project_id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    notes             TEXT NOT NULL,
    threshold         DOUBLE PRECISION NOT NULL,
    state             TEXT NOT NULL,
    job_id            TEXT,
    message           TEXT,
    total_comparisons BIGINT NOT NULL DEFAULT 0,
    stage_seen        BIGINT NOT NULL DEFAULT 1,
    progress_seen     BIGINT NOT NULL DEFAULT 0,
    time_added        TIMESTAMPTZ NOT NULL
);
CREATE INDEX es_runs_by_project ON es_runs (project_id, time_added);
CREATE INDEX es_runs_by_state ON es_runs (state);
