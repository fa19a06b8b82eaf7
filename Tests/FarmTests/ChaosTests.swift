import Foundation
import Testing
import TestSupport

/// The short version of the chaos run (`tools/chaos --short`): its own throwaway PostgreSQL (it restarts
/// that one, never the tests' shared cluster), diffusion workers on the tiny fixture model, and every
/// check of the full run. The network partition, the host without the model and the full disk need
/// root; without it the script skips those parts and says so.
@Suite("chaos run", .serialized)
struct ChaosTests {
    @Test("a short chaos run: 40 jobs through kill -9, a PostgreSQL restart, SIGSTOP, a cut network link, a host without the model and a full disk each succeed exactly once, byte-identical to sdfarm render, nothing temporary left",
          .enabled(if: Harness.available), .timeLimit(.minutes(9)))
    func shortChaosRun() throws {
        let script = RepositoryPaths.root.appendingPathComponent("tools/chaos")
        let started = Date()
        let r = try ProcessRunner.run(script, ["--short", "--timeout", "360"],
                                      environment: ["SDFARM_BIN": RepositoryPaths.binDirectory.path], timeout: 480)
        let seconds = Int(-started.timeIntervalSinceNow)
        print("tools/chaos --short (\(seconds) s, \(r.termination)):\n\(r.stdout)")
        #expect(!r.timedOut, "tools/chaos --short ran past 480 s")
        #expect(r.status == 0, "tools/chaos --short: \(r.termination)\n\(r.stdout.suffix(4000))\n\(r.stderr.suffix(4000))")
        #expect(r.stdout.contains("RESULT: PASS"), "\(r.stdout.suffix(2000))")
    }
}
