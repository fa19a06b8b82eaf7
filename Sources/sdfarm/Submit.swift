import ArgumentParser
import Diffusion
import Farm
import Foundation
import Imaging

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

    @Option(help: "Samplers, comma-separated (\(SubmitChecks.samplers.joined(separator: ", "))).")
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
        var interpolation: GridSpec.Interpolation?
        var allPrompts = try prompts.map { try GridParsing.prompts(file: $0) } ?? prompt
        if !interpolate.isEmpty {
            guard interpolate.count == 2 else { throw ValidationError("--interpolate takes exactly two prompts (A then B), got \(interpolate.count)") }
            guard allPrompts.isEmpty else { throw ValidationError("--interpolate replaces --prompt/--prompts; the prompts are A and B") }
            guard initImage == nil else { throw ValidationError("--init-image and --interpolate cannot be combined in one batch") }
            guard let frames else { throw ValidationError("--interpolate needs --frames N (at least 2)") }
            guard (2...10_000).contains(frames) else { throw ValidationError("--frames must be between 2 and 10000, got \(frames)") }
            interpolation = GridSpec.Interpolation(target: interpolate[1], frames: frames, linear: lerp)
            allPrompts = [interpolate[0]]
        } else if frames != nil || lerp {
            throw ValidationError("--frames and --lerp only apply with --interpolate A B")
        }
        guard !allPrompts.isEmpty else { throw ValidationError("give at least one --prompt TEXT, --prompts FILE or --interpolate A B") }
        if strength != nil && initImage == nil { throw ValidationError("--strength only applies with --init-image") }
        let strengths = try strength.map { try GridParsing.strengths($0) }
        let stepList = try GridParsing.steps(steps)
        // Check everything that needs no database before connecting (and before copying anything).
        _ = try JobQueue.normalizeModelPath(model)
        var reference: GridSpec.InitImageRef?
        var sizes = try GridParsing.sizes(size ?? "512x512")
        if let initImage {
            let image = try InitImage.load(path: initImage, strength: 1).image
            if let size {
                for s in try GridParsing.sizes(size) where s.width != image.width || s.height != image.height {
                    throw ValidationError("--size \(s) differs from the init image's \(image.width)x\(image.height); resize the image or leave --size out")
                }
            }
            sizes = [GridSpec.Size(width: image.width, height: image.height)]
            for n in stepList { for s in strengths ?? [0.75] { try InitImage.validate(strength: s, steps: n) } }
            guard let root = storage ?? ProcessInfo.processInfo.environment["SDFARM_STORAGE"], !root.isEmpty else {
                throw ValidationError("--init-image needs --storage DIR (the shared storage the workers use) so every worker reads the same bytes")
            }
            reference = try InitImageStore.store(initImage, storage: root)
        }
        let spec = GridSpec(model: model, prompts: allPrompts, negativePrompt: negativePrompt,
                            seeds: try GridParsing.seeds(seeds), cfgScales: try GridParsing.cfgScales(cfgScale),
                            steps: stepList, samplers: try GridParsing.samplers(sampler, known: SubmitChecks.samplers),
                            sizes: sizes, priority: priority, maxAttempts: maxAttempts, name: name,
                            initImage: reference, strengths: reference == nil ? nil : (strengths ?? [0.75]), interpolation: interpolation)
        let queue = try db.queue()
        let submission = try queue.submit(spec, knownSamplers: SubmitChecks.samplers, validate: SubmitChecks.extra)
        if json {
            try JSONOutput.print(submission)
        } else {
            print("batch \(submission.batchID): \(submission.jobCount) job\(submission.jobCount == 1 ? "" : "s") queued")
        }
    }
}

/// Copies init images into shared storage, content-addressed: `<storage>/inputs/<sha256>.png`.
enum InitImageStore {
    /// Stores the file at `path` (checked to be an 8-bit PNG) and returns its reference.
    /// - Throws: `ModelError` for an unreadable or non-PNG file; a file-system error when the storage is not writable.
    static func store(_ path: String, storage: String) throws -> GridSpec.InitImageRef {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("--init-image \(path): the file does not exist or is not readable")
        }
        let bytes = [UInt8](data)
        let image = try InitImage.decode(bytes, path: path, strength: 1).image
        let digest = SHA256.hex(SHA256.hash(bytes))
        let relative = "inputs/\(digest).png"
        let target = (storage as NSString).appendingPathComponent(relative)
        let existing = FileManager.default.contents(atPath: target).map { SHA256.hex(SHA256.hash([UInt8]($0))) }
        if existing != digest {
            do {
                try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try PNGCodec.writeAtomically(bytes, to: target)
            } catch {
                throw ValidationError("--storage \(storage): cannot copy the init image there (\(error)); give the shared storage folder the workers use")
            }
        }
        return GridSpec.InitImageRef(path: relative, sha256: digest, width: image.width, height: image.height)
    }
}
