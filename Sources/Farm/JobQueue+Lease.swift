import Foundation
import Logging

/// Leases: claim, heartbeat, the fenced finishes (complete, fail, cancelled, release) and rescue of expired leases.
extension JobQueue {
    /// Claims up to `limit` due jobs (highest priority, then oldest) whose model is one of `models` (nil: any
    /// model) and lies under one of `modelRoots` (nil: anywhere) and whose batch is not paused, in one statement with `FOR UPDATE SKIP LOCKED`,
    /// giving each a fresh lease of `lease` seconds and a new attempt token, and opening an attempt history row.
    public func claim(worker: String, models: [String]?, modelRoots: [String]? = nil, limit: Int, lease: Double) throws -> [ClaimedJob] {
        let modelsJSON = try models.map(Self.jsonArray)
        let rootsJSON = try modelRoots.map { try Self.jsonArray($0.map { $0.hasSuffix("/") ? $0 : $0 + "/" }) }
        let eligible = """
            state = 'queued' AND run_at <= now() AND \(Self.underRoots(6))
                      AND batch_id <> ALL (ARRAY(SELECT id FROM batches WHERE paused))
                      AND ((last_failed_worker IS DISTINCT FROM $1 AND NOT ($1 = ANY(failed_workers)))
                           OR run_at <= now() - make_interval(secs => $5::float8))
            """
        // With a model list, one index range per model (jobs_claimable_by_model): a worker for model A never walks
        // B's queue. Without one, the priority index over every queued job.
        let picked = models == nil ? """
                SELECT id FROM jobs WHERE $2::jsonb IS NULL AND \(eligible)
                ORDER BY priority DESC, run_at, id LIMIT $3::int FOR UPDATE SKIP LOCKED
            """ : """
                SELECT c.id FROM (SELECT DISTINCT jsonb_array_elements_text($2::jsonb) AS model) m
                CROSS JOIN LATERAL (
                    SELECT id, priority, run_at FROM jobs WHERE model = m.model AND \(eligible)
                    ORDER BY priority DESC, run_at, id LIMIT $3::int FOR UPDATE SKIP LOCKED) c
                ORDER BY c.priority DESC, c.run_at, c.id LIMIT $3::int
            """
        let r = try db.query("""
            WITH picked AS (
                \(picked)
            ), claimed AS (
                UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, lease_owner = $1,
                       lease_token = gen_random_uuid(), lease_expires_at = now() + make_interval(secs => $4::float8),
                       started_at = now(), finished_at = NULL, progress_step = 0, progress_total = j.steps
                FROM picked WHERE j.id = picked.id
                RETURNING j.*
            ), history AS (
                INSERT INTO job_attempts (job_id, attempt, token, worker) SELECT id, attempts, lease_token, $1 FROM claimed
            )
            SELECT j.id, j.batch_id, j.attempts, j.max_attempts, j.lease_token::text AS token, \(Self.parameterColumns)
            FROM claimed j ORDER BY j.priority DESC, j.run_at, j.id
            """, [worker, modelsJSON, String(limit), String(lease), String(options.sameWorkerGrace), rootsJSON])
        return try claimedJobs(r, worker: worker)
    }

    /// The SQL condition "a job of a model this worker may load": `models` and `roots` are the numbers of the
    /// `jsonb` parameters holding the model list and the model roots (each NULL for no restriction).
    static func servedBy(models: Int, roots: Int) -> String {
        "($\(models)::jsonb IS NULL OR model IN (SELECT jsonb_array_elements_text($\(models)::jsonb))) AND \(underRoots(roots))"
    }

    /// The SQL condition "the job's model lies under one of the roots in `jsonb` parameter `roots`" (NULL: anywhere).
    static func underRoots(_ roots: Int) -> String {
        "($\(roots)::jsonb IS NULL OR EXISTS (SELECT 1 FROM jsonb_array_elements_text($\(roots)::jsonb) AS r(root) WHERE starts_with(model, r.root)))"
    }

