import Foundation
import Synchronization
public import Imaging
public import Logging
public import RenderFormat
public import Tensor

/// Text-to-image as diffusers' `StableDiffusionPipeline` (0.3x) does it, image-to-image as
/// `StableDiffusionImg2ImgPipeline`, and prompt-interpolation frames, on the CPU.
///
/// Order of work and random draws matches diffusers so the same seed gives the same image:
/// tokenize → encode `[negative, prompt]` (unconditional first) → `randn([1, C, H/f, W/f])` from a
/// torch-compatible generator × `init_noise_sigma` → per step: CFG batch of 2 through the UNet,
/// `ε = ε_u + g·(ε_c − ε_u)`, scheduler step (ancestral noise from the same generator) → decode
/// `latents / scaling_factor` → `round(clamp(x/2 + 0.5) · 255)`. Image-to-image replaces the initial
/// noise: VAE-encode the picture, sample the latent (`randn`), scale, `randn` noise, `add_noise` at the
/// first step that `strength` leaves, then run the remaining steps.
public final class StableDiffusionPipeline: Sendable {
    public let model: StableDiffusionModel
    let logger: Logger
    /// Prompt embeddings by text, oldest first in `order`.
    private struct EmbeddingCache {
        var embeddings: [String: Tensor] = [:]
        var order: [String] = []
    }
    private let embeddingCache = Mutex(EmbeddingCache())
    /// How many prompt embeddings to keep (workers render grids that reuse prompts).
    public let embeddingCacheSize: Int
    /// The pipeline of the model as loaded, for a pipeline with LoRAs merged (nil: this is it).
    private let base: StableDiffusionPipeline?
    /// Pipelines with LoRA sets merged, by set, most recently used last; and the parsed LoRA files by path.
    private struct LoRACache {
        var pipelines: [(key: [LoRAReference], pipeline: StableDiffusionPipeline)] = []
        var files: [String: LoRAFile] = [:]
    }
    private let loraCache = Mutex(LoRACache())
    /// How many LoRA sets stay merged at once (each holds its own UNet and text encoder).
    public static let loraSetsKept = 3

    /// - Parameter embeddingCacheSize: how many prompt embeddings `encode` keeps.
    public init(model: StableDiffusionModel, logger: Logger = Logger(label: "sdfarm.pipeline"), embeddingCacheSize: Int = 64) {
        self.model = model
        self.logger = logger
        self.embeddingCacheSize = embeddingCacheSize
        self.base = nil
    }

    private init(derivedFrom base: StableDiffusionPipeline, model: StableDiffusionModel) {
        self.model = model
        self.logger = base.logger
        self.embeddingCacheSize = base.embeddingCacheSize
        self.base = base
    }

    /// This model with `loras` merged (the pipeline itself for none), merged once per set and kept for the next
    /// `loraSetsKept` sets; the base weights are shared, never read again.
    /// - Throws: `ModelError` when a LoRA file is missing, unreadable, or for another architecture.
    public func withLoRAs(_ loras: [LoRAReference]) throws -> StableDiffusionPipeline {
        let root = base ?? self
        if loras.isEmpty { return root }
        if let hit = root.loraCache.withLock({ cache -> StableDiffusionPipeline? in
            guard let i = cache.pipelines.firstIndex(where: { $0.key == loras }) else { return nil }
            let entry = cache.pipelines.remove(at: i)
            cache.pipelines.append(entry)
            return entry.pipeline
        }) { return hit }
        let files = try loras.map { ref -> (file: LoRAFile, weight: Float) in
            if let file = root.loraCache.withLock({ $0.files[ref.path] }) { return (file, Float(ref.weight)) }
            guard FileManager.default.fileExists(atPath: ref.path) else {
                throw ModelError(code: .missingFile, origin: ref.path, message: "LoRA file \(ref.path) does not exist")
            }
            let file = try LoRAFile(path: ref.path)
            root.loraCache.withLock { $0.files[ref.path] = file }
            return (file, Float(ref.weight))
        }
        let started = Date()
        let derived = StableDiffusionPipeline(derivedFrom: root, model: try root.model.applying(loras: files))
        logger.info("merged LoRAs", metadata: ["loras": "\(loras.map { "\($0.name):\($0.weight)" })",
                                               "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))"])
        root.loraCache.withLock { cache in
            cache.pipelines.append((loras, derived))
            if cache.pipelines.count > Self.loraSetsKept { cache.pipelines.removeFirst() }
        }
        return derived
    }

