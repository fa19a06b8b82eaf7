import Foundation
import Tensor

/// The timestep/σ tables shared by the Euler family (Euler, Euler a, LMS), set up for one run, and the
/// table helpers DPM-Solver++ shares too.
public struct EulerSchedule: Sendable {
    /// The value passed to the UNet as `t`, per step (float32).
    public let timesteps: [Float]
    /// σ per step plus the final 0.
    public let sigmas: [Float]
    /// Factor for the initial Gaussian latents.
    public let initNoiseSigma: Float
    let predictionType: PredictionType

    /// Sets up `steps` steps for `config` (absent `timestep_spacing` → `linspace`).
    /// - Parameter karras: replace the σs by Karras et al.'s ρ = 7 schedule between the same end points
    ///   and map them back to (fractional) timesteps, as `EulerDiscreteScheduler(use_karras_sigmas=True)` does.
    /// - Throws: `SchedulerError` for a step count outside 1…num_train_timesteps or an unsupported config.
    init(config: SchedulerConfig, steps: Int, karras: Bool = false) throws {
        try NoiseSchedule.validate(steps: steps, config: config)
        let spacing = config.timestepSpacing ?? .linspace
        // Integral values below 2²⁴ in every spacing but linspace, so float32 casts are exact.
        let raw = NoiseSchedule.spacedTimesteps(spacing: spacing, steps: steps, config: config)
        var timesteps = raw.map { Float($0) }
        let alphas = NoiseSchedule.alphasCumprod(config)
        // ((1 − ᾱ)/ᾱ)^0.5 in float32, as torch computes the table.
        let table: [Float] = alphas.map { a in ((1 - a) / a).squareRoot() }
        var interpolated = timesteps.map { Self.interpolate(Double($0), table) }
        if karras, let sigmaMax = interpolated.first, let sigmaMin = interpolated.last {
            interpolated = Self.karrasSigmas(min: sigmaMin, max: sigmaMax, count: interpolated.count)
            let logTable: [Float] = table.map { logf($0) }
            timesteps = interpolated.map { Float(Self.timestep(forSigma: $0, logTable: logTable)) }
        }
        var sigmas = interpolated.map { Float($0) }
        sigmas.append(0)
        let maxSigma = sigmas.max() ?? 0
        self.timesteps = timesteps
        self.sigmas = sigmas
        initNoiseSigma = spacing == .leading ? (maxSigma * maxSigma + 1).squareRoot() : maxSigma
        predictionType = config.predictionType
    }

    /// The ODE derivative `d = (x − x̂₀)/σ` at step `stepIndex` (see the static `derivative`).
    func derivative(sample: Tensor, modelOutput: Tensor, stepIndex: Int) -> Tensor {
        Self.derivative(sample: sample, modelOutput: modelOutput, sigma: sigmas[stepIndex], predictionType: predictionType)
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

    /// The ODE derivative `d = (x − x̂₀)/σ` shared by Euler, Euler a and LMS, with x̂₀ from the model
    /// output per prediction type (epsilon: `x − σ·m`; v: `m·(−σ/√(σ²+1)) + x/(σ²+1)`; sample: `m`), float32.
    static func derivative(sample: Tensor, modelOutput: Tensor, sigma: Float, predictionType: PredictionType) -> Tensor {
        precondition(modelOutput.shape == sample.shape, "model output \(modelOutput.shape) and sample \(sample.shape) differ")
        let vScale: Float = -sigma / (sigma * sigma + 1).squareRoot()
        let vDivisor: Float = sigma * sigma + 1
        // The prediction type is chosen once, not per element.
        switch predictionType {
        case .vPrediction: return sample.combined(with: modelOutput) { x, m in (x - (m * vScale + x / vDivisor)) / sigma }
        case .sample: return sample.combined(with: modelOutput) { x, m in (x - m) / sigma }
        case .epsilon: return sample.combined(with: modelOutput) { x, m in (x - (x - sigma * m)) / sigma }
        }
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

    /// diffusers `_convert_to_karras`: `(σmax^(1/ρ) + ramp·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ`, ρ = 7, ramp = linspace(0, 1, n).
    static func karrasSigmas(min sigmaMin: Double, max sigmaMax: Double, count n: Int) -> [Double] {
        let rho = 7.0
        let minInv = pow(sigmaMin, 1 / rho), maxInv = pow(sigmaMax, 1 / rho)
        return NoiseSchedule.numpyLinspace(to: 1, count: n).map { pow(maxInv + $0 * (minInv - maxInv), rho) }
    }

    /// diffusers `_sigma_to_t`: the fractional timestep whose log σ interpolates linearly to log `sigma`.
    static func timestep(forSigma sigma: Double, logTable: [Float]) -> Double {
        let logSigma = log(Swift.max(sigma, 1e-10))
        // Last index with logTable[i] <= logSigma (the table increases), kept below the end.
        var low = 0
        for (i, value) in logTable.enumerated() where logSigma - Double(value) >= 0 { low = i }
        low = Swift.min(low, logTable.count - 2)
        let lowValue = logTable[low], highValue = logTable[low + 1]
        var w = (Double(lowValue) - logSigma) / Double(lowValue - highValue)
        w = Swift.min(Swift.max(w, 0), 1)
        return (1 - w) * Double(low) + w * Double(low + 1)
    }
}
