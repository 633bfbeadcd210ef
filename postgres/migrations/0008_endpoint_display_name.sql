-- The display name ethos gives an endpoint names the deploy that created
-- it, which is how a rerun finds an endpoint an interrupted deploy created
-- before it could record it.
ALTER TABLE endpoints ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
