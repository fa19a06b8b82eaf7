/// The range of every render parameter, defined once: `sdfarm render`, `sdfarm submit`, the queue and the
/// worker all check through these functions, and each throws `RenderFormatError.invalid` naming the input.
public enum RenderLimits {
    /// Denoising steps.
    public static let steps = 1...1000
    /// The largest width or height in pixels.
    public static let maxSide = 4096
    /// Every model this project loads has a VAE factor dividing 8, so the farm checks multiples of 8 before it
    /// knows the model; the engine checks the model's own factor.
    public static let sizeMultiple = 8
    /// Frames of one prompt interpolation.
    public static let frames = 2...10_000
    /// Classifier-free guidance scale (1 turns guidance off; A1111 offers 1…30). Far larger values overflow
    /// float32 in the guidance sum and give a non-finite image.
    public static let cfgScale = 0.0...100.0

    /// Checks a step count (`trainTimesteps` lowers the upper end for models trained with fewer).
    public static func validate(steps: Int, trainTimesteps: Int = 1000) throws(RenderFormatError) {
        let upper = min(Self.steps.upperBound, trainTimesteps)
        guard steps >= Self.steps.lowerBound, steps <= upper else {
            throw .invalid(.steps, "must be between \(Self.steps.lowerBound) and \(upper), got \(steps)")
        }
    }

    /// Checks one side of the image: positive, a multiple of `multiple`, at most `maxSide`.
    public static func validate(side value: Int, of input: RenderInput, multiple: Int = sizeMultiple) throws(RenderFormatError) {
        guard value > 0 else { throw .invalid(input, "must be positive, got \(value)") }
        guard value % multiple == 0 else {
            throw .invalid(input, "\(value) is not a multiple of \(multiple)\(multiple == sizeMultiple ? "" : " (the VAE's downsampling factor)"); try \(max(multiple, value / multiple * multiple))")
        }
        guard value <= maxSide else { throw .invalid(input, "\(value) is too large (at most \(maxSide))") }
    }

    /// Checks both sides.
    public static func validate(width: Int, height: Int, multiple: Int = sizeMultiple) throws(RenderFormatError) {
        try validate(side: width, of: .width, multiple: multiple)
        try validate(side: height, of: .height, multiple: multiple)
    }

    /// The guidance scale must be a finite number within `cfgScale`.
    public static func validate(cfgScale value: Double) throws(RenderFormatError) {
        guard value.isFinite, cfgScale.contains(value) else {
            throw .invalid(.cfgScale, "must be a finite number from \(GenerationParameters.formatNumber(cfgScale.lowerBound)) to \(GenerationParameters.formatNumber(cfgScale.upperBound)), got \(value)")
        }
    }

    /// A LoRA's weight (A1111's multiplier; negative weights invert a LoRA).
    public static let loraWeight = -10.0...10.0

    /// A LoRA weight must be a finite number within `loraWeight`.
    public static func validate(loraWeight value: Double) throws(RenderFormatError) {
        guard value.isFinite, loraWeight.contains(value) else {
            throw .invalid(.lora, "weight must be a finite number from \(GenerationParameters.formatNumber(loraWeight.lowerBound)) to \(GenerationParameters.formatNumber(loraWeight.upperBound)), got \(value)")
        }
    }

    /// The longest prompt (also negative prompt and interpolation target), in Unicode scalars. CLIP reads
    /// 77 tokens; this bounds what is stored, tokenized and logged.
    public static let maxPromptLength = 10_000

    /// A prompt needs some text, at most `maxPromptLength` long, without NUL bytes.
    public static func validate(prompt: String, as input: RenderInput = .prompt) throws(RenderFormatError) {
        guard prompt.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
            throw .invalid(input, "is empty; every job needs some text")
        }
        try validate(text: prompt, as: input)
    }

    /// Free text (a negative prompt, a batch name): at most `maxPromptLength` Unicode scalars, no NUL byte.
    public static func validate(text: String, as input: RenderInput) throws(RenderFormatError) {
        let count = text.unicodeScalars.count
        guard count <= maxPromptLength else {
            throw .invalid(input, "is \(count) characters long; at most \(maxPromptLength) are accepted (CLIP reads the first 77 tokens)")
        }
        guard !text.unicodeScalars.contains("\u{0}") else { throw .invalid(input, "contains a NUL byte; remove it") }
    }

    /// How many of `steps` scheduler steps an image-to-image render runs at `strength`, as diffusers'
    /// `StableDiffusionImg2ImgPipeline.get_timesteps` counts them: `min(⌊steps·strength⌋, steps)`.
    public static func stepsRun(steps: Int, strength: Double) -> Int {
        guard strength.isFinite, strength > 0 else { return 0 }
        return min(Int((Double(steps) * strength).rounded(.down)), steps)
    }

    /// Image-to-image strength: in (0, 1], leaving at least one of `steps` to run.
    public static func validate(strength: Double, steps: Int) throws(RenderFormatError) {
        guard strength.isFinite, strength > 0, strength <= 1 else {
            throw .invalid(.strength, "must be greater than 0 and at most 1, got \(strength)")
        }
        guard stepsRun(steps: steps, strength: strength) >= 1 else {
            throw .invalid(.strength, "\(strength) with \(steps) steps leaves no denoising step (⌊steps × strength⌋ = 0); raise the strength or the steps")
        }
    }

    /// Frames of one interpolation.
    public static func validate(frames: Int) throws(RenderFormatError) {
        guard Self.frames.contains(frames) else {
            throw .invalid(.frames, "must be between \(Self.frames.lowerBound) and \(Self.frames.upperBound), got \(frames)")
        }
    }

    /// A position along an interpolation, in [0, 1].
    public static func validate(interpolationPosition t: Double) throws(RenderFormatError) {
        guard t.isFinite, t >= 0, t <= 1 else { throw .invalid(.interpolationPosition, "must be between 0 and 1, got \(t)") }
    }

    /// Frame `index` of `frames` sits at `index / (frames − 1)`.
    public static func interpolationPosition(frame index: Int, of frames: Int) -> Double {
        frames > 1 ? Double(index) / Double(frames - 1) : 0
    }
}
