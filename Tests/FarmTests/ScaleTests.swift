import Farm
import Foundation
import Imaging
import RenderFormat
import Testing
import TestSupport

/// Admin at scale (migration 0003): trigger-maintained counts, keyset paging, prune, the streamed grid.
/// In the serialized farm suite because one of its process tests restarts the server.
extension FarmIntegrationTests {
    /// (batch, state, kind) counters that disagree with a `GROUP BY` over `jobs`, as readable lines; empty when exact.
    static func countMismatches(_ db: Harness.Database) throws -> [String] {
        try db.queue.db.query("""
            SELECT coalesce(c.batch_id, j.batch_id) AS batch, coalesce(c.state, j.state) AS state, coalesce(c.kind, j.kind) AS kind,
                   coalesce(c.n, 0) AS counted, coalesce(j.n, 0) AS actual
            FROM (SELECT batch_id, state, kind, sum(n)::bigint AS n FROM job_counts GROUP BY 1, 2, 3 HAVING sum(n) <> 0) c
            FULL JOIN (SELECT batch_id, state, kind, count(*) AS n FROM jobs GROUP BY 1, 2, 3) j
              ON c.batch_id = j.batch_id AND c.state = j.state AND c.kind = j.kind
            WHERE coalesce(c.n, 0) <> coalesce(j.n, 0)
            """).rows.map { $0.map { $0 ?? "NULL" }.joined(separator: " ") }
    }