    /// What an idle worker waits for: seconds until the next job *it* may claim becomes due (a job it failed
    /// counts from the end of its grace) or a lease expires, and (with `countPending`) whether any queued or
    /// running job is one it could serve (1) or not (0).
    /// Jobs of other models, or due jobs it may not take, never make it wake early — an idle worker never spins.
    public func nextWake(worker: String, models: [String]?, modelRoots: [String]?, countPending: Bool) throws -> (seconds: Double?, pending: Int) {
        let roots = try modelRoots.map { try Self.jsonArray($0.map { $0.hasSuffix("/") ? $0 : $0 + "/" }) }
        // Only jobs that become claimable in the future count (a job this worker failed, from the end of its
        // grace): reading queued rows due after now − grace stays on jobs_queued_by_run_at. Whether anything is
        // pending at all is asked only by workers that exit when idle, with two EXISTS probes.
        let r = try db.query("""
            SELECT extract(epoch FROM least(
                     (SELECT min(t) FROM (
                         SELECT CASE WHEN last_failed_worker = $1 OR $1 = ANY(failed_workers)
                                     THEN run_at + make_interval(secs => $4::float8) ELSE run_at END AS t
                         FROM jobs WHERE state = 'queued' AND run_at > now() - make_interval(secs => $4::float8)
                           AND \(Self.servedBy(models: 2, roots: 3))) d WHERE t > now()),
                     (SELECT min(lease_expires_at) FROM jobs WHERE state = 'running')) - now())::float8 AS next,
                   CASE WHEN $5::bool THEN
                       (EXISTS (SELECT 1 FROM jobs WHERE state = 'queued' AND \(Self.servedBy(models: 2, roots: 3)))
                        OR EXISTS (SELECT 1 FROM jobs WHERE state = 'running' AND \(Self.servedBy(models: 2, roots: 3))))::int
                   ELSE 1 END AS pending
            """, [worker, try models.map(Self.jsonArray), roots, String(options.sameWorkerGrace), countPending ? "true" : "false"])
        return (r.value(0, "next").flatMap(Double.init), r.value(0, "pending").flatMap(Int.init) ?? 0)
    }

    /// Jobs still leased to `worker` — a claim whose reply was lost with the connection, or a worker restarted
    /// under the same name — with their leases extended, so the worker resumes them instead of orphaning them
    /// until their leases expire. Workers call this before `claim`, which makes claiming safe to repeat.
    public func heldJobs(worker: String, lease: Double) throws -> [ClaimedJob] {
        let r = try db.query("""
            UPDATE jobs j SET lease_expires_at = now() + make_interval(secs => $2::float8)
            WHERE j.state = 'running' AND j.lease_owner = $1
            RETURNING j.id, j.batch_id, j.attempts, j.max_attempts, j.lease_token::text AS token, \(Self.parameterColumns)
            """, [worker, String(lease)])
        return try claimedJobs(r, worker: worker)
    }

    /// Claimed rows as typed jobs; a row that does not decode is failed at once (no worker can render it).
    private func claimedJobs(_ r: PostgresResult, worker: String) throws -> [ClaimedJob] {
        var jobs: [ClaimedJob] = []
        for i in 0..<r.rows.count {
            guard let id = r.value(i, "id").flatMap(Int64.init), let batch = r.value(i, "batch_id").flatMap(Int64.init),
                  let attempt = r.value(i, "attempts").flatMap(Int.init), let max = r.value(i, "max_attempts").flatMap(Int.init),
                  let token = r.value(i, "token") else { throw PostgresError(code: .result, message: "claim returned an incomplete row") }
            let lease = ClaimedJob.Lease(owner: worker, token: token)
            do {
                jobs.append(ClaimedJob(id: id, batchID: batch, parameters: try Self.parameters(r, i), attempt: attempt, maxAttempts: max,
                                       lease: lease))
            } catch let error as FarmError where error.code == .undecodableJob {
                // The row itself is broken: no worker and no retry can render it.
                try db.query("""
                    WITH j AS (UPDATE jobs SET state = 'failed', finished_at = now(), last_error = $3, lease_owner = NULL, lease_token = NULL,
                                      lease_expires_at = NULL
                               WHERE id = $1::bigint AND lease_token = $2::uuid AND state = 'running' RETURNING id)
                    UPDATE job_attempts SET outcome = $4, finished_at = now(), error = $3 WHERE token = $2::uuid AND EXISTS (SELECT 1 FROM j)
                    """, [String(id), token, error.message, AttemptOutcome.failed.rawValue])
                logger.error("claimed job cannot be decoded; failed it", metadata: ["job.id": "\(id)", "error": "\(error.message)"])
            }
        }
        return jobs
    }

