import Foundation

/// Batch-level controls and listings for the dashboard and the HTTP API: pause, resume, priority, the list of
/// recent batches with their counts, and the farm-wide rates of the overview.
extension JobQueue {
    /// One batch as the dashboard lists it.
    public struct BatchSummary: Sendable, Codable, Equatable {
        public let id: Int64
        public let name: String
        public let createdAt: String
        public let paused: Bool
        public let counts: [String: Int]
        public let total: Int
        public let webhookURL: String?
        /// True when nothing is queued or running.
        public var isDone: Bool { (counts["queued"] ?? 0) + (counts["running"] ?? 0) == 0 }
        enum CodingKeys: String, CodingKey {
            case id, name, paused, counts, total
            case createdAt = "created_at", webhookURL = "webhook_url"
        }
    }

    /// The most recent batches (newest first), at most `limit`, with counts from `job_counts`.
    public func batches(limit: Int = 50) throws -> [BatchSummary] {
        let r = try db.query("""
            SELECT b.id, b.name, to_json(b.created_at)#>>'{}' AS created_at, b.paused, b.webhook_url,
                   (SELECT coalesce(jsonb_object_agg(s.state, s.n), '{}'::jsonb)::text FROM (
                        SELECT state, sum(n)::bigint AS n FROM job_counts c WHERE c.batch_id = b.id GROUP BY state) s) AS counts
            FROM batches b ORDER BY b.id DESC LIMIT $1::int
            """, [String(max(1, min(limit, 1000)))])
        return (0..<r.rows.count).compactMap { i in Self.batchSummary(r, i) }
    }

    /// One batch with its counts, or `notFound`.
    public func batch(_ id: Int64) throws -> BatchSummary {
        let r = try db.query("""
            SELECT b.id, b.name, to_json(b.created_at)#>>'{}' AS created_at, b.paused, b.webhook_url,
                   (SELECT coalesce(jsonb_object_agg(s.state, s.n), '{}'::jsonb)::text FROM (
                        SELECT state, sum(n)::bigint AS n FROM job_counts c WHERE c.batch_id = b.id GROUP BY state) s) AS counts
            FROM batches b WHERE b.id = $1::bigint
            """, [String(id)])
        guard let summary = Self.batchSummary(r, 0) else {
            throw FarmError(.notFound, "batch \(id) does not exist; `sdfarm jobs` lists batches and their jobs")
        }
        return summary
    }

