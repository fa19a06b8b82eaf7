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
            [w.name, w.alive ? "live" : (w.stopped ? "stopped" : "silent"), w.healthy ? "healthy" : "UNHEALTHY", w.host, String(w.pid),
             "\(Format.duration(w.secondsSinceHeartbeat)) ago", w.currentJob.map(String.init) ?? "-",
             w.models.isEmpty ? "any" : w.models.joined(separator: ","), w.healthReason.map { Format.clip($0, 80) } ?? ""]
        }
        print(Format.table(["NAME", "STATE", "HEALTH", "HOST", "PID", "HEARTBEAT", "JOB", "MODELS", "REASON"], rows))
    }
}
