import Basics
import Farm
import Foundation
import Imaging
import RenderFormat
import TestSupport
import Testing

/// A broken host never fails jobs; hostile input never crashes; queue semantics under conflict.
extension FarmIntegrationTests {
    /// Jobs whose attempts were released because of a worker's own fault.
    static func faultReleases(_ db: Harness.Database) throws -> Int {
        try db.count("SELECT count(*) FROM job_attempts WHERE worker_fault AND outcome = 'released'")
    }

    @Test("a worker whose host lacks the model gives every job back untouched; a healthy worker then renders them all",
          .enabled(if: Harness.available))
    func missingModelIsTheHostsFault() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        _ = try db.submit(seeds: [1, 2, 3, 4, 5, 6], steps: 2, size: 16)
        let away = db.model + ".elsewhere"
        try FileManager.default.moveItem(atPath: db.model, toPath: away)
        let broken = try Harness.WorkerProcess(db, name: "no-model", lease: 10, extra: ["--renderer", "diffusion"])
        defer { broken.stop() }
        #expect(try Harness.waitUntil(timeout: 30) { try Self.faultReleases(db) >= 2 }, "\(broken.logText)")
        let record = try #require(try db.queue.workers().first { $0.name == "no-model" })
        #expect(!record.healthy && record.healthReason?.contains("cannot load model on this host") == true, "\(record)")
        broken.stop()
        #expect(try db.count("SELECT count(*) FROM jobs WHERE state = 'failed'") == 0)
        #expect(try db.count("SELECT count(*) FROM jobs WHERE state = 'queued' AND attempts = 0") == 6, "no attempt was used")
        let listing = try Harness.run("sdfarm", ["workers", "--database", db.url])
        #expect(listing.stdout.contains("UNHEALTHY") && listing.stdout.contains("cannot load model on this host"), "\(listing.stdout)")