    private static func batchSummary(_ r: PostgresResult, _ i: Int) -> BatchSummary? {
        guard let id = r.value(i, "id").flatMap(Int64.init) else { return nil }
        let raw = (try? JSONDecoder().decode([String: Int].self, from: Data((r.value(i, "counts") ?? "{}").utf8))) ?? [:]
        var counts = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, 0) })
        for (k, v) in raw { counts[k, default: 0] += v }
        return BatchSummary(id: id, name: r.value(i, "name") ?? "", createdAt: r.value(i, "created_at") ?? "",
                            paused: r.value(i, "paused") == "t", counts: counts, total: counts.values.reduce(0, +),
                            webhookURL: r.value(i, "webhook_url"))
    }

    /// Pauses (or resumes) batch `id`: while paused its queued jobs are not claimed; running jobs finish.
    /// Resuming notifies idle workers. Returns whether the flag changed.
    /// - Throws: `notFound` when the batch does not exist.
    @discardableResult
    public func setPaused(batch id: Int64, _ paused: Bool) throws -> Bool {
        try requireBatch(id)
        let r = try db.query("UPDATE batches SET paused = $2::bool WHERE id = $1::bigint AND paused <> $2::bool",
                             [String(id), paused ? "true" : "false"])
        if !paused && r.affectedRows > 0 { try db.query("SELECT pg_notify($1, $2)", [Self.channel, "resume \(id)"]) }
        return r.affectedRows > 0
    }

    /// Sets the priority of every queued job of batch `id` (running and finished jobs keep theirs). Returns how
    /// many jobs changed.
    /// - Throws: `notFound`; `RenderFormatError.invalid(.priority, …)` outside `BatchLimits.priority`.
    public func setPriority(batch id: Int64, _ priority: Int) throws -> Int {
        try BatchLimits.validate(priority: priority)
        try requireBatch(id)
        let r = try db.query("UPDATE jobs SET priority = $2::int WHERE batch_id = $1::bigint AND state = 'queued' AND priority <> $2::int",
                             [String(id), String(priority)])
        if r.affectedRows > 0 { try db.query("SELECT pg_notify($1, $2)", [Self.channel, "priority \(id)"]) }
        return r.affectedRows
    }

    /// Farm-wide rates for the overview.
    public struct Rates: Sendable, Codable, Equatable {
        /// Images finished per minute over the last 5 minutes.
        public let imagesPerMinute: Double
        /// Megapixel-steps (width × height × steps / 10⁶) finished per minute over the last 5 minutes.
        public let megapixelStepsPerMinute: Double
        /// Seconds since the oldest due queued job became due (nil when none is queued).
        public let oldestQueuedSeconds: Double?
        enum CodingKeys: String, CodingKey {
            case imagesPerMinute = "images_per_minute", megapixelStepsPerMinute = "megapixel_steps_per_minute"
            case oldestQueuedSeconds = "oldest_queued_seconds"
        }
    }

    /// Throughput over the last 5 minutes (the index of successes by finish time) and the age of the oldest
    /// due queued job (the first entry of `jobs_queued_by_run_at`).
    public func rates() throws -> Rates {
        let r = try db.query("""
            SELECT count(*) AS n, coalesce(sum(width::float8 * height * steps), 0) / 1e6 AS mps,
                   extract(epoch FROM now() - min(finished_at))::float8 AS span,
                   (SELECT extract(epoch FROM now() - min(run_at))::float8 FROM jobs WHERE state = 'queued' AND run_at <= now()) AS oldest
            FROM jobs WHERE state = 'succeeded' AND finished_at > now() - interval '5 minutes'
            """)
        let n = r.value(0, "n").flatMap(Double.init) ?? 0
        let span = max(1, r.value(0, "span").flatMap(Double.init) ?? 0)
        let mps = r.value(0, "mps").flatMap(Double.init) ?? 0
        return Rates(imagesPerMinute: n > 0 ? n / span * 60 : 0, megapixelStepsPerMinute: n > 0 ? mps / span * 60 : 0,
                     oldestQueuedSeconds: r.value(0, "oldest").flatMap(Double.init))
    }
}

extension JobQueue {
    /// The most jobs `search` returns.
    public static let maxSearch = 500

    /// The newest jobs (at most `limit`) matching every filter given: a state, a model path (exact), text the
    /// prompt contains (case-insensitive, literal — no pattern syntax).
    public func search(state: JobState?, model: String?, text: String?, limit: Int = 200) throws -> [JobSummary] {
        try Self.summaries(try db.query("""
            SELECT \(Self.summaryColumns) FROM jobs j
            WHERE ($1::text IS NULL OR j.state = $1::text) AND ($2::text IS NULL OR j.model = $2::text)
              AND ($3::text IS NULL OR strpos(lower(j.prompt), lower($3::text)) > 0)
            ORDER BY j.id DESC LIMIT $4::int
            """, [state?.rawValue, model, text, String(max(1, min(limit, Self.maxSearch)))]))
    }

    /// The distinct models of queued or recent jobs, for the dashboard's filter (at most 50).
    public func recentModels() throws -> [String] {
        try db.query("SELECT DISTINCT model FROM (SELECT model FROM jobs ORDER BY id DESC LIMIT 5000) m ORDER BY model LIMIT 50")
            .rows.compactMap { $0.first ?? nil }
    }
}
