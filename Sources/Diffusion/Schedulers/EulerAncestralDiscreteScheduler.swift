public import Tensor

/// Euler ancestral ("Euler a"), matching diffusers' `EulerAncestralDiscreteScheduler` (diffusers 0.42.1,
/// https://github.com/huggingface/diffusers/blob/main/src/diffusers/schedulers/scheduling_euler_ancestral_discrete.py).
///
/// Same σ tables as Euler; each step goes to σ_down deterministically and adds `randn · σ_up`, with
/// `σ_up = √(σ_to²(σ_from²−σ_to²)/σ_from²)`, `σ_down = √(σ_to² − σ_up²)`. Noise is drawn on every step,
/// the last included, with the sample's shape.
public struct EulerAncestralDiscreteScheduler: Scheduler, Sendable {
    public let timesteps: [Float]
    /// σ per step plus the final 0.
    public let sigmas: [Float]
    public let initNoiseSigma: Float
    let predictionType: String

    /// Sets up `steps` steps for `config` (absent `timestep_spacing` → `linspace`).
    /// - Throws: `SchedulerError` for a step count outside 1…num_train_timesteps or an unsupported config.
    public init(config: SchedulerConfig, steps: Int) throws {
        try NoiseSchedule.validate(steps: steps, config: config)
        (timesteps, sigmas, initNoiseSigma) = EulerSchedule.make(config: config, steps: steps)
        predictionType = config.predictionType
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor {
        EulerSchedule.scaleModelInput(sample, sigma: sigmas[stepIndex])
    }

    public mutating func step(modelOutput: Tensor, stepIndex: Int, sample: Tensor, generator: inout TorchGenerator) -> Tensor {
        let sigma = sigmas[stepIndex]
        let sigmaTo = sigmas[stepIndex + 1]
        let fromSquared: Float = sigma * sigma, toSquared: Float = sigmaTo * sigmaTo
        let sigmaUp: Float = (toSquared * (fromSquared - toSquared) / fromSquared).squareRoot()
        let sigmaDown: Float = max(0, toSquared - sigmaUp * sigmaUp).squareRoot()
        let dt: Float = sigmaDown - sigma
        let d = EulerSchedule.derivative(sample: sample, modelOutput: modelOutput, sigma: sigma, predictionType: predictionType)
        let noise = generator.randn(sample.shape)
        let deterministic = sample.combined(with: d) { x, d in x + d * dt }
        return deterministic.combined(with: noise) { y, z in y + z * sigmaUp }
    }
}

extension EulerAncestralDiscreteScheduler {
    public func addNoise(_ original: Tensor, noise: Tensor, stepIndex: Int) -> Tensor {
        Self.noised(original, noise: noise, sigma: sigmas[stepIndex])
    }
}