        try FileManager.default.moveItem(atPath: away, toPath: db.model)
        let healthy = try Harness.WorkerProcess(db, name: "healthy", lease: 10, extra: ["--renderer", "diffusion", "--exit-when-idle"])
        #expect(healthy.wait(timeout: 120) == 0, "\(healthy.logText)")
        #expect(try db.count("SELECT count(*) FROM jobs WHERE state = 'succeeded' AND attempts = 1") == 6)
    }

    @Test("a worker without the CLIP vocabulary for a single-file model gives the job back instead of failing it",
          .enabled(if: Harness.available))
    func missingVocabularyIsTheHostsFault() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        _ = try db.submit(seeds: [1, 2], steps: 2, size: 16)
        let broken = try Harness.WorkerProcess(db, name: "no-vocab", lease: 10, extra: ["--renderer", "diffusion"],
                                               environment: ["SDFARM_CLIP_VOCAB": db.dir.appendingPathComponent("no-vocab").path])
        defer { broken.stop() }
        #expect(try Harness.waitUntil(timeout: 30) { try Self.faultReleases(db) >= 1 }, "\(broken.logText)")
        #expect(try db.count("SELECT count(*) FROM jobs WHERE state = 'failed' OR attempts > 1") == 0)
        #expect(try db.queue.workers().first { $0.name == "no-vocab" }?.healthReason?.contains("CLIP vocabulary") == true)
    }

    @Test("a worker whose storage fills up gives its jobs back and is marked unhealthy", .enabled(if: Harness.available && getuid() == 0))
    func fullStorageIsTheHostsFault() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let mount = db.dir.appendingPathComponent("small-disk").path
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let mounted = try ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/mount"), ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mount])
        try #require(mounted.termination.status == 0, "cannot mount a tmpfs: \(mounted.stderr)")
        defer { _ = try? ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/umount"), ["-l", mount]) }
        let worker = try Harness.WorkerProcess(db, name: "full", lease: 10, msPerStep: 1, storage: mount)
        defer { worker.stop() }
        #expect(try Harness.waitUntil(timeout: 20) { try db.queue.workers().contains { $0.name == "full" } })
        // Fill the disk once the worker has checked it at start.
        let filler = FileHandle(forWritingAtPath: mount + "/filler") ?? {
            _ = FileManager.default.createFile(atPath: mount + "/filler", contents: nil)
            return FileHandle(forWritingAtPath: mount + "/filler")!
        }()
        while (try? filler.write(contentsOf: Data(count: 4096))) != nil {}
        try? filler.close()
        _ = try db.submit(seeds: [1, 2, 3], steps: 2, size: 64)
        #expect(try Harness.waitUntil(timeout: 30) { try Self.faultReleases(db) >= 1 }, "\(worker.logText)")
        #expect(try db.count("SELECT count(*) FROM jobs WHERE state = 'failed' OR (state = 'queued' AND attempts > 0)") == 0)
        let reason = try db.queue.workers().first { $0.name == "full" }?.healthReason ?? ""
        #expect(reason.contains("No space left"), "\(reason)")
    }

    @Test("a worker refuses to start on unwritable storage, a served model that does not load, or a database that does not exist")
    func workersRefuseToStartOnABrokenHost() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let readOnly = try Harness.run("sdfarm-worker", ["--storage", "/proc/sdfarm-storage", "--database", db.url,
                                                         "--renderer", "test-pattern", "--exit-when-idle"])
        #expect(readOnly.termination.status != 0 && readOnly.stderr.contains("/proc/sdfarm-storage is not writable"), "\(readOnly.stderr)")
        let garbage = db.dir.appendingPathComponent("garbage.safetensors").path
        _ = FileManager.default.createFile(atPath: garbage, contents: Data(repeating: 7, count: 64))
        let badModel = try Harness.run("sdfarm-worker", ["--storage", db.storage, "--database", db.url, "--models", garbage,
                                                         "--renderer", "diffusion", "--exit-when-idle"])
        #expect(badModel.termination.status != 0 && badModel.stderr.contains("garbage.safetensors"), "\(badModel.stderr)")
        var components = try #require(URLComponents(string: db.url))
        components.path = "/sdfarm_no_such_database"
        let started = Date()
        let noDatabase = try Harness.run("sdfarm-worker", ["--storage", db.storage, "--database", components.string!,
                                                           "--renderer", "test-pattern", "--exit-when-idle"])
        #expect(noDatabase.termination.status != 0 && noDatabase.stderr.contains("does not exist"), "\(noDatabase.stderr)")
        #expect(Date().timeIntervalSince(started) < 20, "a missing database is not retried as if it were an outage")
        #expect(try db.count("SELECT count(*) FROM workers") == 0)
    }

    @Test("a job that failed on a worker is not retaken by it while others may take it, whoever failed it last")
    func failedJobsAvoidTheWorkersTheyFailedOn() throws {
        let db = try Harness.Database(options: .init(backoffBase: 0, backoffMax: 0, sameWorkerGrace: 30))
        defer { db.drop() }
        _ = try db.submit(maxAttempts: 5)
        let a = try #require(try db.queue.claim(worker: "a", models: nil, limit: 1, lease: 30).first)
        #expect(try db.queue.fail(a, error: "boom", retryable: true))
        let b = try #require(try db.queue.claim(worker: "b", models: nil, limit: 1, lease: 30).first)
        #expect(try db.queue.fail(b, error: "boom", retryable: true))
        #expect(try db.queue.claim(worker: "a", models: nil, limit: 1, lease: 30).isEmpty, "a failed it before b did")
        #expect(try db.queue.claim(worker: "b", models: nil, limit: 1, lease: 30).isEmpty)
        #expect(try db.queue.claim(worker: "c", models: nil, limit: 1, lease: 30).count == 1)
    }

    @Test("cancel wins over complete and fail; a repeated claim resumes the job the first one took")
    func cancelWinsAndClaimsAreSafeToRepeat() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        _ = try db.submit(seeds: [1, 2])
        let first = try #require(try db.queue.claim(worker: "w", models: nil, limit: 1, lease: 30).first)
        let again = try db.queue.heldJobs(worker: "w", lease: 30)
        #expect(again.map(\.id) == [first.id] && again.first?.lease.token == first.lease.token)
        _ = try db.queue.cancel(jobs: [first.id])
        #expect(try db.queue.complete(first, outputPath: "/x.png") == false, "a cancelled job does not succeed")
        #expect(try db.queue.job(first.id).state == .cancelled && db.queue.job(first.id).outputPath == nil)
        #expect(try db.queue.attempts(of: first.id).map(\.outcome) == [.cancelled])
        let second = try #require(try db.queue.claim(worker: "w", models: nil, limit: 1, lease: 30).first)
        _ = try db.queue.cancel(jobs: [second.id])
        #expect(try db.queue.fail(second, error: "boom", retryable: true))
        #expect(try db.queue.job(second.id).state == .cancelled, "a cancelled job is not requeued")
    }

    @Test("a statement blocked by someone else's row lock gives up with 55P03 instead of hanging the worker")
    func lockTimeout() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        _ = try db.submit()
        let job = try #require(try db.queue.claim(worker: "w", models: nil, limit: 1, lease: 30).first)
        let other = try PostgresConnection(url: db.url)
        defer { other.close() }
        try other.execute(script: "BEGIN; SELECT * FROM jobs WHERE id = \(job.id) FOR UPDATE")
        let worker = JobQueue(try PostgresConnection(url: PostgresConnection.withNetworkTimeouts(db.url)), logger: Harness.logger)
        let started = Date()
        #expect { _ = try worker.heartbeat(job, step: 1, total: 4, lease: 30) } throws: { ($0 as? PostgresError)?.isTransientConflict == true }
        #expect(Date().timeIntervalSince(started) < 15)
        try other.execute(script: "ROLLBACK")
        #expect(try worker.heartbeat(job, step: 1, total: 4, lease: 30) == .held(cancelRequested: false))
    }

    @Test("a stored row that is not a typed job is failed at claim, naming the field, and the worker goes on")
    func undecodableRowsFailAtClaim() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        _ = try db.submit(seeds: [1, 2])
        try db.queue.db.query(#"UPDATE jobs SET kind = 'img2img', extra = '{"init_image": "/etc/passwd", "strength": "0.5"}' WHERE cell = 0"#)
        let claimed = try db.queue.claim(worker: "w", models: nil, limit: 2, lease: 30)
        #expect(claimed.map(\.parameters.prompt) == ["a red circle"])
        let row = try db.queue.db.query("SELECT state, last_error FROM jobs WHERE cell = 0")
        #expect(row.value(0, "state") == "failed")
        #expect(row.value(0, "last_error")?.contains("field extra.init_image_sha256") == true, "\(row.value(0, "last_error") ?? "")")
        // Listings name the job and the field instead of printing a half-decoded row.
        #expect { _ = try db.queue.jobs() } throws: { "\($0)".contains("job ") && "\($0)".contains("extra.init_image_sha256") }
    }

    @Test("hostile submissions are clear errors: huge PNG header, CFG overflow, NUL bytes, endless prompts, out-of-range priority")
    func hostileSubmissions() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let huge = db.dir.appendingPathComponent("huge.png").path
        try Data(Self.pngHeader(width: 100_000, height: 100_000)).write(to: URL(fileURLWithPath: huge))
        let nul = db.dir.appendingPathComponent("nul.txt").path
        try Data("a cat\n a d\u{0}og\n".utf8).write(to: URL(fileURLWithPath: nul))
        let base = ["submit", "--database", db.url, "--model", db.model]
        let cases: [([String], String)] = [
            (base + ["--prompt", "x", "--init-image", huge, "--storage", db.storage], "each side may be at most"),
            (base + ["--prompt", "x", "--cfg-scale", "1e38"], "--cfg-scale must be a finite number from 0 to 100"),
            (base + ["--prompts", nul], "NUL"),
            (base + ["--prompt", String(repeating: "cat ", count: 5_000)], "at most 10000"),
            (base + ["--prompt", "x", "--priority", "99999999999"], "--priority must be between"),
        ]
        for (args, mention) in cases {
            let r = try Harness.run("sdfarm", args)
            #expect(r.termination.status != 0 && r.termination.signal == nil, "\(args.suffix(2)) should fail cleanly")
            #expect(r.stderr.contains(mention), "\(args.suffix(2)): \(r.stderr)")
        }
        #expect(try db.count("SELECT count(*) FROM jobs") == 0)
        #expect(!FileManager.default.fileExists(atPath: db.storage + "/inputs"))
    }

    @Test("text a user typed cannot drive the terminal: escape sequences are shown, not sent")
    func terminalEscapesAreNeutralised() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let s = try db.submit(prompts: ["red \u{1B}[2J\u{1B}]0;pwned\u{07} cat"])
        let id = try #require(try db.queue.jobs(batch: s.batchID).first?.id)
        for args in [["show", String(id)], ["jobs"], ["status"]] {
            let r = try Harness.run("sdfarm", args + ["--database", db.url])
            #expect(r.termination.status == 0 && !r.stdout.contains("\u{1B}") && !r.stdout.contains("\u{07}"), "\(args): \(r.stdout)")
        }
        let show = try Harness.run("sdfarm", ["show", String(id), "--database", db.url])
        #expect(show.stdout.contains("\\u{1B}[2J"), "\(show.stdout)")
    }

    @Test("an idle worker does not spin while other models' jobs are due")
    func idleWorkersDoNotSpin() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        _ = try db.submit(seeds: [1, 2, 3])
        let other = db.dir.appendingPathComponent("other.safetensors").path
        try FileManager.default.copyItem(atPath: db.model, toPath: other)
        let worker = try Harness.WorkerProcess(db, name: "other-model", extra: ["--models", other])
        defer { worker.stop() }
        #expect(try Harness.waitUntil(timeout: 20) { try db.queue.workers().contains { $0.name == "other-model" } })
        func cpuSeconds() throws -> Double {
            let stat = try String(contentsOfFile: "/proc/\(worker.pid)/stat", encoding: .utf8)
            let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
            return (Double(fields[11])! + Double(fields[12])!) / Double(sysconf(Int32(_SC_CLK_TCK)))
        }
        let before = try cpuSeconds()
        Thread.sleep(forTimeInterval: 4)
        let used = try cpuSeconds() - before
        #expect(used < 0.4, "the idle worker used \(used) s of CPU in 4 s")
        #expect(try db.count("SELECT count(*) FROM jobs WHERE state = 'queued'") == 3)
    }

    /// A PNG signature and IHDR claiming `width` × `height` (with its CRC), then IEND.
    static func pngHeader(width: UInt32, height: UInt32) -> [UInt8] {
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        func crc(_ bytes: [UInt8]) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes {
                c ^= UInt32(b)
                for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            }
            return ~c
        }
        let ihdr = Array("IHDR".utf8) + be(width) + be(height) + [8, 2, 0, 0, 0]
        let iend = Array("IEND".utf8)
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + be(13) + ihdr + be(crc(ihdr)) + be(0) + iend + be(crc(iend))
    }
}

