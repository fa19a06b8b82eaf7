import Foundation
public import Logging
import RenderFormat

/// Everything needed to render with one checkpoint: tokenizer, text encoder, UNet, VAE and scheduler
/// config, loaded from a diffusers folder or a single original-layout `.safetensors` file.
public final class StableDiffusionModel: Sendable {
    /// The path the user gave.
    public let path: String
    /// A short display name (folder or file name).
    public let name: String
    public let tokenizer: CLIPTokenizer
    public let textEncoder: CLIPTextModel
    public let unet: UNet2DConditionModel
    public let vae: AutoencoderKL
    public let schedulerConfig: SchedulerConfig
    /// A1111-style short hash of the weights (first 10 hex digits of SHA-256 of the UNet file or single file).
    public let hash: String
    /// The LoRAs merged into `unet` and `textEncoder` (none for a model as loaded).
    public let loras: [(file: LoRAFile, weight: Float)]
    /// The UNet's and text encoder's weights as loaded (memory-mapped) with their names, kept so that a LoRA set
    /// is merged without reading the model again.
    let unetWeights: (source: any WeightSource, names: [String])?
    let textWeights: (source: any WeightSource, names: [String])?

    /// Pixels per latent cell.
    public var vaeFactor: Int { vae.config.downsampleFactor }
    /// The model's own image size (UNet sample size × VAE factor).
    public var defaultSize: (width: Int, height: Int) { (unet.config.sampleSize * vaeFactor, unet.config.sampleSize * vaeFactor) }

    init(path: String, name: String, tokenizer: CLIPTokenizer, textEncoder: CLIPTextModel, unet: UNet2DConditionModel,
         vae: AutoencoderKL, schedulerConfig: SchedulerConfig, hash: String, loras: [(file: LoRAFile, weight: Float)] = [],
         unetWeights: (source: any WeightSource, names: [String])? = nil, textWeights: (source: any WeightSource, names: [String])? = nil) {
        self.path = path
        self.name = name
        self.tokenizer = tokenizer
        self.textEncoder = textEncoder
        self.unet = unet
        self.vae = vae
        self.schedulerConfig = schedulerConfig
        self.hash = hash
        self.loras = loras
        self.unetWeights = unetWeights
        self.textWeights = textWeights
    }

    /// This model with `loras` (file and weight each) merged into the UNet and the text encoder, as diffusers'
    /// `load_lora_weights` + `set_adapters(weights)` apply them (the weight scales both). The VAE, tokenizer and the
    /// loaded base weights are shared; nothing is read from the model's files again.
    /// - Throws: `ModelError` when a LoRA does not fit this model (another architecture).
    public func applying(loras: [(file: LoRAFile, weight: Float)]) throws -> StableDiffusionModel {
        guard let unetWeights, let textWeights else {
            throw ModelError(code: .unsupported, origin: path, message: "this model was not loaded from files, so LoRAs cannot be merged into it")
        }
        guard !loras.isEmpty else { return self }
        let unetDeltas = try LoRAMergedWeights.deltas(loras, component: .unet, base: unetWeights.source, names: unetWeights.names)
        let textDeltas = try LoRAMergedWeights.deltas(loras, component: .textEncoder, base: textWeights.source, names: textWeights.names)
        let mergedUNet = try UNet2DConditionModel(config: unet.config, weights: Weights(LoRAMergedWeights(base: unetWeights.source, deltas: unetDeltas)))
        let mergedText = try CLIPTextModel(config: textEncoder.config, weights: Weights(LoRAMergedWeights(base: textWeights.source, deltas: textDeltas)))
        return StableDiffusionModel(path: path, name: name, tokenizer: tokenizer, textEncoder: mergedText, unet: mergedUNet, vae: vae,
                                    schedulerConfig: schedulerConfig, hash: hash, loras: loras, unetWeights: unetWeights, textWeights: textWeights)
    }

