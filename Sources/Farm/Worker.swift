import Basics
import Foundation
public import Logging
import RenderFormat
import Synchronization

/// The worker loop: claim a job, render it while a separate thread heartbeats the lease, write the PNG
/// atomically to this attempt's `<storage>/<batch>/<job>-<lease>.png`, complete it (fenced on the lease, which
/// publishes the file), repeat. A `WorkerFault` (this host's problem) gives the job back and backs off.
///
/// Survives PostgreSQL going away (every operation reconnects with backoff and is safe to repeat), stops
/// rendering at the next step when its job is cancelled or its lease is lost, and on `requestStop()`
/// stops claiming and finishes the current job (a second request releases it at the next step).
// reason: `renderer` and `configuration` are used only by the thread inside `run()`; the one piece of state other
// threads touch (stop requests, from signal handlers) is behind a `Mutex`.
public final class Worker: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var storage: String
        public var databaseURL: String?
        public var name: String
        /// The model paths served; nil serves every model (under `modelRoots`).
        public var models: [String]?
        /// Folders whose models this worker may load; nil: no restriction beyond `models`.
        public var modelRoots: [String]?
        /// Lease length in seconds; heartbeats go out every third of it.
        public var lease: Double
        /// Stop after this many jobs (nil: never).
        public var maxJobs: Int?
        /// Exit when nothing is queued or running for this worker's models.
        public var exitWhenIdle: Bool
        /// The longest an idle worker sleeps without a notification.
        public var pollInterval: Double
        public var queueOptions: JobQueue.Options

        public init(storage: String, databaseURL: String? = nil, name: String, models: [String]? = nil, modelRoots: [String]? = nil,
                    lease: Double = 30,
                    maxJobs: Int? = nil, exitWhenIdle: Bool = false, pollInterval: Double = 5,
                    queueOptions: JobQueue.Options = .fromEnvironment) {
            self.storage = storage
            self.databaseURL = databaseURL
            self.name = name
            self.models = models
            self.modelRoots = modelRoots
            self.lease = lease
            self.maxJobs = maxJobs
            self.exitWhenIdle = exitWhenIdle
            self.pollInterval = pollInterval
            self.queueOptions = queueOptions
        }

        /// `host-pid`.
        public static var defaultName: String { "\(ProcessInfo.processInfo.hostName)-\(getpid())" }
    }

    /// What a run did.
    public struct Summary: Sendable, Equatable {
        public var succeeded = 0
        public var failed = 0
        public var cancelled = 0
        /// Results refused or discarded because the lease was lost.
        public var lost = 0
        public var released = 0
        /// Jobs given back because of this host's own fault (no attempt used).
        public var releasedByFault = 0
    }

    /// The longest a faulty worker waits before trying again.
    public static let maxFaultBackoff: Double = 60

    public let configuration: Configuration
    let renderer: any JobRenderer
    let logger: Logger
    /// Metrics, health and the service manager hear of the worker's life through these (`WorkerObserver`).
    let observers: [any WorkerObserver]
    private let stopRequests = Mutex(0)
    private let busy = Mutex(false)

    public init(configuration: Configuration, renderer: any JobRenderer, logger: Logger, observers: [any WorkerObserver] = []) {
        self.configuration = configuration
        self.renderer = renderer
        self.observers = observers
        var logger = logger
        logger[metadataKey: "worker"] = "\(configuration.name)"
        self.logger = logger
    }

    /// Asks the worker to stop: the first request stops claiming and lets the current job finish; the
    /// second also releases the current job at its next step. Safe from any thread (signal handlers).
    public func requestStop() {
        let n = stopRequests.withLock { n in n += 1; return n }
        let rendering = busy.withLock { $0 }
        observers.forEach { $0.stopRequested(count: n, busy: rendering) }
        logger.notice(n == 1 ? "stop requested: finishing the current job, claiming no more" : "second stop request: releasing the current job")
    }

    var stopRequested: Bool { stopRequests.withLock { $0 > 0 } }
    var hardStopRequested: Bool { stopRequests.withLock { $0 > 1 } }

    /// Runs until stopped, `maxJobs` is reached, or (with `exitWhenIdle`) nothing is left. Blocking.
    @discardableResult
    public func run() throws -> Summary {
        let config = configuration
        try checkStorage()
        try renderer.prepare(models: config.models)
        let session = QueueSession(url: config.databaseURL, listen: true, options: config.queueOptions, logger: logger,
                                   giveUp: { [unowned self] in self.stopRequested })
        defer { session.close() }
        try session.run("register") {
            try $0.registerWorker(name: config.name, host: ProcessInfo.processInfo.hostName, pid: getpid(), models: config.models ?? [])
        }
        observers.forEach { $0.workerReady(name: config.name) }
        logger.info("worker started", metadata: ["storage": "\(config.storage)", "models": "\(config.models?.joined(separator: ",") ?? "any")",
                                                 "lease_s": "\(config.lease)"])
        var summary = Summary()
        var done = 0
        var faultBackoff = 0.0
        while !stopRequested {
            if let max = config.maxJobs, done >= max { break }
            let claimed: [ClaimedJob]
            do {
                claimed = try session.run("claim") { q in
                    try q.rescueExpired()
                    // A repeated claim (its first reply lost with the connection) resumes what the first one took.
                    let held = try q.heldJobs(worker: config.name, lease: config.lease)
                    return held.isEmpty
                        ? try q.claim(worker: config.name, models: config.models, modelRoots: config.modelRoots, limit: 1, lease: config.lease)
                        : held
                }
            } catch let error as PostgresError where error.isConnectionLoss && stopRequested { break }
            guard let job = claimed.first else {
                do {
                    if try waitIdle(session) { break }
                } catch let error as PostgresError where error.isConnectionLoss && stopRequested { break }
                continue
            }
            if let fault = run(job, session: session, summary: &summary) {
                _ = try? session.run("health") { try $0.setWorkerHealth(name: config.name, unhealthy: fault.reason) }
                faultBackoff = min(Self.maxFaultBackoff, max(1, faultBackoff * 2))
                logger.warning("this host cannot render; backing off", metadata: ["reason": "\(fault.reason)", "retry_in_s": "\(faultBackoff)"])
                sleepUnlessStopped(faultBackoff)
            } else {
                done += 1  // jobs given back for this host's fault do not count towards --max-jobs
                if faultBackoff > 0 {
                    faultBackoff = 0
                    _ = try? session.run("health") { try $0.setWorkerHealth(name: config.name, unhealthy: nil) }
                }
            }
        }
        _ = try? session.run("stop") { try $0.workerStopped(name: config.name) }
        observers.forEach { $0.workerStopped() }
        logger.info("worker stopped", metadata: ["succeeded": "\(summary.succeeded)", "failed": "\(summary.failed)",
                                                 "cancelled": "\(summary.cancelled)", "lost": "\(summary.lost)", "released": "\(summary.released)",
                                                 "released_by_fault": "\(summary.releasedByFault)"])
        return summary
    }

    /// Refuses to start on storage this worker cannot write: a probe file is written and removed.
    /// - Throws: a permanent `WorkerFault` naming the storage and the system's reason.
    func checkStorage() throws {
        let root = configuration.storage
        do {
            try AtomicFile.createDirectory(root)
            let probe = (root as NSString).appendingPathComponent(".sdfarm-probe-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
            try AtomicFile.write(Array("probe".utf8), to: probe)
            unlink(probe)
        } catch {
            throw WorkerFault("storage \(root) is not writable: \(error)", permanent: true, underlying: error)
        }
    }

    /// Removes the files other attempts of `job` left, keeping the accepted one: finished files of a worker
    /// killed between writing and completing (`<job>-<token>.png`) and temporary files of a worker killed
    /// while writing (`.<job>-<token>.png.tmp-…`). Nothing else in the batch folder is touched. An attempt
    /// still writing when its temporary file goes has lost the job already: its rename fails with `ENOENT`,
    /// which the worker reads as a lost attempt, not as a storage fault.
    static func removeAttemptFiles(of job: ClaimedJob, storage: String, keeping accepted: String) {
        let dir = ClaimedJob.batchDirectory(storage: storage, batch: job.batchID)
        let prefix = ClaimedJob.filePrefix(job: job.id)
        let keep = (accepted as NSString).lastPathComponent
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name != keep {
            let finished = name.hasPrefix(prefix) && name.hasSuffix(".png")
            let temporary = name.hasPrefix("." + prefix) && name.contains(".png.tmp-")
            if finished || temporary { unlink("\(dir)/\(name)") }
        }
    }

    private func sleepUnlessStopped(_ seconds: Double) {
        var left = seconds
        while left > 0, !stopRequested {
            Thread.sleep(forTimeInterval: min(left, 0.25))
            left -= 0.25
        }
    }

    /// Sleeps until a notification, the next due job or lease expiry, or the poll interval. Returns true
    /// when the worker should exit because it is idle and `exitWhenIdle` is set.
    private func waitIdle(_ session: QueueSession) throws -> Bool {
        let config = configuration
        let (next, pending) = try session.run("idle") { q -> (Double?, Int) in
            try q.workerHeartbeat(name: config.name, currentJob: nil)
            return try q.nextWake(worker: config.name, models: config.models, modelRoots: config.modelRoots, countPending: config.exitWhenIdle)
        }
        if config.exitWhenIdle && pending == 0 {
            logger.info("nothing queued or running: exiting (exit when idle)")
            return true
        }
        // Something due that the claim did not get (another worker holds its row lock): look again shortly.
        observers.forEach { $0.workerIdle() }
        var remaining = min(config.pollInterval, max(0.2, (next ?? config.pollInterval) + 0.05))
        while remaining > 0, !stopRequested {
            let slice = min(remaining, 0.5)
            let notes = try session.run("listen") { try $0.db.waitForNotifications(timeout: slice) }
            if !notes.isEmpty { return false }
            observers.forEach { $0.workerIdle() }
            remaining -= slice
        }
        return false
    }

    /// Why a render was stopped before its last step.
    enum StopReason: CustomStringConvertible {
        /// Someone cancelled the job.
        case cancelled
        /// A second stop request: give the job back.
        case released
        /// A heartbeat learned the job now belongs to another attempt.
        case leaseLost
        /// No heartbeat reached PostgreSQL for a whole lease.
        case leaseLapsed

        var description: String {
            switch self {
            case .cancelled: "cancelled"
            case .released: "released"
            case .leaseLost: "lease lost"
            case .leaseLapsed: "lease lapsed (no heartbeat reached PostgreSQL)"
            }
        }
    }

    /// State shared between the render (progress callback) and the heartbeat thread. The heartbeat thread
    /// sleeps on the condition until its next beat or until the job finishes, whichever comes first.
    private final class JobSignals: Sendable {
        private struct State {
            var step = 0, total = 0
            var cancelRequested = false, leaseLost = false, finished = false
            var lastHeartbeat = ContinuousClock.now
        }
        // reason: NSCondition is thread-safe; `state` is only touched while holding it.
        nonisolated(unsafe) private var state = State()
        private let condition = NSCondition()

        private func locked<R>(_ body: (inout State) -> R) -> R {
            condition.lock()
            defer { condition.unlock() }
            return body(&state)
        }

        func progress(_ step: Int, _ total: Int) { locked { $0.step = step; $0.total = total } }
        var progress: (Int, Int) { locked { ($0.step, $0.total) } }
        func heard(_ status: JobQueue.LeaseStatus) {
            locked {
                $0.lastHeartbeat = .now
                switch status {
                case .held(let cancel): $0.cancelRequested = $0.cancelRequested || cancel
                case .lost: $0.leaseLost = true
                }
            }
        }
        var cancelRequested: Bool { locked { $0.cancelRequested } }
        var leaseLost: Bool { locked { $0.leaseLost } }
        /// Seconds since the last heartbeat reached PostgreSQL, on the monotonic clock.
        var secondsSinceHeartbeat: Double {
            let elapsed = locked { ContinuousClock.now - $0.lastHeartbeat }
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        }
        func finish() {
            condition.lock()
            state.finished = true
            condition.broadcast()
            condition.unlock()
        }
        var finished: Bool { locked { $0.finished } }
        /// Waits up to `seconds` or until `finish()`; returns true when finished.
        func waitForFinish(seconds: Double) -> Bool {
            let deadline = Date(timeIntervalSinceNow: seconds)
            condition.lock()
            defer { condition.unlock() }
            while !state.finished {
                if !condition.wait(until: deadline) { break }
            }
            return state.finished
        }
    }

    /// Renders one claimed job and records its outcome. Returns the worker fault when this host could not do it.
    private func run(_ job: ClaimedJob, session: QueueSession, summary: inout Summary) -> WorkerFault? {
        var log = logger
        log[metadataKey: "job.id"] = "\(job.id)"
        log[metadataKey: "attempt"] = "\(job.attempt)"
        let config = configuration
        let started = Date()
        let signals = JobSignals()
        signals.progress(0, job.parameters.steps)
        let observers = self.observers
        if !observers.isEmpty {
            let wait = try? session.run("queue wait") { try $0.queueWait(of: job) }
            observers.forEach { $0.jobStarted(job, queueWait: wait) }
        }
        busy.withLock { $0 = true }
        defer { busy.withLock { $0 = false } }
        func ended(_ outcome: AttemptOutcome) {
            let seconds = -started.timeIntervalSinceNow
            observers.forEach { $0.jobFinished(job, outcome: outcome, seconds: seconds) }
        }

        // Heartbeats on their own thread and connection, so a long step never lets the lease lapse.
        let interval = max(0.05, config.lease / 3)
        let heartbeatLogger = log
        let heartbeat = Thread { [config] in
            let hbSession = QueueSession(url: config.databaseURL, listen: false, options: config.queueOptions, logger: heartbeatLogger,
                                         giveUp: { signals.finished })
            defer { hbSession.close() }
            while !signals.waitForFinish(seconds: interval) {
                let (step, total) = signals.progress
                if let status = try? hbSession.run("heartbeat", { q -> JobQueue.LeaseStatus in
                    let s = try q.heartbeat(job, step: step, total: total, lease: config.lease)
                    try q.workerHeartbeat(name: config.name, currentJob: job.id)
                    return s
                }) {
                    signals.heard(status)
                    if status == .lost {
                        observers.forEach { $0.leaseLost(job) }
                        break
                    }
                }
            }
        }
        heartbeat.start()
        defer { signals.finish() }

        var stoppedBecause: StopReason?
        let png: [UInt8]?
        var renderError: (any Error)?
        do {
            png = try renderer.render(job.parameters) { step, total in
                signals.progress(step, total)
                observers.forEach { $0.jobProgress(job, step: step, total: total) }
                if step == total || step % 10 == 0 { log.debug("step", metadata: ["step": "\(step)", "total": "\(total)"]) }
                if signals.leaseLost { stoppedBecause = .leaseLost }
                else if signals.cancelRequested { stoppedBecause = .cancelled }
                else if self.hardStopRequested { stoppedBecause = .released }
                else if signals.secondsSinceHeartbeat > config.lease { stoppedBecause = .leaseLapsed }
                return stoppedBecause == nil
            }
        } catch {
            png = nil
            renderError = error
        }
        let rendered = Date()
        signals.finish()

        func timings(_ extra: Logger.Metadata = [:]) -> Logger.Metadata {
            var m: Logger.Metadata = ["render_ms": "\(Int(rendered.timeIntervalSince(started) * 1000))",
                                      "total_ms": "\(Int(-started.timeIntervalSinceNow * 1000))",
                                      "steps": "\(job.parameters.steps)", "size": "\(job.parameters.sizeDescription)"]
            m.merge(extra) { $1 }
            return m
        }
        let giveUpOnHardStop = { [unowned self] in self.hardStopRequested }
        do {
            if let png {
                if signals.leaseLost {
                    summary.lost += 1
                    ended(.lost)
                    log.warning("job result discarded: lease lost while rendering", metadata: timings())
                    return nil
                }
                let path = job.outputPath(storage: config.storage)
                do {
                    try AtomicFile.createDirectory((path as NSString).deletingLastPathComponent)
                    try AtomicFile.write(png, to: path)
                } catch let error as FileWriteError where error.step == .rename && error.errno == ENOENT {
                    // Another attempt was accepted meanwhile and removed this one's temporary file.
                    summary.lost += 1
                    log.warning("job result discarded: another attempt finished the job while this one was writing", metadata: timings())
                    return nil
                } catch {
                    throw WorkerFault("cannot write the output to storage: \(error)", underlying: error)
                }
                let accepted = try session.run("complete") { try $0.complete(job, outputPath: path) }
                if accepted {
                    summary.succeeded += 1
                    ended(.succeeded)
                    log.info("job succeeded", metadata: timings(["output": "\(path)"]))
                    Self.removeAttemptFiles(of: job, storage: config.storage, keeping: path)
                } else {
                    summary.lost += 1
                    ended(.lost)
                    unlink(path)
                    log.warning("job result refused: the lease was lost or the job was cancelled; this attempt's file is removed", metadata: timings())
                }
                return nil
            }
            guard let renderError else { return nil }
            if let fault = renderError as? WorkerFault { throw fault }
            if renderError is RenderCancelled {
                switch stoppedBecause {
                case .cancelled:
                    _ = try session.run("cancel") { try $0.finishCancelled(job) }
                    summary.cancelled += 1
                    ended(.cancelled)
                    log.info("job cancelled at step \(signals.progress.0)", metadata: timings())
                case .released:
                    _ = try session.run("release") { try $0.release(job, reason: "worker shutting down") }
                    summary.released += 1
                    ended(.released)
                    log.info("job released: worker shutting down", metadata: timings())
                case .leaseLost, .leaseLapsed, nil:
                    summary.lost += 1
                    ended(.lost)
                    log.warning("job abandoned: \(stoppedBecause.map(String.init(describing:)) ?? "the renderer stopped")", metadata: timings())
                }
                return nil
            }
            let retryable = !(renderError is PermanentRenderError)
            let accepted = try session.run("fail") { try $0.fail(job, error: "\(renderError)", retryable: retryable) }
            summary.failed += 1
            ended(.failed)
            log.error("job failed", metadata: timings(["error": "\(renderError)", "retryable": "\(retryable)", "recorded": "\(accepted)"]))
            return nil
        } catch let fault as WorkerFault {
            // This host's problem, not the job's: give it back untouched for another worker.
            let released = (try? session.run("release") { try $0.release(job, reason: fault.reason, workerFault: true) }) ?? false
            summary.releasedByFault += 1
            observers.forEach { $0.jobGivenBack(job, reason: fault.reason) }
            log.error("job given back: this host cannot render it", metadata: timings(["reason": "\(fault.reason)", "recorded": "\(released)"]))
            return fault
        } catch {
            // Storage errors are the job's failure; connection errors here mean we are shutting down hard.
            if let pg = error as? PostgresError, pg.isConnectionLoss, giveUpOnHardStop() {
                log.warning("could not record the job's outcome before exiting; its lease will expire and it will be rescued", metadata: timings())
                ended(.lost)
                return nil
            }
            summary.failed += 1
            ended(.failed)
            let recorded = (try? session.run("fail") { try $0.fail(job, error: "\(error)", retryable: true) }) ?? false
            log.error("job failed", metadata: timings(["error": "\(error)", "recorded": "\(recorded)"]))
            return nil
        }
    }
}
