public import Tensor

/// DDIM with η = 0 (deterministic), matching diffusers' `DDIMScheduler` (diffusers 0.42.1, the fixtures'
/// version; https://github.com/huggingface/diffusers/blob/main/src/diffusers/schedulers/scheduling_ddim.py).
///
/// `x̂₀ = (x − √(1−ᾱ_t)·ε)/√ᾱ_t`, `x' = √ᾱ_prev·x̂₀ + √(1−ᾱ_prev)·ε` with `prev = t − T/N`, in float32
/// like the reference.
public struct DDIMScheduler: Scheduler, Sendable {
    public let timesteps: [Float]
    /// Integer training timesteps, per step.
    public let trainingTimesteps: [Int]
    public var initNoiseSigma: Float { 1 }
    /// ᾱ per training timestep (float32).
    public let alphasCumprod: [Float]
    /// ᾱ before the first training step: 1 with `set_alpha_to_one`, else ᾱ₀.
    public let finalAlphaCumprod: Float
    let stepRatio: Int
    let predictionType: PredictionType
    let clipRange: Float?

    /// Sets up `steps` steps for `config` (absent `timestep_spacing` → `leading`).
    /// - Throws: `SchedulerError` for a step count outside 1…num_train_timesteps or an unsupported config.
    public init(config: SchedulerConfig, steps: Int) throws {
        try NoiseSchedule.validate(steps: steps, config: config)
        alphasCumprod = NoiseSchedule.alphasCumprod(config)
        finalAlphaCumprod = (config.setAlphaToOne ?? true) ? 1 : alphasCumprod[0]
        stepRatio = config.numTrainTimesteps / steps
        let spacing = config.timestepSpacing ?? .leading
        let raw = NoiseSchedule.spacedTimesteps(spacing: spacing, steps: steps, config: config)
        // diffusers rounds (half to even) and casts to int64.
        trainingTimesteps = raw.map { Int($0.rounded(.toNearestOrEven)) }
        for t in trainingTimesteps where t < 0 || t >= config.numTrainTimesteps {
            throw SchedulerError(.invalidConfig, context: "steps_offset",
                                 message: "timestep \(t) falls outside 0..<\(config.numTrainTimesteps) with steps_offset \(config.stepsOffset) and \(steps) steps; use fewer steps or fix steps_offset")
        }
        timesteps = trainingTimesteps.map(Float.init)
        predictionType = config.predictionType
        clipRange = config.clipSample ? Float(config.clipSampleRange) : nil
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor { sample }

    public mutating func step(modelOutput: Tensor, stepIndex: Int, sample: Tensor, generator: inout TorchGenerator) -> Tensor {
        precondition(modelOutput.shape == sample.shape, "model output \(modelOutput.shape) and sample \(sample.shape) differ")
        let t = trainingTimesteps[stepIndex]
        let previous = t - stepRatio
        let alphaT = alphasCumprod[t]
        let alphaPrev = previous >= 0 ? alphasCumprod[previous] : finalAlphaCumprod
        let betaT: Float = 1 - alphaT
        let sqrtAlpha = alphaT.squareRoot(), sqrtBeta = betaT.squareRoot()
        let sqrtAlphaPrev = alphaPrev.squareRoot()
        let direction = (1 - alphaPrev).squareRoot()
        let clip = clipRange
        /// `x' = √ᾱ_prev·clip(x̂₀) + √(1−ᾱ_prev)·ε`, with (x̂₀, ε) from (x, m) by `predict`.
        func update(_ predict: (_ x: Float, _ m: Float) -> (x0: Float, eps: Float)) -> Tensor {
            Tensor(shape: sample.shape) { out in
                sample.withUnsafeBufferPointer { x in
                    modelOutput.withUnsafeBufferPointer { m in
                        for i in 0..<out.count {
                            var (x0, eps) = predict(x[i], m[i])
                            if let clip { x0 = min(max(x0, -clip), clip) }
                            out[i] = sqrtAlphaPrev * x0 + direction * eps
                        }
                    }
                }
            }
        }
        // The prediction type is chosen once per step, not per element.
        switch predictionType {
        case .vPrediction: return update { x, m in (sqrtAlpha * x - sqrtBeta * m, sqrtAlpha * m + sqrtBeta * x) }
        case .sample: return update { x, m in (m, (x - sqrtAlpha * m) / sqrtBeta) }
        case .epsilon: return update { x, m in ((x - sqrtBeta * m) / sqrtAlpha, m) }
        }
    }
}

extension DDIMScheduler {
    public func addNoise(_ original: Tensor, noise: Tensor, stepIndex: Int) -> Tensor {
        Self.noised(original, noise: noise, alphaCumprod: alphasCumprod[trainingTimesteps[stepIndex]])
    }
}
