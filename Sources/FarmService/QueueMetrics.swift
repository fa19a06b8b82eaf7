import Farm
import Foundation
public import Logging
public import Prometheus

/// The farm-wide gauges, read from PostgreSQL on each scrape by one process (`sdfarm metrics --listen`) rather than by
/// every worker:
/// - `sdfarm_jobs{state,model}`: jobs per state (queued, running, succeeded, failed, cancelled) and model
/// - `sdfarm_oldest_queued_job_age_seconds{model}`: how long the oldest due queued job has waited
/// - `sdfarm_live_workers`: workers with a heartbeat within `JobQueue.aliveWithin` seconds
/// - `sdfarm_queue_up`: 1 when the last scrape could read the queue
// reason: the connection and the set of series seen are touched only inside `lock`, one scrape at a time.
public final class QueueMetrics: @unchecked Sendable {
    private let url: String?
    private let logger: Logger
    private let registry = PrometheusCollectorRegistry()
    private let lock = NSLock()
    private var queue: JobQueue?
    private var seenJobs: Set<[String]> = []
    private var seenAges: Set<String> = []

    static var upName: MetricNameDescriptor { WorkerMetrics.name("queue_up", "", "1 when the last scrape could read the queue") }
    static var liveName: MetricNameDescriptor { WorkerMetrics.name("live_workers", "", "Workers with a recent heartbeat that have not stopped") }
    static var jobsName: MetricNameDescriptor { WorkerMetrics.name("jobs", "", "Jobs per state and model") }
    static var ageName: MetricNameDescriptor { WorkerMetrics.name("oldest_queued_job_age", "seconds", "Seconds the oldest due queued job of the model has waited") }

    public init(url: String?, logger: Logger) {
        self.url = url
        self.logger = logger
    }

    /// Reads the queue (reconnecting when needed) and returns the exposition text.
    public func scrape() -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        let up = registry.makeGauge(descriptor: Self.upName, labels: [])
        do {
            if queue == nil || queue?.db.isOpen == false {
                queue = JobQueue(try PostgresConnection(url: PostgresConnection.withNetworkTimeouts(url)), logger: logger)
            }
            guard let queue else { return registry.emitToBuffer() }
            update(try queue.snapshot())
            up.set(to: 1)
        } catch {
            logger.warning("cannot read the queue for metrics", metadata: ["error": "\(error)"])
            queue = nil
            up.set(to: 0)
        }
        return registry.emitToBuffer()
    }

    private func update(_ snapshot: JobQueue.Snapshot) {
        var jobs: Set<[String]> = []
        for (state, models) in snapshot.jobs {
            for (model, n) in models {
                jobs.insert([state.rawValue, model])
                gauge(jobs: [state.rawValue, model]).set(to: Double(n))
            }
        }
        for gone in seenJobs.subtracting(jobs) { gauge(jobs: gone).set(to: 0) }
        seenJobs.formUnion(jobs)
        for (model, age) in snapshot.oldestQueuedAge { ageGauge(model).set(to: age) }
        for gone in seenAges.subtracting(snapshot.oldestQueuedAge.keys) { ageGauge(gone).set(to: 0) }
        seenAges.formUnion(snapshot.oldestQueuedAge.keys)
        registry.makeGauge(descriptor: Self.liveName, labels: []).set(to: Double(snapshot.liveWorkers))
    }

    private func gauge(jobs key: [String]) -> Gauge {
        registry.makeGauge(descriptor: Self.jobsName, labels: [("state", key[0]), ("model", key[1])])
    }

    private func ageGauge(_ model: String) -> Gauge {
        registry.makeGauge(descriptor: Self.ageName, labels: [("model", model)])
    }
}
