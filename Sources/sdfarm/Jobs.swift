import ArgumentParser
import Farm
import Foundation
import RenderFormat

/// `sdfarm jobs [--batch B] [--state S] [--limit N] [--after ID]`: one page of jobs.
struct Jobs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List jobs with their state, parameters, attempts and output, one page at a time.",
        discussion: "Jobs come in batch and cell order, --limit at a time; when more follow, the command for the next page is printed on stderr (pass the last id shown to --after).")

    @OptionGroup var db: DatabaseOptions

    @Option(help: "Only this batch.")
    var batch: String?

    @Option(help: "Only this state (queued, running, succeeded, failed, cancelled).")
    var state: String?

    @Option(help: "At most this many jobs (1…\(JobQueue.maxPageSize)).")
    var limit = 100

    @Option(help: "Only jobs after this job id (the last id of the previous page).")
    var after: String?

    @OptionGroup var output: OutputFormat

    func validate() throws {
        guard (1...JobQueue.maxPageSize).contains(limit) else {
            throw ValidationError("--limit \(limit): a page holds 1…\(JobQueue.maxPageSize) jobs")
        }
    }

    func run() throws {
        let batchID = try batch.map { try parseID($0, what: "batch") }
        let afterID = try after.map { try parseID($0, what: "--after") }
        let queue = try db.queue()
        let jobState = try state.map(parseState)
        let jobs = try queue.jobs(batch: batchID, state: jobState, limit: limit, after: afterID)
        let more = try jobs.count == limit && jobs.last.map { !(try queue.jobs(batch: batchID, state: jobState, limit: 1, after: $0.id).isEmpty) } == true
        defer {
            if more, let last = jobs.last {
                let flags = [batch.map { "--batch \($0)" }, state.map { "--state \($0)" }, "--limit \(limit)", "--after \(last.id)",
                             output.json ? "--json" : nil].compactMap { $0 }.joined(separator: " ")
                FileHandle.standardError.write(Data("more jobs follow: sdfarm jobs \(flags)\n".utf8))
            }
        }
        if output.json { try JSONOutput.print(jobs); return }
        let rows = jobs.map { j in
            [String(j.id), String(j.batch), j.state.rawValue, Format.kind(j.parameters), "\(j.attempts)/\(j.maxAttempts)", String(j.priority), String(j.parameters.seed),
             String(j.parameters.steps), j.parameters.sampler.rawValue, Format.number(j.parameters.cfgScale), j.parameters.sizeDescription,
             Format.clip(j.parameters.prompt, 30), j.outputPath ?? j.lastError.map { "error: " + Format.clip($0, 60) } ?? ""]
        }
        print(Format.table(["ID", "BATCH", "STATE", "KIND", "TRIES", "PRIO", "SEED", "STEPS", "SAMPLER", "CFG", "SIZE", "PROMPT", "OUTPUT"], rows))
    }
}
