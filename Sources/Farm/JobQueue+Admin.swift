import Foundation

/// Listings and the operator's commands: jobs, show, status, workers, retry, cancel.
extension JobQueue {
    /// One job as listings show it (`sdfarm jobs --json`).
    public struct JobSummary: Sendable, Codable, Equatable {
        public let id: Int64
        public let batch: Int64
        public let cell: Int
        public let state: JobState
        public let priority: Int
        public let attempts: Int
        public let maxAttempts: Int
        public let parameters: RenderParameters
        public let outputPath: String?
        public let lastError: String?
        public let progress: Progress
        public let worker: String?
        public let createdAt: String
        public let startedAt: String?
        public let finishedAt: String?

        public struct Progress: Sendable, Codable, Equatable {
            public let step: Int
            public let total: Int
        }

        enum CodingKeys: String, CodingKey {
            case id, batch, cell, state, priority, attempts, parameters, progress, worker
            case maxAttempts = "max_attempts", outputPath = "output_path", lastError = "last_error"
            case createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at"
        }
    }

    /// One attempt of a job.
    public struct AttemptRecord: Sendable, Codable, Equatable {
        public let attempt: Int
        public let worker: String
        public let startedAt: String
        public let finishedAt: String?
        public let outcome: AttemptOutcome
        public let error: String?
        enum CodingKeys: String, CodingKey {
            case attempt, worker, outcome, error
            case startedAt = "started_at", finishedAt = "finished_at"
        }
    }

    /// Counts, running jobs, live workers, throughput and ETA, for `sdfarm status`.
    public struct StatusReport: Sendable, Codable, Equatable {
        public let batch: Int64?
        public let counts: [String: Int]
        /// Jobs per kind (`txt2img`, `img2img`, `interpolate`).
        public let kinds: [String: Int]
        public let total: Int
        public let running: [JobSummary]
        public let workers: [WorkerRecord]
        /// Jobs finished successfully per minute over the last 5 minutes.
        public let throughputPerMinute: Double
        /// Seconds until queued + running jobs are done at that throughput (nil when unknown).
        public let etaSeconds: Double?
        enum CodingKeys: String, CodingKey {
            case batch, counts, kinds, total, running, workers
            case throughputPerMinute = "throughput_per_minute", etaSeconds = "eta_seconds"
        }

        /// True when nothing is queued or running.
        public var isDone: Bool { (counts["queued"] ?? 0) + (counts["running"] ?? 0) == 0 }
    }

    static let summaryColumns = """
        j.id, j.batch_id, j.cell, j.state, j.priority, j.attempts, j.max_attempts, j.output_path, j.last_error,
        j.progress_step, j.progress_total, j.lease_owner, to_json(j.created_at)#>>'{}' AS created_at,
        to_json(j.started_at)#>>'{}' AS started_at, to_json(j.finished_at)#>>'{}' AS finished_at, \(parameterColumns)
        """

    static func summaries(_ r: PostgresResult) throws -> [JobSummary] {
        try (0..<r.rows.count).map { i in
            func int(_ c: String) -> Int { r.value(i, c).flatMap(Int.init) ?? 0 }
            guard let id = r.value(i, "id").flatMap(Int64.init), let batch = r.value(i, "batch_id").flatMap(Int64.init),
                  let state = r.value(i, "state").flatMap(JobState.init(rawValue:)) else {
                throw PostgresError(code: .result, message: "job row without id, batch or state")
            }
            return JobSummary(id: id, batch: batch, cell: int("cell"), state: state, priority: int("priority"),
                              attempts: int("attempts"), maxAttempts: int("max_attempts"), parameters: try parameters(r, i),
                              outputPath: r.value(i, "output_path"), lastError: r.value(i, "last_error"),
                              progress: .init(step: int("progress_step"), total: int("progress_total")),
                              worker: r.value(i, "lease_owner"), createdAt: r.value(i, "created_at") ?? "",
                              startedAt: r.value(i, "started_at"), finishedAt: r.value(i, "finished_at"))
        }
    }

    /// Throws `notFound` unless batch `id` exists.
    public func requireBatch(_ id: Int64) throws {
        let r = try db.query("SELECT 1 FROM batches WHERE id = $1::bigint", [String(id)])
        guard r.rows.count == 1 else {
            throw FarmError(.notFound, "batch \(id) does not exist; `sdfarm jobs` lists batches and their jobs")
        }
    }

    /// The most jobs one page of `jobs(batch:state:limit:after:)` returns.
    public static let maxPageSize = 10_000

