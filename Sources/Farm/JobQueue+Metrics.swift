import Foundation

/// What the metrics read from the queue: one job's wait, and the queue-wide figures one process exports for the
/// whole farm (`sdfarm metrics`), so that N workers do not each scan the jobs table on every scrape.
extension JobQueue {
    /// A worker counts as alive when its last heartbeat is this recent (seconds) and it has not stopped.
    public static let aliveWithin: Double = 30

    /// The queue-wide figures at one moment.
    public struct Snapshot: Sendable, Equatable {
        /// Jobs per state and model, for every state (zero where none).
        public var jobs: [JobState: [String: Int]]
        /// Seconds the oldest due queued job has waited, per model.
        public var oldestQueuedAge: [String: Double]
        /// Workers alive (heartbeat within `aliveWithin`, not stopped).
        public var liveWorkers: Int
    }

    /// Seconds from when `job` became due (`run_at`) to the start of this attempt.
    public func queueWait(of job: ClaimedJob) throws -> Double? {
        let r = try db.query("SELECT greatest(0, extract(epoch FROM started_at - run_at))::float8 AS wait FROM jobs WHERE id = $1::bigint",
                             [String(job.id)])
        return r.rows.isEmpty ? nil : r.value(0, "wait").flatMap(Double.init)
    }

    /// Counts per state and model (one pass over the jobs table's state/model index), the oldest due queued job per
    /// model, and the number of live workers.
    public func snapshot() throws -> Snapshot {
        let r = try db.query("""
            SELECT state, model, count(*)::bigint AS n,
                   extract(epoch FROM now() - min(run_at) FILTER (WHERE state = 'queued' AND run_at <= now()))::float8 AS oldest
            FROM jobs GROUP BY state, model
            """)
        var jobs = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, [String: Int]()) })
        var oldest: [String: Double] = [:]
        for i in 0..<r.rows.count {
            guard let state = r.value(i, "state").flatMap(JobState.init(rawValue:)), let model = r.value(i, "model") else { continue }
            jobs[state, default: [:]][model] = r.value(i, "n").flatMap(Int.init) ?? 0
            if let age = r.value(i, "oldest").flatMap(Double.init) { oldest[model] = max(oldest[model] ?? 0, age) }
        }
        let w = try db.query("""
            SELECT count(*)::bigint AS n FROM workers
            WHERE stopped_at IS NULL AND last_heartbeat_at > now() - make_interval(secs => $1::float8)
            """, [String(Self.aliveWithin)])
        return Snapshot(jobs: jobs, oldestQueuedAge: oldest, liveWorkers: w.value(0, "n").flatMap(Int.init) ?? 0)
    }
}
