import Farm
import Foundation
import Testing
import TestSupport

/// The queue against the real PostgreSQL, in process: fencing, retry with backoff, priorities, cancel.
/// Serialized with the process tests (`FarmProcessTests`) because one of those restarts the server.
extension FarmIntegrationTests {
    @Test("a worker whose lease was rescued can neither complete nor fail the job someone else holds")
    func completionIsFenced() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        _ = try db.submit()
        let first = try #require(try db.queue.claim(worker: "a", models: nil, limit: 1, lease: 0.2).first)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try db.queue.heartbeat(first, step: 1, total: 4, lease: 0.3) == .held(cancelRequested: false), "an expired but unrescued lease is still held")
        Thread.sleep(forTimeInterval: 0.4)
        #expect(try db.queue.rescueExpired() == [first.id])
        #expect(try db.queue.rescueExpired().isEmpty, "rescue is idempotent")
        Thread.sleep(forTimeInterval: 0.5)
        let second = try #require(try db.queue.claim(worker: "b", models: nil, limit: 1, lease: 30).first)
        #expect(second.id == first.id && second.attempt == 2 && second.lease.token != first.lease.token)
        #expect(try db.queue.heartbeat(first, step: 2, total: 4, lease: 5) == .lost)
        #expect(try db.queue.complete(first, outputPath: "/late") == false)
        #expect(try db.queue.fail(first, error: "late", retryable: true) == false)
        #expect(try db.queue.complete(second, outputPath: "/winner") == true)
        #expect(try db.queue.complete(second, outputPath: "/winner") == true, "repeating an accepted completion is harmless")
        let job = try db.queue.job(first.id)
        #expect(job.state == .succeeded && job.outputPath == "/winner")
        #expect(try db.queue.attempts(of: first.id).map(\.outcome) == [.lost, .succeeded])
    }

    @Test("transient failures retry with exponential backoff on another worker, then fail with the error kept")
    func retryBackoffAndMaxAttempts() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        _ = try db.submit(maxAttempts: 3)
        let a1 = try #require(try db.queue.claim(worker: "a", models: nil, limit: 1, lease: 30).first)
        #expect(try db.queue.fail(a1, error: "boom 1", retryable: true))
        #expect(try db.queue.job(a1.id).state == .queued)
        #expect(try db.queue.claim(worker: "b", models: nil, limit: 1, lease: 30).isEmpty, "backoff delays the retry")
        Thread.sleep(forTimeInterval: 0.25)
        #expect(try db.queue.claim(worker: "a", models: nil, limit: 1, lease: 30).isEmpty, "the worker that failed yields to others first")
        let b2 = try #require(try db.queue.claim(worker: "b", models: nil, limit: 1, lease: 30).first)
        #expect(b2.attempt == 2)
        #expect(try db.queue.fail(b2, error: "boom 2", retryable: true))
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try db.queue.claim(worker: "c", models: nil, limit: 1, lease: 30).isEmpty, "the second delay is twice the first (0.4 s)")
        Thread.sleep(forTimeInterval: 0.2)
        let c3 = try #require(try db.queue.claim(worker: "c", models: nil, limit: 1, lease: 30).first)
        #expect(try db.queue.fail(c3, error: "boom 3", retryable: true))
        let job = try db.queue.job(c3.id)
        #expect(job.state == .failed && job.lastError == "boom 3" && job.attempts == 3)
        #expect(try db.queue.attempts(of: c3.id).map(\.worker) == ["a", "b", "c"])

        _ = try db.submit(seeds: [2], maxAttempts: 5)
        let p = try #require(try db.queue.claim(worker: "a", models: nil, limit: 1, lease: 30).first)
        #expect(try db.queue.fail(p, error: "bad weights", retryable: false))
        #expect(try db.queue.job(p.id).state == .failed, "permanent errors do not retry")

        #expect(try db.queue.retry(allFailed: true) == 2)
        let again = try db.queue.job(c3.id)
        #expect(again.state == .queued && again.attempts == 0)
    }

    @Test("higher priority runs first, then older jobs; a worker claims only the models it serves")
    func prioritiesAndModels() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let low = try db.submit(seeds: [1, 2], priority: 0)
        let high = try db.submit(seeds: [3], priority: 10)
        let mid = try db.submit(seeds: [4], priority: 5)
        let other = db.dir.appendingPathComponent("other.safetensors").path
        _ = FileManager.default.createFile(atPath: other, contents: Data())
        #expect(try db.queue.claim(worker: "x", models: [other], limit: 5, lease: 30).isEmpty)
        let order = try db.queue.claim(worker: "x", models: [db.model], limit: 10, lease: 30).map(\.batchID)
        #expect(order == [high.batchID, mid.batchID, low.batchID, low.batchID])
    }

    @Test("cancelling a queued job is immediate; a running one is told by its next heartbeat")
    func cancelInProcess() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let s = try db.submit(seeds: [1, 2])
        let running = try #require(try db.queue.claim(worker: "a", models: nil, limit: 1, lease: 30).first)
        let r = try db.queue.cancel(batch: s.batchID)
        #expect(r.cancelled == 1 && r.stopping == 1)
        #expect(try db.queue.heartbeat(running, step: 1, total: 4, lease: 30) == .held(cancelRequested: true))
        #expect(try db.queue.finishCancelled(running))
        #expect(try db.queue.jobs(batch: s.batchID).map(\.state) == [.cancelled, .cancelled])
        #expect(throws: FarmError.self) { try db.queue.cancel(jobs: [running.id, 999_999]) }
    }

    @Test("migrating twice at once applies each migration exactly once")
    func migrateIsIdempotent() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let results = try (0..<3).map { _ in try Harness.run("sdfarm", ["migrate", "--database", db.url]) }
        #expect(results.allSatisfy { $0.status == 0 })
        #expect(results.allSatisfy { $0.stdout.contains("up to date") })
        let files = try FileManager.default.contentsOfDirectory(atPath: RepositoryPaths.migrations.path).filter { $0.hasSuffix(".sql") }
        #expect(files.count >= 2)
        #expect(try db.count("SELECT count(*) FROM schema_migrations") == files.count)
    }
}
