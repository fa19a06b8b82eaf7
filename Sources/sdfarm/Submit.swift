import ArgumentParser
import Farm
import FarmDiffusion
import Foundation
import RenderFormat

/// `sdfarm submit`: expands a prompt grid into one batch of jobs.
struct Submit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit a grid of renders: one job per combination of prompt, size, sampler, steps, CFG scale and seed.",
        discussion: """
            Image-to-image: --init-image FILE.png [--strength 0.5,0.75] --storage DIR copies the picture to             DIR/inputs/<sha256>.png (the workers' --storage) so every worker reads the same bytes; one job per strength.
            Prompt interpolation: --interpolate "PROMPT A" "PROMPT B" --frames N [--lerp]: N jobs per combination,             frame i at t = i/(N-1); `sdfarm grid` lays them out as a strip in frame order.
            """)

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

    @Option(help: "Samplers, comma-separated (\(SamplerKind.knownNames)).")
    var sampler = "ddim"

    @Option(help: "Sizes WIDTHxHEIGHT, comma-separated, multiples of 8 (default 512x512, or the init image's size).")
    var size: String?

    @Option(help: "Image-to-image: the 8-bit RGB/RGBA PNG every job starts from (needs --storage).")
    var initImage: String?

    @Option(help: "Image-to-image strengths, comma-separated, each in (0, 1] (default 0.75).")
    var strength: String?

    @Option(help: "Shared storage root as the workers see it (default: SDFARM_STORAGE); --init-image is copied there.")
    var storage: String?

    @Option(parsing: .upToNextOption, help: "Prompt interpolation: two prompts, A then B (instead of --prompt).")
    var interpolate: [String] = []

    @Option(help: "Prompt interpolation: frames per combination (at least 2).")
    var frames: Int?

    @Flag(help: "Prompt interpolation: linear instead of spherical.")
    var lerp = false

    @Option(help: ArgumentHelp(stringLiteral: promptSyntaxHelp))
    var promptSyntax: String = PromptSyntax.default.rawValue

    @Option(help: "A LoRA as the workers see it, FILE:WEIGHT or FILE:W1,W2,… (a grid axis over the weights; 0 leaves it out); repeat for several (every combination). Must lie in the workers' --lora-dir.")
    var lora: [String] = []

    @Option(help: "The workers' LoRA folder as seen here: <lora:name:weight> tags in prompts are checked against it (default: SDFARM_LORA_DIR).")
    var loraDir: String?

    @Option(help: "Higher runs first.")
    var priority = 0

    @Option(help: "Attempts before a job is marked failed.")
    var maxAttempts = 3

    @Option(help: "A name for the batch.")
    var name = ""

    @OptionGroup var output: OutputFormat

    func run() throws {
        if !prompt.isEmpty && prompts != nil { throw ValidationError("give --prompt or --prompts FILE, not both") }
        var interpolation: GridSpec.Interpolation?
        var allPrompts = try prompts.map { try GridParsing.prompts(file: $0) } ?? prompt
        if !interpolate.isEmpty {
            guard interpolate.count == 2 else { throw ValidationError("--interpolate takes exactly two prompts (A then B), got \(interpolate.count)") }
            guard allPrompts.isEmpty else { throw ValidationError("--interpolate replaces --prompt/--prompts; the prompts are A and B") }
            guard initImage == nil else { throw ValidationError("--init-image and --interpolate cannot be combined in one batch") }
            guard let frames else { throw ValidationError("--interpolate needs --frames N (at least \(RenderLimits.frames.lowerBound))") }
            try RenderLimits.validate(frames: frames)
            interpolation = GridSpec.Interpolation(target: interpolate[1], frames: frames, linear: lerp)
            allPrompts = [interpolate[0]]
        } else if frames != nil || lerp {
            throw ValidationError("--frames and --lerp only apply with --interpolate A B")
        }
        guard !allPrompts.isEmpty else { throw ValidationError("give at least one --prompt TEXT, --prompts FILE or --interpolate A B") }
        if strength != nil && initImage == nil { throw ValidationError("--strength only applies with --init-image") }
        let strengths = try strength.map { try GridParsing.strengths($0) }
        var sizes = try GridParsing.sizes(size ?? "512x512")
        // Everything that needs no database is checked before connecting, and the init image is copied
        // into storage only once the whole submission is valid.
        var picture: InitImageStore.Prepared?
        var root = ""
        if let initImage {
            let prepared = try InitImageStore.read(initImage)
            let (w, h) = (prepared.reference.width, prepared.reference.height)
            if size != nil {
                for s in sizes where s.width != w || s.height != h {
                    throw ValidationError("--size \(s) differs from the init image's \(w)x\(h); resize the image or leave --size out")
                }
            }
            sizes = [GridSpec.Size(width: w, height: h)]
            guard let storage = storage ?? ProcessInfo.processInfo.environment["SDFARM_STORAGE"], !storage.isEmpty else {
                throw ValidationError("--init-image needs --storage DIR (the shared storage the workers use) so every worker reads the same bytes")
            }
            picture = prepared
            root = storage
        }
        let spec = GridSpec(model: model, prompts: allPrompts, negativePrompt: negativePrompt,
                            seeds: try GridParsing.seeds(seeds), cfgScales: try GridParsing.cfgScales(cfgScale),
                            steps: try GridParsing.steps(steps), samplers: try GridParsing.samplers(sampler),
                            sizes: sizes, priority: priority, maxAttempts: maxAttempts, name: name,
                            initImage: picture?.reference, strengths: picture == nil ? nil : (strengths ?? [0.75]), interpolation: interpolation,
                            promptSyntax: try withFlagNames { try PromptSyntax(name: promptSyntax) },
                            loraSets: try withFlagNames { try Self.loraSets(lora) })
        let folder = loraDir ?? ProcessInfo.processInfo.environment["SDFARM_LORA_DIR"]
        let checked = try JobQueue.check(spec) { try ModelChecks.validate($0, loraDirectory: folder) }
        if let picture { try InitImageStore.store(picture, storage: root) }
        let submission = try db.queue().submit(checked)
        if output.json {
            try JSONOutput.print(submission)
        } else {
            print("batch \(submission.batchID): \(submission.jobCount) job\(submission.jobCount == 1 ? "" : "s") queued")
        }
    }

    /// `--lora FILE:W1,W2` flags → the LoRA sets of the grid: every combination of one weight per file, a weight of 0
    /// leaving that file out; nil without flags.
    /// - Throws: `RenderFormatError.invalid(.lora, …)` for a malformed flag or a weight out of range.
    static func loraSets(_ flags: [String]) throws(RenderFormatError) -> [[LoRAReference]]? {
        guard !flags.isEmpty else { return nil }
        var sets: [[LoRAReference]] = [[]]
        for flag in flags {
            var path = flag, weights = [1.0]
            if let colon = flag.lastIndex(of: ":") {
                let list = flag[flag.index(after: colon)...].split(separator: ",", omittingEmptySubsequences: false)
                let parsed = list.map { Double($0.trimmingCharacters(in: .whitespaces)) }
                if !list.isEmpty, parsed.allSatisfy({ $0 != nil }) {
                    path = String(flag[..<colon])
                    weights = parsed.map { $0! }
                } else if list.contains(where: { $0.contains(where: \.isNumber) }) {
                    throw .invalid(.lora, "'\(flag)' has weights that are not numbers; write FILE:0.5,1")
                }
            }
            guard !path.isEmpty else { throw .invalid(.lora, "'\(flag)' names no file; write FILE:WEIGHT") }
            for w in weights { try RenderLimits.validate(loraWeight: w) }
            sets = sets.flatMap { set in weights.map { w in w == 0 ? set : set + [LoRAReference(path: path, weight: w)] } }
        }
        return sets
    }
}
