import Foundation
import Testing
import TestSupport

/// deploy/systemd checked by systemd itself: `systemd-analyze verify` (in a root holding the units, the installed
/// executable and Debian's own units, so dependencies and ExecStart= resolve without a running systemd) and the offline
/// security assessment.
@Suite("systemd units")
struct SystemdUnitTests {
    static let units = ["sdfarm-worker@.service", "sdfarm-workers.target"]

    /// A root with /etc/systemd/system holding `unitText` (name → contents), /usr/local/bin/sdfarm-worker, and the host's
    /// /lib/systemd/system (sysinit.target, network-online.target, …).
    static func root(_ unitText: [String: String]) throws -> ScratchDirectory {
        let root = try ScratchDirectory(prefix: "sdfarm-systemd")
        let fm = FileManager.default
        try fm.createDirectory(atPath: root.path("etc/systemd/system"), withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root.path("usr/local/bin"), withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root.path("usr/lib/systemd"), withIntermediateDirectories: true)
        for (name, text) in unitText { try text.write(toFile: root.path("etc/systemd/system/\(name)"), atomically: true, encoding: .utf8) }
        try fm.copyItem(atPath: RepositoryPaths.executable("sdfarm-worker").path, toPath: root.path("usr/local/bin/sdfarm-worker"))
        let cp = try ProcessRunner.run(URL(fileURLWithPath: "/bin/cp"), ["-a", "/lib/systemd/system", root.path("usr/lib/systemd/")])
        try #require(cp.status == 0, "copying /lib/systemd/system: \(cp.stderr)")
        return root
    }

    static func committed() throws -> [String: String] {
        var text: [String: String] = [:]
        for unit in units { text[unit] = try String(contentsOf: DeployTools.deploy.appendingPathComponent("systemd/\(unit)"), encoding: .utf8) }
        return text
    }

    @Test("systemd-analyze verify accepts the worker template and the target, and rejects a unit whose executable is missing")
    func verifyAcceptsTheUnits() throws {
        let root = try Self.root(try Self.committed())
        defer { root.remove() }
        let ok = try DeployTools.run("systemd-analyze", ["verify", "--man=no", "--root=\(root.path)", "sdfarm-worker@1.service", "sdfarm-workers.target"])
        #expect(ok.status == 0, "verify: \(ok.stdout)\(ok.stderr)")
        #expect(!ok.stderr.contains("Unknown key"), "\(ok.stderr)")

        var broken = try Self.committed()
        broken["sdfarm-worker@.service"] = broken["sdfarm-worker@.service"]!.replacingOccurrences(of: "/usr/local/bin/sdfarm-worker", with: "/usr/local/bin/sdfarm-wroker")
        let brokenRoot = try Self.root(broken)
        defer { brokenRoot.remove() }
        let bad = try DeployTools.run("systemd-analyze", ["verify", "--man=no", "--root=\(brokenRoot.path)", "sdfarm-worker@1.service"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("sdfarm-wroker"), "\(bad.stderr)")
    }

    /// Measured: 1.4 OK (systemd 252, `systemd-analyze security --offline=yes`); the issue asks for at most 3.0.
    @Test("the worker unit's offline security exposure is at most 3.0 and the unit is Type=notify with a watchdog")
    func securityExposureIsLow() throws {
        let unit = DeployTools.deploy.appendingPathComponent("systemd/sdfarm-worker@.service").path
        let r = try DeployTools.run("systemd-analyze", ["security", "--offline=yes", "--no-pager", "--threshold=30", unit])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let line = try #require(r.stdout.split(separator: "\n").first { $0.contains("Overall exposure level") }, "\(r.stdout)")
        let figure = try #require(line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }, "\(line)")
        #expect(figure <= 3.0, "\(line)")
        print("systemd-analyze security --offline=yes: \(line)")
        let text = try String(contentsOfFile: unit, encoding: .utf8)
        for setting in ["Type=notify", "WatchdogSec=", "ProtectSystem=strict", "ReadWritePaths=", "ProtectHome=yes", "PrivateDevices=yes",
                        "RestrictAddressFamilies=", "SystemCallFilter=@system-service", "CapabilityBoundingSet=\n", "UMask=0027",
                        "LoadCredential=database-password:", "PartOf=sdfarm-workers.target", "WantedBy=sdfarm-workers.target"] {
            #expect(text.contains(setting), "the unit lacks \(setting)")
        }
        // A unit without the hardening scores worse than the threshold: the check can fail.
        let plain = try ScratchDirectory(prefix: "sdfarm-systemd-plain")
        defer { plain.remove() }
        try "[Service]\nExecStart=/usr/local/bin/sdfarm-worker\n".write(toFile: plain.path("plain.service"), atomically: true, encoding: .utf8)
        let weak = try DeployTools.run("systemd-analyze", ["security", "--offline=yes", "--no-pager", "--threshold=30", plain.path("plain.service")])
        #expect(weak.status != 0, "\(weak.stdout)")
    }

    @Test("the example environment names everything the unit uses, the CLIP vocabulary included, and no password")
    func exampleEnvironmentIsComplete() throws {
        let env = try String(contentsOf: DeployTools.deploy.appendingPathComponent("systemd/sdfarm.env.example"), encoding: .utf8)
        let unit = try String(contentsOf: DeployTools.deploy.appendingPathComponent("systemd/sdfarm-worker@.service"), encoding: .utf8)
        let defined = Set(env.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { $0.split(separator: "=").first.map(String.init) })
        let used = try Regex(#"\$\{([A-Z_]+)\}"#)
        for match in unit.matches(of: used) {
            let name = String(unit[match.range].dropFirst(2).dropLast())
            #expect(defined.contains(name), "\(name) is used by the unit but not set in sdfarm.env.example")
        }
        #expect(defined.contains("SDFARM_CLIP_VOCAB"))
        #expect(defined.contains("DATABASE_URL"))
        #expect(!env.contains("PGPASSWORD") && !env.contains(":change-me@"), "the example holds a password")
        let storage = try #require(env.split(separator: "\n").first { $0.hasPrefix("SDFARM_STORAGE=") }).dropFirst("SDFARM_STORAGE=".count)
        #expect(unit.contains("ReadWritePaths=\(storage)\n"), "ReadWritePaths= must be the storage folder \(storage)")
    }
}
