public import RenderFormat

/// A submission: the lists whose cartesian product becomes the jobs of one batch.
///
/// Order of expansion (outermost first): prompt, size, sampler, steps, CFG scale, seed, LoRA set, then image-to-image
/// strength or interpolation frame — so a batch reads naturally as "each prompt, every seed", and the
/// frames of one interpolation are consecutive jobs in frame order.
///
/// Image-to-image batches (`initImage`) expand over `strengths` into `.img2img` jobs; interpolation batches
/// (`interpolation`) render `frames` `.interpolation` jobs per combination.
public struct GridSpec: Sendable, Codable, Equatable {
    public var model: String
    public var prompts: [String]
    public var negativePrompt: String
    public var seeds: [UInt64]
    public var cfgScales: [Double]
    public var steps: [Int]
    public var samplers: [SamplerKind]
    public var sizes: [Size]
    public var priority: Int
    public var maxAttempts: Int
    public var name: String
    /// Image-to-image: the picture every job starts from.
    public var initImage: InitImageRef?
    /// Image-to-image strengths, each in (0, 1].
    public var strengths: [Double]?
    /// Prompt interpolation from each prompt to `interpolation.target`.
    public var interpolation: Interpolation?
    /// How every job's prompts are tokenized (nil: `PromptSyntax.default`).
    public var promptSyntax: PromptSyntax?
    /// LoRA sets, one grid axis (innermost after the seed): each cell renders once per set (nil: no LoRA).
    public var loraSets: [[LoRAReference]]?

    /// An init image copied into shared storage at its content address.
    public struct InitImageRef: Sendable, Codable, Equatable {
        /// Path relative to the storage root: `inputs/<sha256>.png`.
        public var path: String
        public var sha256: String
        public var width: Int
        public var height: Int
        public init(path: String, sha256: String, width: Int, height: Int) {
            self.path = path; self.sha256 = sha256; self.width = width; self.height = height
        }
    }

    /// A prompt interpolation: `frames` frames from the prompt to `target`.
    public struct Interpolation: Sendable, Codable, Equatable {
        public var target: String
        public var frames: Int
        /// Linear instead of spherical interpolation.
        public var linear: Bool
        public init(target: String, frames: Int, linear: Bool = false) {
            self.target = target; self.frames = frames; self.linear = linear
        }
        var method: InterpolationMethod { linear ? .lerp : .slerp }
    }

    public struct Size: Sendable, Codable, Equatable, Hashable, CustomStringConvertible {
        public var width: Int
        public var height: Int
        public init(width: Int, height: Int) { self.width = width; self.height = height }
        public var description: String { "\(width)x\(height)" }
    }

    public init(model: String, prompts: [String], negativePrompt: String = "", seeds: [UInt64] = [0],
                cfgScales: [Double] = [7.5], steps: [Int] = [20], samplers: [SamplerKind] = [.ddim],
                sizes: [Size] = [Size(width: 512, height: 512)], priority: Int = 0, maxAttempts: Int = 3, name: String = "",
                initImage: InitImageRef? = nil, strengths: [Double]? = nil, interpolation: Interpolation? = nil,
                promptSyntax: PromptSyntax? = nil, loraSets: [[LoRAReference]]? = nil) {
        self.model = model
        self.prompts = prompts
        self.negativePrompt = negativePrompt
        self.seeds = seeds
        self.cfgScales = cfgScales
        self.steps = steps
        self.samplers = samplers
        self.sizes = sizes
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.name = name
        self.initImage = initImage
        self.strengths = strengths
        self.interpolation = interpolation
        self.promptSyntax = promptSyntax
        self.loraSets = loraSets
    }

    enum CodingKeys: String, CodingKey {
        case model, prompts, seeds, steps, samplers, sizes, priority, name, strengths, interpolation
        case initImage = "init_image"
        case negativePrompt = "negative_prompt"
        case cfgScales = "cfg_scales"
        case maxAttempts = "max_attempts"
        case promptSyntax = "prompt_syntax"
        case loraSets = "lora_sets"
    }

    /// The number of jobs the grid expands to, or nil when it does not fit in an `Int`.
    public var jobCount: Int? {
        var n = 1
        for factor in [prompts.count, sizes.count, samplers.count, steps.count, cfgScales.count, seeds.count, loraSets?.count ?? 1, variantCount] {
            let (product, overflow) = n.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            n = product
        }
        return n
    }

    var variantCount: Int {
        if initImage != nil { return (strengths ?? [0.75]).count }
        return interpolation?.frames ?? 1
    }

    /// The kinds of the jobs of one combination, in order.
    /// - Throws: `RenderFormatError.invalid(.initImage, …)` when the init image reference is not a content address.
    func variants() throws(RenderFormatError) -> [JobKind] {
        if let initImage {
            let input = try InitImageInput(sha256: initImage.sha256)
            guard initImage.path == input.storagePath else {
                throw .invalid(.initImage, "reference '\(initImage.path)' is not its content address \(input.storagePath)")
            }
            return (strengths ?? [0.75]).map { .img2img(input, strength: $0) }
        }
        if let interpolation {
            return (0..<max(interpolation.frames, 0)).map { i in
                .interpolation(InterpolationFrame(target: interpolation.target, frame: i, frames: interpolation.frames, method: interpolation.method))
            }
        }
        return [.txt2img]
    }

    /// The jobs' parameters, in cell order. Call it after checking `jobCount` against `BatchLimits.maxJobs`.
    /// - Throws: `RenderFormatError` when the init image reference is malformed.
    public func expand() throws(RenderFormatError) -> [RenderParameters] {
        let variants = try variants()
        var out: [RenderParameters] = []
        out.reserveCapacity(jobCount ?? 0)
        for prompt in prompts {
            for size in sizes {
                for sampler in samplers {
                    for n in steps {
                        for cfg in cfgScales {
                            for seed in seeds {
                                for loras in loraSets ?? [[]] {
                                for kind in variants {
                                    out.append(RenderParameters(kind: kind, model: model, prompt: prompt, negativePrompt: negativePrompt,
                                                                seed: seed, steps: n, sampler: sampler, cfgScale: cfg,
                                                                width: size.width, height: size.height,
                                                                promptSyntax: promptSyntax ?? .default, loras: loras))
                                }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}


/// The limits of one submission (the render parameters' own limits are `RenderLimits`).
public enum BatchLimits {
    /// The most jobs one submission may create.
    public static let maxJobs = 100_000
    /// Attempts per job.
    public static let maxAttempts = 1...100
    /// Job priority (higher runs first).
    public static let priority = -1000...1000

    /// - Throws: `RenderFormatError.invalid(.priority, …)` outside `priority`.
    public static func validate(priority p: Int) throws(RenderFormatError) {
        guard priority.contains(p) else {
            throw .invalid(.priority, "must be between \(priority.lowerBound) and \(priority.upperBound), got \(p)")
        }
    }

    /// - Throws: `RenderFormatError.invalid(.maxAttempts, …)` outside `maxAttempts`.
    public static func validate(maxAttempts n: Int) throws(RenderFormatError) {
        guard maxAttempts.contains(n) else {
            throw .invalid(.maxAttempts, "must be between \(maxAttempts.lowerBound) and \(maxAttempts.upperBound), got \(n)")
        }
    }
}
