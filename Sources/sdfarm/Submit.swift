import ArgumentParser
import Farm
import Foundation

/// `sdfarm submit`: expands a prompt grid into one batch of jobs.
struct Submit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit a grid of renders: one job per combination of prompt, size, sampler, steps, CFG scale and seed.")

    @OptionGroup var db: DatabaseOptions

    @Option(help: "Model path (.safetensors file or diffusers folder) as the workers see it.")
    var model: String

    @Option(parsing: .singleValue, help: "A prompt (repeat for several).")
    var prompt: [String] = []

    @Option(help: "A file with one prompt per line (blank lines and # comments skipped).")
    var prompts: String?

    @Option(help: "Negative prompt for every job.")
    var negativePrompt = ""

    @Option(help: "Seeds: comma-separated numbers and inclusive ranges, e.g. 1,2,10-20.")
    var seeds = "0"

    @Option(help: "CFG scales, comma-separated.")
    var cfgScale = "7.5"

    @Option(help: "Step counts, comma-separated.")
    var steps = "20"

    @Option(help: "Samplers, comma-separated (\(SubmitChecks.samplers.joined(separator: ", "))).")
    var sampler = "ddim"

    @Option(help: "Sizes WIDTHxHEIGHT, comma-separated, multiples of 8.")
    var size = "512x512"

    @Option(help: "Higher runs first.")
    var priority = 0

    @Option(help: "Attempts before a job is marked failed.")
    var maxAttempts = 3

    @Option(help: "A name for the batch.")
    var name = ""

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    func run() throws {
        if !prompt.isEmpty && prompts != nil { throw ValidationError("give --prompt or --prompts FILE, not both") }
        let allPrompts = try prompts.map { try GridParsing.prompts(file: $0) } ?? prompt
        guard !allPrompts.isEmpty else { throw ValidationError("give at least one --prompt TEXT or --prompts FILE") }
        let spec = GridSpec(model: model, prompts: allPrompts, negativePrompt: negativePrompt,
                            seeds: try GridParsing.seeds(seeds), cfgScales: try GridParsing.cfgScales(cfgScale),
                            steps: try GridParsing.steps(steps), samplers: try GridParsing.samplers(sampler, known: SubmitChecks.samplers),
                            sizes: try GridParsing.sizes(size), priority: priority, maxAttempts: maxAttempts, name: name)
        // Check everything that needs no database before connecting.
        _ = try JobQueue.normalizeModelPath(model)
        let queue = try db.queue()
        let submission = try queue.submit(spec, knownSamplers: SubmitChecks.samplers, validate: SubmitChecks.extra)
        if json {
            try JSONOutput.print(submission)
        } else {
            print("batch \(submission.batchID): \(submission.jobCount) job\(submission.jobCount == 1 ? "" : "s") queued")
        }
    }
}
