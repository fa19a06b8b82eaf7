import Foundation
public import Logging

/// The PostgreSQL job queue: submit, claim, heartbeat, complete, fail, rescue.
///
/// Every operation is one statement (or one short transaction) with bound parameters. Completion, failure
/// and heartbeats are fenced on job id + lease owner + lease token: a worker that lost its lease cannot
/// touch a job someone else now holds. Not thread-safe (one connection): give each thread its own queue.
public final class JobQueue {
    /// The channel idle workers `LISTEN` on; submit, retry and rescue `NOTIFY` it.
    public static let channel = "sdfarm_jobs"

    /// Retry timing.
    public struct Options: Sendable {
        /// Seconds before the first retry; doubles with each attempt.
        public var backoffBase: Double
        /// The longest retry delay.
        public var backoffMax: Double
        /// A worker that failed a job may retake it only this long after it became due, leaving it to others first.
        public var sameWorkerGrace: Double

        public init(backoffBase: Double = 2, backoffMax: Double = 300, sameWorkerGrace: Double = 2) {
            self.backoffBase = backoffBase
            self.backoffMax = backoffMax
            self.sameWorkerGrace = sameWorkerGrace
        }

        /// Defaults, overridden by `SDFARM_BACKOFF_BASE` / `SDFARM_BACKOFF_MAX` (seconds) when set.
        public static var fromEnvironment: Options {
            var o = Options()
            let env = ProcessInfo.processInfo.environment
            if let v = env["SDFARM_BACKOFF_BASE"].flatMap(Double.init), v >= 0 { o.backoffBase = v; o.sameWorkerGrace = min(o.sameWorkerGrace, v) }
            if let v = env["SDFARM_BACKOFF_MAX"].flatMap(Double.init), v >= 0 { o.backoffMax = v }
            return o
        }
    }

    public let db: PostgresConnection
    public let options: Options
    let logger: Logger

    public init(_ db: PostgresConnection, options: Options = .fromEnvironment, logger: Logger) {
        self.db = db
        self.options = options
        self.logger = logger
    }

    // MARK: Submit

    /// What `submit` created.
    public struct Submission: Sendable, Codable, Equatable {
        public let batchID: Int64
        public let jobCount: Int
        enum CodingKeys: String, CodingKey { case batchID = "batch", jobCount = "jobs" }
    }

