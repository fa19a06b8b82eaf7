-- The job queue: batches (one per submission), jobs (one per grid cell), an attempt history row per
-- claim, and a row per worker. States and parameter ranges are enforced here, not only by the CLI.

CREATE TABLE batches (
    id          bigserial PRIMARY KEY,
    name        text        NOT NULL DEFAULT '',
    spec        jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
    id               bigserial PRIMARY KEY,
    batch_id         bigint      NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    cell             integer     NOT NULL CHECK (cell >= 0),
    kind             text        NOT NULL DEFAULT 'txt2img' CHECK (kind IN ('txt2img', 'img2img', 'interpolate')),
    model            text        NOT NULL CHECK (model <> ''),
    prompt           text        NOT NULL CHECK (prompt <> ''),
    negative_prompt  text        NOT NULL DEFAULT '',
    seed             numeric(20, 0) NOT NULL CHECK (seed >= 0 AND seed <= 18446744073709551615),
    steps            integer     NOT NULL CHECK (steps BETWEEN 1 AND 1000),
    sampler          text        NOT NULL CHECK (sampler <> ''),
    cfg_scale        double precision NOT NULL CHECK (cfg_scale > '-Infinity' AND cfg_scale < 'Infinity'),
    width            integer     NOT NULL CHECK (width BETWEEN 8 AND 4096 AND width % 8 = 0),
    height           integer     NOT NULL CHECK (height BETWEEN 8 AND 4096 AND height % 8 = 0),
    extra            jsonb       NOT NULL DEFAULT '{}',
    priority         integer     NOT NULL DEFAULT 0,
    state            text        NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     integer     NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 100),
    run_at           timestamptz NOT NULL DEFAULT now(),
    lease_owner      text,
    lease_token      uuid,
    lease_expires_at timestamptz,
    progress_step    integer     NOT NULL DEFAULT 0,
    progress_total   integer     NOT NULL DEFAULT 0,
    cancel_requested boolean     NOT NULL DEFAULT false,
    output_path      text,  -- set by the worker that succeeds: <storage>/<batch>/<job>.png
    last_error       text,
    last_failed_worker text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    UNIQUE (batch_id, cell),
    -- A running job always has a complete lease; no other state has one.
    CONSTRAINT jobs_lease_iff_running CHECK (
        (state = 'running') = (lease_owner IS NOT NULL AND lease_token IS NOT NULL AND lease_expires_at IS NOT NULL)
        AND (state = 'running' OR (lease_owner IS NULL AND lease_token IS NULL AND lease_expires_at IS NULL))
    ),
    CONSTRAINT jobs_attempts_bounded CHECK (attempts <= max_attempts OR state <> 'running')
);

-- Claimable rows only, in claim order: the claim scans this and nothing else.
CREATE INDEX jobs_claimable ON jobs (priority DESC, run_at, id) WHERE state = 'queued';
-- Rescue looks at running rows by lease expiry.
CREATE INDEX jobs_running_by_lease ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_by_batch ON jobs (batch_id, state);

CREATE TABLE job_attempts (
    id          bigserial PRIMARY KEY,
    job_id      bigint      NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt     integer     NOT NULL CHECK (attempt >= 1),
    token       uuid        NOT NULL UNIQUE,
    worker      text        NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    outcome     text        NOT NULL DEFAULT 'running'
                CHECK (outcome IN ('running', 'succeeded', 'failed', 'cancelled', 'lost', 'released')),
    error       text,
    CHECK ((outcome = 'running') = (finished_at IS NULL))
);
CREATE INDEX job_attempts_by_job ON job_attempts (job_id, attempt);
-- At most one successful attempt per job, whatever happens.
CREATE UNIQUE INDEX job_attempts_one_success ON job_attempts (job_id) WHERE outcome = 'succeeded';

CREATE TABLE workers (
    name              text PRIMARY KEY,
    host              text        NOT NULL,
    pid               integer     NOT NULL,
    models            text[]      NOT NULL DEFAULT '{}',
    started_at        timestamptz NOT NULL DEFAULT now(),
    last_heartbeat_at timestamptz NOT NULL DEFAULT now(),
    current_job       bigint      REFERENCES jobs (id) ON DELETE SET NULL,
    stopped_at        timestamptz
);