    /// The pipeline a request renders with: this one, or the one with the request's LoRAs merged.
    func pipeline(for request: RenderRequest) throws -> StableDiffusionPipeline {
        let current = model.loras.map { LoRAReference(path: $0.file.path, weight: Double($0.weight)) }
        return current == request.loras ? self : try withLoRAs(request.loras)
    }

    /// The conditioning for `text`, cached by text and syntax: with `.diffusers` the text encoder's
    /// `last_hidden_state` [1, 77, D] of the text truncated to 77 tokens; with `.a1111` the A1111 chunks
    /// ([1, 77·k, D], see `encodeA1111`).
    /// - Throws: `RenderFormatError` for an A1111 weight that is not a number.
    public func encode(_ text: String, syntax: PromptSyntax = .diffusers) throws -> Tensor {
        let key = syntax == .diffusers ? text : "\(syntax.rawValue)\u{0}\(text)"
        if let hit = embeddingCache.withLock({ $0.embeddings[key] }) { return hit }
        let embedding: Tensor
        switch syntax {
        case .diffusers:
            let tokens = model.tokenizer.tokenize(text, maxLength: model.textEncoder.config.maxPositions)
            if tokens.truncatedTokens > 0 {
                logger.warning("prompt is longer than the text encoder's \(model.textEncoder.config.maxPositions) tokens; the end was dropped",
                               metadata: ["dropped.tokens": "\(tokens.truncatedTokens)", "prompt": "\(text.prefix(80))"])
            }
            embedding = try model.textEncoder([tokens.ids])
        case .a1111:
            embedding = try encodeA1111(PromptChunks(try A1111PromptParser.parse(text), tokenizer: model.tokenizer,
                                                     chunkLength: model.textEncoder.config.maxPositions - 2))
        }
        let limit = embeddingCacheSize
        embeddingCache.withLock { cache in
            cache.embeddings[key] = embedding
            cache.order.append(key)
            if cache.order.count > limit { cache.embeddings[cache.order.removeFirst()] = nil }
        }
        return embedding
    }

    /// A1111's conditioning for prompt chunks: each chunk encoded on its own, its hidden states multiplied by
    /// the token weights and rescaled so their mean is the unweighted mean (emphasis "Original",
    /// stable-diffusion-webui `modules/sd_emphasis.py` `EmphasisOriginal`), the chunks concatenated along the
    /// tokens: [1, 77·k, D].
    public func encodeA1111(_ chunks: PromptChunks) throws -> Tensor {
        let z = try model.textEncoder(chunks.tokens)
        let n = z.dim(1), d = z.dim(2)
        return Tensor(shape: [1, chunks.tokens.count * n, d]) { out in
            z.withUnsafeBufferPointer { src in
                for (c, weights) in chunks.multipliers.enumerated() {
                    let base = c * n * d
                    var before = 0.0, after = 0.0
                    for p in 0..<n {
                        let w = weights[p]
                        for i in 0..<d {
                            let v = src[base + p * d + i]
                            before += Double(v)
                            let weighted = v * w
                            out[base + p * d + i] = weighted
                            after += Double(weighted)
                        }
                    }
                    let count = Double(n * d)
                    let scale = Float(before / count) / Float(after / count)
                    for i in base..<(base + n * d) { out[i] *= scale }
                }
            }
        }
    }

    /// The conditioning a request renders with: the prompt's embedding, or for an interpolation frame
    /// the interpolation between the prompt's and the target's embeddings.
    /// - Throws: `ModelError.badParameter` when an interpolation's two A1111 prompts have different chunk counts.
    public func conditioning(for request: RenderRequest) throws -> Tensor {
        // A1111 removes <lora:…> tags (resolved into request.loras) before encoding.
        let a = try encode(PromptLoRATags.strip(request.prompt), syntax: request.promptSyntax)
        guard let frame = request.interpolation else { return a }
        let b = try encode(PromptLoRATags.strip(frame.target), syntax: request.promptSyntax)
        guard a.shape == b.shape else {
            throw ModelError(code: .badParameter, origin: "interpolation",
                             message: "the prompt is \(a.dim(1) / 77) chunks of 75 tokens and the target \(b.dim(1) / 77); interpolation needs the same count (shorten one, or add BREAK to the shorter)")
        }
        return EmbeddingInterpolation.interpolate(a, b, t: frame.t, linear: frame.linear)
    }

