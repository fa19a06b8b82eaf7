import Farm
import FarmService
import Foundation
import Testing
import TestSupport

/// The worker as a service, with real peers: Debian's Prometheus scraping a worker and `sdfarm metrics` (series read
/// back through Prometheus' HTTP API), the systemd notification protocol on a real datagram socket, the health endpoints
/// and the database password file.
@Suite("worker as a service", .serialized)
struct WorkerServiceTests {
    /// A TCP port nothing listens on now (bound once with port 0 and released).
    static func freePort() throws -> Int {
        let endpoint = try HTTPEndpoint(listen: "127.0.0.1:0") { _ in .text(404, "") }
        defer { endpoint.stop() }
        return endpoint.port
    }

    /// `curl -s URL`: the body, or nil when nothing answered.
    static func get(_ url: String) -> (status: Int, body: String)? {
        guard let r = try? ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/curl"), ["-s", "-m", "5", "-w", "\n%{http_code}", url], timeout: 10),
              r.status == 0 else { return nil }
        var lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let code = Int(lines.removeLast()) ?? 0
        return (code, lines.joined(separator: "\n"))
    }

    static var prometheusInstalled: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus") }

    @Test("Prometheus scrapes a rendering worker and sdfarm metrics, and its API returns the series with bounded labels",
          .enabled(if: Harness.available && prometheusInstalled), .timeLimit(.minutes(3)))
    func prometheusScrapesRealSeries() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let workerPort = try Self.freePort(), queuePort = try Self.freePort(), promPort = try Self.freePort()
        let worker = try Harness.WorkerProcess(db, name: "metrics-worker", lease: 2, msPerStep: 20,
                                               extra: ["--metrics", "127.0.0.1:\(workerPort)"])
        defer { worker.stop() }
        let exporter = try ProcessRunner.start(RepositoryPaths.executable("sdfarm"), ["metrics", "--listen", "127.0.0.1:\(queuePort)", "--database", db.url])
        defer { exporter.stop() }
        try """
            global: {scrape_interval: 1s, evaluation_interval: 1s}
            scrape_configs:
              - job_name: sdfarm-worker
                static_configs: [{targets: ["127.0.0.1:\(workerPort)"]}]
              - job_name: sdfarm-queue
                static_configs: [{targets: ["127.0.0.1:\(queuePort)"]}]
            """.write(toFile: db.scratch.path("prometheus.yml"), atomically: true, encoding: .utf8)
        let prometheus = try ProcessRunner.start(URL(fileURLWithPath: "/usr/bin/prometheus"), [
            "--config.file=\(db.scratch.path("prometheus.yml"))", "--storage.tsdb.path=\(db.scratch.path("tsdb"))",
            "--web.listen-address=127.0.0.1:\(promPort)"], stderr: .file(db.dir.appendingPathComponent("prometheus.log")))
        defer { prometheus.stop() }

        #expect(Harness.waitUntil(timeout: 20) { Self.get("http://127.0.0.1:\(workerPort)/readyz")?.status == 200 })
        #expect(Self.get("http://127.0.0.1:\(workerPort)/livez")?.status == 200)
        #expect(Self.get("http://127.0.0.1:\(workerPort)/nothing")?.status == 404)
        let s = try db.submit(prompts: ["a red circle", "a blue square"], seeds: [1, 2], steps: 10)
        #expect(try Harness.waitUntil(timeout: 60) { try db.queue.jobs(batch: s.batchID).allSatisfy { $0.state == .succeeded } })

        let api = "http://127.0.0.1:\(promPort)/api/v1/query?query="
        func value(_ query: String) -> Double? {
            let escaped = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? query
            guard let body = Self.get(api + escaped)?.body, let data = body.data(using: .utf8),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let result = (json["data"] as? [String: Any])?["result"] as? [[String: Any]],
                  let first = result.first, let pair = first["value"] as? [Any], let text = pair.last as? String else { return nil }
            return Double(text)
        }
        let model = db.model
        let completed = "sum(sdfarm_jobs_completed_total{job=\"sdfarm-worker\",outcome=\"succeeded\",kind=\"txt2img\",model=\"\(model)\"})"
        #expect(Harness.waitUntil(timeout: 30) { value(completed) == 4 }, "Prometheus never saw 4 succeeded jobs: \(value(completed) as Any)")
        #expect(value("sum(sdfarm_denoise_steps_total{job=\"sdfarm-worker\"})") == 40)
        #expect(value("sum(sdfarm_job_duration_seconds_count{outcome=\"succeeded\"})") == 4)
        #expect(value("sum(sdfarm_job_queue_wait_seconds_count)") == 4)
        #expect(value("sdfarm_worker_ready{job=\"sdfarm-worker\"}") == 1)
        #expect(value("sdfarm_worker_busy{job=\"sdfarm-worker\"}") == 0)
        #expect(Harness.waitUntil(timeout: 10) { value("sdfarm_jobs{job=\"sdfarm-queue\",state=\"succeeded\"}") == 4 })
        #expect(value("sdfarm_jobs{job=\"sdfarm-queue\",state=\"queued\"}") ?? 0 == 0)
        #expect(value("sdfarm_live_workers") == 1)
        #expect(value("sdfarm_queue_up") == 1)

