-- provider_load keeps one snapshot per share key and process, so that
-- several processes on one account (ethos worker) can each see the others'
-- demand and take a share of the account's rate limit. share_key is the
-- provider's name and a short hash of its API key (never the key); share
-- is the part of the limits the process holds. A snapshot kept from before
-- stands for the process that wrote it, alone on its provider.
CREATE TABLE provider_load_shares (
    share_key  TEXT    NOT NULL,
    process    TEXT    NOT NULL,
    provider   TEXT    NOT NULL,
    in_flight  INTEGER NOT NULL,
    waiting    INTEGER NOT NULL,
    target     INTEGER NOT NULL,
    ceiling    INTEGER NOT NULL,
    auto       INTEGER NOT NULL,
    latency_ns INTEGER NOT NULL,
    rpm        INTEGER NOT NULL,
    tpm        INTEGER NOT NULL,
    share      REAL    NOT NULL,
    pid        INTEGER NOT NULL,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (share_key, process)
) WITHOUT ROWID;
INSERT INTO provider_load_shares (share_key, process, provider, in_flight, waiting, target, ceiling, auto,
    latency_ns, rpm, tpm, share, pid, updated_at)
SELECT provider, 'pid ' || pid, provider, in_flight, waiting, target, ceiling, auto,
    latency_ns, rpm, tpm, 1, pid, updated_at FROM provider_load;
DROP TABLE provider_load;
ALTER TABLE provider_load_shares RENAME TO provider_load;
CREATE INDEX provider_load_updated ON provider_load (updated_at);
