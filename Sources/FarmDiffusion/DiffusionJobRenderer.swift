public import Diffusion
public import Farm
import Foundation
public import Imaging
public import Logging
import RenderFormat

/// Renders farm jobs with the Stable Diffusion engine, keeping loaded models (and their prompt
/// embedding caches) in memory between jobs. Image-to-image inputs are read from the shared storage
/// root at their content address and checked against it.
public final class DiffusionJobRenderer: JobRenderer {
    private var pipelines: [String: StableDiffusionPipeline] = [:]
    private var order: [String] = []
    /// How many models stay loaded at once (each SD 1.5 model is about 4 GB in fp32).
    public let maxLoadedModels: Int
    /// The shared storage root that init-image content addresses start from.
    public let storage: String
    /// Where this worker finds the LoRAs that prompts name with `<lora:name:weight>`.
    public let loraDirectory: String?
    let logger: Logger
    /// Told the model path and seconds after each model load (the worker's `sdfarm_model_load_seconds`).
    public var onModelLoad: ((String, Double) -> Void)?

    public init(storage: String, maxLoadedModels: Int = 1, loraDirectory: String? = nil, logger: Logger) {
        self.storage = storage
        self.loraDirectory = loraDirectory
        self.maxLoadedModels = max(1, maxLoadedModels)
        self.logger = logger
    }

    /// The pipeline for the model at `path`, loading it (and evicting the least recently used) when needed.
    /// - Throws: `PermanentRenderError` when the model does not load.
    public func pipeline(for path: String) throws -> StableDiffusionPipeline {
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
        let loadStarted = ContinuousClock.now
        do {
            model = try StableDiffusionModel.load(path: path, logger: logger)
            let took = ContinuousClock.now - loadStarted
            onModelLoad?(path, Double(took.components.seconds) + Double(took.components.attoseconds) * 1e-18)
        } catch {
            // Submission checked the model's files where it was submitted: a file missing here is this host's fault.
            if !FileManager.default.fileExists(atPath: path) || (error as? ModelError)?.code == .missingFile {
                throw WorkerFault("cannot load model on this host: \(path): \(error)", underlying: error)
            }
            // A model that does not load will not load on retry either.
            throw PermanentRenderError("model \(path) cannot be loaded: \(error)", underlying: error)
        }
        let pipeline = StableDiffusionPipeline(model: model, logger: logger)
        pipelines[path] = pipeline
        order.append(path)
        return pipeline
    }

    /// The init image of an image-to-image job, read from `<storage>/inputs/<sha256>.png` and checked
    /// against its content address.
    /// - Throws: `FarmError(.io)` when shared storage cannot deliver it right now (retried);
    ///   `PermanentRenderError` when the bytes differ from the submission or are not a PNG.
    public func initImage(_ input: InitImageInput) throws -> RGBImage {
        let path = (storage as NSString).appendingPathComponent(input.storagePath)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FarmError(.io, "init image \(path) cannot be read from shared storage (missing or unreadable)")
        }
        let bytes = [UInt8](data)
        guard SHA256.hex(SHA256.hash(bytes)) == input.sha256 else {
            throw PermanentRenderError("init image \(path) changed since submission (SHA-256 differs from \(input.sha256))")
        }
        do { return try InitImage.decode(bytes, path: path, strength: 1).image } catch {
            throw PermanentRenderError("\(error)", underlying: error)
        }
    }

    /// Loads every model this worker serves, so a host that lacks one refuses to start.
    /// - Throws: `WorkerFault` (permanent) naming the model and the reason.
    public func prepare(models: [String]?) throws {
        for path in models ?? [] {
            do { _ = try pipeline(for: path) } catch let fault as WorkerFault {
                throw WorkerFault(fault.reason, permanent: true, underlying: fault.underlying)
            } catch {
                throw WorkerFault("model \(path) does not load: \(error)", permanent: true, underlying: error)
            }
        }
    }

    /// The engine request for a job, with its init image read from storage and its prompt's `<lora:…>` tags
    /// resolved in this worker's LoRA folder.
    /// - Throws: `WorkerFault` when a LoRA the job names is not on this host (another worker may have it).
    public func request(for job: RenderParameters) throws -> RenderRequest {
        var picture: RGBImage?
        if case .img2img(let input, _) = job.kind { picture = try initImage(input) }
        var request = RenderRequest(job: job, initImage: picture)
        do {
            request.loras += try PromptLoRATags.resolve(job.prompt, directory: loraDirectory)
        } catch let error as ModelError where error.code == .missingFile {
            throw WorkerFault("LoRA missing on this host: \(error)", underlying: error)
        }
        for lora in request.loras {
            // As with models, a job row never makes a worker open a file outside the folders it serves.
            guard let folder = loraDirectory.map({ URL(fileURLWithPath: $0).standardized.path + "/" }),
                  URL(fileURLWithPath: lora.path).standardized.path.hasPrefix(folder) else {
                throw WorkerFault("LoRA \(lora.path) is outside this worker's LoRA folder (\(loraDirectory ?? "none; start it with --lora-dir"))")
            }
            guard FileManager.default.fileExists(atPath: lora.path) else { throw WorkerFault("LoRA missing on this host: \(lora.path)") }
        }
        return request
    }

    public func render(_ job: RenderParameters, progress: (Int, Int) -> Bool) throws -> [UInt8] {
        let request = try request(for: job)
        let pipeline = try pipeline(for: job.model)
        do {
            try request.validate(vaeFactor: pipeline.model.vaeFactor, trainTimesteps: pipeline.model.schedulerConfig.numTrainTimesteps)
        } catch {
            throw PermanentRenderError("\(error)", underlying: error)
        }
        if request.initImage != nil, !pipeline.model.vae.hasEncoder {
            // The same model file will lack the encoder on every worker and every retry.
            throw PermanentRenderError("model \(job.model) has no VAE encoder weights, so it cannot run image-to-image jobs")
        }
        let merged: StableDiffusionPipeline
        do { merged = try pipeline.withLoRAs(request.loras) } catch let error as ModelError where error.code != .missingFile {
            // The same LoRA file will not fit this model on any worker or retry.
            throw PermanentRenderError("\(error)", underlying: error)
        } catch {
            throw WorkerFault("LoRA cannot be read on this host: \(error)", underlying: error)
        }
        do { return try merged.renderPNG(request, progress: progress) } catch let error as ModelError where error.code == .nonFinite {
            throw PermanentRenderError("\(error)", underlying: error)
        }
    }
}