    /// Jobs, optionally of one batch and/or one state, in batch and cell order, keyset-paged.
    /// - Parameters:
    ///   - limit: at most this many jobs (1…`maxPageSize`); nil returns every matching job (for callers that
    ///     know the set is small — listings for people page).
    ///   - after: a job id: only jobs after it in (batch, cell) order (the last id of the previous page).
    /// - Throws: `notFound` when `batch` or `after` does not exist; `invalidInput` for a limit out of range.
    public func jobs(batch: Int64? = nil, state: JobState? = nil, limit: Int? = nil, after: Int64? = nil) throws -> [JobSummary] {
        if let batch { try requireBatch(batch) }
        if let limit, !(1...Self.maxPageSize).contains(limit) {
            throw FarmError(.invalidInput, "a page holds 1…\(Self.maxPageSize) jobs, not \(limit)")
        }
        var cursor: (batch: String, cell: String)?
        if let after {
            let r = try db.query("SELECT batch_id, cell FROM jobs WHERE id = $1::bigint", [String(after)])
            guard let b = r.value(0, "batch_id"), let c = r.value(0, "cell") else {
                throw FarmError(.notFound, "job \(after) does not exist; pass the last id of the previous page")
            }
            cursor = (b, c)
        }
        // Keyset on the unique (batch_id, cell) index: a page costs its own rows, wherever it is.
        let r = try db.query("""
            SELECT \(Self.summaryColumns) FROM jobs j
            WHERE ($1::bigint IS NULL OR j.batch_id = $1::bigint) AND ($2::text IS NULL OR j.state = $2::text)
              AND ($3::bigint IS NULL OR (j.batch_id, j.cell) > ($3::bigint, $4::int))
            ORDER BY j.batch_id, j.cell
            LIMIT $5::bigint
            """, [batch.map(String.init), state?.rawValue, cursor?.batch, cursor?.cell, limit.map(String.init)])
        return try Self.summaries(r)
    }

    /// Every job of a selection, one page at a time (bounded memory), in batch and cell order.
    /// - Parameters:
    ///   - pageSize: jobs per round trip.
    ///   - body: called with each page; return false to stop.
    public func forEachJobPage(batch: Int64? = nil, state: JobState? = nil, pageSize: Int = 1000,
                               _ body: ([JobSummary]) throws -> Bool) throws {
        var after: Int64?
        while true {
            let page = try jobs(batch: batch, state: state, limit: pageSize, after: after)
            if page.isEmpty { return }
            let goOn = try body(page)
            if !goOn || page.count < pageSize { return }
            after = page.last?.id
        }
    }

    /// One job, or `notFound`.
    public func job(_ id: Int64) throws -> JobSummary {
        let r = try db.query("SELECT \(Self.summaryColumns) FROM jobs j WHERE j.id = $1::bigint", [String(id)])
        guard let job = try Self.summaries(r).first else {
            throw FarmError(.notFound, "job \(id) does not exist; `sdfarm jobs` lists job ids")
        }
        return job
    }

