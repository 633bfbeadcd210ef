-- item_counts keeps the number of items per run, stage and status, so that
-- progress displays (ethos generate, the dashboard) read a handful of rows
-- instead of counting a large run's items each time. Triggers keep it
-- exact: it changes in the same statement as the items it counts.
CREATE TABLE item_counts (
    run_id TEXT    NOT NULL,
    stage  TEXT    NOT NULL,
    status TEXT    NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (run_id, stage, status)
) WITHOUT ROWID;

INSERT INTO item_counts (run_id, stage, status, n)
    SELECT run_id, stage, status, COUNT(*) FROM items GROUP BY run_id, stage, status;

CREATE TRIGGER items_count_insert AFTER INSERT ON items BEGIN
    INSERT INTO item_counts (run_id, stage, status, n) VALUES (NEW.run_id, NEW.stage, NEW.status, 1)
        ON CONFLICT (run_id, stage, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER items_count_update AFTER UPDATE OF run_id, stage, status ON items
    WHEN OLD.run_id IS NOT NEW.run_id OR OLD.stage IS NOT NEW.stage OR OLD.status IS NOT NEW.status
BEGIN
    UPDATE item_counts SET n = n - 1 WHERE run_id = OLD.run_id AND stage = OLD.stage AND status = OLD.status;
    INSERT INTO item_counts (run_id, stage, status, n) VALUES (NEW.run_id, NEW.stage, NEW.status, 1)
        ON CONFLICT (run_id, stage, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER items_count_delete AFTER DELETE ON items BEGIN
    UPDATE item_counts SET n = n - 1 WHERE run_id = OLD.run_id AND stage = OLD.stage AND status = OLD.status;
END;
