import Foundation
public import Imaging
public import RenderFormat

/// Everything that determines one render: text-to-image, image-to-image (`initImage`) or one frame of
/// a prompt interpolation (`interpolation`).
public struct RenderRequest: Sendable, Equatable {
    public var prompt: String
    public var negativePrompt: String
    public var seed: UInt64
    public var steps: Int
    public var sampler: SamplerKind
    public var cfgScale: Float
    public var width: Int
    public var height: Int
    /// Image-to-image: start from this picture, noised as `strength` implies.
    public var initImage: InitImage?
    /// Prompt interpolation: the conditioning moves from `prompt` towards `interpolation.target`.
    public var interpolation: PromptInterpolation?
    /// How the prompts are tokenized (diffusers' plain 77 tokens, or A1111's syntax and chunks).
    public var promptSyntax: PromptSyntax
    /// LoRAs merged into the model for this render (from `--lora` and the prompt's resolved `<lora:…>` tags).
    public var loras: [LoRAReference]

    public init(prompt: String, negativePrompt: String = "", seed: UInt64, steps: Int, sampler: SamplerKind,
                cfgScale: Float, width: Int, height: Int, initImage: InitImage? = nil,
                interpolation: PromptInterpolation? = nil, promptSyntax: PromptSyntax = .default,
                loras: [LoRAReference] = []) {
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.seed = seed
        self.steps = steps
        self.sampler = sampler
        self.cfgScale = cfgScale
        self.width = width
        self.height = height
        self.initImage = initImage
        self.interpolation = interpolation
        self.promptSyntax = promptSyntax
        self.loras = loras
    }

    /// Checks the parameters against a model's constraints, through the limits every layer shares.
    ///
    /// - Throws: `RenderFormatError.invalid` naming the input, the value and what is allowed.
    public func validate(vaeFactor: Int, trainTimesteps: Int = 1000) throws(RenderFormatError) {
        try RenderLimits.validate(width: width, height: height, multiple: vaeFactor)
        try RenderLimits.validate(steps: steps, trainTimesteps: trainTimesteps)
        try RenderLimits.validate(cfgScale: Double(cfgScale))
        if let initImage {
            try RenderLimits.validate(strength: initImage.strength, steps: steps)
            guard initImage.image.width == width, initImage.image.height == height else {
                throw .invalid(.initImage, "is \(initImage.image.width)x\(initImage.image.height) but the render is \(width)x\(height); resize the image or leave the size out to use the image's own")
            }
        }
        if let interpolation { try RenderLimits.validate(interpolationPosition: interpolation.t) }
        for lora in loras { try RenderLimits.validate(loraWeight: lora.weight) }
    }
}

/// The starting picture of an image-to-image render.
public struct InitImage: Sendable, Equatable {
    /// 8-bit RGB at exactly the render size (alpha already dropped).
    public var image: RGBImage
    /// How much of the schedule to run, in (0, 1]: 1 starts from pure noise at the first step,
    /// 0.5 noises the image to the middle of the schedule and runs the second half.
    public var strength: Double

    public init(image: RGBImage, strength: Double) {
        self.image = image
        self.strength = strength
    }

    /// The index of the first of `steps` scheduler steps that runs, as diffusers'
    /// `StableDiffusionImg2ImgPipeline.get_timesteps` picks it: `steps − min(⌊steps·strength⌋, steps)`.
    public static func firstStep(steps: Int, strength: Double) -> Int {
        max(steps - RenderLimits.stepsRun(steps: steps, strength: strength), 0)
    }
}

/// One frame of a prompt interpolation: the conditioning is `slerp(t, emb(prompt), emb(target))`
/// (or linear with `linear`), the unconditional embedding and the seed unchanged.
public struct PromptInterpolation: Sendable, Equatable {
    public var target: String
    /// Position in [0, 1]: 0 is the request's prompt, 1 is `target`.
    public var t: Double
    /// Linear instead of spherical interpolation.
    public var linear: Bool

    public init(target: String, t: Double, linear: Bool = false) {
        self.target = target
        self.t = t
        self.linear = linear
    }

}

extension InitImage {
    /// Reads an image-to-image input: an 8-bit PNG (RGB, RGBA, grey or palette; alpha dropped).
    ///
    /// - Throws: `ModelError.badParameter` naming the file when it is missing, not a PNG, corrupt or
    ///   16-bit, with what to do about it.
    public static func load(path: String, strength: Double) throws -> InitImage {
        try decode(try readBytes(path: path), path: path, strength: strength)
    }

    /// The bytes of an init image file, read no further than `PNGCodec.Limits.standard.maxBytes`.
    /// - Throws: `ModelError.badParameter` naming the file when it is missing, unreadable or too large.
    public static func readBytes(path: String) throws -> [UInt8] {
        do { return try PNGCodec.readFile(path: path) } catch let error as PNGError {
            if error.code == .tooLarge {
                throw ModelError(code: .badParameter, origin: path, message: "the init image \(path) is too large (\(error.reason)); downscale it")
            }
            throw ModelError(code: .badParameter, origin: path, message: "cannot read the init image \(path): the file does not exist or is not readable (\(error.reason)); check the path")
        }
    }

    /// Decodes the bytes of an image-to-image input read from `path` (named in errors).
    /// - Throws: `ModelError.badParameter` when the bytes are not an 8-bit PNG.
    public static func decode(_ bytes: [UInt8], path: String, strength: Double) throws -> InitImage {
        func bad(_ m: String) -> ModelError { ModelError(code: .badParameter, origin: path, message: m) }
        let decoded: PNGCodec.Decoded
        do { decoded = try PNGCodec.decode(bytes, path: path) } catch let error as PNGError {
            switch error.code {
            case .notPNG: throw bad("the init image \(path) is not a PNG file (\(error.reason)); convert it to an 8-bit RGB or RGBA PNG")
            default: throw bad("the init image \(path) is not a readable PNG (\(error.reason)); re-export it as an 8-bit RGB or RGBA PNG")
            }
        }
        guard !decoded.sixteenBit else {
            throw bad("the init image \(path) has 16-bit samples; save it as an 8-bit RGB or RGBA PNG")
        }
        return InitImage(image: decoded.image, strength: strength)
    }
}