extension FarmIntegrationTests {
    @Test("the accepted bytes are the file: a late attempt that lost its lease writes elsewhere and is refused")
    func lateAttemptsNeverReplaceTheAcceptedFile() throws {
        let db = try Harness.Database(options: .init(backoffBase: 0, backoffMax: 0, sameWorkerGrace: 0))
        defer { db.drop() }
        _ = try db.submit()
        let late = try #require(try db.queue.claim(worker: "late", models: nil, limit: 1, lease: 0.2).first)
        Thread.sleep(forTimeInterval: 0.4)
        try db.queue.rescueExpired()
        let winner = try #require(try db.queue.claim(worker: "winner", models: nil, limit: 1, lease: 30).first)
        #expect(winner.id == late.id)
        let winnerPath = winner.outputPath(storage: db.storage), latePath = late.outputPath(storage: db.storage)
        #expect(winnerPath != latePath, "every attempt writes under its own name")
        try AtomicFile.createDirectory((winnerPath as NSString).deletingLastPathComponent)
        try AtomicFile.write(Array("winner".utf8), to: winnerPath)
        #expect(try db.queue.complete(winner, outputPath: winnerPath))
        try AtomicFile.write(Array("late, different bytes".utf8), to: latePath)
        #expect(try db.queue.complete(late, outputPath: latePath) == false)
        let job = try db.queue.job(winner.id)
        #expect(job.outputPath == winnerPath)
        #expect(FileManager.default.contents(atPath: winnerPath) == Data("winner".utf8))
    }
}

