public import Tensor

/// Euler ancestral ("Euler a"), matching diffusers' `EulerAncestralDiscreteScheduler` (diffusers 0.42.1,
/// https://github.com/huggingface/diffusers/blob/main/src/diffusers/schedulers/scheduling_euler_ancestral_discrete.py).
///
/// Same σ tables as Euler; each step goes to σ_down deterministically and adds `randn · σ_up`, with
/// `σ_up = √(σ_to²(σ_from²−σ_to²)/σ_from²)`, `σ_down = √(σ_to² − σ_up²)`. Noise is drawn on every step,
/// the last included, with the sample's shape.
public struct EulerAncestralDiscreteScheduler: SigmaScheduler, Sendable {
    public let schedule: EulerSchedule

    /// Sets up `steps` steps for `config` (absent `timestep_spacing` → `linspace`; `use_karras_sigmas`
    /// ignored, as diffusers' class ignores it).
    /// - Throws: `SchedulerError` for a step count outside 1…num_train_timesteps or an unsupported config.
    public init(config: SchedulerConfig, steps: Int) throws {
        schedule = try EulerSchedule(config: config, steps: steps)
    }

    public mutating func step(modelOutput: Tensor, stepIndex: Int, sample: Tensor, generator: inout TorchGenerator) -> Tensor {
        let sigma = sigmas[stepIndex]
        let sigmaTo = sigmas[stepIndex + 1]
        let fromSquared: Float = sigma * sigma, toSquared: Float = sigmaTo * sigmaTo
        let sigmaUp: Float = (toSquared * (fromSquared - toSquared) / fromSquared).squareRoot()
        let sigmaDown: Float = max(0, toSquared - sigmaUp * sigmaUp).squareRoot()
        let dt: Float = sigmaDown - sigma
        let d = schedule.derivative(sample: sample, modelOutput: modelOutput, stepIndex: stepIndex)
        let noise = generator.randn(sample.shape)
        let deterministic = sample.combined(with: d) { x, d in x + d * dt }
        return deterministic.combined(with: noise) { y, z in y + z * sigmaUp }
    }
}
