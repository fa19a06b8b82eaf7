import Foundation
import Testing
import TestSupport

@Suite("sdfarm doctor")
struct DoctorTests {
    @Test("doctor --json reports the kernels in use and a positive sgemm rate")
    func doctorJSON() throws {
        let result = try ProcessRunner.runBuilt("sdfarm", ["doctor", "--json", "--size", "256"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect((json["active"] as? String)?.isEmpty == false)
        let measured = try #require(json["measured"] as? [[String: Any]])
        #expect(((measured.first?["gflops"] as? Double) ?? 0) > 0)
    }

    /// Switching kernels re-initialises OpenBLAS's kernel table, so it is checked in its own process: the test
    /// process runs GEMMs on many threads at once.
    @Test("doctor --compare PRESCOTT really switches to the generic kernels and back")
    func kernelSwitchTakesEffect() throws {
        let result = try ProcessRunner.runBuilt("sdfarm", ["doctor", "--json", "--size", "128", "--compare", "PRESCOTT"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let measured = try #require(json["measured"] as? [[String: Any]])
        #expect(measured.count == 2)
        #expect(measured.last?["core"] as? String == "Prescott")
        #expect(measured.allSatisfy { (($0["gflops"] as? Double) ?? 0) > 0 })
        // After the comparison the process is back on the kernels it chose ("active" is read after switching back).
        #expect(json["active"] as? String == measured.first?["core"] as? String)
    }

    @Test("an unknown option is a usage error with a non-zero exit")
    func badOption() throws {
        let result = try ProcessRunner.runBuilt("sdfarm", ["doctor", "--no-such-option"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("no-such-option"))
    }
}
