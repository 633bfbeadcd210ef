-- Drive's look counts a run's accepted items of a stage by the category
-- segment of their keys (CountItemsByKeySegment) several times a second.
-- With the key in the index the count is read from the index alone,
-- without the rows and their data. items_run_stage_status stays: it gives
-- the same items in id order, which the paged listings (ORDER BY id with
-- id > ?) read without sorting.
CREATE INDEX items_run_stage_status_key ON items (run_id, stage, status, key);