    /// What a heartbeat learned.
    public enum LeaseStatus: Sendable, Equatable {
        /// The worker still holds the job; `cancelRequested` asks it to stop at the next step.
        case held(cancelRequested: Bool)
        /// The lease expired and the job was rescued (or finished by someone else): stop and discard.
        case lost
    }

    /// Extends the lease by `lease` seconds and records progress (step of total).
    public func heartbeat(_ job: ClaimedJob, step: Int, total: Int, lease: Double) throws -> LeaseStatus {
        let r = try db.query("""
            UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $4::float8), progress_step = $5::int, progress_total = $6::int
            WHERE id = $1::bigint AND lease_owner = $2 AND lease_token = $3::uuid AND state = 'running'
            RETURNING cancel_requested
            """, [String(job.id), job.lease.owner, job.lease.token, String(lease), String(step), String(total)])
        guard r.rows.count == 1 else { return .lost }
        return .held(cancelRequested: r.value(0, "cancel_requested") == "t")
    }

    /// Marks the job succeeded with its output path, fenced on the lease; a job whose cancellation was requested
    /// is cancelled instead (cancel wins). Returns false when the result was not accepted (the lease was lost,
    /// or the job was cancelled). Safe to repeat after a connection loss: a repeat of an accepted completion
    /// returns true.
    @discardableResult
    public func complete(_ job: ClaimedJob, outputPath: String) throws -> Bool {
        try finish(job, outcome: .succeeded, error: nil, jobUpdate: """
            UPDATE jobs SET state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'succeeded' END,
                   output_path = CASE WHEN cancel_requested THEN NULL ELSE $4 END, finished_at = now(), progress_step = progress_total,
                   last_error = CASE WHEN cancel_requested THEN 'cancelled by request' END,
                   lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
            WHERE id = $1::bigint AND lease_owner = $2 AND lease_token = $3::uuid AND state = 'running'
            RETURNING id, state
            """, extra: [outputPath])
    }

    /// Records a failed attempt, fenced on the lease: requeued with exponential backoff (never again on this
    /// worker while others may take it) while attempts remain and the error is retryable, else `failed`; a job
    /// whose cancellation was requested is cancelled instead (cancel wins).
    /// Returns false when the lease was lost.
    @discardableResult
    public func fail(_ job: ClaimedJob, error: String, retryable: Bool) throws -> Bool {
        try finish(job, outcome: .failed, error: error, jobUpdate: """
            UPDATE jobs SET state = CASE WHEN cancel_requested THEN 'cancelled'
                                         WHEN $5::bool AND attempts < max_attempts THEN 'queued' ELSE 'failed' END,
                   run_at = now() + make_interval(secs => least($7::float8, $6::float8 * power(2, attempts - 1))),
                   finished_at = CASE WHEN $5::bool AND attempts < max_attempts AND NOT cancel_requested THEN NULL ELSE now() END,
                   last_error = $4, last_failed_worker = lease_owner,
                   failed_workers = CASE WHEN lease_owner = ANY(failed_workers) THEN failed_workers ELSE array_append(failed_workers, lease_owner) END,
                   lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
            WHERE id = $1::bigint AND lease_owner = $2 AND lease_token = $3::uuid AND state = 'running'
            RETURNING id, state
            """, extra: [error, retryable ? "true" : "false", String(options.backoffBase), String(options.backoffMax)], notify: true)
    }

    /// Marks a job whose cancellation the worker observed as `cancelled`, fenced on the lease.
    @discardableResult
    public func finishCancelled(_ job: ClaimedJob) throws -> Bool {
        try finish(job, outcome: .cancelled, error: "cancelled by request", jobUpdate: """
            UPDATE jobs SET state = 'cancelled', finished_at = now(), lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
            WHERE id = $1::bigint AND lease_owner = $2 AND lease_token = $3::uuid AND state = 'running'
            RETURNING id, state
            """, extra: [])
    }

    /// Gives a job back without counting the attempt, fenced on the lease: the worker is shutting down, or
    /// (`workerFault`) the worker's own host cannot render it right now (model missing, storage full) — then
    /// the attempt is recorded as the worker's fault, never the job's.
    @discardableResult
    public func release(_ job: ClaimedJob, reason: String, workerFault: Bool = false) throws -> Bool {
        try finish(job, outcome: .released, error: reason, workerFault: workerFault, jobUpdate: """
            UPDATE jobs SET state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END, attempts = attempts - 1,
                   run_at = now(), progress_step = 0, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL,
                   finished_at = CASE WHEN cancel_requested THEN now() END
            WHERE id = $1::bigint AND lease_owner = $2 AND lease_token = $3::uuid AND state = 'running'
            RETURNING id, state
            """, extra: [], notify: true)
    }

