public import Tensor

/// A diffusion sampler: the timesteps to run the UNet at and the update from one to the next.
public protocol Scheduler {
    /// The value passed to the UNet as `t`, per step.
    var timesteps: [Float] { get }
    /// Factor for the initial Gaussian latents.
    var initNoiseSigma: Float { get }
    /// The UNet input for step `stepIndex`.
    func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor
    /// The sample after step `stepIndex`, given the (guided) model output; ancestral samplers draw
    /// their noise from `generator`.
    mutating func step(modelOutput: Tensor, stepIndex: Int, sample: Tensor, generator: inout TorchGenerator) -> Tensor
}

/// Builds the sampler `kind` from a model's scheduler config, set up for `steps` inference steps.
/// - Throws: `SchedulerError` when `steps` is 0 or above `num_train_timesteps`, or the config is unsupported.
public func makeScheduler(_ kind: SamplerKind, config: SchedulerConfig, steps: Int) throws -> any Scheduler {
    switch kind {
    case .ddim: try DDIMScheduler(config: config, steps: steps)
    case .euler: try EulerDiscreteScheduler(config: config, steps: steps)
    case .euler_a: try EulerAncestralDiscreteScheduler(config: config, steps: steps)
    }
}
