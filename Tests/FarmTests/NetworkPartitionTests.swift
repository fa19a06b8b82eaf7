import Farm
import Foundation
import Testing
import TestSupport

/// A worker on a separate network host: a network namespace joined to this one by a veth pair.
extension FarmIntegrationTests {
    /// Runs `ip ARGS`; returns true on success.
    @discardableResult
    static func ip(_ args: [String]) -> Bool { Harness.spawnAndWait(["/usr/sbin/ip"] + args) == 0 }

    @Test("a worker whose network link is cut mid-job loses it to another worker, and its late result is refused",
          .enabled(if: ProcessInfo.processInfo.environment["SDFARM_TEST_PG_OPTS"] != nil))
    func networkPartition() throws {
        let env = ProcessInfo.processInfo.environment
        let tag = String(UInt16.random(in: 1000...9999))
        let ns = "sdfarm\(tag)", hostSide = "sfh\(tag)", nsSide = "sfn\(tag)"
        let subnet = "10.\(200 + Int(tag)! % 50).\(Int(tag)! % 250)"
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip"), Self.ip(["netns", "add", ns]) else {
            print("SKIPPED network partition test: `ip netns add` is unavailable here (needs root and iproute2 with network namespace support)")
            return
        }
        defer { Self.ip(["netns", "del", ns]); Self.ip(["link", "del", hostSide]) }
        let setup = [
            ["link", "add", hostSide, "type", "veth", "peer", "name", nsSide],
            ["link", "set", nsSide, "netns", ns],
            ["addr", "add", "\(subnet).1/24", "dev", hostSide],
            ["link", "set", hostSide, "up"],
            ["netns", "exec", ns, "ip", "addr", "add", "\(subnet).2/24", "dev", nsSide],
            ["netns", "exec", ns, "ip", "link", "set", nsSide, "up"],
            ["netns", "exec", ns, "ip", "link", "set", "lo", "up"],
        ]
        for step in setup {
            guard Self.ip(step) else {
                print("SKIPPED network partition test: `ip \(step.joined(separator: " "))` failed (no veth support?)")
                return
            }
        }
        // Let PostgreSQL listen on the host side of the link and accept the namespace's subnet.
        let dataDir = env["SDFARM_TEST_PG_DIR"]! + "/data"
        let hba = try String(contentsOfFile: dataDir + "/pg_hba.conf", encoding: .utf8)
        try (hba + "\nhost all all \(subnet).0/24 trust\n").write(toFile: dataDir + "/pg_hba.conf", atomically: false, encoding: .utf8)
        #expect(try Harness.pgctl(["-m", "fast", "stop"]) == 0)
        #expect(try Harness.pgctl(["-l", env["SDFARM_TEST_PG_DIR"]! + "/server.log", "-o",
                                   (env["SDFARM_TEST_PG_OPTS"] ?? "") + " -c listen_addresses=127.0.0.1,\(subnet).1", "start"]) == 0)

        let db = try Harness.Database()
        defer { db.drop() }
        let s = try db.submit(steps: 150)
        let id = try #require(try db.queue.jobs(batch: s.batchID).first?.id)
        var remoteURL = URLComponents(string: db.url)!
        remoteURL.host = "\(subnet).1"
        let remote = try Harness.WorkerProcess(db, name: "remote", lease: 1.5, msPerStep: 20, url: remoteURL.string!,
                                               wrapper: ["/usr/sbin/ip", "netns", "exec", ns])
        defer { remote.stop() }
        #expect(try Harness.waitUntil(timeout: 20) { try db.queue.job(id).progress.step > 5 }, "the remote worker started: \(remote.logText)")
        #expect(try db.queue.job(id).worker == "remote")
        Self.ip(["link", "set", hostSide, "down"])  // cut the link
        let local = try Harness.WorkerProcess(db, name: "local", lease: 5, msPerStep: 1)
        defer { local.stop() }
        #expect(try Harness.waitUntil(timeout: 30) { try db.queue.job(id).state == .succeeded })
        Self.ip(["link", "set", hostSide, "up"])  // restore it
        #expect(Harness.waitUntil(timeout: 30) {
            let log = remote.logText
            return log.contains("result refused") || log.contains("discarded") || log.contains("abandoned")
        }, "the cut-off worker gave the job up: \(remote.logText)")
        #expect(remote.process.isRunning, "the cut-off worker survives the partition (it reconnects or its TCP session resumes)")
        let job = try db.queue.job(id)
        #expect(job.state == .succeeded && job.outputPath?.hasPrefix("\(db.storage)/\(s.batchID)/\(id)-") == true)
        // The accepted bytes are the file: the late attempt never replaced it and left nothing behind.
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(db.storage)/\(s.batchID)").filter { $0.hasPrefix("\(id)-") }
        #expect(files == [((job.outputPath ?? "") as NSString).lastPathComponent], "\(files)")
        #expect(FileManager.default.contents(atPath: job.outputPath ?? "").map { [UInt8]($0) } == (try Harness.directRender(job.parameters)))
        #expect(try db.queue.attempts(of: id).map { "\($0.worker):\($0.outcome)" } == ["remote:lost", "local:succeeded"])
    }
}
