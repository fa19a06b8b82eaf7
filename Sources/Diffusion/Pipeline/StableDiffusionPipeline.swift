import Foundation
public import Imaging
public import Logging
public import Tensor

/// Text-to-image as diffusers' `StableDiffusionPipeline` (0.3x) does it, on the CPU.
///
/// Order of work and random draws matches diffusers so the same seed gives the same image:
/// tokenize → encode `[negative, prompt]` (unconditional first) → `randn([1, C, H/f, W/f])` from a
/// torch-compatible generator × `init_noise_sigma` → per step: CFG batch of 2 through the UNet,
/// `ε = ε_u + g·(ε_c − ε_u)`, scheduler step (ancestral noise from the same generator) → decode
/// `latents / scaling_factor` → `round(clamp(x/2 + 0.5) · 255)`.
public final class StableDiffusionPipeline: @unchecked Sendable {
    public let model: StableDiffusionModel
    let logger: Logger
    private var embeddingCache: [String: Tensor] = [:]
    private var cacheOrder: [String] = []
    private let cacheLock = NSLock()
    /// How many prompt embeddings to keep (workers render grids that reuse prompts).
    public var embeddingCacheSize = 64

    public init(model: StableDiffusionModel, logger: Logger = Logger(label: "sdfarm.pipeline")) {
        self.model = model
        self.logger = logger
    }

    /// The text encoder's `last_hidden_state` for `text`, [1, 77, D], cached by text.
    public func encode(_ text: String) throws -> Tensor {
        cacheLock.lock()
        if let hit = embeddingCache[text] { cacheLock.unlock(); return hit }
        cacheLock.unlock()
        let tokens = model.tokenizer.tokenize(text, maxLength: model.textEncoder.config.maxPositions)
        if tokens.truncatedTokens > 0 {
            logger.warning("prompt is longer than the text encoder's \(model.textEncoder.config.maxPositions) tokens; the end was dropped",
                           metadata: ["dropped.tokens": "\(tokens.truncatedTokens)", "prompt": "\(text.prefix(80))"])
        }
        let embedding = try model.textEncoder([tokens.ids])
        cacheLock.lock()
        embeddingCache[text] = embedding
        cacheOrder.append(text)
        if cacheOrder.count > embeddingCacheSize { embeddingCache[cacheOrder.removeFirst()] = nil }
        cacheLock.unlock()
        return embedding
    }

    /// Runs the denoising loop and returns the final latents [1, C, H/f, W/f].
    ///
    /// - Parameters:
    ///   - conditioning: overrides the prompt's embedding (prompt interpolation), [1, 77, D].
    ///   - progress: called after every step with (step, total); return false to cancel.
    public func denoise(_ request: RenderRequest, conditioning: Tensor? = nil,
                        progress: (Int, Int) -> Bool = { _, _ in true }) throws -> Tensor {
        try request.validate(vaeFactor: model.vaeFactor, trainTimesteps: model.schedulerConfig.numTrainTimesteps)
        let cond = try conditioning ?? encode(request.prompt)
        let useCFG = request.cfgScale > 1
        let context = useCFG ? Tensor.concatenate([try encode(request.negativePrompt), cond]) : cond
        var scheduler = try makeScheduler(request.sampler, config: model.schedulerConfig, steps: request.steps)
        var generator = TorchGenerator(seed: request.seed)
        let f = model.vaeFactor
        var latents = generator.randn([1, model.unet.config.inChannels, request.height / f, request.width / f])
        if scheduler.initNoiseSigma != 1 { latents = latents * scheduler.initNoiseSigma }
        let total = scheduler.timesteps.count
        for (i, t) in scheduler.timesteps.enumerated() {
            let scaled = scheduler.scaleModelInput(latents, stepIndex: i)
            let input = useCFG ? Tensor.concatenate([scaled, scaled]) : scaled
            let predicted = model.unet(input, timestep: t, context: context)
            let eps = useCFG ? Self.guidance(predicted, scale: request.cfgScale) : predicted
            latents = scheduler.step(modelOutput: eps, stepIndex: i, sample: latents, generator: &generator)
            if !progress(i + 1, total) { throw RenderCancelled(step: i + 1) }
        }
        return latents
    }

    /// ε_u + g·(ε_c − ε_u) from a batch [ε_u; ε_c].
    static func guidance(_ both: Tensor, scale: Float) -> Tensor {
        let half = both.count / 2
        var shape = both.shape
        shape[0] /= 2
        return Tensor(shape: shape) { out in
            both.withUnsafeBufferPointer { p in
                for i in 0..<half { let u = p[i], c = p[half + i]; out[i] = u + scale * (c - u) }
            }
        }
    }

    /// Decodes latents to an 8-bit image exactly as diffusers post-processes (float32, round half to even).
    public func decode(_ latents: Tensor) -> RGBImage {
        let z = latents * (1 / model.vae.config.scalingFactor)
        let pixels = model.vae.decode(z)
        return Self.toImage(pixels)
    }

    /// [1, 3, H, W] in [−1, 1] → RGBImage.
    public static func toImage(_ x: Tensor) -> RGBImage {
        let h = x.shape[2], w = x.shape[3]
        var bytes = [UInt8](repeating: 0, count: w * h * 3)
        x.withUnsafeBufferPointer { p in
            for c in 0..<3 { for i in 0..<(h * w) {
                let v = min(max(p[c * h * w + i] / 2 + 0.5, 0), 1)
                bytes[i * 3 + c] = UInt8((v * 255).rounded(.toNearestOrEven))
            } }
        }
        return RGBImage(width: w, height: h, pixels: bytes)
    }

    /// The A1111 `parameters` text for a request rendered with this model.
    public func parameters(for request: RenderRequest) -> GenerationParameters {
        GenerationParameters(prompt: request.prompt, negativePrompt: request.negativePrompt, steps: request.steps,
                             sampler: request.sampler, cfgScale: request.cfgScale, seed: request.seed,
                             width: request.width, height: request.height, modelHash: model.hash, modelName: model.name)
    }

    /// Renders a request to PNG bytes with its parameters embedded.
    public func renderPNG(_ request: RenderRequest, progress: (Int, Int) -> Bool = { _, _ in true }) throws -> [UInt8] {
        let image = decode(try denoise(request, progress: progress))
        return try PNGCodec.encode(image, text: [.init(key: "parameters", value: parameters(for: request).a1111Text)])
    }
}
