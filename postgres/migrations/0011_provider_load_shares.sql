-- provider_load keeps one snapshot per share key and process, so that
-- several processes on one account (ethos worker) can each see the others'
-- demand and take a share of the account's rate limit. share_key is the
-- provider's name and a short hash of its API key (never the key); share
-- is the part of the limits the process holds. A snapshot kept from before
-- stands for the process that wrote it, alone on its provider.
ALTER TABLE provider_load
    ADD COLUMN share_key TEXT,
    ADD COLUMN process TEXT,
    ADD COLUMN share DOUBLE PRECISION NOT NULL DEFAULT 1;
UPDATE provider_load SET share_key = provider, process = 'pid ' || pid;
ALTER TABLE provider_load
    ALTER COLUMN share_key SET NOT NULL,
    ALTER COLUMN process SET NOT NULL,
    ALTER COLUMN share DROP DEFAULT,
    DROP CONSTRAINT provider_load_pkey,
    ADD PRIMARY KEY (share_key, process);
CREATE INDEX provider_load_updated ON provider_load (updated_at);
