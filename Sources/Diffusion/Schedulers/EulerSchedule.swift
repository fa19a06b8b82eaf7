import Tensor

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
