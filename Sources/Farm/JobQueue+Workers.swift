import Foundation

/// The worker registry: each worker's row, heartbeat and stop, and the listing `sdfarm workers` prints.
extension JobQueue {
    /// A worker row.
    public struct WorkerRecord: Sendable, Codable, Equatable {
        public let name: String
        public let host: String
        public let pid: Int
        public let models: [String]
        public let startedAt: String
        public let lastHeartbeatAt: String
        public let secondsSinceHeartbeat: Double
        public let currentJob: Int64?
        public let stopped: Bool
        /// Heartbeat within the last 30 s and not stopped.
        public let alive: Bool
        /// False while the worker's own host has a fault (model missing, storage unwritable or full).
        public let healthy: Bool
        /// What is wrong with the host, while unhealthy.
        public let healthReason: String?
        enum CodingKeys: String, CodingKey {
            case name, host, pid, models, stopped, alive, healthy
            case healthReason = "health_reason"
            case startedAt = "started_at", lastHeartbeatAt = "last_heartbeat_at"
            case secondsSinceHeartbeat = "seconds_since_heartbeat", currentJob = "current_job"
        }
    }

    /// Registers (or re-registers) a worker row.
    public func registerWorker(name: String, host: String, pid: Int32, models: [String]) throws {
        let modelsJSON = try Self.jsonArray(models)
        try db.query("""
            INSERT INTO workers (name, host, pid, models) VALUES ($1, $2, $3::int, ARRAY(SELECT jsonb_array_elements_text($4::jsonb)))
            ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, models = EXCLUDED.models,
                started_at = now(), last_heartbeat_at = now(), current_job = NULL, stopped_at = NULL,
                health = 'healthy', health_reason = NULL, health_since = NULL
            """, [name, host, String(pid), modelsJSON])
    }

    /// Records that the worker is alive and what it is doing.
    public func workerHeartbeat(name: String, currentJob: Int64?) throws {
        try db.query("UPDATE workers SET last_heartbeat_at = now(), current_job = $2::bigint, stopped_at = NULL WHERE name = $1",
                     [name, currentJob.map(String.init)])
    }

    /// Marks the worker unhealthy with `reason` (its own host's fault), or healthy again when `reason` is nil.
    public func setWorkerHealth(name: String, unhealthy reason: String?) throws {
        try db.query("""
            UPDATE workers SET health = CASE WHEN $2::text IS NULL THEN 'healthy' ELSE 'unhealthy' END, health_reason = $2,
                   health_since = CASE WHEN (health = 'unhealthy') = ($2::text IS NOT NULL) THEN health_since ELSE now() END
            WHERE name = $1
            """, [name, reason])
    }

    /// Records a clean stop.
    public func workerStopped(name: String) throws {
        try db.query("UPDATE workers SET stopped_at = now(), current_job = NULL WHERE name = $1", [name])
    }

    /// Every worker that ever registered, most recent heartbeat first.
    public func workers() throws -> [WorkerRecord] {
        let r = try db.query("""
            SELECT name, host, pid, array_to_json(models)::text AS models, to_json(started_at)#>>'{}' AS started_at,
                   to_json(last_heartbeat_at)#>>'{}' AS last_heartbeat_at,
                   extract(epoch FROM now() - last_heartbeat_at)::float8 AS since, current_job, stopped_at IS NOT NULL AS stopped,
                   health, health_reason
            FROM workers ORDER BY last_heartbeat_at DESC, name
            """)
        return (0..<r.rows.count).map { i in
            let models = (try? JSONDecoder().decode([String].self, from: Data((r.value(i, "models") ?? "[]").utf8))) ?? []
            let since = r.value(i, "since").flatMap(Double.init) ?? .infinity
            let stopped = r.value(i, "stopped") == "t"
            return WorkerRecord(name: r.value(i, "name") ?? "", host: r.value(i, "host") ?? "", pid: r.value(i, "pid").flatMap(Int.init) ?? 0,
                                models: models, startedAt: r.value(i, "started_at") ?? "", lastHeartbeatAt: r.value(i, "last_heartbeat_at") ?? "",
                                secondsSinceHeartbeat: since, currentJob: r.value(i, "current_job").flatMap(Int64.init),
                                stopped: stopped, alive: !stopped && since < Self.aliveWithin, healthy: r.value(i, "health") != "unhealthy",
                                healthReason: r.value(i, "health_reason"))
        }
    }
}
