import ArgumentParser
import Farm
import Foundation

/// `sdfarm cancel JOB... | --batch B`.
struct Cancel: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cancel jobs: queued ones at once, running ones at their next step.")

    @OptionGroup var db: DatabaseOptions

    @Argument(help: "Job ids.")
    var jobs: [String] = []

    @Option(help: "Every job of this batch.")
    var batch: String?

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    func validate() throws {
        guard jobs.isEmpty != (batch == nil) else { throw ValidationError("give job ids or --batch B (one of them)") }
    }

    func run() throws {
        let ids = try jobs.map { try parseID($0, what: "job") }
        let batchID = try batch.map { try parseID($0, what: "batch") }
        let r = try db.queue().cancel(jobs: ids, batch: batchID)
        if json { try JSONOutput.print(r); return }
        print("cancelled \(r.cancelled) queued job\(r.cancelled == 1 ? "" : "s"); \(r.stopping) running job\(r.stopping == 1 ? "" : "s") will stop at the next step; \(r.unchanged) already finished")
    }
}
