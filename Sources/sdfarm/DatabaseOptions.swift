import ArgumentParser
import Farm
import Foundation
import Logging

/// `--database URL`, shared by every command that talks to the queue.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "PostgreSQL URL or libpq keyword string (default: DATABASE_URL, then the PG* variables).")
    var database: String?

    /// A queue on a fresh connection.
    func queue() throws -> JobQueue {
        let db = try PostgresConnection(url: PostgresConnection.withNetworkTimeouts(database))
        return JobQueue(db, logger: CLILog.logger)
    }
}

enum CLILog {
    static let logger: Logger = {
        var l = Logger(label: "sdfarm")
        l.logLevel = .notice
        return l
    }()
}

/// The samplers `submit` accepts, and extra checks the executable adds to the generic ones.
enum SubmitChecks {
    static let samplers = ["ddim", "euler", "euler_a"]
    /// Model-aware checks (wired in with the Stable Diffusion engine); nil for now.
    static let extra: (@Sendable (RenderParameters) throws -> Void)? = nil
}

/// JSON for `--json` output: sorted keys, pretty.
enum JSONOutput {
    static func print<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        Swift.print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

/// A `--state` value.
func parseState(_ text: String) throws -> JobState {
    guard let s = JobState(rawValue: text.lowercased()) else {
        throw ValidationError("--state '\(text)' is not a state; use one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return s
}

/// A job or batch id argument.
func parseID(_ text: String, what: String) throws -> Int64 {
    guard let id = Int64(text), id > 0 else { throw ValidationError("\(what) '\(text)' is not an id (a positive whole number)") }
    return id
}
