import Farm
import Foundation
import Logging
import RenderFormat
import Testing
import TestSupport

/// What the farm integration tests share: a fresh migrated database per test, worker processes, waiting.
enum Harness {
    static var repo: URL { RepositoryPaths.root }
    static var logger: Logger { var l = Logger(label: "farm-tests"); l.logLevel = .warning; return l }
    static var baseURL: String? { ProcessInfo.processInfo.environment["DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 } }
    static var available: Bool { baseURL != nil && FileManager.default.isExecutableFile(atPath: RepositoryPaths.executable("sdfarm-worker").path) }

    /// The render a job's output must equal byte for byte. (Switch to the Stable Diffusion renderer with the tiny model here.)
    static func directRender(_ p: RenderParameters) throws -> [UInt8] { try TestPatternRenderer.image(for: p) }

    /// Renders `p` with `sdfarm render` into `output` (what a user would run locally for the same job).
    static func renderLocally(_ p: RenderParameters, output: String) throws -> ProcessRunner.Result {
        try run("sdfarm", ["render", "--model", p.model, "--prompt", p.prompt, "--negative-prompt", p.negativePrompt,
                           "--seed", String(p.seed), "--steps", String(p.steps), "--sampler", p.sampler.rawValue,
                           "--cfg-scale", String(p.cfgScale), "--width", String(p.width), "--height", String(p.height),
                           "--output", output])
    }

    /// A fresh database, migrated, with its URL; dropped by `drop()`.
    final class Database {
        let name: String
        let url: String
        let queue: JobQueue
        let scratch: ScratchDirectory
        let model: String

        init(options: JobQueue.Options = .init(backoffBase: 0.2, backoffMax: 2, sameWorkerGrace: 0.2)) throws {
            name = "sdfarm_t_\(UInt32.random(in: 0...UInt32.max))"
            let admin = try PostgresConnection(url: Harness.baseURL)
            try admin.execute(script: "CREATE DATABASE \(name)")
            admin.close()
            var components = URLComponents(string: Harness.baseURL!)!
            components.path = "/" + name
            url = components.string!
            queue = JobQueue(try PostgresConnection(url: url), options: options, logger: Harness.logger)
            try Migrator(directory: RepositoryPaths.migrations.path, logger: Harness.logger).migrate(queue.db)
            scratch = try ScratchDirectory(prefix: name)
            // A real (tiny) checkpoint: submit checks read its header, and diffusion workers can render it.
            model = scratch.path("tiny.safetensors")
            try FileManager.default.copyItem(atPath: RepositoryPaths.fixture("models/tiny-sd-sf.safetensors"), toPath: model)
        }

        /// The database's scratch directory (the model copy, storage, worker logs), removed by `drop()`.
        var dir: URL { scratch.url }
        var storage: String { dir.appendingPathComponent("storage").path }

        func submit(prompts: [String] = ["a red circle"], seeds: [UInt64] = [1], steps: Int = 4, size: Int = 32,
                    cfg: [Double] = [7.5], priority: Int = 0, maxAttempts: Int = 3) throws -> JobQueue.Submission {
            try queue.submit(GridSpec(model: model, prompts: prompts, seeds: seeds, cfgScales: cfg, steps: [steps],
                                      sizes: [.init(width: size, height: size)], priority: priority, maxAttempts: maxAttempts))
        }

        func count(_ sql: String, _ params: [String?] = []) throws -> Int {
            Int(try queue.db.query(sql, params).rows.first?.first??.description ?? "0") ?? 0
        }

        func drop() {
            queue.db.close()
            if let admin = try? PostgresConnection(url: Harness.baseURL) {
                _ = try? admin.execute(script: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            }
            scratch.remove()
        }
    }

    /// A running `sdfarm-worker`, its stderr going to a log file.
    final class WorkerProcess {
        let process: RunningProcess
        let name: String
        let log: URL

        init(_ db: Database, name: String, lease: Double = 2, msPerStep: Double = 1, extra: [String] = [],
             url: String? = nil, wrapper: [String] = [], environment: [String: String] = [:], storage: String? = nil) throws {
            self.name = name
            log = db.dir.appendingPathComponent("\(name).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            var args = ["--storage", storage ?? db.storage, "--database", url ?? db.url, "--name", name, "--lease", String(lease),
                        "--renderer", "test-pattern:\(msPerStep)"] + extra
            if extra.contains("diffusion"), !extra.contains("--models"), !extra.contains("--models-root") {
                // Diffusion workers load only what they are given: the fixture models and this test's own copies.
                args += ["--models-root", "\(RepositoryPaths.fixtures.path),\(db.dir.path)"]
            }
            let worker = RepositoryPaths.executable("sdfarm-worker")
            let (executable, arguments) = wrapper.isEmpty ? (worker, args)
                : (URL(fileURLWithPath: wrapper[0]), Array(wrapper.dropFirst()) + [worker.path] + args)
            let env = ["SDFARM_BACKOFF_BASE": "0.2", "SDFARM_BACKOFF_MAX": "2"].merging(environment) { $1 }
            process = try ProcessRunner.start(executable, arguments, environment: env, stdout: .discard, stderr: .file(log))
        }

        var pid: Int32 { process.pid }
        func signal(_ s: Int32) { process.send(s) }
        var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        /// Waits for exit; kills it after `timeout`. Returns the exit status.
        @discardableResult
        func wait(timeout: Double = 30) -> Int32 { process.wait(timeout: timeout).status }

        func stop() { process.stop() }
    }
    /// Submits one `steps`-step job, starts a test-pattern worker `name` on it and waits until the job has
    /// rendered more than `after` steps. The caller stops the worker.
    static func jobInProgress(_ db: Database, steps: Int, worker name: String, lease: Double, msPerStep: Double,
                              after: Int = 2) throws -> (submission: JobQueue.Submission, worker: WorkerProcess, id: Int64) {
        let s = try db.submit(steps: steps)
        let worker = try WorkerProcess(db, name: name, lease: lease, msPerStep: msPerStep)
        let id = try #require(try db.queue.jobs(batch: s.batchID).first?.id)
        #expect(try waitUntil(timeout: 20) { try db.queue.job(id).progress.step > after })
        return (s, worker, id)
    }


    /// Polls `condition` until it is true or `timeout` passes; returns whether it became true.
    @discardableResult
    static func waitUntil(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return try condition()
    }

    /// Runs `pg_ctl ARGS -w` on the test cluster as its owner; returns the exit status.
    static func pgctl(_ arguments: [String]) throws -> Int32 {
        let env = ProcessInfo.processInfo.environment
        let argv = ["/usr/sbin/runuser", "-u", env["SDFARM_TEST_PG_OWNER"]!, "--", env["SDFARM_TEST_PG_BIN"]! + "/pg_ctl",
                    "-D", env["SDFARM_TEST_PG_DIR"]! + "/data", "-w", "-t", "60"] + arguments
        return spawnAndWait(argv)
    }

    /// Runs `argv` with its output discarded and waits for it; returns its exit status, -1 when it could not
    /// start or a signal ended it.
    static func spawnAndWait(_ argv: [String]) -> Int32 {
        guard let child = try? ProcessRunner.start(URL(fileURLWithPath: argv[0]), Array(argv.dropFirst())) else { return -1 }
        let termination = child.wait(timeout: 300)
        return termination.exited ? termination.status : -1
    }

    /// Runs a built executable and captures its output.
    static func run(_ name: String, _ arguments: [String], environment: [String: String] = [:]) throws -> ProcessRunner.Result {
        try ProcessRunner.runBuilt(name, arguments, environment: environment)
    }
}
