import Farm
import Foundation
import Synchronization
import Testing

/// Queue figures for the README (run with tools/bench-queue; skipped unless SDFARM_BENCH=1).
extension FarmIntegrationTests {
    static var benchmarking: Bool { ProcessInfo.processInfo.environment["SDFARM_BENCH"] == "1" }

    @Test("benchmark: claim + complete throughput with a no-op render", .enabled(if: benchmarking))
    func benchClaimComplete() throws {
        for (threads, batch) in [(1, 1), (4, 1), (4, 8), (2, 16), (4, 16)] {
            let db = try Harness.Database()
            defer { db.drop() }
            let total = 8000
            _ = try db.submit(seeds: Array(1...UInt64(total)))
            let start = Date()
            nonisolated(unsafe) let counts = try (0..<threads).map { _ in try JobQueue(PostgresConnection(url: db.url), logger: Harness.logger) }
            let done = LockedCounter()
            let claimTime = LockedCounter(), completeTime = LockedCounter()
            DispatchQueue.concurrentPerform(iterations: threads) { i in
                let q = counts[i]
                while true {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    guard let jobs = try? q.claim(worker: "bench\(i)", models: nil, limit: batch, lease: 30), !jobs.isEmpty else { break }
                    let t1 = DispatchTime.now().uptimeNanoseconds
                    for job in jobs { _ = try? q.complete(job, outputPath: "/dev/null") }
                    claimTime.add(Int(t1 - t0) / 1000)
                    completeTime.add(Int(DispatchTime.now().uptimeNanoseconds - t1) / 1000)
                    done.add(jobs.count)
                }
            }
            let seconds = -start.timeIntervalSinceNow
            #expect(done.value == total)
            #expect(try db.count("SELECT count(*) FROM jobs WHERE state = 'succeeded'") == total)
            print(String(format: "BENCH claim+complete: %d jobs, %d connections, claim batch %d: %.2f s = %.0f jobs/s (per job: claim %.2f ms, complete %.2f ms of connection time)",
                         total, threads, batch, seconds, Double(total) / seconds, Double(claimTime.value) / 1000 / Double(total),
                         Double(completeTime.value) / 1000 / Double(total)))
        }
    }

    @Test("benchmark: submit → worker start latency with NOTIFY, and rescue time of a killed worker", .enabled(if: benchmarking))
    func benchLatencies() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let worker = try Harness.WorkerProcess(db, name: "idle", lease: 2, msPerStep: 0)
        defer { worker.stop() }
        Thread.sleep(forTimeInterval: 1)
        var latencies: [Double] = []
        for seed in 1...20 {
            Thread.sleep(forTimeInterval: 0.2)
            let s = try db.submit(seeds: [UInt64(seed)], steps: 1, size: 8)
            _ = Harness.waitUntil(timeout: 10) { (try? db.count("SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE j.batch_id = \(s.batchID)")) == 1 }
            let ms = try db.queue.db.query("""
                SELECT extract(epoch FROM a.started_at - b.created_at) * 1000 AS ms
                FROM job_attempts a JOIN jobs j ON j.id = a.job_id JOIN batches b ON b.id = j.batch_id WHERE j.batch_id = $1::bigint
                """, [String(s.batchID)]).value(0, "ms").flatMap(Double.init) ?? .nan
            latencies.append(ms)
        }
        latencies.sort()
        print(String(format: "BENCH submit→claim (NOTIFY, idle worker, poll fallback 5 s): median %.1f ms, max %.1f ms over %d submissions",
                     latencies[latencies.count / 2], latencies.last!, latencies.count))
        worker.stop()

        var rescues: [Double] = []
        for round in 1...3 {
            let s = try db.submit(seeds: [UInt64(1000 + round)], steps: 400)
            let victim = try Harness.WorkerProcess(db, name: "victim\(round)", lease: 2, msPerStep: 20)
            let rescuer = try Harness.WorkerProcess(db, name: "rescuer\(round)", lease: 2, msPerStep: 0)
            let id = try db.queue.jobs(batch: s.batchID).first!.id
            _ = Harness.waitUntil(timeout: 10) { (try? db.queue.job(id).worker) == "victim\(round)" }
            Thread.sleep(forTimeInterval: 0.7)  // mid-lease
            victim.signal(SIGKILL)
            let killed = Date()
            _ = Harness.waitUntil(timeout: 20) { (try? db.count("SELECT count(*) FROM job_attempts WHERE worker = 'rescuer\(round)'")) == 1 }
            rescues.append(-killed.timeIntervalSinceNow)
            victim.stop()
            rescuer.stop()
        }
        print("BENCH kill -9 → job restarted by another worker (lease 2 s, heartbeat every 0.67 s): " + rescues.map { String(format: "%.2f s", $0) }.joined(separator: ", "))
    }
}

final class LockedCounter: Sendable {
    private let n = Mutex(0)
    func add(_ k: Int) { n.withLock { $0 += k } }
    var value: Int { n.withLock { $0 } }
}
