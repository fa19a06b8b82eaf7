import Diffusion
import Farm
import Foundation
import Logging

/// Renders farm jobs with the Stable Diffusion engine, keeping loaded models (and their prompt
/// embedding caches) in memory between jobs.
final class DiffusionJobRenderer: JobRenderer {
    private var pipelines: [String: StableDiffusionPipeline] = [:]
    private var order: [String] = []
    /// How many models stay loaded at once (each SD 1.5 model is about 4 GB in fp32).
    let maxLoadedModels: Int
    let logger: Logger

    init(maxLoadedModels: Int = 1, logger: Logger) {
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

    func render(_ parameters: RenderParameters, progress: (Int, Int) -> Bool) throws -> [UInt8] {
        guard parameters.kind == "txt2img" else {
            throw PermanentRenderError("job kind '\(parameters.kind)' is not supported by this worker version")
        }
        guard let sampler = SamplerKind(rawValue: parameters.sampler) else {
            throw PermanentRenderError("unknown sampler '\(parameters.sampler)'")
        }
        let pipeline = try pipeline(for: parameters.model)
        let request = RenderRequest(prompt: parameters.prompt, negativePrompt: parameters.negativePrompt, seed: parameters.seed,
                                    steps: parameters.steps, sampler: sampler, cfgScale: Float(parameters.cfgScale),
                                    width: parameters.width, height: parameters.height)
        do {
            try request.validate(vaeFactor: pipeline.model.vaeFactor, trainTimesteps: pipeline.model.schedulerConfig.numTrainTimesteps)
        } catch {
            throw PermanentRenderError("\(error)")
        }
        do {
            return try pipeline.renderPNG(request, progress: progress)
        } catch is Diffusion.RenderCancelled {
            throw Farm.RenderCancelled()
        }
    }
}
