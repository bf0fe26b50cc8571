-- The Anonlink Entity Service compatibility API (crate veil-entity-service): linkage projects, their
-- data-provider parties (one update token each) and the parties' uploads. Ids and tokens are 48 lowercase
-- hex characters; timestamps INTEGER microseconds since the Unix epoch; booleans INTEGER 0/1; the linkage
-- schema is JSON text. Deleting a project removes its parties and uploads.

CREATE TABLE es_projects (
    project_id     TEXT PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL,
    notes          TEXT NOT NULL,
    result_type    TEXT NOT NULL,
    number_parties INTEGER NOT NULL,
    uses_blocking  INTEGER NOT NULL,
    schema_json    TEXT NOT NULL,
    result_token   TEXT NOT NULL,
    time_added     INTEGER NOT NULL
);
CREATE INDEX es_projects_by_time_added ON es_projects (time_added);

-- state: pending (may upload), uploading (an upload holds the party), done, error (a failed upload; may retry).
CREATE TABLE es_parties (
    project_id   TEXT NOT NULL REFERENCES es_projects (project_id) ON DELETE CASCADE,
    party_index  INTEGER NOT NULL,
    update_token TEXT NOT NULL,
    state        TEXT NOT NULL,
    PRIMARY KEY (project_id, party_index)
);

CREATE TABLE es_uploads (
    receipt_token  TEXT PRIMARY KEY NOT NULL,
    project_id     TEXT NOT NULL,
    party_index    INTEGER NOT NULL,
    encoding_count INTEGER NOT NULL,
    encoding_size  INTEGER NOT NULL,
    block_count    INTEGER NOT NULL,
    encodings_key  TEXT NOT NULL,
    blocks_key     TEXT,
    time_added     INTEGER NOT NULL,
    UNIQUE (project_id, party_index),
    FOREIGN KEY (project_id, party_index) REFERENCES es_parties (project_id, party_index) ON DELETE CASCADE
);
