public import Tensor

/// Latent Consistency Model sampling, matching diffusers' `LCMScheduler` (diffusers 0.42.1, the fixtures'
/// version; https://github.com/huggingface/diffusers/blob/main/src/diffusers/schedulers/scheduling_lcm.py).
///
/// Timesteps: the distillation schedule `k·i − 1` for i = 1…`original_inference_steps` (k = T / that), reversed,
/// taken at the indices `⌊linspace(0, n, N, endpoint: false)⌋`. Step: `x̂₀` from the prediction type, the
/// consistency boundary `c_skip = σ²/(s² + σ²)`, `c_out = s/√(s² + σ²)` with `s = 10·t` (`timestep_scaling`) and
/// σ = 0.5, `denoised = c_out·x̂₀ + c_skip·x`; every step but the last re-noises to the next timestep with a
/// draw from the generator: `x' = √ᾱ_prev·denoised + √(1−ᾱ_prev)·randn`. Float32 like the reference.
public struct LCMScheduler: Scheduler, Sendable {
    public let timesteps: [Float]
    /// Integer training timesteps, per step.
    public let trainingTimesteps: [Int]
    public var initNoiseSigma: Float { 1 }
    public let alphasCumprod: [Float]
    /// ᾱ after the last step: 1 with `set_alpha_to_one` (LCM's default), else ᾱ₀.
    public let finalAlphaCumprod: Float
    let predictionType: PredictionType
    let clipRange: Float?
    let timestepScaling: Float

    /// Sets up `steps` steps for `config`.
    /// - Throws: `SchedulerError` when `steps` is 0 or above `original_inference_steps`, or the config is unsupported.
    public init(config: SchedulerConfig, steps: Int) throws {
        try NoiseSchedule.validate(steps: steps, config: config)
        let original = config.originalInferenceSteps
        guard original >= 1, original <= config.numTrainTimesteps else {
            throw SchedulerError(.invalidConfig, context: "original_inference_steps",
                                 message: "\(original) must be between 1 and num_train_timesteps \(config.numTrainTimesteps)")
        }
        guard steps <= original else {
            throw SchedulerError(.invalidSteps, context: "steps",
                                 message: "the lcm sampler takes at most original_inference_steps = \(original) steps (its timesteps are a subset of the distillation schedule), got \(steps); LCM models are made for 2–8")
        }
        alphasCumprod = NoiseSchedule.alphasCumprod(config)
        finalAlphaCumprod = (config.setAlphaToOne ?? true) ? 1 : alphasCumprod[0]
        let k = config.numTrainTimesteps / original
        let origin = (1...original).reversed().map { $0 * k - 1 }
        // np.floor(np.linspace(0, n, N, endpoint=False)): i·n/N in double.
        trainingTimesteps = (0..<steps).map { i in origin[Int((Double(i) * Double(origin.count) / Double(steps)).rounded(.down))] }
        timesteps = trainingTimesteps.map(Float.init)
        predictionType = config.predictionType
        clipRange = (config.clipSampleStated ?? false) ? Float(config.clipSampleRange) : nil
        timestepScaling = Float(config.timestepScaling)
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor { sample }

    public mutating func step(modelOutput: Tensor, stepIndex: Int, sample: Tensor, generator: inout TorchGenerator) -> Tensor {
        precondition(modelOutput.shape == sample.shape, "model output \(modelOutput.shape) and sample \(sample.shape) differ")
        let t = trainingTimesteps[stepIndex]
        let isLast = stepIndex == trainingTimesteps.count - 1
        let previous = isLast ? t : trainingTimesteps[stepIndex + 1]
        let alphaT = alphasCumprod[t]
        let alphaPrev = previous >= 0 ? alphasCumprod[previous] : finalAlphaCumprod
        let sqrtAlpha = alphaT.squareRoot(), sqrtBeta = (1 - alphaT).squareRoot()
        let sigmaData: Float = 0.5
        let scaled = Float(t) * timestepScaling
        let cSkip = sigmaData * sigmaData / (scaled * scaled + sigmaData * sigmaData)
        let cOut = scaled / (scaled * scaled + sigmaData * sigmaData).squareRoot()
        let clip = clipRange
        let kind = predictionType
        let denoised = Tensor(shape: sample.shape) { out in
            sample.withUnsafeBufferPointer { x in modelOutput.withUnsafeBufferPointer { m in
                for i in 0..<out.count {
                    var x0: Float
                    switch kind {
                    case .epsilon: x0 = (x[i] - sqrtBeta * m[i]) / sqrtAlpha
                    case .sample: x0 = m[i]
                    case .vPrediction: x0 = sqrtAlpha * x[i] - sqrtBeta * m[i]
                    }
                    if let clip { x0 = min(max(x0, -clip), clip) }
                    out[i] = cOut * x0 + cSkip * x[i]
                }
            } }
        }
        if isLast { return denoised }
        let noise = generator.randn(sample.shape)
        let a = alphaPrev.squareRoot(), b = (1 - alphaPrev).squareRoot()
        return denoised.combined(with: noise) { d, n in a * d + b * n }
    }

    public func addNoise(_ original: Tensor, noise: Tensor, stepIndex: Int) -> Tensor {
        Self.noised(original, noise: noise, alphaCumprod: alphasCumprod[trainingTimesteps[stepIndex]])
    }
}
