import Farm
import Foundation
import Testing

/// The farm with the real Stable Diffusion renderer: workers render a grid on the tiny fixture model and
/// every output is byte-identical to `sdfarm render` with the same parameters.
@Suite("Farm with the Stable Diffusion renderer", .serialized)
struct DiffusionFarmTests {
    static let model = Harness.repo.appendingPathComponent("Tests/DiffusionTests/Fixtures/networks/net-a").path

    @Test("two diffusion workers render a grid once each, byte-identical to sdfarm render",
          .enabled(if: Harness.available))
    func gridMatchesLocalRenders() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let spec = GridSpec(model: Self.model, prompts: ["a red circle", "a blue square"], negativePrompt: "blurry", seeds: [0, 4_294_967_303],
                            cfgScales: [1, 7.5], steps: [3], samplers: ["ddim", "euler_a"], sizes: [.init(width: 16, height: 16), .init(width: 24, height: 16)])
        let submission = try db.queue.submit(spec, knownSamplers: ["ddim", "euler", "euler_a"])
        #expect(submission.jobCount == 32)
        let workers = try (0..<2).map {
            try Harness.WorkerProcess(db, name: "sd-\($0)", lease: 10, extra: ["--renderer", "diffusion", "--exit-when-idle"])
        }
        for w in workers { #expect(w.wait(timeout: 240) == 0, "\(w.logText)") }
        #expect(try db.count("SELECT count(*) FROM jobs WHERE state = 'succeeded'") == 32)
        let rows = try db.queue.db.query("SELECT id, output_path FROM jobs ORDER BY id").rows
        var outputs = Set<String>()
        for (index, row) in rows.enumerated() where index % 3 == 0 || index == rows.count - 1 {
            let path = try #require(row[1])
            outputs.insert(path)
            let job = try db.queue.job(Int64(row[0]!)!)
            let p = job.parameters
            let local = db.dir.appendingPathComponent("local-\(row[0]!).png").path
            let r = try Harness.renderLocally(p, output: local)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(FileManager.default.contents(atPath: path) == FileManager.default.contents(atPath: local), "job \(row[0]!)")
        }
        #expect(Set(rows.compactMap { $0[1] }).count == 32)
    }
}
