import Foundation
public import Tensor

/// DPM-Solver++(2M), matching diffusers' `DPMSolverMultistepScheduler(algorithm_type="dpmsolver++",
/// solver_order=2)` with or without `use_karras_sigmas` (diffusers 0.42.1,
/// https://github.com/huggingface/diffusers/blob/main/src/diffusers/schedulers/scheduling_dpmsolver_multistep.py).
///
/// Works on the variance-preserving sample (no input scaling, initial noise σ 1). Each step converts
/// the model output to x̂₀, then with αₜ = 1/√(σ²+1), σₜ = σ·αₜ, λ = log αₜ − log σₜ, h = λₜ − λₛ:
/// first order `x' = (σₜ/σₛ)·x − αₜ(e^{−h} − 1)·x̂₀`; second order (midpoint) adds
/// `−½αₜ(e^{−h} − 1)·D₁` with `D₁ = (x̂₀ − x̂₀_prev)/r`, r = hₚᵣₑᵥ/h. The first step, and the last
/// (final σ 0, or fewer than 15 steps with `lower_order_final`), are first order. Scalars in float32
/// like torch's 0-dim tensors.
public struct DPMSolverMultistepScheduler: Scheduler, Sendable {
    public let timesteps: [Float]
    /// σ per step plus the final σ (0, or σ_min with `final_sigmas_type: sigma_min`).
    public let sigmas: [Float]
    public var initNoiseSigma: Float { 1 }
    let predictionType: PredictionType
    let heun: Bool
    let lowerOrderFinal: Bool
    let eulerAtFinal: Bool
    let finalSigmaIsZero: Bool
    var previousPrediction: Tensor?
    var lastPrediction: Tensor?
    var lowerOrderCount = 0

