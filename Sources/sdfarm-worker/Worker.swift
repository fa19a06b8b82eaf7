import ArgumentParser
import Dispatch
import Farm
import FarmDiffusion
import FarmService
import Foundation
import Logging
import RenderFormat

@main
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sdfarm-worker",
        abstract: "Claim render jobs from the PostgreSQL queue and run them.",
        discussion: """
            Connects with --database, else DATABASE_URL, else libpq's PG* variables. SIGTERM/SIGINT: stop claiming and \
            finish the current job; a second signal releases it back to the queue. Log level: SDFARM_LOG_LEVEL (default info). \
            Database password: in DATABASE_URL, ~/.pgpass, a file named by SDFARM_DATABASE_PASSWORD_FILE, or the systemd \
            credential database-password; never on the command line. Under systemd (NOTIFY_SOCKET set) it sends READY, \
            STATUS, WATCHDOG and EXTEND_TIMEOUT notifications.
            """)

    @Option(help: "Shared storage root; outputs go to STORAGE/<batch>/<job>.png.")
    var storage: String

    @Option(help: "PostgreSQL URL or libpq keyword string (default: DATABASE_URL, then PG* variables).")
    var database: String?

    @Option(help: "Worker name, unique across the farm (default: host-pid).")
    var name: String?

    @Option(help: "Comma-separated model paths this worker serves.")
    var models: String?

    @Option(help: "Comma-separated folders whose models this worker may load (with the diffusion renderer, this or --models is required: a job row never makes a worker open an arbitrary path).")
    var modelsRoot: String?

    @Option(help: "Folder of LoRA .safetensors files: <lora:name:weight> in prompts resolves to NAME.safetensors here, and jobs' --lora files must lie in it.")
    var loraDir: String?

    @Option(help: "Lease length in seconds; heartbeats go out every third of it.")
    var lease: Double = 30

    @Option(help: "Exit after this many jobs.")
    var maxJobs: Int?

    @Flag(help: "Exit when nothing is queued or running for this worker's models.")
    var exitWhenIdle = false

    @Option(help: "Renderer: 'diffusion' (Stable Diffusion) or 'test-pattern[:MS_PER_STEP]' (a stand-in for tests and benchmarks).")
    var renderer = "diffusion"

    @Option(help: "Serve Prometheus metrics at http://HOST:PORT/metrics, and /readyz and /livez (e.g. 0.0.0.0:9464).")
    var metrics: String?

    @Option(help: "Seconds without progress (a step, a claim, an idle wait) after which /livez fails and the systemd watchdog stops.")
    var stallTimeout: Double = 300

    func validate() throws {
        guard stallTimeout.isFinite, stallTimeout >= 1 else { throw ValidationError("--stall-timeout \(stallTimeout): give at least 1 second") }
        guard lease.isFinite, (0.5...3600).contains(lease) else { throw ValidationError("--lease \(lease): give 0.5 to 3600 seconds") }
        if let maxJobs, maxJobs < 1 { throw ValidationError("--max-jobs \(maxJobs): give at least 1") }
        if storage.isEmpty { throw ValidationError("--storage: the storage directory is empty") }
        if let loraDir {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: loraDir, isDirectory: &isDir), isDir.boolValue else {
                throw ValidationError("--lora-dir \(loraDir) is not a folder")
            }
        }
    }

    func run() throws {
        let level = ProcessInfo.processInfo.environment["SDFARM_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "sdfarm-worker")
        if let database, PostgresConnection.containsPassword(database) {
            logger.warning("--database holds a password, which every user of this machine can read with ps; put it in DATABASE_URL or ~/.pgpass (PGPASSFILE) instead")
        }
        let storageRoot = URL(fileURLWithPath: storage).standardized.path
        let roots = try modelsRoot.map { list in
            try list.split(separator: ",").map { (dir) throws -> String in
                var isDir: ObjCBool = false
                let path = URL(fileURLWithPath: String(dir)).standardized.path
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
                    throw ValidationError("--models-root \(dir): not a folder")
                }
                return path
            }
        }
        if renderer == "diffusion", models == nil, roots == nil {
            throw ValidationError("--renderer diffusion needs --models PATHS or --models-root DIR: the worker loads only the models it is given")
        }
        do { try DatabasePassword.load() } catch { throw ValidationError("\(error)") }
        let service = try ServiceHooks(metrics: metrics, stallAfter: stallTimeout, logger: logger)
        let jobRenderer = try makeRenderer(renderer, storage: storageRoot, service: service)
        var served: [String]?
        if let models {
            do {
                served = try models.split(separator: ",").map { try JobQueue.normalizeModelPath(String($0)) }
            } catch {
                throw ValidationError("--models: \((error as? RenderFormatError)?.message ?? "\(error)")")
            }
        }
        let worker = Worker(configuration: .init(storage: storageRoot, databaseURL: database, name: name ?? Worker.Configuration.defaultName,
                                                 models: served, modelRoots: roots, lease: lease, maxJobs: maxJobs, exitWhenIdle: exitWhenIdle),
                            renderer: jobRenderer, logger: logger, observers: service.observers)
        let signals = StopSignals { worker.requestStop() }
        defer { signals.cancel(); service.stop() }
        try worker.run()
    }

    private func makeRenderer(_ spec: String, storage: String, service: ServiceHooks) throws -> any JobRenderer {
        if spec == "test-pattern" || spec.hasPrefix("test-pattern:") {
            let ms = spec.split(separator: ":").dropFirst().first.map(String.init) ?? "0"
            guard let value = Double(ms), value >= 0, value.isFinite else {
                throw ValidationError("--renderer \(spec): MS_PER_STEP must be a non-negative number, e.g. test-pattern:5")
            }
            return TestPatternRenderer(secondsPerStep: value / 1000)
        }
        if spec == "diffusion" {
            let renderer = DiffusionJobRenderer(storage: storage, loraDirectory: loraDir, logger: Logger(label: "sdfarm-worker.render"))
            renderer.onModelLoad = { model, seconds in service.metrics?.modelLoaded(model, seconds: seconds) }
            return renderer
        }
        throw ValidationError("--renderer \(spec): unknown renderer; use 'diffusion' or 'test-pattern[:MS_PER_STEP]'")
    }
}

