-- provider_load holds the latest snapshot of each provider's rate limiter
-- in the process making calls (calls in flight and waiting, the target
-- concurrency, limits and latency), so that `ethos calls` and the
-- dashboard, which run in other processes, can show it.
CREATE TABLE provider_load (
    provider   TEXT    PRIMARY KEY,
    in_flight  INTEGER NOT NULL,
    waiting    INTEGER NOT NULL,
    target     INTEGER NOT NULL,
    ceiling    INTEGER NOT NULL,
    auto       BOOLEAN NOT NULL,
    latency_ns BIGINT  NOT NULL,
    rpm        INTEGER NOT NULL,
    tpm        INTEGER NOT NULL,
    pid        INTEGER NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
