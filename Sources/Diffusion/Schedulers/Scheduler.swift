public import RenderFormat
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
    /// Image-to-image: clean latents `original` noised with `noise` to the level the sampler expects
    /// at step `stepIndex` (diffusers' `add_noise` at `timesteps[stepIndex]` with `begin_index = stepIndex`).
    func addNoise(_ original: Tensor, noise: Tensor, stepIndex: Int) -> Tensor
}

extension Scheduler {
    /// `√ᾱ·x + √(1−ᾱ)·n` in float32: the DDPM forward process DDIM and PNDM noise with.
    static func noised(_ original: Tensor, noise: Tensor, alphaCumprod: Float) -> Tensor {
        let a: Float = alphaCumprod.squareRoot(), b: Float = (1 - alphaCumprod).squareRoot()
        return original.combined(with: noise) { x, n in a * x + b * n }
    }

    /// `x + n·σ` in float32: how the σ-parameterised samplers (Euler, Euler a, LMS) noise.
    static func noised(_ original: Tensor, noise: Tensor, sigma: Float) -> Tensor {
        original.combined(with: noise) { x, n in x + n * sigma }
    }
}

/// Builds the sampler `kind` from a model's scheduler config, set up for `steps` inference steps.
/// - Throws: `SchedulerError` when `steps` is 0 or above `num_train_timesteps`, or the config is unsupported.
public func makeScheduler(_ kind: SamplerKind, config: SchedulerConfig, steps: Int) throws -> any Scheduler {
    switch kind {
    case .ddim: try DDIMScheduler(config: config, steps: steps)
    case .euler: try EulerDiscreteScheduler(config: config, steps: steps)
    case .euler_a: try EulerAncestralDiscreteScheduler(config: config, steps: steps)
    case .pndm: try PNDMScheduler(config: config, steps: steps)
    case .lms: try LMSDiscreteScheduler(config: config, steps: steps)
    case .dpmpp_2m: try DPMSolverMultistepScheduler(config: config, steps: steps, karras: false)
    case .dpmpp_2m_karras: try DPMSolverMultistepScheduler(config: config, steps: steps, karras: true)
    case .lcm: try LCMScheduler(config: config, steps: steps)
    }
}
