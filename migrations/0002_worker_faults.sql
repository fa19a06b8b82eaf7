-- Fault attribution: a worker's own problems (model missing on its host, storage unwritable or full) give
-- the job back without using an attempt and mark the worker; a job that failed on a worker is not retaken
-- by that worker (per-job blocklist) while others may take it.

ALTER TABLE workers
    ADD COLUMN health        text NOT NULL DEFAULT 'healthy' CHECK (health IN ('healthy', 'unhealthy')),
    ADD COLUMN health_reason text,
    ADD COLUMN health_since  timestamptz;

ALTER TABLE jobs
    ADD COLUMN failed_workers text[] NOT NULL DEFAULT '{}';

ALTER TABLE job_attempts
    ADD COLUMN worker_fault boolean NOT NULL DEFAULT false;
