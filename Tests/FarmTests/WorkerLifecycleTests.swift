import Farm
import Foundation
import Testing

/// Worker process life cycle: a second stop signal releases the job; --max-jobs.
extension FarmIntegrationTests {
    @Test("a second SIGINT releases the running job back to the queue without counting the attempt")
    func secondSignalReleases() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let (_, worker, id) = try Harness.jobInProgress(db, steps: 500, worker: "w", lease: 2, msPerStep: 10)
        defer { worker.stop() }
        worker.signal(SIGINT)
        Thread.sleep(forTimeInterval: 0.2)
        worker.signal(SIGINT)
        #expect(worker.wait(timeout: 15) == 0)
        let job = try db.queue.job(id)
        #expect(job.state == .queued && job.attempts == 0)
        #expect(try db.queue.attempts(of: id).map(\.outcome) == [.released])
    }

    @Test("--max-jobs N makes a worker exit after N jobs")
    func maxJobs() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let s = try db.submit(seeds: [1, 2, 3, 4], steps: 2)
        let worker = try Harness.WorkerProcess(db, name: "w", msPerStep: 0, extra: ["--max-jobs", "2"])
        defer { worker.stop() }
        #expect(worker.wait(timeout: 20) == 0)
        #expect(try db.queue.jobs(batch: s.batchID).filter { $0.state == .succeeded }.count == 2)
    }
}
