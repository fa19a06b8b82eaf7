import ArgumentParser
import Farm

/// `sdfarm retry JOB... | --batch B | --all-failed`.
struct Retry: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Put failed or cancelled jobs back in the queue with fresh attempts.")

    @OptionGroup var db: DatabaseOptions
    @OptionGroup var targets: JobTargets
    @Flag(help: "Every failed job.")
    var allFailed = false
    @OptionGroup var output: OutputFormat

    func validate() throws {
        guard targets.modes + (allFailed ? 1 : 0) == 1 else { throw ValidationError("give job ids, --batch B or --all-failed (exactly one)") }
    }

    func run() throws {
        let (ids, batchID) = try targets.ids()
        let n = try db.queue().retry(jobs: ids, batch: batchID, allFailed: allFailed)
        if output.json {
            struct Out: Encodable { let requeued: Int }
            try JSONOutput.print(Out(requeued: n))
        } else {
            print("requeued \(n) job\(n == 1 ? "" : "s")")
        }
    }
}