    /// Validates every cell of `spec`, then creates a batch and its jobs in one transaction and notifies
    /// idle workers. Nothing is written when any check fails.
    /// - Parameters:
    ///   - knownSamplers: the sampler names the renderer supports.
    ///   - validate: extra checks from the executable (e.g. model-aware size limits), run per job after the generic ones.
    /// - Throws: `FarmError.invalidInput` naming the bad value; `PostgresError`.
    public func submit(_ spec: GridSpec, knownSamplers: [String],
                       validate: ((RenderParameters) throws -> Void)? = nil) throws -> Submission {
        var spec = spec
        spec.model = try Self.normalizeModelPath(spec.model)
        guard (1...100).contains(spec.maxAttempts) else {
            throw FarmError(.invalidInput, "--max-attempts: \(spec.maxAttempts) is outside 1…100")
        }
        guard spec.initImage == nil || spec.interpolation == nil else {
            throw FarmError(.invalidInput, "--init-image and --interpolate cannot be combined in one batch")
        }
        guard spec.jobCount > 0 else { throw FarmError(.invalidInput, "the grid is empty: give at least one prompt, seed, size, sampler, steps and CFG scale") }
        guard spec.jobCount <= GridParsing.maxJobs else {
            throw FarmError(.invalidInput, "the grid expands to \(spec.jobCount) jobs; at most \(GridParsing.maxJobs) fit in one batch — split it")
        }
        let jobs = spec.expand()
        var checked = Set<RenderParameters>()
        for p in jobs {
            var generic = p
            generic.seed = 0
            if checked.insert(generic).inserted {
                try Self.validate(p, knownSamplers: knownSamplers)
                try validate?(p)
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let specJSON = String(decoding: try encoder.encode(spec), as: UTF8.self)
        let jobsJSON = String(decoding: try encoder.encode(jobs), as: UTF8.self)
        return try db.transaction {
            let batch = try db.query("INSERT INTO batches (name, spec) VALUES ($1, $2::jsonb) RETURNING id", [spec.name, specJSON])
            guard let id = batch.value(0, "id").flatMap(Int64.init) else { throw PostgresError(code: .result, message: "INSERT … RETURNING id gave no id") }
            let inserted = try db.query("""
                INSERT INTO jobs (batch_id, cell, kind, model, prompt, negative_prompt, seed, steps, sampler, cfg_scale,
                                  width, height, extra, priority, max_attempts)
                SELECT $1::bigint, (t.ord - 1)::int, x->>'kind', x->>'model', x->>'prompt', x->>'negative_prompt',
                       (x->>'seed')::numeric, (x->>'steps')::int, x->>'sampler', (x->>'cfg_scale')::float8,
                       (x->>'width')::int, (x->>'height')::int, coalesce(x->'extra', '{}'::jsonb), $3::int, $4::int
                FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(x, ord)
                """, [String(id), jobsJSON, String(spec.priority), String(spec.maxAttempts)])
            try db.query("SELECT pg_notify($1, $2)", [Self.channel, "submit \(id)"])
            return Submission(batchID: id, jobCount: inserted.affectedRows)
        }
    }

    /// An absolute, standardised path to an existing model file or folder; `.ckpt` refused.
    public static func normalizeModelPath(_ path: String) throws -> String {
        guard !path.isEmpty else { throw FarmError(.invalidInput, "--model: the model path is empty") }
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let standard = URL(fileURLWithPath: absolute).standardized.path
        if standard.lowercased().hasSuffix(".ckpt") {
            throw FarmError(.invalidInput, "--model: \(standard) is a pickled .ckpt checkpoint; sdfarm never unpickles (it can run arbitrary code). Convert it to .safetensors first.")
        }
        guard FileManager.default.fileExists(atPath: standard) else {
            throw FarmError(.invalidInput, "--model: \(standard) does not exist; give the path of a .safetensors checkpoint or a diffusers model folder as the workers will see it")
        }
        return standard
    }

    /// The checks every job passes regardless of the model.
    public static func validate(_ p: RenderParameters, knownSamplers: [String]) throws {
        guard !p.prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw FarmError(.invalidInput, "--prompt: a prompt is empty; every job needs some text")
        }
        try GridParsing.validate(size: GridSpec.Size(width: p.width, height: p.height), option: "--size")
        guard (1...1000).contains(p.steps) else { throw FarmError(.invalidInput, "--steps: \(p.steps) is outside 1…1000") }
        guard p.cfgScale.isFinite else { throw FarmError(.invalidInput, "--cfg-scale: \(p.cfgScale) is not finite") }
        guard knownSamplers.contains(p.sampler) else {
            throw FarmError(.invalidInput, "--sampler: unknown sampler '\(p.sampler)'; known samplers: \(knownSamplers.joined(separator: ", "))")
        }
        switch p.kind {
        case "txt2img":
            break
        case "img2img":
            guard let path = p.extra["init_image"], !path.isEmpty else { throw FarmError(.invalidInput, "--init-image: an image-to-image job names no init image") }
            guard let s = p.extra["strength"].flatMap(Double.init), s.isFinite, s > 0, s <= 1 else {
                throw FarmError(.invalidInput, "--strength: '\(p.extra["strength"] ?? "")' is not greater than 0 and at most 1")
            }
        case "interpolate":
            guard let target = p.extra["prompt_b"], !target.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw FarmError(.invalidInput, "--interpolate: the second prompt is empty; give two prompts, A then B")
            }
            guard let frames = p.extra["frames"].flatMap(Int.init), frames >= 2,
                  let frame = p.extra["frame"].flatMap(Int.init), (0..<frames).contains(frame) else {
                throw FarmError(.invalidInput, "--frames: an interpolation needs at least 2 frames, got \(p.extra["frames"] ?? "none")")
            }
        default:
            throw FarmError(.invalidInput, "unknown job kind '\(p.kind)'; use txt2img, img2img or interpolate")
        }
    }

    // MARK: Claim, heartbeat, finish

    static let parameterColumns = "j.kind, j.model, j.prompt, j.negative_prompt, j.seed::text AS seed, j.steps, j.sampler, j.cfg_scale, j.width, j.height, j.extra::text AS extra"

