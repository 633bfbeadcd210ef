-- Requests sent through a provider's batch API, and the batches that hold
-- them. A request is recorded (queued) before any batch is made, and a
-- batch before it is submitted, so a process killed at any moment leaves
-- rows the next one continues from: it re-attaches to the batches the
-- provider already has instead of paying for their requests again.

CREATE TABLE batches (
    id           INTEGER PRIMARY KEY,
    provider     TEXT NOT NULL,
    model        TEXT NOT NULL,                -- full reference
    provider_id  TEXT NOT NULL DEFAULT '',     -- '' until the provider names it
    state        TEXT NOT NULL,                -- preparing, in_progress, cancelling, ended, failed
    status       TEXT NOT NULL DEFAULT '',     -- the provider's own status, verbatim
    counts       TEXT NOT NULL DEFAULT '{}',   -- ethos.BatchCounts as JSON
    requests     INTEGER NOT NULL,
    bytes        INTEGER NOT NULL,
    error        TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    submitted_at TEXT,
    ended_at     TEXT,
    collected_at TEXT
);

CREATE INDEX batches_state ON batches (state);

-- key is the ledger's request key and the batch's custom ID.
CREATE TABLE batch_items (
    key          TEXT PRIMARY KEY,
    provider     TEXT NOT NULL,
    model        TEXT NOT NULL,
    run_id       TEXT NOT NULL DEFAULT '',
    stage        TEXT NOT NULL DEFAULT '',
    request      TEXT NOT NULL,                -- ethos.Request as JSON
    bytes        INTEGER NOT NULL,
    state        TEXT NOT NULL,                -- queued, submitted, answered
    batch_id     INTEGER NOT NULL DEFAULT 0,
    submissions  INTEGER NOT NULL DEFAULT 0,
    outcome      TEXT NOT NULL DEFAULT '',
    response     TEXT,                         -- ethos.Response as JSON, when it succeeded
    error_kind   TEXT NOT NULL DEFAULT '',
    error        TEXT NOT NULL DEFAULT '',
    queued_at    TEXT NOT NULL,
    answered_at  TEXT
);

CREATE INDEX batch_items_queue ON batch_items (state, model, queued_at);
CREATE INDEX batch_items_batch ON batch_items (batch_id);