    /// Every attempt of job `id`, oldest first.
    public func attempts(of id: Int64) throws -> [AttemptRecord] {
        let r = try db.query("""
            SELECT attempt, worker, to_json(started_at)#>>'{}' AS started_at, to_json(finished_at)#>>'{}' AS finished_at, outcome, error
            FROM job_attempts WHERE job_id = $1::bigint ORDER BY id
            """, [String(id)])
        return try (0..<r.rows.count).map { i in
            guard let outcome = r.value(i, "outcome").flatMap(AttemptOutcome.init(rawValue:)) else {
                throw FarmError(.undecodableJob, "job \(id) has an attempt whose outcome '\(r.value(i, "outcome") ?? "NULL")' is not one of \(AttemptOutcome.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return AttemptRecord(attempt: r.value(i, "attempt").flatMap(Int.init) ?? 0, worker: r.value(i, "worker") ?? "",
                                 startedAt: r.value(i, "started_at") ?? "", finishedAt: r.value(i, "finished_at"),
                                 outcome: outcome, error: r.value(i, "error"))
        }
    }

    /// The most running jobs a status report lists (the counts hold them all).
    public static let statusRunningLimit = 100

    /// Counts per state, running jobs with progress, live workers, throughput and ETA (of one batch or all).
    ///
    /// Reads no more than it shows: counts come from the trigger-maintained `job_counts` rows, running jobs
    /// from the partial index of running rows (at most `statusRunningLimit`), throughput from the partial
    /// index of successes by finish time (the last 5 minutes only), workers from `workers`.
    public func status(batch: Int64? = nil) throws -> StatusReport {
        if let batch { try requireBatch(batch) }
        let b = batch.map(String.init)
        let c = try db.query("""
            SELECT state, kind, sum(n)::bigint AS n FROM job_counts WHERE $1::bigint IS NULL OR batch_id = $1::bigint
            GROUP BY state, kind
            """, [b])
        var counts = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, 0) })
        var kinds: [String: Int] = [:]
        for i in 0..<c.rows.count {
            let n = c.value(i, "n").flatMap(Int.init) ?? 0
            counts[c.value(i, "state") ?? "", default: 0] += n
            if n != 0 { kinds[c.value(i, "kind") ?? "", default: 0] += n }
        }
        kinds = kinds.filter { $0.value != 0 }
        let running = try Self.summaries(try db.query("""
            SELECT \(Self.summaryColumns) FROM jobs j WHERE j.state = 'running' AND ($1::bigint IS NULL OR j.batch_id = $1::bigint)
            ORDER BY j.id LIMIT $2::int
            """, [b, String(Self.statusRunningLimit)]))
        let t = try db.query("""
            SELECT count(*) AS n, extract(epoch FROM now() - min(finished_at))::float8 AS span FROM jobs
            WHERE state = 'succeeded' AND finished_at > now() - interval '5 minutes' AND ($1::bigint IS NULL OR batch_id = $1::bigint)
            """, [b])
        let recent = t.value(0, "n").flatMap(Int.init) ?? 0
        let span = max(1, t.value(0, "span").flatMap(Double.init) ?? 0)
        let perMinute = recent > 0 ? Double(recent) / span * 60 : 0
        let remaining = (counts["queued"] ?? 0) + (counts["running"] ?? 0)
        let eta: Double? = remaining == 0 ? 0 : (perMinute > 0 ? Double(remaining) / perMinute * 60 : nil)
        return StatusReport(batch: batch, counts: counts, kinds: kinds, total: counts.values.reduce(0, +), running: running,
                            workers: try workers().filter(\.alive), throughputPerMinute: perMinute, etaSeconds: eta)
    }

    /// What `cancel` did.
    public struct CancelResult: Sendable, Codable, Equatable {
        /// Queued jobs cancelled at once.
        public let cancelled: Int
        /// Running jobs asked to stop at their next step.
        public let stopping: Int
        /// Jobs already finished, left alone.
        public let unchanged: Int
    }

    /// Cancels jobs by id (all must exist) or a whole batch: queued ones at once, running ones at their next step.
    public func cancel(jobs ids: [Int64] = [], batch: Int64? = nil) throws -> CancelResult {
        try db.transaction {
            let targets = try resolveTargets(ids: ids, batch: batch)
            let q = try db.query("""
                UPDATE jobs SET state = 'cancelled', finished_at = now(), cancel_requested = true
                WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)::bigint)) AND state = 'queued'
                """, [targets])
            let r = try db.query("""
                UPDATE jobs SET cancel_requested = true
                WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)::bigint)) AND state = 'running' AND NOT cancel_requested
                """, [targets])
            let total = try db.query("SELECT jsonb_array_length($1::jsonb) AS n", [targets]).value(0, "n").flatMap(Int.init) ?? 0
            return CancelResult(cancelled: q.affectedRows, stopping: r.affectedRows, unchanged: total - q.affectedRows - r.affectedRows)
        }
    }

    /// Puts failed or cancelled jobs (by id, by batch, or every failed job) back in the queue with fresh
    /// attempts, and notifies workers. Returns how many were requeued.
    public func retry(jobs ids: [Int64] = [], batch: Int64? = nil, allFailed: Bool = false) throws -> Int {
        try db.transaction {
            let targets = allFailed ? nil : try resolveTargets(ids: ids, batch: batch)
            let r = try db.query("""
                UPDATE jobs SET state = 'queued', attempts = 0, run_at = now(), cancel_requested = false, finished_at = NULL,
                       progress_step = 0, last_failed_worker = NULL, failed_workers = '{}'
                WHERE state IN ('failed', 'cancelled') AND ($1::jsonb IS NULL OR id = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)::bigint)))
                  AND ($1::jsonb IS NOT NULL OR state = 'failed')
                """, [targets])
            if r.affectedRows > 0 { try db.query("SELECT pg_notify($1, $2)", [Self.channel, "retry"]) }
            return r.affectedRows
        }
    }

    /// A JSON array of job ids: `ids` (each must exist) or the jobs of `batch` (which must exist).
    private func resolveTargets(ids: [Int64], batch: Int64?) throws -> String {
        if let batch {
            try requireBatch(batch)
            return try db.query("SELECT coalesce(jsonb_agg(id), '[]'::jsonb)::text AS ids FROM jobs WHERE batch_id = $1::bigint", [String(batch)])
                .value(0, "ids") ?? "[]"
        }
        let json = "[" + ids.map(String.init).joined(separator: ",") + "]"
        let found = try db.query("SELECT id FROM jobs WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)::bigint))", [json])
        let existing = Set(found.rows.compactMap { $0[0].flatMap(Int64.init) })
        if let missing = ids.first(where: { !existing.contains($0) }) {
            throw FarmError(.notFound, "job \(missing) does not exist; nothing was changed. `sdfarm jobs` lists job ids")
        }
        return json
    }
}
