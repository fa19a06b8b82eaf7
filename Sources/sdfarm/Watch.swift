import ArgumentParser
import Farm
import Foundation

/// `sdfarm watch [BATCH]`: progress bars on a terminal, plain lines otherwise; exits when the batch is done.
struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show live progress until the batch is done (exit status 1 if any job failed).")

    @OptionGroup var db: DatabaseOptions

    @OptionGroup var selection: BatchSelection

    @Option(help: "Seconds between refreshes.")
    var interval = 0.5

    func run() throws {
        let batchID = try selection.id()
        let queue = try db.queue()
        let tty = isatty(STDOUT_FILENO) != 0
        var lastLine = ""
        var drawnLines = 0
        while true {
            try queue.rescueExpired()
            let r = try queue.status(batch: batchID)
            let finished = (r.counts["succeeded"] ?? 0) + (r.counts["failed"] ?? 0) + (r.counts["cancelled"] ?? 0)
            let summary = "\(batchID.map { "batch \($0)" } ?? "all") \(Format.bar(finished, r.total, width: 30)) \(finished)/\(r.total) — \(Format.counts(r)); ETA \(r.isDone ? "done" : Format.duration(r.etaSeconds))"
            if tty {
                var lines = [summary]
                for j in r.running {
                    lines.append("  job \(j.id) \(Format.bar(j.progress.step, j.progress.total)) \(j.progress.step)/\(j.progress.total) \(j.worker ?? "")")
                }
                var out = drawnLines > 0 ? "\u{1B}[\(drawnLines)F" : ""
                out += lines.map { "\u{1B}[2K" + $0 }.joined(separator: "\n") + "\n\u{1B}[J"
                FileHandle.standardOutput.write(Data(out.utf8))
                drawnLines = lines.count
            } else if summary != lastLine {
                FileHandle.standardOutput.write(Data((summary + "\n").utf8))
                lastLine = summary
            }
            if r.isDone {
                let failed = r.counts["failed"] ?? 0
                if failed > 0 {
                    FileHandle.standardError.write(Data("\(failed) job\(failed == 1 ? "" : "s") failed; `sdfarm jobs --state failed` lists them, `sdfarm retry --all-failed` reruns them\n".utf8))
                    throw ExitCode(1)
                }
                return
            }
            Thread.sleep(forTimeInterval: max(0.05, interval))
        }
    }
}
