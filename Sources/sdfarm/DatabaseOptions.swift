import ArgumentParser
import Diffusion
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
    static let samplers = SamplerKind.allCases.map(\.rawValue)
    /// Model-aware checks: the model's configs (or single-file header) must be readable and every
    /// size a multiple of its VAE factor, so workers never discover bad parameters.
    static let extra: (@Sendable (RenderParameters) throws -> Void)? = { parameters in
        let summary = try ModelSummary.inspect(path: parameters.model)
        guard let sampler = SamplerKind(rawValue: parameters.sampler) else {
            throw ValidationError("unknown sampler '\(parameters.sampler)'; known samplers: \(samplers.joined(separator: ", "))")
        }
        try RenderRequest(prompt: parameters.prompt, negativePrompt: parameters.negativePrompt, seed: parameters.seed,
                          steps: parameters.steps, sampler: sampler, cfgScale: Float(parameters.cfgScale),
                          width: parameters.width, height: parameters.height).validate(vaeFactor: summary.vaeFactor)
        if parameters.kind == "img2img", let strength = parameters.extra["strength"].flatMap(Double.init) {
            try InitImage.validate(strength: strength, steps: parameters.steps)
        }
    }
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
