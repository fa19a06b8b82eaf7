import ArgumentParser
import Farm

/// `--database URL`, shared by every command that talks to the queue.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "PostgreSQL URL or libpq keyword string (default: DATABASE_URL, then the PG* variables).")
    var database: String?

    /// A queue on a fresh connection.
    func queue() throws -> JobQueue {
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