    static func parameters(_ r: PostgresResult, _ i: Int) throws -> RenderParameters {
        func text(_ c: String) throws -> String {
            guard let v = r.value(i, c) else { throw PostgresError(code: .result, message: "column \(c) is missing or NULL") }
            return v
        }
        func int(_ c: String) throws -> Int {
            guard let v = Int(try text(c)) else { throw PostgresError(code: .result, message: "column \(c) is not an integer") }
            return v
        }
        let extraText = try text("extra")
        let extra = (try? JSONSerialization.jsonObject(with: Data(extraText.utf8)) as? [String: Any])?
            .mapValues { "\($0)" } ?? [:]
        guard let seed = UInt64(try text("seed")), let cfg = Double(try text("cfg_scale")) else {
            throw PostgresError(code: .result, message: "seed or cfg_scale did not parse")
        }
        return RenderParameters(kind: try text("kind"), model: try text("model"), prompt: try text("prompt"),
                                negativePrompt: try text("negative_prompt"), seed: seed, steps: try int("steps"),
                                sampler: try text("sampler"), cfgScale: cfg, width: try int("width"), height: try int("height"),
                                extra: extra)
    }

    /// Claims up to `limit` due jobs (highest priority, then oldest) that serve one of `models` (nil: any
    /// model), in one statement with `FOR UPDATE SKIP LOCKED`, giving each a fresh lease of `lease` seconds
    /// and a new attempt token, and opening an attempt history row.
    public func claim(worker: String, models: [String]?, limit: Int, lease: Double) throws -> [ClaimedJob] {
        let modelsJSON = try models.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        let r = try db.query("""
            WITH picked AS (
                SELECT id FROM jobs
                WHERE state = 'queued' AND run_at <= now()
                  AND ($2::jsonb IS NULL OR model IN (SELECT jsonb_array_elements_text($2::jsonb)))
                  AND (last_failed_worker IS DISTINCT FROM $1 OR run_at <= now() - make_interval(secs => $5::float8))
                ORDER BY priority DESC, run_at, id
                LIMIT $3::int
                FOR UPDATE SKIP LOCKED
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
            """, [worker, modelsJSON, String(limit), String(lease), String(options.sameWorkerGrace)])
        return try (0..<r.rows.count).map { i in
            guard let id = r.value(i, "id").flatMap(Int64.init), let batch = r.value(i, "batch_id").flatMap(Int64.init),
                  let attempt = r.value(i, "attempts").flatMap(Int.init), let max = r.value(i, "max_attempts").flatMap(Int.init),
                  let token = r.value(i, "token") else { throw PostgresError(code: .result, message: "claim returned an incomplete row") }
            return ClaimedJob(id: id, batchID: batch, parameters: try Self.parameters(r, i), attempt: attempt, maxAttempts: max,
                              lease: .init(owner: worker, token: token))
        }
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

    /// Marks the job succeeded with its output path, fenced on the lease. Returns false when the lease was
    /// lost (the result is refused). Safe to repeat after a connection loss: a repeat of an accepted
    /// completion returns true.
    @discardableResult
    public func complete(_ job: ClaimedJob, outputPath: String) throws -> Bool {
        try finish(job, attemptOutcome: "succeeded", error: nil, jobUpdate: """
            UPDATE jobs SET state = 'succeeded', output_path = $4, finished_at = now(), progress_step = progress_total,
                   last_error = NULL, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
            WHERE id = $1::bigint AND lease_owner = $2 AND lease_token = $3::uuid AND state = 'running'
            RETURNING id
            """, extra: [outputPath])
    }

    /// Records a failed attempt, fenced on the lease: requeued with exponential backoff (to be preferably
    /// taken by another worker) while attempts remain and the error is retryable, else `failed`.
    /// Returns false when the lease was lost.
    @discardableResult
    public func fail(_ job: ClaimedJob, error: String, retryable: Bool) throws -> Bool {
        try finish(job, attemptOutcome: "failed", error: error, jobUpdate: """
            UPDATE jobs SET state = CASE WHEN $5::bool AND attempts < max_attempts THEN 'queued' ELSE 'failed' END,
                   run_at = now() + make_interval(secs => least($7::float8, $6::float8 * power(2, attempts - 1))),
                   finished_at = CASE WHEN $5::bool AND attempts < max_attempts THEN NULL ELSE now() END,
                   last_error = $4, last_failed_worker = lease_owner,
                   lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
            WHERE id = $1::bigint AND lease_owner = $2 AND lease_token = $3::uuid AND state = 'running'
            RETURNING id, state
            """, extra: [error, retryable ? "true" : "false", String(options.backoffBase), String(options.backoffMax)], notify: true)
    }

    /// Marks a job whose cancellation the worker observed as `cancelled`, fenced on the lease.
    @discardableResult
    public func finishCancelled(_ job: ClaimedJob) throws -> Bool {
        try finish(job, attemptOutcome: "cancelled", error: "cancelled by request", jobUpdate: """
            UPDATE jobs SET state = 'cancelled', finished_at = now(), lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
            WHERE id = $1::bigint AND lease_owner = $2 AND lease_token = $3::uuid AND state = 'running'
            RETURNING id
            """, extra: [])
    }

    /// Gives a job back without counting the attempt (the worker is shutting down), fenced on the lease.
    @discardableResult
    public func release(_ job: ClaimedJob, reason: String) throws -> Bool {
        try finish(job, attemptOutcome: "released", error: reason, jobUpdate: """
            UPDATE jobs SET state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END, attempts = attempts - 1,
                   run_at = now(), progress_step = 0, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL,
                   finished_at = CASE WHEN cancel_requested THEN now() END
            WHERE id = $1::bigint AND lease_owner = $2 AND lease_token = $3::uuid AND state = 'running'
            RETURNING id
            """, extra: [], notify: true)
    }

    private func finish(_ job: ClaimedJob, attemptOutcome: String, error: String?, jobUpdate: String, extra: [String?],
                        notify: Bool = false) throws -> Bool {
        // One statement (one round trip, atomic): the fenced job update, the attempt row, and the notification.
        let k = 3 + extra.count
        var sql = "WITH j AS (\(jobUpdate)), a AS (UPDATE job_attempts SET outcome = $\(k + 1), finished_at = now(), error = $\(k + 2) "
            + "WHERE token = $3::uuid AND EXISTS (SELECT 1 FROM j) RETURNING 1)"
        var params: [String?] = [String(job.id), job.lease.owner, job.lease.token] + extra + [attemptOutcome, error]
        if notify {
            sql += ", nt AS (SELECT pg_notify($\(k + 3), $\(k + 4)) FROM j) SELECT (SELECT count(*) FROM j) AS n, (SELECT count(*) FROM nt) AS notified"
            params += [Self.channel, "retry \(job.id)"]
        } else {
            sql += " SELECT (SELECT count(*) FROM j) AS n"
        }
        let accepted = try db.query(sql, params).value(0, "n") == "1"
        if accepted { return true }
        // Refused — or this is a repeat of our own finish whose reply was lost with the connection.
        let prior = try db.query("SELECT outcome FROM job_attempts WHERE token = $1::uuid", [job.lease.token])
        return prior.value(0, "outcome") == attemptOutcome
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
                UPDATE job_attempts a SET outcome = 'lost', finished_at = now(), error = 'lease expired'
                FROM rescued WHERE a.token = rescued.lease_token AND a.outcome = 'running'
            )
            SELECT id FROM rescued
            """, [String(options.backoffBase), String(options.backoffMax)])
        let ids = r.rows.compactMap { $0[0].flatMap(Int64.init) }
        if !ids.isEmpty {
            try db.query("SELECT pg_notify($1, $2)", [Self.channel, "rescue"])
            logger.warning("rescued jobs with expired leases", metadata: ["jobs": "\(ids.map(String.init).joined(separator: ","))"])
        }
        return ids
    }

    /// Seconds until the next queued job becomes due (nil when nothing is queued), so an idle worker can
    /// sleep exactly that long when no notification comes.
    public func secondsUntilNextDue() throws -> Double? {
        let r = try db.query("SELECT extract(epoch FROM min(run_at) - now())::float8 AS s FROM jobs WHERE state = 'queued'")
        return r.value(0, "s").flatMap(Double.init)
    }

    // MARK: Workers

    /// Registers (or re-registers) a worker row.
    public func registerWorker(name: String, host: String, pid: Int32, models: [String]) throws {
        let modelsJSON = String(decoding: try JSONEncoder().encode(models), as: UTF8.self)
        try db.query("""
            INSERT INTO workers (name, host, pid, models) VALUES ($1, $2, $3::int, ARRAY(SELECT jsonb_array_elements_text($4::jsonb)))
            ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, models = EXCLUDED.models,
                started_at = now(), last_heartbeat_at = now(), current_job = NULL, stopped_at = NULL
            """, [name, host, String(pid), modelsJSON])
    }

    /// Records that the worker is alive and what it is doing.
    public func workerHeartbeat(name: String, currentJob: Int64?) throws {
        try db.query("UPDATE workers SET last_heartbeat_at = now(), current_job = $2::bigint, stopped_at = NULL WHERE name = $1",
                     [name, currentJob.map(String.init)])
    }

    /// Records a clean stop.
    public func workerStopped(name: String) throws {
        try db.query("UPDATE workers SET stopped_at = now(), current_job = NULL WHERE name = $1", [name])
    }
}
