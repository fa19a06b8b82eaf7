public import Tensor

/// Euler (Karras et al. 2022, Algorithm 2 without churn), matching diffusers' `EulerDiscreteScheduler`
/// (diffusers 0.42.1, https://github.com/huggingface/diffusers/blob/main/src/diffusers/schedulers/scheduling_euler_discrete.py).
///
/// σ = √((1−ᾱ)/ᾱ) interpolated linearly at the (float) timesteps and rounded to float32, 0 appended;
/// input scaled by 1/√(σ²+1); `x' = x + ((x − x̂₀)/σ)·(σ_next − σ)`. `use_karras_sigmas` is honoured
/// (no fixture covers it yet); Euler a, like diffusers' class, ignores that key.
public struct EulerDiscreteScheduler: SigmaScheduler, Sendable {
    public let schedule: EulerSchedule

    /// Sets up `steps` steps for `config` (absent `timestep_spacing` → `linspace`).
    /// - Throws: `SchedulerError` for a step count outside 1…num_train_timesteps or an unsupported config.
    public init(config: SchedulerConfig, steps: Int) throws {
        schedule = try EulerSchedule(config: config, steps: steps, karras: config.useKarrasSigmas)
        if let error = config.unsupported("interpolation_type", InterpolationType.self) { throw error }
    }

    public mutating func step(modelOutput: Tensor, stepIndex: Int, sample: Tensor, generator: inout TorchGenerator) -> Tensor {
        let sigma = sigmas[stepIndex]
        let dt: Float = sigmas[stepIndex + 1] - sigma
        let d = schedule.derivative(sample: sample, modelOutput: modelOutput, stepIndex: stepIndex)
        return sample.combined(with: d) { x, d in x + d * dt }
    }
}
