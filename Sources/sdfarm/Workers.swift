import ArgumentParser
import Farm
import Foundation

/// `sdfarm workers`.
struct Workers: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List workers: host, pid, models, last heartbeat, current job.")

    @OptionGroup var db: DatabaseOptions

    @OptionGroup var output: OutputFormat

    func run() throws {
        let workers = try db.queue().workers()
        if output.json { try JSONOutput.print(workers); return }
        let rows = workers.map { w in
            [w.name, w.alive ? "live" : (w.stopped ? "stopped" : "silent"), w.host, String(w.pid),
             "\(Format.duration(w.secondsSinceHeartbeat)) ago", w.currentJob.map(String.init) ?? "-",
             w.models.isEmpty ? "any" : w.models.joined(separator: ",")]
        }
        print(Format.table(["NAME", "STATE", "HOST", "PID", "HEARTBEAT", "JOB", "MODELS"], rows))
    }
}
