import ArgumentParser
import Farm
import FarmService
import Foundation

/// `--database URL`, shared by every command that talks to the queue.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "PostgreSQL URL or libpq keyword string (default: DATABASE_URL, then the PG* variables).")
    var database: String?

    /// A queue on a fresh connection.
    func queue() throws -> JobQueue {
        warnAboutPassword(database, flag: "--database")
        do { try DatabasePassword.load() } catch { throw ValidationError("\(error)") }
        let db = try PostgresConnection(url: PostgresConnection.withNetworkTimeouts(database))
        return JobQueue(db, logger: CLILogging.quiet)
    }
}

/// An optional batch id argument, shared by the commands that look at one batch or all of them.
struct BatchSelection: ParsableArguments {
    @Argument(help: "A batch id (default: every job).")
    var batch: String?

    /// The batch id, checked.
    func id() throws -> Int64? { try batch.map { try parseID($0, what: "batch") } }
}

/// Job ids or `--batch B`: what `cancel` and `retry` act on.
struct JobTargets: ParsableArguments {
    @Argument(help: "Job ids.")
    var jobs: [String] = []

    @Option(help: "Every job of this batch (retry: its failed or cancelled ones).")
    var batch: String?

    /// How many ways of choosing jobs were given.
    var modes: Int { (jobs.isEmpty ? 0 : 1) + (batch == nil ? 0 : 1) }

    /// The job ids and batch id, checked.
    func ids() throws -> (jobs: [Int64], batch: Int64?) {
        (try jobs.map { try parseID($0, what: "job") }, try batch.map { try parseID($0, what: "batch") })
    }
}

/// `--json`, for every command that can print machine-readable output.
struct OutputFormat: ParsableArguments {
    @Flag(help: "Print machine-readable JSON.")
    var json = false
}

/// Warns (once per process) when a connection string on the command line holds a password.
func warnAboutPassword(_ url: String?, flag: String) {
    guard let url, PostgresConnection.containsPassword(url) else { return }
    FileHandle.standardError.write(Data("warning: \(flag) holds a password, which every user of this machine can read with ps; put it in DATABASE_URL or ~/.pgpass (PGPASSFILE) instead\n".utf8))
}
