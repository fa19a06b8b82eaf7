import ArgumentParser
import Farm
import Foundation

/// `sdfarm prune --older-than DURATION [--dry-run] [--json]`.
struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove old finished batches (with their jobs and attempts) and workers long gone.",
        discussion: """
            Removes every batch whose jobs all finished (succeeded, failed or cancelled) more than DURATION ago, with \
            its jobs and their attempt history, and every worker row stopped or silent for longer than DURATION. A batch \
            with a queued or running job is never touched. Output files are NOT deleted: the folders of the removed \
            batches' images are printed so that you can remove them yourself.
            """)

    @OptionGroup var db: DatabaseOptions

    @Option(name: .customLong("older-than"), help: "How long ago: a whole number and a unit, s m h d or w (90m, 12h, 30d).")
    var olderThan: String

    @Flag(help: "Print what would be removed, remove nothing.")
    var dryRun = false

    @OptionGroup var output: OutputFormat

    /// Seconds in `text` (`90m`, `12h`, `30d`, `2w`, `45s`).
    static func seconds(_ text: String) throws -> Double {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        guard let unit = text.last.flatMap({ units[Character($0.lowercased())] }), let n = Int(text.dropLast()), n > 0 else {
            throw ValidationError("--older-than '\(text)' is not a duration; write a whole number above 0 and a unit s, m, h, d or w, e.g. 90m, 12h, 30d")
        }
        return Double(n) * unit
    }

    func validate() throws { _ = try Self.seconds(olderThan) }

    func run() throws {
        let report = try db.queue().prune(olderThan: try Self.seconds(olderThan), dryRun: dryRun)
        if output.json { try JSONOutput.print(report); return }
        let verb = dryRun ? "would remove" : "removed"
        func plural(_ n: Int, _ word: String, _ words: String? = nil) -> String { "\(n) \(n == 1 ? word : words ?? word + "s")" }
        print("\(verb) \(plural(report.batches.count, "batch", "batches")), "
              + "\(plural(report.jobs, "job")), \(plural(report.attempts, "attempt")) and \(plural(report.workers.count, "worker"))")
        if !report.batches.isEmpty {
            let shown = report.batches.prefix(20).map(String.init).joined(separator: ", ")
            print("batches: \(shown)\(report.batches.count > 20 ? " and \(report.batches.count - 20) more (--json lists them all)" : "")")
        }
        if !report.workers.isEmpty { print("workers: " + report.workers.joined(separator: ", ")) }
        if !report.outputFolders.isEmpty {
            print("output folders left on storage (\(dryRun ? "these batches'" : "no longer referenced"); remove them yourself if unwanted):")
            for folder in report.outputFolders.prefix(50) { print("  \(folder)") }
            if report.outputFolders.count > 50 { print("  … and \(report.outputFolders.count - 50) more (--json lists them all)") }
        }
    }
}
