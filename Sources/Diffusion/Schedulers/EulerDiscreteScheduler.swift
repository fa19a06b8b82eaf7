public import Tensor

/// Euler (Karras et al. 2022, Algorithm 2 without churn), matching diffusers' `EulerDiscreteScheduler`
/// (diffusers 0.42, https://github.com/huggingface/diffusers/blob/main/src/diffusers/schedulers/scheduling_euler_discrete.py).
///
/// σ = √((1−ᾱ)/ᾱ) interpolated linearly at the (float) timesteps and rounded to float32, 0 appended;
/// input scaled by 1/√(σ²+1); `x' = x + ((x − x̂₀)/σ)·(σ_next − σ)`.
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
        guard !config.useKarrasSigmas else {
            throw SchedulerError(.invalidConfig, context: "use_karras_sigmas", message: "Karras sigmas are not supported yet; set use_karras_sigmas to false")
        }
        (timesteps, sigmas, initNoiseSigma) = EulerSchedule.make(config: config, steps: steps)
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

/// The timestep/σ tables shared by the Euler family.
enum EulerSchedule {
    /// Timesteps (float32), σ per step with 0 appended, and the initial noise scale.
    static func make(config: SchedulerConfig, steps: Int) -> (timesteps: [Float], sigmas: [Float], initNoiseSigma: Float) {
        let spacing = config.timestepSpacing ?? "linspace"
        // Integral values below 2²⁴ in every spacing but linspace, so float32 casts are exact.
        let raw = NoiseSchedule.spacedTimesteps(spacing: spacing, steps: steps, config: config)
        let timesteps = raw.map { Float($0) }
        let alphas = NoiseSchedule.alphasCumprod(config)
        // ((1 − ᾱ)/ᾱ)^0.5 in float32, as torch computes the table.
        let table: [Float] = alphas.map { a in ((1 - a) / a).squareRoot() }
        var sigmas = timesteps.map { Float(interpolate(Double($0), table)) }
        sigmas.append(0)
        let maxSigma = sigmas.max() ?? 0
        let initNoiseSigma: Float = spacing == "leading" ? (maxSigma * maxSigma + 1).squareRoot() : maxSigma
        return (timesteps, sigmas, initNoiseSigma)
    }

    /// `np.interp(t, arange(len(table)), table)` in float64.
    static func interpolate(_ t: Double, _ table: [Float]) -> Double {
        guard let last = table.last else { return 0 }
        if t <= 0 { return Double(table[0]) }
        if t >= Double(table.count - 1) { return Double(last) }
        let j = Int(t.rounded(.down))
        if t == Double(j) { return Double(table[j]) }
        let slope = Double(table[j + 1]) - Double(table[j])
        return slope * (t - Double(j)) + Double(table[j])
    }

    /// `sample / (σ² + 1)^0.5`, the scalar in float32 as torch computes it.
    static func scaleModelInput(_ sample: Tensor, sigma: Float) -> Tensor {
        let divisor: Float = (sigma * sigma + 1).squareRoot()
        return Tensor(shape: sample.shape) { out in
            sample.withUnsafeBufferPointer { x in
                for i in 0..<out.count { out[i] = x[i] / divisor }
            }
        }
    }
}
