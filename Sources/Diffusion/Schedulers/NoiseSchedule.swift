import Foundation

/// The parts of diffusers' scheduler set-up shared by every class: betas, ᾱ and timestep spacing.
enum NoiseSchedule {
    /// Checks the step count against the config.
    static func validate(steps: Int, config: SchedulerConfig) throws {
        guard steps >= 1, steps <= config.numTrainTimesteps else {
            throw SchedulerError(.invalidSteps, context: String(steps),
                                 message: "steps is \(steps); it must be between 1 and num_train_timesteps (\(config.numTrainTimesteps))")
        }
        try config.validate()
        guard !config.rescaleBetasZeroSNR else {
            throw SchedulerError(.invalidConfig, context: "rescale_betas_zero_snr", message: "rescale_betas_zero_snr is not supported yet; set it to false")
        }
    }

    /// `torch.linspace(start, end, n, dtype=float32)` as PyTorch's CPU kernel computes it
    /// (aten/src/ATen/native/cpu/RangeFactoriesKernel.cpp): the first half counts up from `start`, the
    /// second half down from `end`, each value one fused multiply-add (the compiled kernel contracts
    /// `start + step * i`; with FMA every ᾱ in the fixtures is bit-identical, without it 8 of 52 differ by an ulp).
    static func torchLinspace(_ start: Float, _ end: Float, _ n: Int) -> [Float] {
        guard n > 1 else { return n == 1 ? [start] : [] }
        let step = (end - start) / Float(n - 1)
        let halfway = n / 2
        return (0..<n).map { i in
            i < halfway ? start.addingProduct(step, Float(i)) : end.addingProduct(-step, Float(n - i - 1))
        }
    }

    /// ᾱ = cumprod(1 − β) over float32 betas, the product accumulated in double and stored as float
    /// (torch's CPU cumprod).
    static func alphasCumprod(_ config: SchedulerConfig) -> [Float] {
        let n = config.numTrainTimesteps
        let betas: [Float]
        if let trained = config.trainedBetas {
            betas = trained.map { Float($0) }
        } else {
            switch config.betaSchedule {
            case .scaledLinear:
                betas = torchLinspace(Float(config.betaStart.squareRoot()), Float(config.betaEnd.squareRoot()), n).map { $0 * $0 }
            case .squaredcosCapV2:
                // betas_for_alpha_bar with the cosine ᾱ(t) = cos²((t + 0.008)/1.008 · π/2), capped at 0.999.
                func alphaBar(_ t: Double) -> Double {
                    let c = cos((t + 0.008) / 1.008 * Double.pi / 2)
                    return c * c
                }
                betas = (0..<n).map { i in
                    Float(min(1 - alphaBar(Double(i + 1) / Double(n)) / alphaBar(Double(i) / Double(n)), 0.999))
                }
            case .linear:
                betas = torchLinspace(Float(config.betaStart), Float(config.betaEnd), n)
            }
        }
        var product = 1.0
        return betas.map { beta in
            product *= Double(1 - beta)
            return Float(product)
        }
    }

    /// `np.linspace(0, stop, n)` (float64): `i · (stop / (n − 1))`, the last value exactly `stop`.
    static func numpyLinspace(to stop: Double, count n: Int) -> [Double] {
        guard n > 1 else { return n == 1 ? [0] : [] }
        let step = stop / Double(n - 1)
        return (0..<n).map { $0 == n - 1 ? stop : Double($0) * step }
    }

    /// `np.arange(start, 0, -step)` (float64) as NumPy fills it: length `ceil(-start / -step)`,
    /// values `start + i·((start − step) − start)`.
    static func numpyArangeDown(from start: Double, step: Double) -> [Double] {
        let count = Int((-start / -step).rounded(.up))
        guard count > 0 else { return [] }
        let delta = (start - step) - start
        return (0..<count).map { $0 == 0 ? start : start + Double($0) * delta }
    }

    /// The training timesteps to sample at, largest first, as float64 before any integer cast.
    static func spacedTimesteps(spacing: TimestepSpacing, steps: Int, config: SchedulerConfig) -> [Double] {
        let train = config.numTrainTimesteps
        switch spacing {
        case .linspace:
            return numpyLinspace(to: Double(train - 1), count: steps).reversed()
        case .trailing:
            return numpyArangeDown(from: Double(train), step: Double(train) / Double(steps)).map { $0.rounded(.toNearestOrEven) - 1 }
        case .leading:
            let ratio = train / steps
            return (0..<steps).reversed().map { Double($0 * ratio + config.stepsOffset) }
        }
    }
}
