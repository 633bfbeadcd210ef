-- Drive's look counts a run's accepted items of a stage by the category
-- segment of their keys (CountItemsByKeySegment) several times a second.
-- With the key in the index the count can be an index-only scan, without
-- the rows and their data. items_run_stage_status stays: its id column
-- gives the paged listings (ORDER BY id with id > ?) their order.
CREATE INDEX items_run_stage_status_key ON items (run_id, stage, status) INCLUDE (key);
