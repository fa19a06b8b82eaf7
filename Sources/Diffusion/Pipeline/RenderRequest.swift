/// Everything that determines one text-to-image render.
public struct RenderRequest: Sendable, Equatable {
    public var prompt: String
    public var negativePrompt: String
    public var seed: UInt64
    public var steps: Int
    public var sampler: SamplerKind
    public var cfgScale: Float
    public var width: Int
    public var height: Int

    public init(prompt: String, negativePrompt: String = "", seed: UInt64, steps: Int, sampler: SamplerKind,
                cfgScale: Float, width: Int, height: Int) {
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.seed = seed
        self.steps = steps
        self.sampler = sampler
        self.cfgScale = cfgScale
        self.width = width
        self.height = height
    }

    /// Checks the parameters against a model's constraints.
    ///
    /// - Throws: `ModelError` with code `.badParameter` naming the value and what is allowed.
    public func validate(vaeFactor: Int, trainTimesteps: Int = 1000) throws {
        func bad(_ m: String) -> ModelError { ModelError(code: .badParameter, origin: "render", message: m) }
        for (label, v) in [("width", width), ("height", height)] {
            guard v > 0 else { throw bad("\(label) must be positive, got \(v)") }
            guard v % vaeFactor == 0 else { throw bad("\(label) \(v) is not a multiple of \(vaeFactor) (the VAE's downsampling factor); try \(max(vaeFactor, v / vaeFactor * vaeFactor))") }
            guard v <= 4096 else { throw bad("\(label) \(v) is too large (at most 4096)") }
        }
        guard steps >= 1, steps <= trainTimesteps else { throw bad("steps must be between 1 and \(trainTimesteps), got \(steps)") }
        guard cfgScale.isFinite else { throw bad("CFG scale must be a finite number, got \(cfgScale)") }
    }
}
