import ArgumentParser
import Farm
import Foundation

/// `sdfarm status [BATCH]`.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Counts per state, running jobs with progress, live workers, throughput and ETA.")

    @OptionGroup var db: DatabaseOptions

    @OptionGroup var selection: BatchSelection

    @OptionGroup var output: OutputFormat

    func run() throws {
        let batchID = try selection.id()
        let queue = try db.queue()
        try queue.rescueExpired()
        let report = try queue.status(batch: batchID)
        if output.json { try JSONOutput.print(report); return }
        print("\(batchID.map { "batch \($0)" } ?? "all batches"): \(report.total) jobs — \(Format.counts(report))")
        if !report.kinds.isEmpty {
            print("kinds: " + report.kinds.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        for job in report.running {
            print("  job \(job.id) \(Format.bar(job.progress.step, job.progress.total)) step \(job.progress.step)/\(job.progress.total) on \(job.worker ?? "?")  \(Format.kind(job.parameters))  \(Format.clip(job.parameters.prompt, 40))")
        }
        print("workers: \(report.workers.count) live\(report.workers.isEmpty ? "" : " (" + report.workers.map(\.name).joined(separator: ", ") + ")")")
        print("throughput: \(String(format: "%.1f", report.throughputPerMinute)) jobs/min, ETA \(report.isDone ? "done" : Format.duration(report.etaSeconds))")
    }
}