    /// Folder with the CLIP vocabulary used for single-file checkpoints: `$SDFARM_CLIP_VOCAB`, else
    /// `weights/clip` next to the executable's package (searched upwards from the executable and the
    /// working directory).
    public static func clipVocabularyDirectory() -> String? {
        if let env = ProcessInfo.processInfo.environment["SDFARM_CLIP_VOCAB"], !env.isEmpty { return env }
        var starts = [FileManager.default.currentDirectoryPath]
        starts.append(URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent().path)
        for start in starts {
            var dir = URL(fileURLWithPath: start)
            for _ in 0..<6 {
                let candidate = dir.appendingPathComponent("weights/clip")
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("vocab.json").path) { return candidate.path }
                dir.deleteLastPathComponent()
            }
        }
        return nil
    }

    /// Loads a model from a diffusers folder or a single `.safetensors` checkpoint.
    ///
    /// - Throws: `ModelError`/`SafeTensorsError` naming the file and what is wrong (missing file,
    ///   pickle checkpoint, corrupt data, weights that do not fit the config).
    public static func load(path: String, logger: Logger = Logger(label: "sdfarm.model")) throws -> StableDiffusionModel {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelError(code: .missingFile, origin: path, message: "model path does not exist; pass a diffusers folder or a .safetensors checkpoint")
        }
        let start = Date()
        let model = isDir.boolValue ? try loadFolder(path) : try loadSingleFile(path)
        logger.info("loaded model", metadata: ["model": "\(model.name)", "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(start)))",
                                               "unet.levels": "\(model.unet.config.blockOutChannels)"])
        return model
    }

    static func weightFile(in dir: String, names: [String]) throws -> SafeTensorsFile {
        for n in names {
            let p = (dir as NSString).appendingPathComponent(n)
            if FileManager.default.fileExists(atPath: p) { return try SafeTensorsFile(path: p) }
        }
        let present = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        if let pickle = present.first(where: { $0.hasSuffix(".bin") || $0.hasSuffix(".ckpt") || $0.hasSuffix(".pt") }) {
            _ = try SafeTensorsFile(path: (dir as NSString).appendingPathComponent(pickle))  // throws the pickle explanation
        }
        throw ModelError(code: .missingFile, origin: dir, message: "no weights found (looked for \(names.joined(separator: ", ")))")
    }

    static func loadFolder(_ path: String) throws -> StableDiffusionModel {
        func sub(_ s: String) -> String { (path as NSString).appendingPathComponent(s) }
        let unetFile = try weightFile(in: sub("unet"), names: ["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"])
        let vaeFile = try weightFile(in: sub("vae"), names: ["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"])
        let textFile = try weightFile(in: sub("text_encoder"), names: ["model.safetensors", "model.fp16.safetensors"])
        let unetConfig = try UNetConfig(ConfigFile(path: sub("unet/config.json")))
        let vaeConfig = try VAEConfig(ConfigFile(path: sub("vae/config.json")))
        let textConfig = try CLIPTextConfig(ConfigFile(path: sub("text_encoder/config.json")))
        let schedulerPath = sub("scheduler/scheduler_config.json")
        let scheduler = FileManager.default.fileExists(atPath: schedulerPath) ? try SchedulerConfig.load(path: schedulerPath) : SchedulerConfig.stableDiffusion15
        let tokenizer = try CLIPTokenizer.load(directory: sub("tokenizer"))
        let hashing = ModelHashing(path: unetFile.path)
        return StableDiffusionModel(
            path: path, name: URL(fileURLWithPath: path).standardized.lastPathComponent, tokenizer: tokenizer,
            textEncoder: try CLIPTextModel(config: textConfig, weights: Weights(textFile)),
            unet: try UNet2DConditionModel(config: unetConfig, weights: Weights(unetFile)),
            vae: try AutoencoderKL(config: vaeConfig, weights: Weights(vaeFile)),
            schedulerConfig: scheduler, hash: try hashing.wait(),
            unetWeights: (unetFile, unetFile.names), textWeights: (textFile, textFile.names))
    }

    static func loadSingleFile(_ path: String) throws -> StableDiffusionModel {
        let file = try SafeTensorsFile(path: path)
        let checkpoint = try SingleFileCheckpoint(source: file, names: file.names)
        guard let vocab = clipVocabularyDirectory(),
              FileManager.default.fileExists(atPath: (vocab as NSString).appendingPathComponent("vocab.json")) else {
            throw ModelError(code: .missingFile, origin: path,
                             message: "single-file checkpoints need the CLIP vocabulary (weights/clip, vocab.json + merges.txt); set SDFARM_CLIP_VOCAB to its folder")
        }
        let hashing = ModelHashing(path: path)
        return StableDiffusionModel(
            path: path, name: URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent,
            // SD 2.x (OpenCLIP) pads with '!' (id 0), as its diffusers tokenizer does.
            tokenizer: try CLIPTokenizer.load(directory: vocab, padToken: checkpoint.isOpenCLIP ? "!" : nil),
            textEncoder: try CLIPTextModel(config: checkpoint.textConfig, weights: Weights(checkpoint.textEncoder)),
            unet: try UNet2DConditionModel(config: checkpoint.unetConfig, weights: Weights(checkpoint.unet)),
            vae: try AutoencoderKL(config: checkpoint.vaeConfig, weights: Weights(checkpoint.vae)),
            schedulerConfig: checkpoint.isOpenCLIP ? .stableDiffusion21 : .stableDiffusion15, hash: try hashing.wait(),
            unetWeights: (checkpoint.unet, checkpoint.unet.names), textWeights: (checkpoint.textEncoder, checkpoint.textEncoder.names))
    }
}
