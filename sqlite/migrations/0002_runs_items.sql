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

-- Every SQLite index ends with the rowid, so an index whose columns are
-- all matched by equality also yields the rows in ID order: each of these
-- serves one shape of Items query page by page (id > ? … LIMIT) without
-- sorting the whole selection, which for a run of 100,000 items is the
-- difference between reading a page and reading the run. The first also
-- answers CountItems on its own.
CREATE INDEX items_run_stage_status ON items (run_id, stage, status);
CREATE INDEX items_run_stage ON items (run_id, stage);
CREATE INDEX items_run_id ON items (run_id);
CREATE INDEX items_parent_id ON items (parent_id);
