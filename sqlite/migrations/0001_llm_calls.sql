-- llm_calls is the ledger of every model call: paid, served from the cache,
-- or failed. Rows are only ever appended.
CREATE TABLE llm_calls (
    id                 INTEGER PRIMARY KEY,
    key                TEXT    NOT NULL,
    provider           TEXT    NOT NULL,
    model              TEXT    NOT NULL,
    run_id             TEXT    NOT NULL DEFAULT '',
    stage              TEXT    NOT NULL DEFAULT '',
    request            TEXT    NOT NULL,          -- JSON, with stream flag and metadata
    response           TEXT,                      -- JSON; NULL when the call failed
    stop_reason        TEXT    NOT NULL DEFAULT '',
    in_tokens          INTEGER NOT NULL DEFAULT 0,
    out_tokens         INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens  INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd           REAL    NOT NULL DEFAULT 0,
    latency_ns         INTEGER NOT NULL DEFAULT 0,
    attempts           INTEGER NOT NULL DEFAULT 0,
    cache_hit          INTEGER NOT NULL DEFAULT 0, -- 0 or 1
    error_kind         TEXT    NOT NULL DEFAULT '',
    error              TEXT    NOT NULL DEFAULT '',
    created_at         TEXT    NOT NULL            -- UTC, fixed-width RFC 3339 so text order is time order
);

CREATE INDEX llm_calls_key ON llm_calls (key);
CREATE INDEX llm_calls_run_id ON llm_calls (run_id);
CREATE INDEX llm_calls_created_at ON llm_calls (created_at);

-- llm_cache points each key at its latest successful, paid call, so that a
-- cache lookup is one primary-key read instead of a scan of the ledger.
CREATE TABLE llm_cache (
    key     TEXT    PRIMARY KEY,
    call_id INTEGER NOT NULL REFERENCES llm_calls (id)
) WITHOUT ROWID; -- one b-tree, not a table plus an index: one page less per write
