-- The Anonlink Entity Service compatibility API (crate veil-entity-service): linkage projects, their
-- data-provider parties (one update token each) and the parties' uploads. Ids and tokens are 48 lowercase
-- hex characters; the linkage schema is JSON text (read back verbatim). Deleting a project removes its
-- parties and uploads.

CREATE TABLE es_projects (
    project_id     TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    notes          TEXT NOT NULL,
    result_type    TEXT NOT NULL,
    number_parties BIGINT NOT NULL,
    uses_blocking  BOOLEAN NOT NULL,
    schema_json    TEXT NOT NULL,
    result_token   TEXT NOT NULL,
    time_added     TIMESTAMPTZ NOT NULL
);
CREATE INDEX es_projects_by_time_added ON es_projects (time_added);

-- state: pending (may upload), uploading (an upload holds the party), done, error (a failed upload; may retry).
CREATE TABLE es_parties (
    project_id   TEXT NOT NULL REFERENCES es_projects (project_id) ON DELETE CASCADE,
    party_index  BIGINT NOT NULL,
    update_token TEXT NOT NULL,
    state        TEXT NOT NULL,
    PRIMARY KEY (project_id, party_index)
);

CREATE TABLE es_uploads (
    receipt_token  TEXT PRIMARY KEY,
    project_id     TEXT NOT NULL,
    party_index    BIGINT NOT NULL,
    encoding_count BIGINT NOT NULL,
    encoding_size  BIGINT NOT NULL,
    block_count    BIGINT NOT NULL,
    encodings_key  TEXT NOT NULL,
    blocks_key     TEXT,
    time_added     TIMESTAMPTZ NOT NULL,
    UNIQUE (project_id, party_index),
    FOREIGN KEY (project_id, party_index) REFERENCES es_parties (project_id, party_index) ON DELETE CASCADE
);
