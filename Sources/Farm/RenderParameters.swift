/// Everything a worker needs to render one job. Stored column by column in the `jobs` table.
///
/// `kind` is `txt2img` (empty `extra`), `img2img` (`extra`: `init_image` relative to the storage root,
/// `init_image_sha256`, `strength`) or `interpolate` (`extra`: `prompt_b`, `frame`, `frames`, `t`,
/// `interpolation` = `slerp` or `lerp`); see `GridSpec`.
public struct RenderParameters: Sendable, Codable, Equatable, Hashable {
    public var kind: String
    public var model: String
    public var prompt: String
    public var negativePrompt: String
    public var seed: UInt64
    public var steps: Int
    public var sampler: String
    public var cfgScale: Double
    public var width: Int
    public var height: Int
    /// Kind-specific values, as text.
    public var extra: [String: String]

    public init(kind: String = "txt2img", model: String, prompt: String, negativePrompt: String = "", seed: UInt64,
                steps: Int, sampler: String, cfgScale: Double, width: Int, height: Int, extra: [String: String] = [:]) {
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
        self.extra = extra
    }

    enum CodingKeys: String, CodingKey {
        case kind, model, prompt, seed, steps, sampler, width, height, extra
        case negativePrompt = "negative_prompt"
        case cfgScale = "cfg_scale"
    }

    /// `512x768`.
    public var sizeDescription: String { "\(width)x\(height)" }
}