    /// Image-to-image start: the init image encoded by the VAE (latent sampled from `generator`), scaled,
    /// and noised (noise from `generator`) to the level of step `firstStep` — the order of draws of
    /// diffusers' `StableDiffusionImg2ImgPipeline.prepare_latents`.
    func initialLatents(_ initImage: InitImage, scheduler: any Scheduler, firstStep: Int,
                        generator: inout TorchGenerator) throws -> Tensor {
        let pixels = Self.toTensor(initImage.image)
        let (mean, logvar) = try model.vae.encode(pixels)
        let epsilon = generator.randn(mean.shape)
        let sample = Tensor(shape: mean.shape) { out in
            mean.withUnsafeBufferPointer { m in logvar.withUnsafeBufferPointer { l in epsilon.withUnsafeBufferPointer { e in
                for i in 0..<out.count { out[i] = m[i] + expf(0.5 * l[i]) * e[i] }
            } } }
        }
        let scaled = sample * model.vae.config.scalingFactor
        let noise = generator.randn(scaled.shape)
        return scheduler.addNoise(scaled, noise: noise, stepIndex: firstStep)
    }

    /// The latents the denoising loop starts from and the index of its first step: Gaussian noise ×
    /// `init_noise_sigma` from step 0, or for image-to-image the noised encoding from the step `strength` leaves.
    public func startingLatents(_ request: RenderRequest) throws -> (latents: Tensor, firstStep: Int) {
        try request.validate(vaeFactor: model.vaeFactor, trainTimesteps: model.schedulerConfig.numTrainTimesteps)
        let scheduler = try makeScheduler(request.sampler, config: model.schedulerConfig, steps: request.steps)
        var generator = TorchGenerator(seed: request.seed)
        return try startingLatents(request, scheduler: scheduler, generator: &generator)
    }

    func startingLatents(_ request: RenderRequest, scheduler: any Scheduler,
                         generator: inout TorchGenerator) throws -> (latents: Tensor, firstStep: Int) {
        if let initImage = request.initImage {
            let first = InitImage.firstStep(steps: request.steps, strength: initImage.strength)
            return (try initialLatents(initImage, scheduler: scheduler, firstStep: first, generator: &generator), first)
        }
        let f = model.vaeFactor
        let noise = generator.randn([1, model.unet.config.inChannels, request.height / f, request.width / f])
        return (scheduler.initNoiseSigma != 1 ? noise * scheduler.initNoiseSigma : noise, 0)
    }

    /// Runs the denoising loop and returns the final latents [1, C, H/f, W/f].
    ///
    /// - Parameters:
    ///   - conditioning: overrides the request's conditioning ([1, 77, D]).
    ///   - progress: called after every step with (step, total); return false to cancel.
    public func denoise(_ request: RenderRequest, conditioning: Tensor? = nil,
                        progress: (Int, Int) -> Bool = { _, _ in true }) throws -> Tensor {
        let chosen = try pipeline(for: request)
        if chosen !== self { return try chosen.denoise(request, conditioning: conditioning, progress: progress) }
        try request.validate(vaeFactor: model.vaeFactor, trainTimesteps: model.schedulerConfig.numTrainTimesteps)
        let cond = try conditioning ?? self.conditioning(for: request)
        // An LCM-distilled UNet (time_cond_proj_dim) takes the scale as an embedding of (scale − 1) instead of
        // classifier-free guidance, as StableDiffusionPipeline does (do_classifier_free_guidance is false then).
        let guidanceEmbedding = model.unet.config.timeCondProjDim.map {
            UNet2DConditionModel.guidanceScaleEmbedding(request.cfgScale - 1, dim: $0, batch: 1)
        }
        let useCFG = request.cfgScale > 1 && guidanceEmbedding == nil
        let negative = useCFG ? try encode(request.negativePrompt, syntax: request.promptSyntax) : cond
        // Equal lengths go through the UNet as one batch [uncond; cond]; A1111 prompts of different chunk counts
        // as two calls, as A1111 does without its pad_cond_uncond option.
        let batched = useCFG && negative.shape == cond.shape
        let context = batched ? Tensor.concatenate([negative, cond]) : cond
        var scheduler = try makeScheduler(request.sampler, config: model.schedulerConfig, steps: request.steps)
        var generator = TorchGenerator(seed: request.seed)
        var (latents, first) = try startingLatents(request, scheduler: scheduler, generator: &generator)
        let timesteps = scheduler.timesteps
        let total = timesteps.count - first
        for i in first..<timesteps.count {
            let scaled = scheduler.scaleModelInput(latents, stepIndex: i)
            let predicted: Tensor
            if batched {
                predicted = model.unet(Tensor.concatenate([scaled, scaled]), timestep: timesteps[i], context: context)
            } else if useCFG {
                predicted = Tensor.concatenate([model.unet(scaled, timestep: timesteps[i], context: negative),
                                                model.unet(scaled, timestep: timesteps[i], context: cond)])
            } else {
                predicted = model.unet(scaled, timestep: timesteps[i], context: cond, timestepCond: guidanceEmbedding)
            }
            let eps = useCFG ? Self.guidance(predicted, scale: request.cfgScale) : predicted
            latents = scheduler.step(modelOutput: eps, stepIndex: i, sample: latents, generator: &generator)
            if !progress(i - first + 1, total) { throw RenderCancelled(step: i - first + 1) }
        }
        return latents
    }

