import ArgumentParser
import Farm
import Foundation

/// `sdfarm migrate`: applies pending migrations under an advisory lock.
struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create or update the queue schema (idempotent).")

    @OptionGroup var db: DatabaseOptions

    @Option(help: "Directory of NNNN_name.sql files (default: SDFARM_MIGRATIONS, else the repository's migrations/).")
    var migrations: String?

    @OptionGroup var output: OutputFormat

    func run() throws {
        guard let dir = Migrator.locateDirectory(explicit: migrations, executable: Bundle.main.executablePath ?? CommandLine.arguments[0]) else {
            throw ValidationError("cannot find the migrations directory; pass --migrations DIR or set SDFARM_MIGRATIONS")
        }
        let migrator = try Migrator(directory: dir, logger: CLILogging.quiet)
        let queue = try db.queue()
        let applied = try migrator.migrate(queue.db)
        let latest = migrator.migrations.last?.version ?? 0
        if output.json {
            struct Out: Encodable { let applied: [Int]; let version: Int }
            try JSONOutput.print(Out(applied: applied, version: latest))
        } else if applied.isEmpty {
            print("schema is up to date (version \(latest))")
        } else {
            print("applied migrations \(applied.map(String.init).joined(separator: ", ")); schema is at version \(latest)")
        }
    }
}
