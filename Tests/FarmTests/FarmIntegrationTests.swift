import Farm
import Foundation
import Imaging
import Testing
import TestSupport

/// The farm end to end against the real PostgreSQL with real `sdfarm-worker` processes. Serialized: one
/// test restarts the server and another cuts a network link.
@Suite("farm against PostgreSQL", .serialized, .enabled(if: Harness.available))
struct FarmIntegrationTests {
    @Test("four diffusion workers run 200 jobs on the tiny model: each succeeds exactly once, outputs are distinct and byte-identical to sdfarm render")
    func manyWorkersExactlyOnce() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let s = try db.submit(prompts: ["a red circle", "a blue square"], seeds: Array(1...50), steps: 4, size: 32, cfg: [5, 7.5])
        #expect(s.jobCount == 200)
        let workers = try (1...4).map {
            try Harness.WorkerProcess(db, name: "w\($0)", lease: 20, extra: ["--renderer", "diffusion", "--exit-when-idle"])
        }
        defer { workers.forEach { $0.stop() } }
        let done = try Harness.waitUntil(timeout: 240) { try db.queue.status(batch: s.batchID).counts["succeeded"] == 200 }
        #expect(done)
        #expect(workers.map { $0.wait(timeout: 15) } == [0, 0, 0, 0])
        #expect(try db.count("SELECT count(*) FROM job_attempts") == 200, "one attempt per job: nothing ran twice")
        #expect(try db.count("SELECT count(*) FROM job_attempts WHERE outcome = 'succeeded'") == 200)
        #expect(try db.count("SELECT count(DISTINCT worker) FROM job_attempts") >= 2, "the work was shared")
        let jobs = try db.queue.jobs(batch: s.batchID)
        #expect(Set(jobs.compactMap(\.outputPath)).count == 200)
        for job in jobs {
            #expect(job.outputPath?.hasPrefix("\(db.storage)/\(s.batchID)/\(job.id)-") == true)
            let p = job.parameters
            let local = db.dir.appendingPathComponent("local-\(job.id).png").path
            let r = try Harness.renderLocally(p, output: local)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(FileManager.default.contents(atPath: job.outputPath ?? "") == FileManager.default.contents(atPath: local), "job \(job.id)")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "\(db.storage)/\(s.batchID)").filter { !$0.hasSuffix(".png") || $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "no temporary files left behind")
    }

    @Test("a worker killed with SIGKILL mid-render: its job is rescued after the lease expires and finished elsewhere")
    func killedWorkerIsRescued() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let (s, victim, id) = try Harness.jobInProgress(db, steps: 100, worker: "victim", lease: 1.5, msPerStep: 20, after: 3)
        defer { victim.stop() }
        victim.signal(SIGKILL)
        let killedAt = Date()
        let rescuer = try Harness.WorkerProcess(db, name: "rescuer", lease: 1.5, msPerStep: 1, extra: ["--exit-when-idle"])
        defer { rescuer.stop() }
        #expect(try Harness.waitUntil(timeout: 20) { try db.count("SELECT count(*) FROM job_attempts WHERE worker = 'rescuer'") == 1 })
        let rescueSeconds = -killedAt.timeIntervalSinceNow
        #expect(try Harness.waitUntil(timeout: 20) { try db.queue.job(id).state == .succeeded })
        #expect(try db.queue.attempts(of: id).map { "\($0.worker):\($0.outcome)" } == ["victim:lost", "rescuer:succeeded"])
        #expect(rescueSeconds < 1.5 + 2, "rescued within seconds of lease expiry (took \(rescueSeconds) s)")
        print("kill -9 → rescuer started the job after \(String(format: "%.2f", rescueSeconds)) s (lease 1.5 s)")
    }

    @Test("a worker frozen with SIGSTOP past its lease cannot complete the job once another worker finished it")
    func frozenWorkerIsFenced() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let s = try db.submit(steps: 60)
        let frozen = try Harness.WorkerProcess(db, name: "frozen", lease: 1, msPerStep: 20, environment: ["SDFARM_LOG_LEVEL": "info"])
        defer { frozen.stop() }
        let id = try #require(try db.queue.jobs(batch: s.batchID).first?.id)
        // Freeze near the end of the render, so on waking it completes (or tries to) at once.
        #expect(try Harness.waitUntil(timeout: 20) { try db.queue.job(id).progress.step >= 45 })
        frozen.signal(SIGSTOP)
        let other = try Harness.WorkerProcess(db, name: "other", lease: 5, msPerStep: 1)
        defer { other.stop() }
        #expect(try Harness.waitUntil(timeout: 20) { try db.queue.job(id).state == .succeeded })
        frozen.signal(SIGCONT)
        #expect(Harness.waitUntil(timeout: 10) {
            let log = frozen.logText
            return log.contains("result refused") || log.contains("discarded") || log.contains("abandoned")
        }, "the frozen worker noticed it lost the lease: \(frozen.logText)")
        Thread.sleep(forTimeInterval: 0.5)
        let job = try db.queue.job(id)
        #expect(job.state == .succeeded && job.attempts == 2)
        #expect(try db.queue.attempts(of: id).map { "\($0.worker):\($0.outcome)" } == ["frozen:lost", "other:succeeded"])
    }

    @Test("cancel: queued jobs at once, a running job at its next step, and the worker keeps going")
    func cancelRunningAndQueued() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let s = try db.submit(seeds: [1, 2, 3], steps: 500)
        let worker = try Harness.WorkerProcess(db, name: "w", lease: 2, msPerStep: 10)
        defer { worker.stop() }
        let running = try #require(try Harness.waitUntil(timeout: 20) { try db.queue.jobs(batch: s.batchID, state: .running).count == 1 } ? db.queue.jobs(batch: s.batchID, state: .running).first : nil)
        let cancelQueued = try Harness.run("sdfarm", ["cancel", "--database", db.url, "--json"] + (try db.queue.jobs(batch: s.batchID, state: .queued).map { String($0.id) }))
        #expect(cancelQueued.status == 0 && cancelQueued.stdout.contains("\"cancelled\" : 2"))
        let r = try Harness.run("sdfarm", ["cancel", "--database", db.url, String(running.id)])
        #expect(r.status == 0 && r.stdout.contains("1 running job will stop"))
        #expect(try Harness.waitUntil(timeout: 10) { try db.queue.job(running.id).state == .cancelled })
        #expect(try db.queue.job(running.id).progress.step < 500)
        #expect(try db.queue.attempts(of: running.id).map(\.outcome) == [.cancelled])
        let watch = try Harness.run("sdfarm", ["watch", String(s.batchID), "--database", db.url])
        #expect(watch.status == 0)
        #expect(worker.process.isRunning, "the worker survives a cancelled job")
        let retry = try Harness.run("sdfarm", ["retry", "--batch", String(s.batchID), "--database", db.url])
        #expect(retry.status == 0 && retry.stdout.contains("requeued 3 jobs"))
    }

    @Test("SIGTERM lets the current job finish, then the worker exits cleanly")
    func gracefulStop() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let s = try db.submit(seeds: [1, 2], steps: 50)
        let worker = try Harness.WorkerProcess(db, name: "w", lease: 2, msPerStep: 10)
        defer { worker.stop() }
        #expect(try Harness.waitUntil(timeout: 20) { try db.queue.jobs(batch: s.batchID, state: .running).count == 1 })
        worker.signal(SIGTERM)
        #expect(worker.wait(timeout: 15) == 0)
        let states = try db.queue.jobs(batch: s.batchID).map(\.state)
        #expect(states.sorted { $0.rawValue < $1.rawValue } == [.queued, .succeeded], "finished the current job, claimed no other")
        #expect(try db.queue.workers().first?.stopped == true)
    }

    @Test("PostgreSQL restarted while workers run: every job still finishes, none twice",
          .enabled(if: ProcessInfo.processInfo.environment["SDFARM_TEST_PG_OPTS"] != nil))
    func postgresRestart() throws {
        let env = ProcessInfo.processInfo.environment
        let db = try Harness.Database()
        defer { db.drop() }
        let s = try db.submit(seeds: Array(1...40), steps: 10, size: 32)
        let workers = try (1...4).map { try Harness.WorkerProcess(db, name: "w\($0)", lease: 10, msPerStep: 5) }
        defer { workers.forEach { $0.stop() } }
        #expect(try Harness.waitUntil(timeout: 20) { try db.queue.status(batch: s.batchID).counts["succeeded"]! >= 5 })
        #expect(try Harness.pgctl(["-m", "fast", "stop"]) == 0)  // terminates every connection
        Thread.sleep(forTimeInterval: 1.5)  // workers see the server gone and retry with backoff
        #expect(try Harness.pgctl(["-l", env["SDFARM_TEST_PG_DIR"]! + "/server.log", "-o", env["SDFARM_TEST_PG_OPTS"] ?? "", "start"]) == 0)
        let check = JobQueue(try PostgresConnection(url: db.url), logger: Harness.logger)
        #expect(try Harness.waitUntil(timeout: 60) { try check.status(batch: s.batchID).counts["succeeded"] == 40 })
        #expect(try check.db.query("SELECT count(*) AS n FROM job_attempts WHERE outcome = 'succeeded'").value(0, "n") == "40")
        #expect(try check.db.query("SELECT count(*) AS n FROM (SELECT job_id FROM job_attempts WHERE outcome = 'succeeded' GROUP BY job_id HAVING count(*) > 1) d").value(0, "n") == "0")
        for job in try check.jobs(batch: s.batchID) {
            #expect(FileManager.default.contents(atPath: job.outputPath ?? "").map { [UInt8]($0) } == (try Harness.directRender(job.parameters)))
        }
        for w in workers {
            #expect(w.process.isRunning, "worker \(w.name) survived the restart: \(w.logText.split(separator: "\n").filter { $0.contains("Fatal") || $0.contains("error") || $0.contains("sdfarm-worker:") || $0.contains(" at /") }.suffix(12).joined(separator: "\n"))")
        }
        #expect(workers.contains { $0.logText.contains("reconnected to PostgreSQL") })
    }
}
