public import RenderFormat

/// Everything a worker needs to render one job, typed. Decoded once, at the queue's edge, from the `jobs`
/// row (`kind` text + `extra` jsonb + columns); everything after that works with these values.
public struct RenderParameters: Sendable, Hashable {
    public var kind: JobKind
    /// Absolute path of the model (a diffusers folder or a `.safetensors` file) as workers see it.
    public var model: String
    public var prompt: String
    public var negativePrompt: String
    public var seed: UInt64
    public var steps: Int
    public var sampler: SamplerKind
    public var cfgScale: Double
    public var width: Int
    public var height: Int
    /// How the prompts are tokenized; stored as `extra.prompt_syntax` (absent: diffusers).
    public var promptSyntax: PromptSyntax
    /// LoRAs merged for this job (paths as workers see them); stored as `extra.loras`. `<lora:…>` tags in the prompt
    /// are resolved by each worker in its own LoRA folder.
    public var loras: [LoRAReference]

    public init(kind: JobKind = .txt2img, model: String, prompt: String, negativePrompt: String = "", seed: UInt64,
                steps: Int, sampler: SamplerKind, cfgScale: Double, width: Int, height: Int,
                promptSyntax: PromptSyntax = .default, loras: [LoRAReference] = []) {
        self.kind = kind
        self.model = model
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.seed = seed
        self.steps = steps
        self.sampler = sampler
        self.cfgScale = cfgScale
        self.width = width
        self.height = height
        self.promptSyntax = promptSyntax
        self.loras = loras
    }

    /// `512x768`.
    public var sizeDescription: String { "\(width)x\(height)" }

    /// The checks every job passes regardless of the model, through the shared `RenderLimits`.
    /// - Throws: `RenderFormatError.invalid` naming the input.
    public func validate() throws(RenderFormatError) {
        try RenderLimits.validate(prompt: prompt)
        try RenderLimits.validate(text: negativePrompt, as: .negativePrompt)
        try RenderLimits.validate(width: width, height: height)
        try RenderLimits.validate(steps: steps)
        try RenderLimits.validate(cfgScale: cfgScale)
        for lora in loras { try RenderLimits.validate(loraWeight: lora.weight) }
        switch kind {
        case .txt2img:
            break
        case .img2img(_, let strength):
            try RenderLimits.validate(strength: strength, steps: steps)
        case .interpolation(let frame):
            try RenderLimits.validate(prompt: frame.target, as: .interpolate)
            try RenderLimits.validate(frames: frame.frames)
            guard (0..<frame.frames).contains(frame.frame) else {
                throw .invalid(.frames, "has no frame \(frame.frame): frames are numbered 0…\(frame.frames - 1)")
            }
        }
    }
}

/// What kind of render a job is, with what only that kind carries.
public enum JobKind: Sendable, Hashable {
    /// Text to image.
    case txt2img
    /// Image to image from a picture in shared storage, noised as `strength` implies.
    case img2img(InitImageInput, strength: Double)
    /// One frame of a prompt interpolation.
    case interpolation(InterpolationFrame)

    /// The name the `jobs.kind` column stores.
    public var name: String {
        switch self {
        case .txt2img: "txt2img"
        case .img2img: "img2img"
        case .interpolation: "interpolate"
        }
    }
}

/// An init image, content-addressed in shared storage: `<storage>/inputs/<sha256>.png`. The only place a
/// job's input can be; a job row cannot name any other path.
public struct InitImageInput: Sendable, Hashable {
    /// The SHA-256 of the PNG bytes, 64 lowercase hex digits.
    public let sha256: String

    /// - Throws: `RenderFormatError.invalid(.initImage, …)` unless `sha256` is 64 lowercase hex digits.
    public init(sha256: String) throws(RenderFormatError) {
        guard sha256.utf8.count == 64, sha256.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw .invalid(.initImage, "content address '\(sha256.prefix(80))' is not a SHA-256 (64 lowercase hex digits)")
        }
        self.sha256 = sha256
    }

    /// The path relative to the storage root.
    public var storagePath: String { "inputs/\(sha256).png" }
}

/// Frame `frame` of `frames` from the job's prompt to `target`.
public struct InterpolationFrame: Sendable, Hashable {
    public var target: String
    public var frame: Int
    public var frames: Int
    public var method: InterpolationMethod

    public init(target: String, frame: Int, frames: Int, method: InterpolationMethod = .slerp) {
        self.target = target
        self.frame = frame
        self.frames = frames
        self.method = method
    }

    /// The position in [0, 1]: `frame / (frames − 1)`.
    public var t: Double { RenderLimits.interpolationPosition(frame: frame, of: frames) }
}

/// How an interpolation blends the two prompts' embeddings.
public enum InterpolationMethod: String, Sendable, Hashable, Codable, CaseIterable {
    /// Spherical (the default).
    case slerp
    /// Linear.
    case lerp
}
