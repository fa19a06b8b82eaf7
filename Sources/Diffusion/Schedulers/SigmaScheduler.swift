public import Tensor

/// A sampler over the σ tables of an `EulerSchedule` (Euler, Euler a, LMS): the timesteps, input
/// scaling, initial noise and `add_noise` these diffusers classes share.
public protocol SigmaScheduler: Scheduler {
    /// The timesteps, σs and initial noise scale set up for this run.
    var schedule: EulerSchedule { get }
}

extension SigmaScheduler {
    public var timesteps: [Float] { schedule.timesteps }
    /// σ per step plus the final 0.
    public var sigmas: [Float] { schedule.sigmas }
    public var initNoiseSigma: Float { schedule.initNoiseSigma }

    /// `sample / (σ² + 1)^0.5`.
    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor {
        EulerSchedule.scaleModelInput(sample, sigma: sigmas[stepIndex])
    }

    /// `x + n·σ`.
    public func addNoise(_ original: Tensor, noise: Tensor, stepIndex: Int) -> Tensor {
        Self.noised(original, noise: noise, sigma: sigmas[stepIndex])
    }
}