    /// An 8-bit image as the VAE's input [1, 3, H, W] in [−1, 1]: `2·(v/255) − 1` in float32, as
    /// diffusers' `VaeImageProcessor` computes it.
    public static func toTensor(_ image: RGBImage) -> Tensor {
        let h = image.height, w = image.width
        return Tensor(shape: [1, 3, h, w]) { out in
            image.pixels.withUnsafeBufferPointer { p in
                for c in 0..<3 { for i in 0..<(h * w) {
                    let v = Float(p[i * 3 + c]) / 255
                    out[c * h * w + i] = 2 * v - 1
                } }
            }
        }
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
                let x = p[c * h * w + i] / 2 + 0.5
                let v = x.isNaN ? 0 : min(max(x, 0), 1)
                bytes[i * 3 + c] = UInt8((v * 255).rounded(.toNearestOrEven))
            } }
        }
        return RGBImage(width: w, height: h, pixels: bytes)
    }

    /// The A1111 `parameters` text for a request rendered with this model.
    /// Image-to-image adds `Denoising strength`; an interpolation frame adds `Interpolate to`,
    /// `Interpolation t` and `Interpolation` (`slerp` or `lerp`).
    public func parameters(for request: RenderRequest) -> GenerationParameters {
        var extra: [(String, String)] = []
        if let initImage = request.initImage { extra.append(("Denoising strength", String(initImage.strength))) }
        if let frame = request.interpolation {
            extra.append(("Interpolate to", frame.target))
            extra.append(("Interpolation t", String(frame.t)))
            extra.append(("Interpolation", frame.linear ? "lerp" : "slerp"))
        }
        if !request.loras.isEmpty {
            // A1111 (extensions-builtin/Lora): "Lora hashes" lists each LoRA's name (":" and "," removed) and short hash.
            let hashes = request.loras.map { ref -> String in
                let root = base ?? self
                let hash = root.loraCache.withLock { $0.files[ref.path]?.shortHash }
                    ?? (try? LoRAFile.tensorDataHash(path: ref.path)).map { String($0.prefix(12)) } ?? "unknown"
                return "\(ref.name.replacingOccurrences(of: ":", with: "").replacingOccurrences(of: ",", with: "")): \(hash)"
            }
            extra.append(("Lora hashes", hashes.joined(separator: ", ")))
        }
        return GenerationParameters(prompt: request.prompt, negativePrompt: request.negativePrompt, steps: request.steps,
                                    sampler: request.sampler, cfgScale: request.cfgScale, seed: request.seed,
                                    width: request.width, height: request.height, modelHash: model.hash, modelName: model.name,
                                    extra: extra)
    }

    /// Renders a request to PNG bytes with its parameters embedded.
    /// - Throws: `ModelError.nonFinite` when the latents hold NaN or infinity (never a PNG of garbage).
    public func renderPNG(_ request: RenderRequest, progress: (Int, Int) -> Bool = { _, _ in true }) throws -> [UInt8] {
        let latents = try denoise(request, progress: progress)
        guard latents.isFinite else {
            throw ModelError(code: .nonFinite, origin: "render",
                             message: "the denoised latents hold NaN or infinity (CFG scale \(request.cfgScale), \(request.steps) steps); lower the CFG scale or check the model's weights")
        }
        let image = decode(latents)
        return try PNGCodec.encode(image, text: [.init(key: "parameters", value: parameters(for: request).a1111Text)])
    }
}
