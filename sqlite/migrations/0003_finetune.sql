-- Fine-tune files, jobs, events and the model registry.

-- files are training and validation files uploaded to a provider. The same
-- content (by hash) is uploaded once per provider and purpose, then reused.
CREATE TABLE files (
    provider   TEXT    NOT NULL,
    purpose    TEXT    NOT NULL,
    sha256     TEXT    NOT NULL,
    id         TEXT    NOT NULL,          -- the provider's file ID
    name       TEXT    NOT NULL DEFAULT '',
    bytes      INTEGER NOT NULL DEFAULT 0,
    lines      INTEGER NOT NULL DEFAULT 0,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (provider, purpose, sha256)
) WITHOUT ROWID;

-- finetune_jobs mirrors each provider job as the provider last reported it,
-- plus what only ethos knows (the local dataset, its hash, the run).
CREATE TABLE finetune_jobs (
    id              TEXT PRIMARY KEY,   -- the provider's job ID
    provider        TEXT NOT NULL,
    base_model      TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT '', -- the provider's status, verbatim
    state           TEXT NOT NULL,            -- ethos.FineTuneState
    train_file      TEXT NOT NULL DEFAULT '',
    validation_file TEXT NOT NULL DEFAULT '',
    dataset_path    TEXT NOT NULL DEFAULT '',
    dataset_sha256  TEXT NOT NULL DEFAULT '',
    run_id          TEXT NOT NULL DEFAULT '',
    hyperparameters TEXT,                     -- JSON
    progress        TEXT,                     -- JSON
    output_model    TEXT NOT NULL DEFAULT '',
    error           TEXT NOT NULL DEFAULT '',
    cost_usd        REAL NOT NULL DEFAULT 0,
    payload         TEXT,                     -- JSON: the provider's latest job object
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    finished_at     TEXT                      -- NULL until final
);

CREATE INDEX finetune_jobs_created_at ON finetune_jobs (created_at);
CREATE INDEX finetune_jobs_state ON finetune_jobs (state);

-- finetune_events are a job's events in the order ethos first saw them.
-- An event is recorded once: by the provider's event ID when it has one,
-- else by its time and message.
CREATE TABLE finetune_events (
    job_id      TEXT    NOT NULL REFERENCES finetune_jobs (id),
    seq         INTEGER NOT NULL,
    provider_id TEXT    NOT NULL DEFAULT '',
    created_at  TEXT    NOT NULL,
    level       TEXT    NOT NULL DEFAULT '',
    type        TEXT    NOT NULL DEFAULT '',
    message     TEXT    NOT NULL DEFAULT '',
    step        INTEGER NOT NULL DEFAULT 0,
    epoch       INTEGER NOT NULL DEFAULT 0,
    loss        REAL,                         -- NULL when the event has none
    val_loss    REAL,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;

CREATE UNIQUE INDEX finetune_events_provider_id ON finetune_events (job_id, provider_id) WHERE provider_id <> '';
CREATE UNIQUE INDEX finetune_events_time_message ON finetune_events (job_id, created_at, message) WHERE provider_id = '';

-- models is the registry of trained models, by the name ethos calls them.
CREATE TABLE models (
    name            TEXT PRIMARY KEY,  -- "provider/model"
    provider        TEXT NOT NULL,
    provider_model  TEXT NOT NULL,
    base_model      TEXT NOT NULL DEFAULT '',
    job_id          TEXT NOT NULL DEFAULT '',
    dataset_path    TEXT NOT NULL DEFAULT '',
    dataset_sha256  TEXT NOT NULL DEFAULT '',
    hyperparameters TEXT,              -- JSON
    cost_usd        REAL NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL
);

CREATE INDEX models_created_at ON models (created_at);
