import ArgumentParser
import Farm
import Foundation
import RenderFormat

/// `sdfarm show JOB`.
struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A job's parameters, every attempt with its worker and error, and its output path.")

    @OptionGroup var db: DatabaseOptions

    @Argument(help: "A job id.")
    var job: String

    @OptionGroup var output: OutputFormat

    func run() throws {
        let id = try parseID(job, what: "job")
        let queue = try db.queue()
        let j = try queue.job(id)
        let attempts = try queue.attempts(of: id)
        if output.json {
            struct Out: Encodable { let job: JobQueue.JobSummary; let attempts: [JobQueue.AttemptRecord] }
            try JSONOutput.print(Out(job: j, attempts: attempts))
            return
        }
        let p = j.parameters
        print("job \(j.id) (batch \(j.batch), cell \(j.cell)): \(j.state), attempts \(j.attempts)/\(j.maxAttempts), priority \(j.priority)")
        print("  kind: \(Format.kind(p))")
        print("  model: \(Format.safe(p.model))")
        print("  prompt: \(Format.safe(p.prompt))")
        if case .interpolation(let f) = p.kind { print("  interpolates to: \(Format.safe(f.target)) (t = \(f.t), \(f.method.rawValue))") }
        if !p.negativePrompt.isEmpty { print("  negative prompt: \(Format.safe(p.negativePrompt))") }
        print("  seed \(p.seed), \(p.steps) steps, sampler \(p.sampler.rawValue), CFG \(Format.number(p.cfgScale)), size \(p.sizeDescription)")
        for (k, v) in p.storedExtra.sorted(by: { $0.key < $1.key }) { print("  \(k): \(Format.safe(v))") }
        if j.state == .running { print("  progress: \(Format.bar(j.progress.step, j.progress.total)) step \(j.progress.step)/\(j.progress.total) on \(j.worker ?? "?")") }
        print("  output: \(j.outputPath ?? "none yet")")
        if let e = j.lastError { print("  last error: \(Format.safe(e))") }
        print("attempts:")
        if attempts.isEmpty { print("  none yet") }
        for a in attempts {
            print("  #\(a.attempt) \(a.outcome) on \(Format.safe(a.worker)), \(a.startedAt) → \(a.finishedAt ?? "…")\(a.error.map { ": " + Format.safe($0) } ?? "")")
        }
    }
}