    /// Sets up `steps` steps for `config` (absent `timestep_spacing` → `linspace`).
    /// - Parameter karras: Karras et al.'s ρ = 7 σs between the training table's ends (the sampler
    ///   choice decides this, not the config's `use_karras_sigmas`).
    /// - Throws: `SchedulerError` for a step count outside 1…num_train_timesteps or an unsupported config.
    public init(config: SchedulerConfig, steps: Int, karras: Bool) throws {
        try NoiseSchedule.validate(steps: steps, config: config)
        guard !config.thresholding else {
            throw SchedulerError(.invalidConfig, context: "thresholding", message: "DPM++ with thresholding is not supported; set thresholding to false")
        }
        if let error = config.unsupported("solver_type", SolverType.self) { throw error }
        if let error = config.unsupported("final_sigmas_type", FinalSigmasType.self) { throw error }
        let train = config.numTrainTimesteps
        let alphas = NoiseSchedule.alphasCumprod(config)
        let table: [Float] = alphas.map { a in ((1 - a) / a).squareRoot() }
        var steps64: [Double]
        switch config.timestepSpacing ?? .linspace {
        case .linspace:
            steps64 = NoiseSchedule.numpyLinspace(to: Double(train - 1), count: steps + 1).map { $0.rounded(.toNearestOrEven) }.reversed()
            steps64.removeLast()
        case .leading:
            let ratio = train / (steps + 1)
            steps64 = (0...steps).reversed().map { Double($0 * ratio) }
            steps64.removeLast()
            steps64 = steps64.map { $0 + Double(config.stepsOffset) }
        case .trailing:
            steps64 = NoiseSchedule.numpyArangeDown(from: Double(train), step: Double(train) / Double(steps)).map { $0.rounded(.toNearestOrEven) - 1 }
        }
        var sigmaList: [Float]
        if karras {
            let karrasSigmas = EulerSchedule.karrasSigmas(min: Double(table[0]), max: Double(table[train - 1]), count: steps)
            let logTable: [Float] = table.map { logf($0) }
            steps64 = karrasSigmas.map { EulerSchedule.timestep(forSigma: $0, logTable: logTable) }
            if config.betaSchedule != .squaredcosCapV2 { steps64 = steps64.map { $0.rounded(.toNearestOrEven) } }
            sigmaList = karrasSigmas.map { Float($0) }
        } else {
            sigmaList = steps64.map { Float(EulerSchedule.interpolate($0, table)) }
        }
        // Timesteps become int64 in diffusers.
        let integral = steps64.map { Int($0) }
        for t in integral where t < 0 || t >= train {
            throw SchedulerError(.invalidConfig, context: "steps_offset",
                                 message: "timestep \(t) falls outside 0..<\(train) with steps_offset \(config.stepsOffset) and \(steps) steps; use fewer steps or fix steps_offset")
        }
        timesteps = integral.map(Float.init)
        finalSigmaIsZero = config.finalSigmasType == .zero
        sigmaList.append(finalSigmaIsZero ? 0 : table[0])
        sigmas = sigmaList
        predictionType = config.predictionType
        heun = config.solverType == .heun
        lowerOrderFinal = config.lowerOrderFinal
        eulerAtFinal = config.eulerAtFinal
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor { sample }

    /// (αₜ, σₜ) for the σ of the Karras/EDM parameterisation.
    static func alphaSigma(_ sigma: Float) -> (alpha: Float, sigma: Float) {
        let alpha: Float = 1 / (sigma * sigma + 1).squareRoot()
        return (alpha, sigma * alpha)
    }

    static func lambda(_ pair: (alpha: Float, sigma: Float)) -> Float { logf(pair.alpha) - logf(pair.sigma) }

    public mutating func step(modelOutput: Tensor, stepIndex i: Int, sample: Tensor, generator: inout TorchGenerator) -> Tensor {
        precondition(modelOutput.shape == sample.shape, "model output \(modelOutput.shape) and sample \(sample.shape) differ")
        let count = timesteps.count
        let finalFirstOrder = i == count - 1 && (eulerAtFinal || (lowerOrderFinal && count < 15) || finalSigmaIsZero)
        let current = Self.alphaSigma(sigmas[i])
        // The prediction type is chosen once per step, not per element.
        let x0 = switch predictionType {
        case .vPrediction: sample.combined(with: modelOutput) { x, m in current.alpha * x - current.sigma * m }
        case .sample: modelOutput
        case .epsilon: sample.combined(with: modelOutput) { x, m in (x - current.sigma * m) / current.alpha }
        }
        previousPrediction = lastPrediction
        lastPrediction = x0
        let target = Self.alphaSigma(sigmas[i + 1])
        let h: Float = Self.lambda(target) - Self.lambda(current)
        let sampleCoeff: Float = target.sigma / current.sigma
        let firstCoeff: Float = target.alpha * (expf(-h) - 1)
        let result: Tensor
        if lowerOrderCount < 1 || finalFirstOrder || previousPrediction == nil {
            result = sample.combined(with: x0) { x, d0 in sampleCoeff * x - firstCoeff * d0 }
        } else {
            let previous = Self.alphaSigma(sigmas[i - 1])
            let h0: Float = Self.lambda(current) - Self.lambda(previous)
            let r0: Float = h0 / h
            let inverse: Float = 1 / r0
            let d1 = x0.combined(with: previousPrediction!) { m0, m1 in inverse * (m0 - m1) }
            let secondCoeff: Float = heun ? target.alpha * ((expf(-h) - 1) / h + 1) : 0.5 * firstCoeff
            let base = sample.combined(with: x0) { x, d0 in sampleCoeff * x - firstCoeff * d0 }
            result = heun ? base.combined(with: d1) { b, d in b + secondCoeff * d }
                          : base.combined(with: d1) { b, d in b - secondCoeff * d }
        }
        if lowerOrderCount < 2 { lowerOrderCount += 1 }
        return result
    }

    public func addNoise(_ original: Tensor, noise: Tensor, stepIndex: Int) -> Tensor {
        let (alpha, sigma) = Self.alphaSigma(sigmas[stepIndex])
        return original.combined(with: noise) { x, n in alpha * x + sigma * n }
    }
}
