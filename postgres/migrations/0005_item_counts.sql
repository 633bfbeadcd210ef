-- item_counts keeps the number of items per run, stage and status, so that
-- progress displays (ethos generate, the dashboard) read a handful of rows
-- instead of counting a large run's items each time. Triggers keep it
-- exact: it changes in the same statement as the items it counts.
CREATE TABLE item_counts (
    run_id TEXT   NOT NULL,
    stage  TEXT   NOT NULL,
    status TEXT   NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (run_id, stage, status)
);

INSERT INTO item_counts (run_id, stage, status, n)
    SELECT run_id, stage, status, COUNT(*) FROM items GROUP BY run_id, stage, status;

-- The functions keep the search_path they were made with, so that they
-- find the store's tables from a session whose search_path differs.
CREATE FUNCTION item_counts_add(p_run TEXT, p_stage TEXT, p_status TEXT, delta BIGINT) RETURNS void
LANGUAGE sql SET search_path FROM CURRENT AS $$
    INSERT INTO item_counts (run_id, stage, status, n) VALUES (p_run, p_stage, p_status, delta)
        ON CONFLICT (run_id, stage, status) DO UPDATE SET n = item_counts.n + EXCLUDED.n;
$$;

CREATE FUNCTION items_count() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM item_counts_add(NEW.run_id, NEW.stage, NEW.status, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM item_counts_add(OLD.run_id, OLD.stage, OLD.status, -1);
    -- An item moves from one count to another. Many writers move items at
    -- once, some each way (pending to rejected, rejected to pending): the
    -- two counts are changed in key order, so that two such moves never
    -- wait for each other's second row and deadlock.
    ELSIF (OLD.run_id, OLD.stage, OLD.status) < (NEW.run_id, NEW.stage, NEW.status) THEN
        PERFORM item_counts_add(OLD.run_id, OLD.stage, OLD.status, -1);
        PERFORM item_counts_add(NEW.run_id, NEW.stage, NEW.status, 1);
    ELSE
        PERFORM item_counts_add(NEW.run_id, NEW.stage, NEW.status, 1);
        PERFORM item_counts_add(OLD.run_id, OLD.stage, OLD.status, -1);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER items_count_insert AFTER INSERT ON items
    FOR EACH ROW EXECUTE FUNCTION items_count();

CREATE TRIGGER items_count_update AFTER UPDATE OF run_id, stage, status ON items
    FOR EACH ROW
    WHEN (OLD.run_id IS DISTINCT FROM NEW.run_id OR OLD.stage IS DISTINCT FROM NEW.stage OR OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION items_count();

CREATE TRIGGER items_count_delete AFTER DELETE ON items
    FOR EACH ROW EXECUTE FUNCTION items_count();
