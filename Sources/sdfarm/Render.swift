import ArgumentParser
import Basics
import Diffusion
import Foundation
import Imaging
import Logging
import RenderFormat

/// `sdfarm render`: one image (or one interpolation strip) on this machine.
struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render locally with the Stable Diffusion engine: text-to-image, image-to-image or a prompt interpolation.",
        discussion: """
            PATH is a diffusers folder or a single .safetensors checkpoint.
              text-to-image:   --prompt TEXT --output out.png
              image-to-image:  --prompt TEXT --init-image in.png [--strength 0.75] --output out.png
              interpolation:   --interpolate "PROMPT A" "PROMPT B" --frames N [--lerp] --output-dir DIR
            Interpolation frames share the seed and initial noise; frame i uses slerp(i/(N-1), emb(A), emb(B)).
            """)

    @Option(help: "Model: a diffusers folder or a single .safetensors file.")
    var model: String

    @Option(help: "The prompt (not with --interpolate).")
    var prompt: String?

    @Option(help: "What to steer away from (the unconditional prompt).")
    var negativePrompt: String = ""

    @Option(help: "Seed (unsigned 64-bit); a random one is chosen and printed when omitted.")
    var seed: UInt64?

    @Option(help: "Denoising steps (\(RenderLimits.steps.lowerBound)…\(RenderLimits.steps.upperBound)).")
    var steps: Int = 20

    @Option(help: "Sampler: \(SamplerKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var sampler: String = "ddim"

    @Option(help: "Classifier-free guidance scale; 1 turns guidance off.")
    var cfgScale: Float = 7.5

    @Option(help: "Image width in pixels (default: the init image's, else the model's own).")
    var width: Int?

    @Option(help: "Image height in pixels (default: the init image's, else the model's own).")
    var height: Int?

    @Option(help: "Image-to-image: start from this 8-bit RGB or RGBA PNG (alpha is ignored).")
    var initImage: String?

    @Option(help: "Image-to-image: how much to change the init image, 0 < S ≤ 1 (default 0.75).")
    var strength: Double?

    @Option(parsing: .upToNextOption, help: "Prompt interpolation: two prompts, A then B.")
    var interpolate: [String] = []

    @Option(help: "Prompt interpolation: number of frames (at least 2).")
    var frames: Int?

    @Flag(help: "Prompt interpolation: linear instead of spherical interpolation.")
    var lerp = false

    @Option(help: "Prompt interpolation: folder for frame-000.png, frame-001.png, … (created if missing).")
    var outputDir: String?

    @Option(help: ArgumentHelp(stringLiteral: promptSyntaxHelp))
    var promptSyntax: String = PromptSyntax.default.rawValue

    @Option(help: "A LoRA to merge, FILE:WEIGHT (weight 1 when omitted; repeatable).")
    var lora: [String] = []

    @Option(help: "Folder where <lora:name:weight> in the prompt finds NAME.safetensors.")
    var loraDir: String?

    @Option(help: "Where to write the PNG (not with --interpolate).")
    var output: String?

    var interpolating: Bool { !interpolate.isEmpty }

    func validate() throws { try withFlagNames(validateInputs) }

    private func validateInputs() throws {
        try RenderLimits.validate(steps: steps)
        try RenderLimits.validate(cfgScale: Double(cfgScale))
        if let prompt { try RenderLimits.validate(text: prompt, as: .prompt) }
        try RenderLimits.validate(text: negativePrompt, as: .negativePrompt)
        for text in interpolate { try RenderLimits.validate(text: text, as: .interpolate) }
        _ = try SamplerKind(name: sampler)
        for text in lora { _ = try LoRAReference(parsing: text) }
        if try PromptSyntax(name: promptSyntax) == .a1111 {
            if let prompt { _ = try A1111PromptParser.parse(prompt, as: .prompt) }
            _ = try A1111PromptParser.parse(negativePrompt, as: .negativePrompt)
            for text in interpolate { _ = try A1111PromptParser.parse(text, as: .interpolate) }
        }
        // The model's own size multiple is checked once it is loaded.
        if let width { try RenderLimits.validate(side: width, of: .width, multiple: 1) }
        if let height { try RenderLimits.validate(side: height, of: .height, multiple: 1) }
        if let strength {
            guard initImage != nil else { throw ValidationError("--strength only applies with --init-image") }
            try RenderLimits.validate(strength: strength, steps: steps)
        }
        if interpolating {
            guard interpolate.count == 2 else {
                throw ValidationError("--interpolate takes exactly two prompts (A then B), got \(interpolate.count)")
            }
            guard prompt == nil else { throw ValidationError("--prompt cannot be combined with --interpolate; the prompts are A and B") }
            guard initImage == nil else { throw ValidationError("--init-image cannot be combined with --interpolate") }
            guard let frames else { throw ValidationError("--interpolate needs --frames N (at least \(RenderLimits.frames.lowerBound))") }
            try RenderLimits.validate(frames: frames)
            guard let outputDir else { throw ValidationError("--interpolate writes several frames; give --output-dir DIR instead of --output") }
            guard output == nil else { throw ValidationError("--output names one file; with --interpolate use --output-dir") }
            try checkDirectory(outputDir)
        } else {
            guard prompt != nil else { throw ValidationError("missing --prompt (or use --interpolate A B)") }
            guard frames == nil, outputDir == nil, !lerp else {
                throw ValidationError("--frames, --lerp and --output-dir only apply with --interpolate")
            }
            guard let output else { throw ValidationError("missing --output FILE.png") }
            guard output.lowercased().hasSuffix(".png") else { throw ValidationError("--output must name a .png file, got '\(output)'") }
            let dir = URL(fileURLWithPath: output).deletingLastPathComponent().path
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue,
                  FileManager.default.isWritableFile(atPath: dir) else {
                throw ValidationError("cannot write --output \(output): directory \(dir) does not exist or is not writable")
            }
        }
    }

    /// The output folder exists and is writable, or can be created.
    func checkDirectory(_ path: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw ValidationError("--output-dir \(path) exists and is not a folder") }
            guard FileManager.default.isWritableFile(atPath: path) else { throw ValidationError("--output-dir \(path) is not writable") }
        } else {
            let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
            guard FileManager.default.isWritableFile(atPath: parent) else {
                throw ValidationError("cannot create --output-dir \(path): \(parent) does not exist or is not writable")
            }
        }
    }

    func run() throws {
        let logger = CLILogging.logger("sdfarm.render")
        let kind = try SamplerKind(name: sampler)
        // Read the init image before loading the model, so a bad file fails fast.
        let initial = try initImage.map { try InitImage.load(path: $0, strength: strength ?? 0.75) }
        let loaded = try StableDiffusionModel.load(path: model, logger: logger)
        let pipeline = StableDiffusionPipeline(model: loaded, logger: logger)
        let chosenSeed = seed ?? UInt64.random(in: 0...UInt64.max)
        if seed == nil { print("seed: \(chosenSeed)") }
        let defaultSize = initial.map { ($0.image.width, $0.image.height) } ?? loaded.defaultSize
        var request = RenderRequest(prompt: prompt ?? interpolate.first ?? "", negativePrompt: negativePrompt, seed: chosenSeed,
                                    steps: steps, sampler: kind, cfgScale: cfgScale,
                                    width: width ?? defaultSize.0, height: height ?? defaultSize.1, initImage: initial,
                                    promptSyntax: try withFlagNames { try PromptSyntax(name: promptSyntax) })
        request.loras = try withFlagNames { try lora.map { try LoRAReference(parsing: $0) } }
        request.loras += try PromptLoRATags.resolve(prompt ?? interpolate.first ?? "", directory: loraDir)
        try request.validate(vaeFactor: loaded.vaeFactor)
        let began = Date()
        guard interpolating, let frames, let outputDir else {
            let output = output ?? ""
            try renderOne(request, pipeline: pipeline, to: output, label: "render")
            let mode = initial.map { ", image-to-image strength \($0.strength)" } ?? ""
            print("wrote \(output) (\(request.width)x\(request.height), \(kind.a1111Name), \(steps) steps, seed \(chosenSeed)\(mode), \(String(format: "%.1f", Date().timeIntervalSince(began))) s)")
            return
        }
        try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
        let names = Self.frameNames(count: frames)
        for (index, name) in names.enumerated() {
            request.interpolation = PromptInterpolation(target: interpolate[1], t: RenderLimits.interpolationPosition(frame: index, of: frames),
                                                        linear: lerp)
            let path = (outputDir as NSString).appendingPathComponent(name)
            try renderOne(request, pipeline: pipeline, to: path, label: "frame \(index + 1)/\(frames)")
            print("wrote \(path) (t = \(String(format: "%.4f", request.interpolation?.t ?? 0)))")
        }
        print("wrote \(frames) frames to \(outputDir) (\(request.width)x\(request.height), \(kind.a1111Name), \(steps) steps, seed \(chosenSeed), \(lerp ? "lerp" : "slerp"), \(String(format: "%.1f", Date().timeIntervalSince(began))) s)")
    }

    func renderOne(_ request: RenderRequest, pipeline: StableDiffusionPipeline, to path: String, label: String) throws {
        let bar = ProgressBar(label: label, enabled: isatty(STDERR_FILENO) != 0)
        let png = try pipeline.renderPNG(request) { step, total in
            bar.update(step, of: total)
            return true
        }
        bar.finish()
        try AtomicFile.write(png, to: path)
    }

    /// `frame-000.png` … with enough digits that the names sort in frame order.
    static func frameNames(count: Int) -> [String] {
        let digits = max(3, String(count - 1).count)
        return (0..<count).map { i in
            let number = String(i)
            return "frame-" + String(repeating: "0", count: digits - number.count) + number + ".png"
        }
    }
}
