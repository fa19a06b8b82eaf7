import Farm
import Foundation
import Logging
import RenderFormat
import Testing

/// What the farm integration tests share: a fresh migrated database per test, worker processes, waiting.
enum Harness {
    static var repo: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
    static var bin: URL { repo.appendingPathComponent(".build/release") }
    static var logger: Logger { var l = Logger(label: "farm-tests"); l.logLevel = .warning; return l }
    static var baseURL: String? { ProcessInfo.processInfo.environment["DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 } }
    static var available: Bool { baseURL != nil && FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("sdfarm-worker").path) }

    /// The render a job's output must equal byte for byte. (Switch to the Stable Diffusion renderer with the tiny model here.)
    static func directRender(_ p: RenderParameters) throws -> [UInt8] { try TestPatternRenderer.image(for: p) }

    /// Renders `p` with `sdfarm render` into `output` (what a user would run locally for the same job).
    static func renderLocally(_ p: RenderParameters, output: String) throws -> (status: Int32, stdout: String, stderr: String) {
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
        let dir: URL
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
            try Migrator(directory: Harness.repo.appendingPathComponent("migrations").path, logger: Harness.logger).migrate(queue.db)
            dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(name)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            // A real (tiny) checkpoint: submit checks read its header, and diffusion workers can render it.
            model = dir.appendingPathComponent("tiny.safetensors").path
            try FileManager.default.copyItem(atPath: Harness.repo.appendingPathComponent("Tests/DiffusionTests/Fixtures/models/tiny-sd-sf.safetensors").path,
                                             toPath: model)
        }

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
            try? FileManager.default.removeItem(at: dir)
        }
    }

    /// A running `sdfarm-worker`, its stderr going to a log file.
    final class WorkerProcess {
        let process = Process()
        let name: String
        let log: URL

        init(_ db: Database, name: String, lease: Double = 2, msPerStep: Double = 1, extra: [String] = [],
             url: String? = nil, wrapper: [String] = [], environment: [String: String] = [:]) throws {
            self.name = name
            log = db.dir.appendingPathComponent("\(name).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let args = ["--storage", db.storage, "--database", url ?? db.url, "--name", name, "--lease", String(lease),
                        "--renderer", "test-pattern:\(msPerStep)"] + extra
            if wrapper.isEmpty {
                process.executableURL = Harness.bin.appendingPathComponent("sdfarm-worker")
                process.arguments = args
            } else {
                process.executableURL = URL(fileURLWithPath: wrapper[0])
                process.arguments = Array(wrapper.dropFirst()) + [Harness.bin.appendingPathComponent("sdfarm-worker").path] + args
            }
            var env = ProcessInfo.processInfo.environment
            env["SDFARM_BACKOFF_BASE"] = "0.2"
            env["SDFARM_BACKOFF_MAX"] = "2"
            for (k, v) in environment { env[k] = v }
            process.environment = env
            process.standardOutput = FileHandle.nullDevice
            process.standardError = try FileHandle(forWritingTo: log)
            try process.run()
        }

        var pid: Int32 { process.processIdentifier }
        func signal(_ s: Int32) { kill(process.processIdentifier, s) }
        var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        /// Waits for exit; kills it after `timeout`. Returns the exit status.
        @discardableResult
        func wait(timeout: Double = 30) -> Int32 {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
            return process.terminationStatus
        }

        func stop() {
            if process.isRunning { kill(process.processIdentifier, SIGCONT); kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
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

    /// posix_spawn + waitpid (Foundation's Process can miss the exit of a child whose own child daemonises).
    static func spawnAndWait(_ argv: [String]) -> Int32 {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 2, "/dev/null", O_WRONLY, 0)
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &fileActions, nil, &cArgs, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : -1
    }

    /// Runs a built executable and captures its output.
    static func run(_ name: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = bin.appendingPathComponent(name)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
