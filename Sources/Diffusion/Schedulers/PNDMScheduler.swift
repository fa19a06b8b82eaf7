public import Tensor

/// PLMS ("PNDM" with `skip_prk_steps`), matching diffusers' `PNDMScheduler(skip_prk_steps=True)`
/// (diffusers 0.42.1, https://github.com/huggingface/diffusers/blob/main/src/diffusers/schedulers/scheduling_pndm.py).
///
/// N steps run N + 1 UNet evaluations: the second largest timestep appears twice, the second pass
/// re-running the first step with the average of the two noise predictions (a Heun-like start). After
/// that, linear multistep combinations of up to four previous predictions:
/// `(3e₁−e₂)/2`, `(23e₁−16e₂+5e₃)/12`, `(55e₁−59e₂+37e₃−9e₄)/24`. Each update is DDIM-like:
/// `x' = √(ᾱ'/ᾱ)·x − (ᾱ'−ᾱ)·e / (ᾱ√(1−ᾱ') + √(ᾱ(1−ᾱ)ᾱ'))` in float32.
public struct PNDMScheduler: Scheduler, Sendable {
    public let timesteps: [Float]
    /// Integer training timesteps, per UNet evaluation (N + 1 of them for N ≥ 2 steps).
    public let trainingTimesteps: [Int]
    public var initNoiseSigma: Float { 1 }
    let alphasCumprod: [Float]
    /// ᾱ before the first training step: 1 with `set_alpha_to_one`, else ᾱ₀.
    public let finalAlphaCumprod: Float
    let stepRatio: Int
    let predictionType: PredictionType
    // Multistep state, as diffusers keeps it.
    var history: [Tensor] = []
    var counter = 0
    var firstSample: Tensor?

    /// Sets up `steps` steps for `config` (absent `timestep_spacing` → `leading`, absent
    /// `set_alpha_to_one` → false).
    /// - Throws: `SchedulerError` for a step count outside 1…num_train_timesteps or an unsupported config.
    public init(config: SchedulerConfig, steps: Int) throws {
        try NoiseSchedule.validate(steps: steps, config: config)
        guard config.predictionType != .sample else {
            throw SchedulerError(.invalidConfig, context: "prediction_type",
                                 message: "PNDM supports prediction_type epsilon or v_prediction, not \(config.predictionType.rawValue); pick another sampler")
        }
        alphasCumprod = NoiseSchedule.alphasCumprod(config)
        finalAlphaCumprod = (config.setAlphaToOne ?? false) ? 1 : alphasCumprod[0]
        stepRatio = config.numTrainTimesteps / steps
        let spacing = config.timestepSpacing ?? .leading
        // Largest first; diffusers rounds half to even and casts to int64.
        let descending = NoiseSchedule.spacedTimesteps(spacing: spacing, steps: steps, config: config)
            .map { Int($0.rounded(.toNearestOrEven)) }
        for t in descending where t < 0 || t >= config.numTrainTimesteps {
            throw SchedulerError(.invalidConfig, context: "steps_offset",
                                 message: "timestep \(t) falls outside 0..<\(config.numTrainTimesteps) with steps_offset \(config.stepsOffset) and \(steps) steps; use fewer steps or fix steps_offset")
        }
        // concat(ts[:-1], ts[-2:-1], ts[-1:])[::-1] of the ascending list: the second largest twice.
        var plms = descending
        if descending.count >= 2 { plms.insert(descending[1], at: 1) }
        trainingTimesteps = plms
        timesteps = plms.map(Float.init)
        predictionType = config.predictionType
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor { sample }

    public mutating func step(modelOutput: Tensor, stepIndex: Int, sample: Tensor, generator: inout TorchGenerator) -> Tensor {
        precondition(modelOutput.shape == sample.shape, "model output \(modelOutput.shape) and sample \(sample.shape) differ")
        var timestep = trainingTimesteps[stepIndex]
        var previous = timestep - stepRatio
        if counter != 1 {
            history = Array(history.suffix(3))
            history.append(modelOutput)
        } else {
            previous = timestep
            timestep += stepRatio
        }
        var x = sample
        let combined: Tensor
        let e = history.reversed().map { $0 }  // e[0] newest
        if history.count == 1 && counter == 0 {
            combined = modelOutput
            firstSample = sample
        } else if history.count == 1 && counter == 1 {
            combined = modelOutput.combined(with: e[0]) { m, e1 in (m + e1) / 2 }
            if let first = firstSample { x = first }
            firstSample = nil
        } else if history.count == 2 {
            combined = e[0].combined(with: e[1]) { e1, e2 in (3 * e1 - e2) / 2 }
        } else if history.count == 3 {
            combined = Tensor(shape: sample.shape) { out in
                e[0].withUnsafeBufferPointer { a in e[1].withUnsafeBufferPointer { b in e[2].withUnsafeBufferPointer { c in
                    for i in 0..<out.count { out[i] = (23 * a[i] - 16 * b[i] + 5 * c[i]) / 12 }
                } } }
            }
        } else {
            let scale = Float(1.0 / 24.0)
            combined = Tensor(shape: sample.shape) { out in
                e[0].withUnsafeBufferPointer { a in e[1].withUnsafeBufferPointer { b in
                    e[2].withUnsafeBufferPointer { c in e[3].withUnsafeBufferPointer { d in
                        for i in 0..<out.count { out[i] = scale * (55 * a[i] - 59 * b[i] + 37 * c[i] - 9 * d[i]) }
                    } }
                } }
            }
        }
        counter += 1
        return previousSample(x, timestep: timestep, previous: previous, modelOutput: combined)
    }

    /// diffusers `_get_prev_sample` (formula (9) of the PNDM paper), float32.
    func previousSample(_ sample: Tensor, timestep: Int, previous: Int, modelOutput: Tensor) -> Tensor {
        let alpha = alphasCumprod[timestep]
        let alphaPrev = previous >= 0 ? alphasCumprod[previous] : finalAlphaCumprod
        let beta: Float = 1 - alpha, betaPrev: Float = 1 - alphaPrev
        let sqrtAlpha = alpha.squareRoot(), sqrtBeta = beta.squareRoot()
        let sampleCoeff: Float = (alphaPrev / alpha).squareRoot()
        let denominator: Float = alpha * betaPrev.squareRoot() + (alpha * beta * alphaPrev).squareRoot()
        let difference: Float = alphaPrev - alpha
        let velocity = predictionType == .vPrediction
        return Tensor(shape: sample.shape) { out in
            sample.withUnsafeBufferPointer { x in
                modelOutput.withUnsafeBufferPointer { m in
                    // The prediction type is chosen once, not per element.
                    if velocity {
                        for i in 0..<out.count {
                            let eps = sqrtAlpha * m[i] + sqrtBeta * x[i]
                            out[i] = sampleCoeff * x[i] - difference * eps / denominator
                        }
                    } else {
                        for i in 0..<out.count { out[i] = sampleCoeff * x[i] - difference * m[i] / denominator }
                    }
                }
            }
        }
    }

    public func addNoise(_ original: Tensor, noise: Tensor, stepIndex: Int) -> Tensor {
        Self.noised(original, noise: noise, alphaCumprod: alphasCumprod[trainingTimesteps[stepIndex]])
    }
}
