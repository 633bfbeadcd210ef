-- runs holds one row per pipeline run (a dataset generation, an eval…).
CREATE TABLE runs (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL,
    config_hash    TEXT NOT NULL DEFAULT '',
    character_hash TEXT NOT NULL DEFAULT '',
    params         TEXT,                      -- JSON; NULL when none
    error          TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,             -- UTC, fixed-width RFC 3339 so text order is time order
    updated_at     TEXT NOT NULL
);

-- items are the units of work of a run at each stage. (run_id, key) is
-- unique so that a stage that runs again finds what it already made.
CREATE TABLE items (
    id         INTEGER PRIMARY KEY,
    run_id     TEXT    NOT NULL REFERENCES runs (id),
    stage      TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    parent_id  INTEGER REFERENCES items (id), -- NULL for a root item
    attempt    INTEGER NOT NULL DEFAULT 0,
    status     TEXT    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    data       TEXT,                          -- JSON; NULL when none
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    UNIQUE (run_id, key)
);

-- Every SQLite index ends with the rowid, so this one also serves a run's
-- items of one stage and status in ID order, page by page, without a sort.
CREATE INDEX items_run_stage_status ON items (run_id, stage, status);
CREATE INDEX items_parent_id ON items (parent_id);
