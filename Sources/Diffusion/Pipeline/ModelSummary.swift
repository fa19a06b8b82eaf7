import Foundation

/// What submit-time validation needs to know about a model, read from its configs or tensor header
/// without loading any weights.
public struct ModelSummary: Sendable, Equatable {
    public let name: String
    /// Pixels per latent cell (width and height must be multiples of it).
    public let vaeFactor: Int
    public let defaultWidth: Int
    public let defaultHeight: Int
    /// The scheduler config renders start from (SD 1.5's when the model has none).
    public var schedulerConfig: SchedulerConfig = .stableDiffusion15

    /// Inspects a diffusers folder or a single `.safetensors` checkpoint.
    ///
    /// - Throws: `ModelError` or `SafeTensorsError` naming the missing or unreadable part.
    public static func inspect(path: String) throws -> ModelSummary {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelError(code: .missingFile, origin: path, message: "model path does not exist; pass a diffusers folder or a .safetensors checkpoint")
        }
        if isDir.boolValue {
            func sub(_ s: String) -> String { (path as NSString).appendingPathComponent(s) }
            let unet = try UNetConfig(ConfigFile(path: sub("unet/config.json")))
            let vae = try VAEConfig(ConfigFile(path: sub("vae/config.json")))
            _ = try CLIPTextConfig(ConfigFile(path: sub("text_encoder/config.json")))
            let tokenizer = sub("tokenizer")
            guard FileManager.default.fileExists(atPath: tokenizer + "/tokenizer.json")
                    || FileManager.default.fileExists(atPath: tokenizer + "/vocab.json") else {
                throw ModelError(code: .missingFile, origin: tokenizer, message: "no tokenizer (vocab.json + merges.txt or tokenizer.json)")
            }
            let size = unet.sampleSize * vae.downsampleFactor
            var summary = ModelSummary(name: URL(fileURLWithPath: path).standardized.lastPathComponent, vaeFactor: vae.downsampleFactor,
                                       defaultWidth: size, defaultHeight: size)
            let scheduler = sub("scheduler/scheduler_config.json")
            if FileManager.default.fileExists(atPath: scheduler) { summary.schedulerConfig = try SchedulerConfig.load(path: scheduler) }
            return summary
        }
        let file = try SafeTensorsFile(path: path)
        let checkpoint = try SingleFileCheckpoint(source: file, names: file.names)
        let size = checkpoint.unetConfig.sampleSize * checkpoint.vaeConfig.downsampleFactor
        return ModelSummary(name: URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent,
                            vaeFactor: checkpoint.vaeConfig.downsampleFactor, defaultWidth: size, defaultHeight: size,
                            schedulerConfig: checkpoint.isOpenCLIP ? .stableDiffusion21 : .stableDiffusion15)
    }
}