        // No series carries a job id, a prompt or any label beyond the bounded ones.
        let series = Self.get("http://127.0.0.1:\(promPort)/api/v1/series?match%5B%5D=%7B__name__%3D~%22sdfarm_.%2A%22%7D")?.body ?? ""
        let json = try #require(try JSONSerialization.jsonObject(with: Data(series.utf8)) as? [String: Any])
        let all = try #require(json["data"] as? [[String: String]])
        #expect(all.count > 10)
        let allowed: Set<String> = ["__name__", "instance", "job", "model", "kind", "outcome", "state", "le"]
        for labels in all { #expect(Set(labels.keys).isSubset(of: allowed), "unexpected labels in \(labels)") }
        #expect(!series.contains("a red circle"))
    }

    @Test("under systemd the worker sends READY after connecting, STATUS with job and step, WATCHDOG, and EXTEND_TIMEOUT on stop",
          .enabled(if: Harness.available), .timeLimit(.minutes(2)))
    func systemdNotifications() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let socketPath = db.scratch.path("notify.sock")
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(socketPath.utf8)) }
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        try #require(bound == 0)
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var messages: [String] = []
        /// Reads datagrams until none comes for 100 ms or one satisfies `until`.
        func drain(until: (String) -> Bool = { _ in false }) {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { return }
                let message = String(decoding: buffer[0..<n], as: UTF8.self)
                messages.append(message)
                if until(message) { return }
            }
        }

        let s = try db.submit(steps: 80)
        let id = try #require(try db.queue.jobs(batch: s.batchID).first?.id)
        let worker = try Harness.WorkerProcess(db, name: "notify-worker", lease: 2, msPerStep: 40,
                                               environment: ["NOTIFY_SOCKET": socketPath, "WATCHDOG_USEC": "300000"])
        defer { worker.stop() }
        let deadline = Date().addingTimeInterval(30)
        let midJob = { (m: String) in m.contains("job \(id) attempt 1: step 5/") }
        while Date() < deadline, !messages.contains(where: midJob) { drain(until: midJob) }
        worker.signal(SIGTERM)
        // Keep reading while it finishes, as systemd does.
        let stopDeadline = Date().addingTimeInterval(30)
        while worker.process.isRunning, Date() < stopDeadline { drain() }
        #expect(worker.wait(timeout: 1) == 0, "\(worker.logText)")
        drain()

        let ready = try #require(messages.firstIndex { $0.contains("READY=1") }, "no READY=1 in \(messages)")
        let firstJob = try #require(messages.firstIndex { $0.contains("STATUS=job \(id)") }, "no STATUS with the job in \(messages)")
        #expect(ready < firstJob)
        #expect(messages.contains { $0.range(of: #"STATUS=job \d+ attempt 1: step \d+/80"#, options: .regularExpression) != nil })
        #expect(messages.filter { $0 == "WATCHDOG=1" }.count >= 2, "\(messages)")
        #expect(messages.contains { $0.contains("STOPPING=1") })
        #expect(messages.contains { $0.hasPrefix("EXTEND_TIMEOUT_USEC=") }, "\(messages)")
        #expect(messages.contains { $0.contains("STATUS=job \(id) succeeded") })
        #expect(try db.queue.job(id).state == .succeeded)
    }

    @Test("the database password comes from SDFARM_DATABASE_PASSWORD_FILE or the systemd credential; an unreadable file stops the worker")
    func databasePasswordFromFile() throws {
        let dir = try ScratchDirectory(prefix: "sdfarm-password")
        defer { dir.remove() }
        try "s3cret\n".write(toFile: dir.path("pw"), atomically: true, encoding: .utf8)
        #expect(try DatabasePassword.load(environment: [DatabasePassword.fileVariable: dir.path("pw")]) == dir.path("pw"))
        #expect(String(cString: getenv("PGPASSWORD")) == "s3cret")
        try FileManager.default.createDirectory(atPath: dir.path("creds"), withIntermediateDirectories: true)
        try "from-credential".write(toFile: dir.path("creds/database-password"), atomically: true, encoding: .utf8)
        #expect(try DatabasePassword.load(environment: ["CREDENTIALS_DIRECTORY": dir.path("creds")]) != nil)
        #expect(String(cString: getenv("PGPASSWORD")) == "from-credential")
        unsetenv("PGPASSWORD")
        try "".write(toFile: dir.path("empty"), atomically: true, encoding: .utf8)
        #expect(throws: ServiceError.self) { try DatabasePassword.load(environment: [DatabasePassword.fileVariable: dir.path("empty")]) }

        let r = try Harness.run("sdfarm-worker", ["--storage", dir.path("storage"), "--renderer", "test-pattern"],
                                environment: [DatabasePassword.fileVariable: dir.path("missing")])
        #expect(r.status != 0)
        #expect(r.stderr.contains(dir.path("missing")), "\(r.stderr)")
    }

    @Test("a bad --metrics address is refused, naming it")
    func badMetricsAddress() throws {
        let r = try Harness.run("sdfarm-worker", ["--storage", "/tmp/x", "--renderer", "test-pattern", "--metrics", "localhost"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--metrics") && r.stderr.contains("HOST:PORT"), "\(r.stderr)")
        #expect(throws: ServiceError.self) { try HTTPEndpoint(listen: "127.0.0.1:99999") { _ in .text(200, "") } }
    }
}
