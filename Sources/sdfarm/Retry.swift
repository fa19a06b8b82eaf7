import ArgumentParser
import Farm
import Foundation

/// `sdfarm retry JOB... | --batch B | --all-failed`.
struct Retry: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Put failed or cancelled jobs back in the queue with fresh attempts.")

    @OptionGroup var db: DatabaseOptions

    @Argument(help: "Job ids.")
    var jobs: [String] = []

    @Option(help: "Every failed or cancelled job of this batch.")
    var batch: String?

    @Flag(help: "Every failed job.")
    var allFailed = false

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    func validate() throws {
        let modes = (jobs.isEmpty ? 0 : 1) + (batch == nil ? 0 : 1) + (allFailed ? 1 : 0)
        guard modes == 1 else { throw ValidationError("give job ids, --batch B or --all-failed (exactly one)") }
    }

    func run() throws {
        let ids = try jobs.map { try parseID($0, what: "job") }
        let batchID = try batch.map { try parseID($0, what: "batch") }
        let n = try db.queue().retry(jobs: ids, batch: batchID, allFailed: allFailed)
        if json {
            struct Out: Encodable { let requeued: Int }
            try JSONOutput.print(Out(requeued: n))
        } else {
            print("requeued \(n) job\(n == 1 ? "" : "s")")
        }
    }
}
