-- Admin at scale: counts without scans, a model-filtered claim index, indexes for throughput and the
-- next due job.
--
-- job_counts holds, per batch, state and kind, a number of jobs, maintained by statement-level triggers
-- on jobs (transition tables: one upsert per (batch, state, kind) per statement, so a 100,000-row submit
-- or cancel costs a handful of counter writes, not 100,000). `sdfarm status` sums these rows instead of
-- counting jobs. Counter rows are sharded by the writing backend (pg_backend_pid() % 16): many workers
-- finishing jobs of one batch each update their own shard row instead of queueing on one. A shard's n
-- may be negative (a job claimed in shard 3 and completed in shard 5); only the sum over shards means
-- anything. `sdfarm prune` folds the shards of each (batch, state, kind) back into one row.

-- No writer may change jobs while the counters are created and backfilled (readers may).
LOCK TABLE jobs IN SHARE MODE;

CREATE TABLE job_counts (
    batch_id bigint   NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    state    text     NOT NULL,
    kind     text     NOT NULL,
    shard    smallint NOT NULL CHECK (shard BETWEEN 0 AND 15),
    n        bigint   NOT NULL,
    PRIMARY KEY (batch_id, state, kind, shard)
);

CREATE FUNCTION job_counts_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts AS c (batch_id, state, kind, shard, n)
    SELECT batch_id, state, kind, pg_backend_pid() % 16, count(*) FROM new_rows
    GROUP BY batch_id, state, kind ORDER BY batch_id, state, kind
    ON CONFLICT (batch_id, state, kind, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION job_counts_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Most updates (heartbeats, progress, a rescue that found nothing) change no counted column.
    IF NOT EXISTS (SELECT 1 FROM new_rows) THEN RETURN NULL; END IF;
    INSERT INTO job_counts AS c (batch_id, state, kind, shard, n)
    SELECT d.batch_id, d.state, d.kind, pg_backend_pid() % 16, sum(d.delta) FROM (
        SELECT o.batch_id, o.state, o.kind, -1 AS delta FROM old_rows o JOIN new_rows w ON w.id = o.id
        WHERE (o.batch_id, o.state, o.kind) IS DISTINCT FROM (w.batch_id, w.state, w.kind)
        UNION ALL
        SELECT w.batch_id, w.state, w.kind, 1 FROM old_rows o JOIN new_rows w ON w.id = o.id
        WHERE (o.batch_id, o.state, o.kind) IS DISTINCT FROM (w.batch_id, w.state, w.kind)
    ) d
    GROUP BY d.batch_id, d.state, d.kind HAVING sum(d.delta) <> 0 ORDER BY d.batch_id, d.state, d.kind
    ON CONFLICT (batch_id, state, kind, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION job_counts_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Jobs deleted with their batch (the cascade): the batch's counter rows go with it (their own cascade).
    INSERT INTO job_counts AS c (batch_id, state, kind, shard, n)
    SELECT o.batch_id, o.state, o.kind, pg_backend_pid() % 16, -count(*) FROM old_rows o
    WHERE EXISTS (SELECT 1 FROM batches b WHERE b.id = o.batch_id)
    GROUP BY o.batch_id, o.state, o.kind ORDER BY o.batch_id, o.state, o.kind
    ON CONFLICT (batch_id, state, kind, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION job_counts_after_insert();
CREATE TRIGGER job_counts_update AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION job_counts_after_update();
CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION job_counts_after_delete();

INSERT INTO job_counts (batch_id, state, kind, shard, n)
SELECT batch_id, state, kind, 0, count(*) FROM jobs GROUP BY batch_id, state, kind;

-- A claim for some models walks only those models' queued rows, in claim order.
CREATE INDEX jobs_claimable_by_model ON jobs (model, priority DESC, run_at, id) WHERE state = 'queued';
-- The next queued job to become due (an idle worker's sleep): the first entry, not a scan of the queue.
CREATE INDEX jobs_queued_by_run_at ON jobs (run_at) WHERE state = 'queued';
-- Throughput over the last minutes: a range of recent successes, with the batch for a per-batch status.
CREATE INDEX jobs_succeeded_by_finished ON jobs (finished_at) INCLUDE (batch_id) WHERE state = 'succeeded';