extension FarmIntegrationTests {
    @Test("the accepted attempt removes what killed attempts of its job left, finished or half-written, and nothing else",
          .enabled(if: Harness.available))
    func acceptedAttemptRemovesLeftovers() throws {
        let db = try Harness.Database(options: .init(backoffBase: 0, backoffMax: 0, sameWorkerGrace: 0))
        defer { db.drop() }
        _ = try db.submit()
        let dead = try #require(try db.queue.claim(worker: "dead", models: nil, limit: 1, lease: 0.2).first)
        let deadPath = dead.outputPath(storage: db.storage)
        let folder = (deadPath as NSString).deletingLastPathComponent
        let deadName = (deadPath as NSString).lastPathComponent
        try AtomicFile.createDirectory(folder)
        let leftovers = [deadName, ".\(deadName).tmp-4242-17"]
        let strangers = ["\(dead.id)0-abcdef12.png", ".\(dead.id)0-abcdef12.png.tmp-1-2", "notes.txt", "\(dead.id)-keep.txt"]
        for name in leftovers + strangers { try AtomicFile.write(Array(name.utf8), to: "\(folder)/\(name)") }
        Thread.sleep(forTimeInterval: 0.4)
        let worker = try Harness.WorkerProcess(db, name: "winner", lease: 10, extra: ["--exit-when-idle"])
        #expect(worker.wait(timeout: 60) == 0, "\(worker.logText)")
        let job = try db.queue.job(dead.id)
        let accepted = try #require(job.outputPath)
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: folder))
        #expect(names == Set(strangers + [(accepted as NSString).lastPathComponent]), "\(names)")
    }
}
