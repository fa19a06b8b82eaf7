import Farm
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Imaging
import Logging
import Testing
import TestSupport

/// `sdfarm serve` against the real PostgreSQL (DATABASE_URL, from scripts/with-postgres): the API, and a test per
/// security rule. Each test gets a fresh migrated database and its own server on a free loopback port.
final class ServeFixture {
    static var baseURL: String? { ProcessInfo.processInfo.environment["DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 } }
    static var available: Bool { baseURL != nil && FileManager.default.isExecutableFile(atPath: RepositoryPaths.executable("sdfarm").path) }
    static let token = "test-token-0123456789abcdef"

    let name: String
    let url: String
    let queue: JobQueue
    let scratch: ScratchDirectory
    let server: RunningProcess
    let base: String
    var model: String { RepositoryPaths.weights.appendingPathComponent("sdfarm-shapes").path }
    var storage: String { scratch.path("storage") }

    init(extra: [String] = []) throws {
        name = "sdfarm_srv_\(UInt32.random(in: 0...UInt32.max))"
        let admin = try PostgresConnection(url: Self.baseURL)
        try admin.execute(script: "CREATE DATABASE \(name)")
        admin.close()
        var c = URLComponents(string: Self.baseURL!)!
        c.path = "/" + name
        url = c.string!
        var logger = Logger(label: "serve-tests"); logger.logLevel = .warning
        queue = JobQueue(try PostgresConnection(url: url), logger: logger)
        try Migrator(directory: RepositoryPaths.migrations.path, logger: logger).migrate(queue.db)
        scratch = try ScratchDirectory(prefix: name)
        try FileManager.default.createDirectory(atPath: scratch.path("storage"), withIntermediateDirectories: true)
        let out = scratch.url.appendingPathComponent("serve.out")
        server = try ProcessRunner.start(RepositoryPaths.executable("sdfarm"),
                                         ["serve", "--listen", "127.0.0.1:0", "--storage", scratch.path("storage"), "--database", url] + extra,
                                         environment: ["SDFARM_API_TOKEN": Self.token], stdout: .file(out),
                                         stderr: .file(scratch.url.appendingPathComponent("serve.log")))
        var found: String?
        for _ in 0..<200 where found == nil {
            let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
            if let r = text.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) { found = String(text[r]) }
            else { Thread.sleep(forTimeInterval: 0.05) }
        }
        base = try #require(found, "serve printed no URL")
    }

    deinit {
        server.stop()
        queue.db.close()
        if let admin = try? PostgresConnection(url: Self.baseURL) { _ = try? admin.execute(script: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        scratch.remove()
    }

    /// One request; returns the status and body.
    func request(_ method: String, _ path: String, token: String? = ServeFixture.token, body: String? = nil,
                 headers: [String: String] = [:]) async throws -> (status: Int, body: String) {
        var r = URLRequest(url: URL(string: base + path)!)
        r.httpMethod = method
        if let token { r.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body { r.httpBody = Data(body.utf8); r.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        for (k, v) in headers { r.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await URLSession.shared.data(for: r)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    func submit(_ fields: String) async throws -> (status: Int, body: String) {
        try await request("POST", "/api/v1/batches", body: "{\"model\":\"\(model)\",\(fields)}")
    }
}

@Suite("sdfarm serve", .serialized, .enabled(if: ServeFixture.available))
struct ServeTests {
    @Test("POST /api/v1/batches creates the batch the CLI would, and GET reports its counts and pages its jobs")
    func submitAndStatus() async throws {
        let f = try ServeFixture()
        let r = try await f.submit(#""prompts":["a red circle","a blue square"],"seeds":"1-3","steps":"4","sizes":"32x32","name":"api""#)
        #expect(r.status == 201, "\(r.body)")
        #expect(r.body == #"{"id":1,"jobs":6}"#)
        let s = try await f.request("GET", "/api/v1/batches/1")
        #expect(s.status == 200 && s.body.contains(#""queued":6"#) && s.body.contains(#""eta_seconds""#), "\(s.body)")
        let page = try await f.request("GET", "/api/v1/batches/1/jobs?limit=4")
        #expect(page.body.contains(#""next_after":4"#), "\(page.body)")
        let rest = try await f.request("GET", "/api/v1/batches/1/jobs?limit=4&after=4")
        #expect(rest.body.contains(#""next_after":null"#) && rest.body.contains(#""id":6"#), "\(rest.body)")
        #expect(try f.queue.jobs(batch: 1).map(\.parameters.prompt) == ["a red circle", "a red circle", "a red circle", "a blue square", "a blue square", "a blue square"])
    }

    @Test("the API refuses what the CLI refuses, with the same message, as 400, and writes nothing")
    func validationMatchesCLI() async throws {
        let f = try ServeFixture()
        let r = try await f.submit(#""prompts":["x"],"seeds":"5-1""#)
        #expect(r.status == 400)
        let cli = try ProcessRunner.runBuilt("sdfarm", ["submit", "--database", f.url, "--model", f.model, "--prompt", "x", "--seeds", "5-1"])
        #expect(cli.status != 0)
        #expect(r.body.contains("runs backwards") && cli.stderr.contains("runs backwards"), "\(r.body) / \(cli.stderr)")
        let size = try await f.submit(#""prompts":["x"],"sizes":"30x30""#)
        #expect(size.status == 400, "\(size.body)")
        let hook = try await f.submit(#""prompts":["x"],"webhook_url":"file:///etc/passwd""#)
        #expect(hook.status == 400 && hook.body.contains("webhook_url"), "\(hook.body)")
        #expect(try f.queue.batches().isEmpty)
    }

    @Test("without the token, or with a wrong one, every API request is 401")
    func noTokenIs401() async throws {
        let f = try ServeFixture()
        for (method, path) in [("GET", "/api/v1/batches/1"), ("GET", "/api/v1/jobs/1"), ("POST", "/api/v1/batches"), ("POST", "/api/v1/jobs/1/retry")] {
            #expect(try await f.request(method, path, token: nil, body: method == "POST" ? "{}" : nil).status == 401, "\(method) \(path)")
            #expect(try await f.request(method, path, token: "wrong-token-0123456789", body: method == "POST" ? "{}" : nil).status == 401)
        }
        #expect(try f.queue.batches().isEmpty)
    }

    @Test("a cross-site POST is refused even with the token, and changes nothing")
    func crossSitePostRefused() async throws {
        let f = try ServeFixture()
        #expect(try await f.submit(#""prompts":["x"],"steps":"4","sizes":"32x32""#).status == 201)
        let evil = try await f.request("POST", "/api/v1/batches/1/cancel", headers: ["Origin": "http://evil.example"])
        #expect(evil.status == 403, "\(evil.body)")
        let fetchSite = try await f.request("POST", "/api/v1/batches/1/pause", headers: ["Sec-Fetch-Site": "cross-site"])
        #expect(fetchSite.status == 403)
        #expect(try f.queue.batch(1).counts["queued"] == 1 && !(try f.queue.batch(1).paused))
        let same = try await f.request("POST", "/api/v1/batches/1/pause", headers: ["Origin": f.base])
        #expect(same.status == 200, "\(same.body)")
        #expect(try f.queue.batch(1).paused)
    }

    @Test("paths that try to reach the file system are 404; an output path outside the storage is not served")
    func traversalIs404() async throws {
        let f = try ServeFixture()
        #expect(try await f.submit(#""prompts":["x"],"steps":"4","sizes":"32x32""#).status == 201)
        // A job whose recorded output lies outside the storage root (a tampered row) is not served.
        try f.queue.db.query("UPDATE jobs SET state = 'succeeded', finished_at = now(), output_path = '/etc/passwd' WHERE id = 1")
        for path in ["/jobs/1/image", "/api/v1/jobs/1/image", "/jobs/..%2F..%2Fetc%2Fpasswd/image", "/api/v1/jobs/%2e%2e%2f%2e%2e%2fetc%2fpasswd/image",
                     "/../../etc/passwd", "/jobs/-1/image", "/storage/1/1.png", "/batches/1/../../../etc/passwd"] {
            let r = try await f.request("GET", path)
            #expect(r.status == 404, "\(path): \(r.status)")
            #expect(!r.body.contains("root:"), "\(path) leaked a file")
        }
    }

    @Test("a <script> prompt and error are shown as text on every page")
    func scriptPromptShownAsText() async throws {
        let f = try ServeFixture()
        #expect(try await f.submit(#""prompts":["<script>alert(1)</script>"],"steps":"4","sizes":"32x32","name":"<img src=x onerror=alert(2)>""#).status == 201)
        try f.queue.db.query("UPDATE jobs SET state = 'failed', finished_at = now(), last_error = '<script>alert(3)</script>' WHERE id = 1")
        for path in ["/", "/batches", "/batches/1", "/jobs/1", "/jobs?q=script", "/batches/1?fragment=1"] {
            let r = try await f.request("GET", path, token: nil)
            #expect(r.status == 200, "\(path)")
            #expect(!r.body.contains("<script>alert") && !r.body.contains("<img src=x"), "\(path) shows markup unescaped")
        }
        #expect(try await f.request("GET", "/jobs/1", token: nil).body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
    }

    @Test("a body over the limit is refused with 413")
    func bodyLimit() async throws {
        let f = try ServeFixture(extra: ["--max-body-bytes", "2048"])
        let r = try await f.submit("\"prompts\":[\"\(String(repeating: "a", count: 4000))\"]")
        #expect(r.status == 413, "\(r.status) \(r.body.prefix(200))")
        #expect(try f.queue.batches().isEmpty)
    }

    @Test("serve refuses to listen beyond loopback without a token")
    func nonLoopbackNeedsToken() throws {
        let dir = try ScratchDirectory(prefix: "serve-bind")
        defer { dir.remove() }
        let r = try ProcessRunner.runBuilt("sdfarm", ["serve", "--listen", "0.0.0.0:0", "--storage", dir.url.path], environment: ["SDFARM_API_TOKEN": ""])
        #expect(r.status != 0)
        #expect(r.stderr.contains("not a loopback address"), "\(r.stderr)")
        let missing = try ProcessRunner.runBuilt("sdfarm", ["serve", "--listen", "0.0.0.0:0", "--storage", dir.url.path, "--token-file", dir.path("none")],
                                                 environment: ["SDFARM_API_TOKEN": ""])
        #expect(missing.status != 0 && missing.stderr.contains("does not exist"), "\(missing.stderr)")
    }

    @Test("a paused batch is not claimed until resumed; retry, cancel and priority act on the queue")
    func pauseResumeRetryCancel() async throws {
        let f = try ServeFixture()
        #expect(try await f.submit(#""prompts":["x"],"seeds":"1-2","steps":"4","sizes":"32x32""#).status == 201)
        #expect(try await f.request("POST", "/api/v1/batches/1/pause").status == 200)
        #expect(try f.queue.claim(worker: "w", models: nil, limit: 5, lease: 30).isEmpty)
        #expect(try await f.request("POST", "/api/v1/batches/1/priority", body: #"{"priority":7}"#).body == #"{"updated":2}"#)
        #expect(try await f.request("POST", "/api/v1/batches/1/resume").status == 200)
        let claimed = try f.queue.claim(worker: "w", models: nil, limit: 1, lease: 30)
        let job = try #require(claimed.first)
        #expect(try f.queue.fail(job, error: "boom", retryable: false))
        #expect(try await f.request("POST", "/api/v1/batches/1/retry").body == #"{"requeued":1}"#)
        let cancel = try await f.request("POST", "/api/v1/batches/1/cancel")
        #expect(cancel.body.contains(#""cancelled":2"#), "\(cancel.body)")
        #expect(try await f.request("GET", "/api/v1/jobs/\(job.id)/image").status == 404)
    }
}

@Suite("sdfarm serve webhooks", .serialized, .enabled(if: ServeFixture.available))
struct WebhookTests {
    @Test("a finished batch's webhook is POSTed by the serve process, retried after a failure, with the final counts")
    func webhookRetriedThenDelivered() async throws {
        let f = try ServeFixture()
        // A real HTTP receiver (python3's http.server): answers 500 to the first POST and 200 after, logging bodies.
        let log = f.scratch.path("hook.log")
        let script = """
            import http.server, sys
            n = 0
            class H(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    global n
                    n += 1
                    body = self.rfile.read(int(self.headers['Content-Length']))
                    open(sys.argv[1], 'a').write(str(n) + ' ' + body.decode() + '\\n')
                    self.send_response(500 if n == 1 else 200); self.end_headers()
                def log_message(self, *a): pass
            s = http.server.HTTPServer(('127.0.0.1', 0), H)
            open(sys.argv[1] + '.port', 'w').write(str(s.server_port))
            s.serve_forever()
            """
        let receiver = try ProcessRunner.start(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, log])
        defer { receiver.stop() }
        var port: String?
        for _ in 0..<100 where port == nil {
            port = (try? String(contentsOfFile: log + ".port", encoding: .utf8)).flatMap { $0.isEmpty ? nil : $0 }
            if port == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let p = try #require(port)
        let r = try await f.submit(#""prompts":["x"],"seeds":"1-2","steps":"4","sizes":"32x32","name":"hooked","webhook_url":"http://127.0.0.1:\#(p)/done""#)
        #expect(r.status == 201, "\(r.body)")
        // End the batch through the queue (cancel both jobs): its final counts go out.
        _ = try f.queue.cancel(batch: 1)
        let deadline = Date().addingTimeInterval(20)
        var delivered = false
        while Date() < deadline, !delivered {
            delivered = try f.queue.db.query("SELECT webhook_delivered_at IS NOT NULL AS d FROM batches WHERE id = 1").value(0, "d") == "t"
            if !delivered { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(delivered, "not delivered: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "no request")")
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2, "\(lines)")
        #expect(lines.last?.contains(#""cancelled":2"#) == true && lines.last?.contains(#""event":"batch.finished""#) == true, "\(lines)")
        #expect(try f.queue.db.query("SELECT webhook_attempts FROM batches WHERE id = 1").value(0, "webhook_attempts") == "2")
    }
}
