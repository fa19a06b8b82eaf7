import ArgumentParser
import Farm
import Foundation
import RenderFormat

/// `sdfarm jobs [--batch B] [--state S]`.
struct Jobs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List jobs with their state, parameters, attempts and output.")

    @OptionGroup var db: DatabaseOptions

    @Option(help: "Only this batch.")
    var batch: String?

    @Option(help: "Only this state (queued, running, succeeded, failed, cancelled).")
    var state: String?

    @OptionGroup var output: OutputFormat

    func run() throws {
        let batchID = try batch.map { try parseID($0, what: "batch") }
        let jobs = try db.queue().jobs(batch: batchID, state: state.map(parseState))
        if output.json { try JSONOutput.print(jobs); return }
        let rows = jobs.map { j in
            [String(j.id), String(j.batch), j.state.rawValue, Format.kind(j.parameters), "\(j.attempts)/\(j.maxAttempts)", String(j.priority), String(j.parameters.seed),
             String(j.parameters.steps), j.parameters.sampler.rawValue, Format.number(j.parameters.cfgScale), j.parameters.sizeDescription,
             Format.clip(j.parameters.prompt, 30), j.outputPath ?? j.lastError.map { "error: " + Format.clip($0, 60) } ?? ""]
        }
        print(Format.table(["ID", "BATCH", "STATE", "KIND", "TRIES", "PRIO", "SEED", "STEPS", "SAMPLER", "CFG", "SIZE", "PROMPT", "OUTPUT"], rows))
    }
}
