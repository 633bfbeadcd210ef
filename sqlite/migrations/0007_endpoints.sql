-- How each trained model is served, and the dedicated endpoints ethos
-- started to serve them.

-- serving is 'serverless' or 'dedicated' ('' until ethos found out);
-- call_as the reference to call the model by when it is not its name;
-- endpoint_id the dedicated endpoint that serves it.
ALTER TABLE models ADD COLUMN serving     TEXT NOT NULL DEFAULT '';
ALTER TABLE models ADD COLUMN call_as     TEXT NOT NULL DEFAULT '';
ALTER TABLE models ADD COLUMN endpoint_id TEXT NOT NULL DEFAULT '';

-- endpoints are recorded as soon as the provider names them, so a process
-- killed while one is up leaves a record the next one finds and stops:
-- an endpoint bills for every minute it is up.
CREATE TABLE endpoints (
    id               TEXT PRIMARY KEY,           -- the provider's endpoint ID
    provider         TEXT NOT NULL,
    name             TEXT NOT NULL DEFAULT '',   -- the system name chat requests use
    model            TEXT NOT NULL DEFAULT '',   -- the provider's model it serves
    hardware         TEXT NOT NULL DEFAULT '',
    state            TEXT NOT NULL DEFAULT '',   -- the provider's state, verbatim
    job_id           TEXT NOT NULL DEFAULT '',
    model_name       TEXT NOT NULL DEFAULT '',   -- the registry entry it serves
    call_as          TEXT NOT NULL DEFAULT '',
    attached         INTEGER NOT NULL DEFAULT 0, -- an adapter on an endpoint ethos did not start
    cents_per_minute REAL NOT NULL DEFAULT 0,
    inactive_timeout INTEGER NOT NULL DEFAULT 0, -- minutes
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    stopped_at       TEXT                        -- NULL while it may be up
);

CREATE INDEX endpoints_state ON endpoints (state);
CREATE INDEX endpoints_model_name ON endpoints (model_name);