    private func finish(_ job: ClaimedJob, outcome: AttemptOutcome, error: String?, workerFault: Bool = false, jobUpdate: String,
                        extra: [String?], notify: Bool = false) throws -> Bool {
        // One statement (one round trip, atomic): the fenced job update, the attempt row, and the notification.
        let k = 3 + extra.count
        // Cancel wins: when the fenced update cancelled the job, the attempt is recorded as cancelled.
        var sql = "WITH j AS (\(jobUpdate)), a AS (UPDATE job_attempts SET outcome = CASE WHEN (SELECT state FROM j) = 'cancelled' "
            + "THEN 'cancelled' ELSE $\(k + 1) END, finished_at = now(), error = coalesce($\(k + 2), (SELECT CASE WHEN state = 'cancelled' THEN 'cancelled by request' END FROM j)), "
            + "worker_fault = $\(k + 3)::bool WHERE token = $3::uuid AND EXISTS (SELECT 1 FROM j) RETURNING 1)"
        var params: [String?] = [String(job.id), job.lease.owner, job.lease.token] + extra + [outcome.rawValue, error, workerFault ? "true" : "false"]
        if notify {
            sql += ", nt AS (SELECT pg_notify($\(k + 4), $\(k + 5)) FROM j) SELECT (SELECT count(*) FROM j) AS n, (SELECT state FROM j) AS state, "
                + "(SELECT count(*) FROM nt) AS notified"
            params += [Self.channel, "retry \(job.id)"]
        } else {
            sql += " SELECT (SELECT count(*) FROM j) AS n, (SELECT state FROM j) AS state"
        }
        let r = try db.query(sql, params)
        if r.value(0, "n") == "1" { return outcome != .succeeded || r.value(0, "state") == "succeeded" }
        // Refused — or this is a repeat of our own finish whose reply was lost with the connection.
        let prior = try db.query("SELECT outcome FROM job_attempts WHERE token = $1::uuid", [job.lease.token])
        return prior.value(0, "outcome") == outcome.rawValue
    }

    /// Puts every job whose lease expired back in the queue (with backoff, counting the attempt), or fails
    /// it when out of attempts, or cancels it when cancellation was requested. Idempotent; any worker or
    /// the CLI may run it. Returns the rescued job ids.
    @discardableResult
    public func rescueExpired() throws -> [Int64] {
        let r = try db.query("""
            WITH expired AS (
                SELECT id, lease_token, lease_owner FROM jobs
                WHERE state = 'running' AND lease_expires_at < now()
                FOR UPDATE SKIP LOCKED
            ), rescued AS (
                UPDATE jobs j SET
                    state = CASE WHEN j.cancel_requested THEN 'cancelled' WHEN j.attempts < j.max_attempts THEN 'queued' ELSE 'failed' END,
                    run_at = now() + make_interval(secs => least($2::float8, $1::float8 * power(2, j.attempts - 1))),
                    finished_at = CASE WHEN j.cancel_requested OR j.attempts >= j.max_attempts THEN now() END,
                    last_error = 'lease expired: worker ' || e.lease_owner || ' stopped heartbeating (died or lost the network)',
                    last_failed_worker = e.lease_owner,
                    lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
                FROM expired e WHERE j.id = e.id
                RETURNING j.id, e.lease_token
            ), history AS (
                UPDATE job_attempts a SET outcome = $3, finished_at = now(), error = 'lease expired'
                FROM rescued WHERE a.token = rescued.lease_token AND a.outcome = $4
            )
            SELECT id FROM rescued
            """, [String(options.backoffBase), String(options.backoffMax), AttemptOutcome.lost.rawValue, AttemptOutcome.running.rawValue])
        let ids = r.rows.compactMap { $0[0].flatMap(Int64.init) }
        if !ids.isEmpty {
            try db.query("SELECT pg_notify($1, $2)", [Self.channel, "rescue"])
            logger.warning("rescued jobs with expired leases", metadata: ["jobs": "\(ids.map(String.init).joined(separator: ","))"])
        }
        return ids
    }
}
