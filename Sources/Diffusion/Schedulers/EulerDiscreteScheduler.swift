public import Tensor

/// Euler (Karras et al. 2022, Algorithm 2 without churn), matching diffusers' `EulerDiscreteScheduler`
/// (diffusers 0.42.1, https://github.com/huggingface/diffusers/blob/main/src/diffusers/schedulers/scheduling_euler_discrete.py).
///
/// σ = √((1−ᾱ)/ᾱ) interpolated linearly at the (float) timesteps and rounded to float32, 0 appended;
/// input scaled by 1/√(σ²+1); `x' = x + ((x − x̂₀)/σ)·(σ_next − σ)`. `use_karras_sigmas` is honoured
/// (no fixture covers it yet); Euler a, like diffusers' class, ignores that key.
public struct EulerDiscreteScheduler: Scheduler, Sendable {
    public let timesteps: [Float]
    /// σ per step plus the final 0.
    public let sigmas: [Float]
    public let initNoiseSigma: Float
    let predictionType: String

    /// Sets up `steps` steps for `config` (absent `timestep_spacing` → `linspace`).
    /// - Throws: `SchedulerError` for a step count outside 1…num_train_timesteps or an unsupported config.
    public init(config: SchedulerConfig, steps: Int) throws {
        try NoiseSchedule.validate(steps: steps, config: config)
        guard config.interpolationType == "linear" else {
            throw SchedulerError(.invalidConfig, context: "interpolation_type", message: "interpolation_type '\(config.interpolationType)' is not supported; use linear")
        }
        (timesteps, sigmas, initNoiseSigma) = EulerSchedule.make(config: config, steps: steps, karras: config.useKarrasSigmas)
        predictionType = config.predictionType
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor {
        EulerSchedule.scaleModelInput(sample, sigma: sigmas[stepIndex])
    }

    public mutating func step(modelOutput: Tensor, stepIndex: Int, sample: Tensor, generator: inout TorchGenerator) -> Tensor {
        precondition(modelOutput.shape == sample.shape, "model output \(modelOutput.shape) and sample \(sample.shape) differ")
        let sigma = sigmas[stepIndex]
        let dt: Float = sigmas[stepIndex + 1] - sigma
        let prediction = predictionType
        let vScale: Float = -sigma / (sigma * sigma + 1).squareRoot()
        let vDivisor: Float = sigma * sigma + 1
        return Tensor(shape: sample.shape) { out in
            sample.withUnsafeBufferPointer { x in
                modelOutput.withUnsafeBufferPointer { m in
                    for i in 0..<out.count {
                        let x0: Float
                        switch prediction {
                        case "v_prediction": x0 = m[i] * vScale + x[i] / vDivisor
                        case "sample": x0 = m[i]
                        default: x0 = x[i] - sigma * m[i]
                        }
                        let derivative = (x[i] - x0) / sigma
                        out[i] = x[i] + derivative * dt
                    }
                }
            }
        }
    }
}

extension EulerDiscreteScheduler {
    public func addNoise(_ original: Tensor, noise: Tensor, stepIndex: Int) -> Tensor {
        Self.noised(original, noise: noise, sigma: sigmas[stepIndex])
    }
}
