public import Farm
import Foundation
public import Prometheus

/// The worker's Prometheus series, one collector registry per process. Labels are `model` (the model path as
/// submitted), `kind` (txt2img, img2img, interpolate) and `outcome` (how the attempt ended) — never a job id or a
/// prompt, which would make a series per job.
///
/// - `sdfarm_jobs_completed_total{model,kind,outcome}`: attempts ended (succeeded, failed, cancelled, lost, released)
/// - `sdfarm_job_duration_seconds{model,kind,outcome}`: claim to end of the attempt (histogram)
/// - `sdfarm_job_queue_wait_seconds{model,kind}`: from due (`run_at`) to claim (histogram)
/// - `sdfarm_denoise_steps_total{model,kind}`: denoising steps rendered
/// - `sdfarm_worker_busy`: 1 while rendering
/// - `sdfarm_worker_ready`: 1 once connected with its models loaded, until a stop request
/// - `sdfarm_lease_lost_total{model,kind}`: heartbeats that found the lease gone
/// - `sdfarm_jobs_given_back_total{model,kind}`: jobs returned because this host could not render them
/// - `sdfarm_model_load_seconds{model}`: how long the last load of each model took
public final class WorkerMetrics: WorkerObserver {
    public let registry: PrometheusCollectorRegistry
    private let busy: Gauge
    private let ready: Gauge
    private let lastStep = NSLockedState([Int64: Int]())

    /// Job durations from a tiny test model (well under a second) to a large render on a CPU (an hour).
    static let durationBuckets: [Double] = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 3600]
    /// Queue waits from immediate to a day.
    static let waitBuckets: [Double] = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14_400, 86_400]

    static var busyName: MetricNameDescriptor { name("worker_busy", "", "1 while this worker renders a job") }
    static var readyName: MetricNameDescriptor { name("worker_ready", "", "1 once connected to PostgreSQL with its models loaded, until asked to stop") }
    static var modelLoadName: MetricNameDescriptor { name("model_load", "seconds", "Seconds the last load of the model took") }
    static var queueWaitName: MetricNameDescriptor { name("job_queue_wait", "seconds", "Seconds from when a job became due to its claim") }
    static var stepsName: MetricNameDescriptor { name("denoise_steps", "total", "Denoising steps rendered") }
    static var completedName: MetricNameDescriptor { name("jobs_completed", "total", "Job attempts ended, by how they ended") }
    static var durationName: MetricNameDescriptor { name("job_duration", "seconds", "Seconds from claim to the end of the attempt") }
    static var givenBackName: MetricNameDescriptor { name("jobs_given_back", "total", "Jobs given back untouched because this host could not render them") }
    static var leaseLostName: MetricNameDescriptor { name("lease_lost", "total", "Heartbeats that found this worker no longer held the job's lease") }

    /// `sdfarm_<metric>_<unit>`.
    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "sdfarm", metricName: metric, unitName: unit, helpText: help)
    }

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        busy = registry.makeGauge(descriptor: Self.busyName, labels: [])
        ready = registry.makeGauge(descriptor: Self.readyName, labels: [])
    }

    private static func labels(_ job: ClaimedJob) -> [(String, String)] {
        [("model", job.parameters.model), ("kind", job.parameters.kind.name)]
    }

    /// The Prometheus text exposition of every series.
    public func render() -> [UInt8] { registry.emitToBuffer() }

    /// Records how long loading `model` took.
    public func modelLoaded(_ model: String, seconds: Double) {
        registry.makeGauge(descriptor: Self.modelLoadName, labels: [("model", model)]).set(to: seconds)
    }

    public func workerReady(name: String) { ready.set(to: 1) }

    public func jobStarted(_ job: ClaimedJob, queueWait: Double?) {
        busy.set(to: 1)
        lastStep.write { $0[job.id] = 0 }
        if let queueWait {
            registry.makeValueHistogram(descriptor: Self.queueWaitName, labels: Self.labels(job), buckets: Self.waitBuckets).record(queueWait)
        }
    }

    public func jobProgress(_ job: ClaimedJob, step: Int, total: Int) {
        let delta = lastStep.write { steps -> Int in
            let previous = steps[job.id] ?? 0
            steps[job.id] = max(previous, step)
            return max(0, step - previous)
        }
        if delta > 0 {
            registry.makeCounter(descriptor: Self.stepsName, labels: Self.labels(job)).increment(by: Int64(delta))
        }
    }

    public func jobFinished(_ job: ClaimedJob, outcome: AttemptOutcome, seconds: Double) {
        busy.set(to: 0)
        lastStep.write { $0[job.id] = nil }
        let labels = Self.labels(job) + [("outcome", outcome.rawValue)]
        registry.makeCounter(descriptor: Self.completedName, labels: labels).increment()
        registry.makeValueHistogram(descriptor: Self.durationName, labels: labels, buckets: Self.durationBuckets).record(seconds)
    }

    public func jobGivenBack(_ job: ClaimedJob, reason: String) {
        busy.set(to: 0)
        lastStep.write { $0[job.id] = nil }
        registry.makeCounter(descriptor: Self.givenBackName, labels: Self.labels(job)).increment()
    }

    public func leaseLost(_ job: ClaimedJob) {
        registry.makeCounter(descriptor: Self.leaseLostName, labels: Self.labels(job)).increment()
    }

    public func stopRequested(count: Int, busy: Bool) { ready.set(to: 0) }
    public func workerStopped() { ready.set(to: 0); busy.set(to: 0) }
}
