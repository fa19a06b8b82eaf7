import ArgumentParser
import Diffusion
import Foundation
import Imaging
import Logging

/// `sdfarm render`: one image on this machine.
struct Render: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render one image locally with the Stable Diffusion engine.",
        discussion: "PATH is a diffusers folder or a single .safetensors checkpoint.")

    @Option(help: "Model: a diffusers folder or a single .safetensors file.")
    var model: String

    @Option(help: "The prompt.")
    var prompt: String

    @Option(help: "What to steer away from (the unconditional prompt).")
    var negativePrompt: String = ""

    @Option(help: "Seed (unsigned 64-bit); a random one is chosen and printed when omitted.")
    var seed: UInt64?

    @Option(help: "Denoising steps (1…1000).")
    var steps: Int = 20

    @Option(help: "Sampler: \(SamplerKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var sampler: String = "ddim"

    @Option(help: "Classifier-free guidance scale; 1 turns guidance off.")
    var cfgScale: Float = 7.5

    @Option(help: "Image width in pixels (default: the model's own).")
    var width: Int?

    @Option(help: "Image height in pixels (default: the model's own).")
    var height: Int?

    @Option(help: "Where to write the PNG.")
    var output: String

    func validate() throws {
        guard output.lowercased().hasSuffix(".png") else { throw ValidationError("--output must name a .png file, got '\(output)'") }
        guard steps >= 1, steps <= 1000 else { throw ValidationError("--steps must be between 1 and 1000, got \(steps)") }
        guard cfgScale.isFinite else { throw ValidationError("--cfg-scale must be a finite number") }
        _ = try parseSampler(sampler)
        if let width, width <= 0 { throw ValidationError("--width must be positive, got \(width)") }
        if let height, height <= 0 { throw ValidationError("--height must be positive, got \(height)") }
        let dir = URL(fileURLWithPath: output).deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue,
              FileManager.default.isWritableFile(atPath: dir) else {
            throw ValidationError("cannot write --output \(output): directory \(dir) does not exist or is not writable")
        }
    }

    func run() async throws {
        let logger = CLILogging.logger("sdfarm.render")
        let kind = try parseSampler(sampler)
        let loaded = try StableDiffusionModel.load(path: model, logger: logger)
        let pipeline = StableDiffusionPipeline(model: loaded, logger: logger)
        let chosenSeed = seed ?? UInt64.random(in: 0...UInt64.max)
        if seed == nil { print("seed: \(chosenSeed)") }
        let request = RenderRequest(prompt: prompt, negativePrompt: negativePrompt, seed: chosenSeed, steps: steps, sampler: kind,
                                    cfgScale: cfgScale, width: width ?? loaded.defaultSize.width, height: height ?? loaded.defaultSize.height)
        try request.validate(vaeFactor: loaded.vaeFactor)
        let bar = ProgressBar(label: "render", enabled: isatty(STDERR_FILENO) != 0)
        let start = Date()
        let png = try pipeline.renderPNG(request) { step, total in
            bar.update(step, of: total)
            return true
        }
        bar.finish()
        try PNGCodec.writeAtomically(png, to: output)
        print("wrote \(output) (\(request.width)x\(request.height), \(kind.a1111Name), \(steps) steps, seed \(chosenSeed), \(String(format: "%.1f", Date().timeIntervalSince(start))) s)")
    }
}

func parseSampler(_ name: String) throws -> SamplerKind {
    guard let kind = SamplerKind(rawValue: name) else {
        throw ValidationError("unknown sampler '\(name)'; known samplers: \(SamplerKind.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return kind
}
