import Diffusion
import Farm
import Foundation
import Logging

/// Renders farm jobs with the Stable Diffusion engine, keeping loaded models (and their prompt
/// embedding caches) in memory between jobs. Image-to-image inputs are read from the shared storage
/// root and checked against the SHA-256 recorded at submission.
final class DiffusionJobRenderer: JobRenderer {
    private var pipelines: [String: StableDiffusionPipeline] = [:]
    private var order: [String] = []
    /// How many models stay loaded at once (each SD 1.5 model is about 4 GB in fp32).
    let maxLoadedModels: Int
    /// The shared storage root that relative init-image paths start from.
    let storage: String
    let logger: Logger

    init(storage: String, maxLoadedModels: Int = 1, logger: Logger) {
        self.storage = storage
        self.maxLoadedModels = max(1, maxLoadedModels)
        self.logger = logger
    }

    func pipeline(for path: String) throws -> StableDiffusionPipeline {
        if let hit = pipelines[path] {
            order.removeAll { $0 == path }
            order.append(path)
            return hit
        }
        while pipelines.count >= maxLoadedModels, let oldest = order.first {
            pipelines[oldest] = nil
            order.removeFirst()
        }
        let model: StableDiffusionModel
        do {
            model = try StableDiffusionModel.load(path: path, logger: logger)
        } catch {
            // A model that does not load will not load on retry either.
            throw PermanentRenderError("model \(path) cannot be loaded: \(error)")
        }
        let pipeline = StableDiffusionPipeline(model: model, logger: logger)
        pipelines[path] = pipeline
        order.append(path)
        return pipeline
    }

    /// The engine request for a job.
    /// - Throws: `PermanentRenderError` for parameters no retry can fix; other errors (an init image
    ///   that shared storage cannot deliver right now) are retried.
    func request(for p: RenderParameters) throws -> RenderRequest {
        guard let sampler = SamplerKind(rawValue: p.sampler) else {
            throw PermanentRenderError("unknown sampler '\(p.sampler)'")
        }
        var request = RenderRequest(prompt: p.prompt, negativePrompt: p.negativePrompt, seed: p.seed, steps: p.steps, sampler: sampler,
                                    cfgScale: Float(p.cfgScale), width: p.width, height: p.height)
        switch p.kind {
        case "txt2img":
            break
        case "img2img":
            guard let relative = p.extra["init_image"], let strength = p.extra["strength"].flatMap(Double.init) else {
                throw PermanentRenderError("image-to-image job without init_image/strength")
            }
            let path = relative.hasPrefix("/") ? relative : (storage as NSString).appendingPathComponent(relative)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw FarmError(.invalidInput, "init image \(path) cannot be read from shared storage (missing or unreadable)")
            }
            let bytes = [UInt8](data)
            if let expected = p.extra["init_image_sha256"], SHA256.hex(SHA256.hash(bytes)) != expected {
                throw PermanentRenderError("init image \(path) changed since submission (SHA-256 differs from \(expected))")
            }
            do { request.initImage = try InitImage.decode(bytes, path: path, strength: strength) } catch {
                throw PermanentRenderError("\(error)")
            }
        case "interpolate":
            guard let target = p.extra["prompt_b"], let t = p.extra["t"].flatMap(Double.init) else {
                throw PermanentRenderError("interpolation job without prompt_b/t")
            }
            request.interpolation = PromptInterpolation(target: target, t: t, linear: p.extra["interpolation"] == "lerp")
        default:
            throw PermanentRenderError("job kind '\(p.kind)' is not supported by this worker version")
        }
        return request
    }

    func render(_ parameters: RenderParameters, progress: (Int, Int) -> Bool) throws -> [UInt8] {
        let request = try request(for: parameters)
        let pipeline = try pipeline(for: parameters.model)
        do {
            try request.validate(vaeFactor: pipeline.model.vaeFactor, trainTimesteps: pipeline.model.schedulerConfig.numTrainTimesteps)
        } catch {
            throw PermanentRenderError("\(error)")
        }
        if request.initImage != nil, !pipeline.model.vae.hasEncoder {
            // The same model file will lack the encoder on every worker and every retry.
            throw PermanentRenderError("model \(parameters.model) has no VAE encoder weights, so it cannot run image-to-image jobs")
        }
        do {
            return try pipeline.renderPNG(request, progress: progress)
        } catch is Diffusion.RenderCancelled {
            throw Farm.RenderCancelled()
        }
    }
}
