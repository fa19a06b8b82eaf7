import ArgumentParser
import Farm

/// `sdfarm cancel JOB... | --batch B`.
struct Cancel: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cancel jobs: queued ones at once, running ones at their next step.")

    @OptionGroup var db: DatabaseOptions
    @OptionGroup var targets: JobTargets
    @OptionGroup var output: OutputFormat

    func validate() throws {
        guard targets.modes == 1 else { throw ValidationError("give job ids or --batch B (one of them)") }
    }

    func run() throws {
        let (ids, batchID) = try targets.ids()
        let r = try db.queue().cancel(jobs: ids, batch: batchID)
        if output.json { try JSONOutput.print(r); return }
        print("cancelled \(r.cancelled) queued job\(r.cancelled == 1 ? "" : "s"); \(r.stopping) running job\(r.stopping == 1 ? "" : "s") will stop at the next step; \(r.unchanged) already finished")
    }
}