/// The service side of one worker process: health, the Prometheus listener (with `--metrics`) and the systemd notifier
/// (when started with `NOTIFY_SOCKET`), each a `WorkerObserver`.
struct ServiceHooks {
    let health: WorkerHealth
    let metrics: WorkerMetrics?
    let endpoint: HTTPEndpoint?
    let notifier: SystemdNotifier?

    init(metrics listen: String?, stallAfter: Double, logger: Logger) throws {
        let health = WorkerHealth(stallAfter: stallAfter)
        self.health = health
        if let listen {
            let metrics = WorkerMetrics()
            do {
                endpoint = try HTTPEndpoint(listen: listen) { path in
                    switch path {
                    case "/metrics": .init(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics.render())
                    case "/readyz": health.isReady ? .text(200, "ready\n") : .text(503, "not ready\n")
                    case "/livez": health.isAlive ? .text(200, "alive\n") : .text(503, "stalled: no progress for \(Int(stallAfter)) s\n")
                    default: .text(404, "not found; try /metrics, /readyz or /livez\n")
                    }
                }
            } catch { throw ValidationError("--metrics \(error)") }
            self.metrics = metrics
            logger.info("serving metrics", metadata: ["address": "\(endpoint?.address ?? listen)"])
        } else {
            metrics = nil
            endpoint = nil
        }
        do { notifier = try SystemdNotifier.make(health: health) } catch { throw ValidationError("\(error)") }
    }

    var observers: [any WorkerObserver] {
        var list: [any WorkerObserver] = [health]  // first: the notifier reads the health the others update
        if let metrics { list.append(metrics) }
        if let notifier { list.append(notifier) }
        return list
    }

    func stop() { endpoint?.stop() }
}