    @Test("job counts stay exact through submit, claim, complete, fail, cancel, retry, release, rescue and prune, from several connections",
          arguments: [UInt64(1), 2])
    func countsStayExact(seed: UInt64) throws {
        let db = try Harness.Database(options: .init(backoffBase: 0.01, backoffMax: 0.05, sameWorkerGrace: 0.01))
        defer { db.drop() }
        // A second connection: another backend, so (usually) another counter shard.
        let other = JobQueue(try PostgresConnection(url: db.url), options: db.queue.options, logger: Harness.logger)
        defer { other.db.close() }
        var rng = SplitMix64(seed: seed)
        var held: [(JobQueue, ClaimedJob)] = []
        var batches: [Int64] = []
        var nextSeed: UInt64 = 1
        for step in 0..<120 {
            let q = Bool.random(using: &rng) ? db.queue : other
            switch Int.random(in: 0..<10, using: &rng) {
            case 0, 1:
                let n = Int.random(in: 1...6, using: &rng)
                let seeds = (0..<n).map { nextSeed + UInt64($0) }
                nextSeed += UInt64(n)
                batches.append(try db.submit(prompts: Bool.random(using: &rng) ? ["a"] : ["a", "b"], seeds: seeds).batchID)
            case 2, 3:
                let lease = Int.random(in: 0..<4, using: &rng) == 0 ? 0.05 : 30
                for job in try q.claim(worker: "w\(Int.random(in: 0..<3, using: &rng))", models: Bool.random(using: &rng) ? nil : [db.model],
                                       limit: Int.random(in: 1...3, using: &rng), lease: lease) {
                    held.append((q, job))
                }
            case 4, 5, 6:
                guard !held.isEmpty else { continue }
                let (owner, job) = held.remove(at: Int.random(in: 0..<held.count, using: &rng))
                switch Int.random(in: 0..<5, using: &rng) {
                case 0, 1: try owner.complete(job, outputPath: "/storage/\(job.batchID)/\(job.id).png")
                case 2: try owner.fail(job, error: "boom", retryable: Bool.random(using: &rng))
                case 3: try owner.finishCancelled(job)
                default: try owner.release(job, reason: "stopping", workerFault: Bool.random(using: &rng))
                }
            case 7:
                guard let batch = batches.randomElement(using: &rng) else { continue }
                _ = try q.cancel(batch: batch)
            case 8:
                if Bool.random(using: &rng) { _ = try q.retry(allFailed: true) } else if let batch = batches.randomElement(using: &rng) {
                    _ = try q.retry(batch: batch)
                }
            default:
                Thread.sleep(forTimeInterval: 0.06)
                try q.rescueExpired()
            }
            let mismatches = try Self.countMismatches(db)
            try #require(mismatches.isEmpty, "seed \(seed), step \(step): counters differ from the jobs: \(mismatches)")
        }
        for batch in batches {
            let actual = try db.count("SELECT count(*) FROM jobs WHERE batch_id = $1::bigint", [String(batch)])
            let report = try db.queue.status(batch: batch)
            #expect(report.total == actual)
            for state in JobState.allCases {
                #expect(report.counts[state.rawValue] == (try db.count("SELECT count(*) FROM jobs WHERE batch_id = $1::bigint AND state = $2",
                                                                         [String(batch), state.rawValue])))
            }
        }
        #expect(try db.queue.status().total == (try db.count("SELECT count(*) FROM jobs")))
        // Prune everything finished (backdated), then fold the shards: still exact, and fewer rows.
        try db.queue.db.query("UPDATE jobs SET finished_at = finished_at - interval '3 days' WHERE finished_at IS NOT NULL")
        try db.queue.db.query("UPDATE batches SET created_at = created_at - interval '3 days'")
        let report = try db.queue.prune(olderThan: 86_400)
        #expect(try Self.countMismatches(db).isEmpty)
        #expect(try db.count("SELECT count(*) FROM job_counts WHERE shard <> 0 OR n = 0") == 0, "prune folds the shards")
        #expect(try db.count("SELECT count(*) FROM batches") == batches.count - report.batches.count)
        for (owner, job) in held { try owner.complete(job, outputPath: "/storage/x.png") }
        #expect(try Self.countMismatches(db).isEmpty)
    }

    @Test("paging returns every job exactly once, in batch and cell order, whatever the page size and filter; the CLI prints the next page's command")
    func pagingReturnsEveryJobOnce() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let sizes = [7, 1, 12]
        var batches: [Int64] = []
        for (i, n) in sizes.enumerated() { batches.append(try db.submit(seeds: (1...UInt64(n)).map { $0 + UInt64(100 * i) }).batchID) }
        // Some state variety for the filter.
        for job in try db.queue.claim(worker: "w", models: nil, limit: 5, lease: 30) { try db.queue.complete(job, outputPath: "/x/\(job.id).png") }
        let all = try db.queue.jobs()
        #expect(all.count == sizes.reduce(0, +))
        #expect(all.map { [$0.batch, Int64($0.cell)] } == all.map { [$0.batch, Int64($0.cell)] }.sorted { $0.lexicographicallyPrecedes($1) })
        for (batch, state) in [(nil, nil), (batches[2], nil), (nil, JobState.queued), (batches[0], JobState.succeeded)] as [(Int64?, JobState?)] {
            let expected = try db.queue.jobs(batch: batch, state: state).map(\.id)
            for pageSize in [1, 2, 5, 100] {
                var seen: [Int64] = []
                try db.queue.forEachJobPage(batch: batch, state: state, pageSize: pageSize) { page in
                    #expect(page.count <= pageSize)
                    seen += page.map(\.id)
                    return true
                }
                #expect(seen == expected, "batch \(batch.map(String.init) ?? "all"), state \(state?.rawValue ?? "any"), pages of \(pageSize)")
            }
        }
        let first = try Harness.run("sdfarm", ["jobs", "--json", "--limit", "8", "--database", db.url])
        let page = try #require(try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [[String: Any]])
        #expect(page.compactMap { $0["id"] as? Int }.map(Int64.init) == Array(all.prefix(8).map(\.id)))
        #expect(first.stderr.contains("--after \(all[7].id)"), "\(first.stderr)")
        let rest = try Harness.run("sdfarm", ["jobs", "--json", "--limit", "100", "--after", String(all[7].id), "--database", db.url])
        let restPage = try #require(try JSONSerialization.jsonObject(with: Data(rest.stdout.utf8)) as? [[String: Any]])
        #expect(restPage.compactMap { $0["id"] as? Int }.map(Int64.init) == Array(all.dropFirst(8).map(\.id)))
        #expect(!rest.stderr.contains("--after"), "the last page names no next page")
        for (args, mention) in [(["--limit", "0"], "--limit"), (["--limit", "10001"], "--limit"), (["--after", "999999"], "job 999999 does not exist"),
                                (["--after", "x"], "'x' is not an id")] {
            let r = try Harness.run("sdfarm", ["jobs", "--database", db.url] + args)
            #expect(r.status != 0 && r.stderr.contains(mention), "\(args): \(r.stderr)")
        }
    }

    @Test("prune removes only batches finished before the age, with their jobs and attempts, and workers long gone; it says what it removed")
    func pruneRemovesOnlyOldFinishedBatches() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let old = try db.submit(seeds: [1, 2, 3]).batchID
        let busy = try db.submit(seeds: [4, 5]).batchID
        let recent = try db.submit(seeds: [6]).batchID
        // old: two succeed, one fails for good; busy: one succeeds, one stays queued; recent: succeeds now.
        let claimed = try db.queue.claim(worker: "w", models: nil, limit: 10, lease: 30)
        let of = { (batch: Int64) in claimed.filter { $0.batchID == batch }.sorted { $0.id < $1.id } }
        try #require(of(old).count == 3 && of(busy).count == 2 && of(recent).count == 1)
        try db.queue.fail(of(old)[0], error: "bad", retryable: false)
        for job in of(old).dropFirst() + [of(busy)[0], of(recent)[0]] {
            try db.queue.complete(job, outputPath: "/farm/storage/\(job.batchID)/\(job.id).png")
        }
        try db.queue.release(of(busy)[1], reason: "back to the queue")
        try db.queue.db.query("UPDATE jobs SET finished_at = now() - interval '3 days' WHERE batch_id <> $1::bigint AND finished_at IS NOT NULL", [String(recent)])
        try db.queue.db.query("UPDATE batches SET created_at = now() - interval '3 days'")
        try db.queue.registerWorker(name: "gone", host: "h", pid: 1, models: [])
        try db.queue.registerWorker(name: "here", host: "h", pid: 2, models: [])
        try db.queue.db.query("UPDATE workers SET last_heartbeat_at = now() - interval '3 days', stopped_at = now() - interval '3 days' WHERE name = 'gone'")
        let attemptsOfOld = try db.count("SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE j.batch_id = $1::bigint", [String(old)])
        #expect(attemptsOfOld == 3)

        let dry = try Harness.run("sdfarm", ["prune", "--older-than", "1d", "--dry-run", "--json", "--database", db.url])
        let plan = try JSONDecoder().decode(JobQueue.PruneReport.self, from: Data(dry.stdout.utf8))
        #expect(plan.batches == [old] && plan.jobs == 3 && plan.attempts == 3 && plan.workers == ["gone"] && plan.dryRun)
        #expect(plan.outputFolders == ["/farm/storage/\(old)"])
        #expect(try db.count("SELECT count(*) FROM batches") == 3, "a dry run removes nothing")

        let r = try Harness.run("sdfarm", ["prune", "--older-than", "1d", "--database", db.url])
        #expect(r.status == 0)
        #expect(r.stdout.contains("removed 1 batch, 3 jobs, 3 attempts and 1 worker"), "\(r.stdout)")
        #expect(r.stdout.contains("/farm/storage/\(old)"), "names the output folder it left alone: \(r.stdout)")
        #expect(try db.count("SELECT count(*) FROM batches WHERE id = $1::bigint", [String(old)]) == 0)
        #expect(try db.count("SELECT count(*) FROM jobs WHERE batch_id = $1::bigint", [String(old)]) == 0)
        #expect(try db.count("SELECT count(*) FROM job_attempts") == 3, "only the other batches' attempts remain")
        #expect(try db.count("SELECT count(*) FROM job_counts WHERE batch_id = $1::bigint", [String(old)]) == 0)
        #expect(try db.queue.status(batch: busy).total == 2)
        #expect(try db.queue.status(batch: recent).total == 1)
        #expect(try db.queue.workers().map(\.name) == ["here"])
        #expect(try Self.countMismatches(db).isEmpty)
        let again = try db.queue.prune(olderThan: 86_400)
        #expect(again.batches.isEmpty && again.jobs == 0 && again.workers.isEmpty, "nothing else is old and finished")
    }

    @Test("a bad --older-than is a clear error naming the flag", arguments: ["abc", "10", "0d", "5y", "1.5h", ""])
    func badPruneAge(age: String) throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let r = try Harness.run("sdfarm", ["prune", "--older-than", age, "--database", db.url])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--older-than") && r.stderr.contains("is not a duration"), "\(r.stderr)")
    }

    @Test("grid still writes the same sheet: jobs placed by prompt and cfg in rows, seeds in columns, the fixed values in the title")
    func gridWritesTheSameSheet() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let s = try db.submit(prompts: ["red", "blue"], seeds: [1, 2, 3], steps: 2, cfg: [5, 7.5])
        let worker = try Harness.WorkerProcess(db, name: "w", msPerStep: 0, extra: ["--exit-when-idle"])
        #expect(worker.wait(timeout: 30) == 0)
        // The layout as it was before paging: rows and columns in first-seen (cell) order, found by firstIndex.
        let jobs = try db.queue.jobs(batch: s.batchID)
        var rows: [String] = [], columns: [String] = []
        for j in jobs {
            let row = "\(j.parameters.prompt) / cfg \(GenerationParameters.formatNumber(j.parameters.cfgScale))"
            if !rows.contains(row) { rows.append(row) }
            if !columns.contains("seed \(j.parameters.seed)") { columns.append("seed \(j.parameters.seed)") }
        }
        var cells: [[RGBImage?]] = Array(repeating: Array(repeating: nil, count: columns.count), count: rows.count)
        for j in jobs {
            let r = try #require(rows.firstIndex(of: "\(j.parameters.prompt) / cfg \(GenerationParameters.formatNumber(j.parameters.cfgScale))"))
            let c = try #require(columns.firstIndex(of: "seed \(j.parameters.seed)"))
            cells[r][c] = try PNGCodec.read(path: try #require(j.outputPath)).image
        }
        let p = try #require(jobs.first?.parameters)
        let expected = ContactSheet.compose(cells: cells, columnLabels: columns, rowLabels: rows,
                                            title: "batch \(s.batchID): size \(p.sizeDescription), sampler \(p.sampler.rawValue), steps 2", maxCellSide: 64)
        let sheet = db.dir.appendingPathComponent("sheet.png").path
        let grid = try Harness.run("sdfarm", ["grid", String(s.batchID), "--output", sheet, "--cell", "64", "--database", db.url])
        #expect(grid.status == 0 && grid.stdout.contains("4×3 cells"), "\(grid.stdout)\(grid.stderr)")
        #expect(try PNGCodec.read(path: sheet).image == expected)
    }
}
