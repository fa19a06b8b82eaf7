public import Tensor
import Foundation

/// Linear multistep (order 4), matching diffusers' `LMSDiscreteScheduler` (diffusers 0.42.1,
/// https://github.com/huggingface/diffusers/blob/main/src/diffusers/schedulers/scheduling_lms_discrete.py).
///
/// Same σ tables as Euler. Each step keeps the last four derivatives `d = (x − x̂₀)/σ` and moves
/// `x' = x + Σⱼ cⱼ·d₋ⱼ`, where `cⱼ` integrates the Lagrange basis polynomial of the σs of the previous
/// steps over [σᵢ, σᵢ₊₁]. diffusers integrates numerically (scipy `quad`); the integrand is a
/// polynomial of degree ≤ 3, so this integrates it exactly in double precision.
/// Like diffusers, the order is `min(stepIndex + 1, 4)` counted from the start of the whole schedule,
/// even when image-to-image starts later with fewer stored derivatives.
public struct LMSDiscreteScheduler: SigmaScheduler, Sendable {
    public let schedule: EulerSchedule
    static let order = 4
    var derivatives: [Tensor] = []

    /// Sets up `steps` steps for `config` (absent `timestep_spacing` → `linspace`; `use_karras_sigmas` honoured).
    /// - Throws: `SchedulerError` for a step count outside 1…num_train_timesteps or an unsupported config.
    public init(config: SchedulerConfig, steps: Int) throws {
        schedule = try EulerSchedule(config: config, steps: steps, karras: config.useKarrasSigmas)
    }

    /// ∫_{σᵢ}^{σᵢ₊₁} Π_{k≠j, k<order} (τ − σᵢ₋ₖ)/(σᵢ₋ⱼ − σᵢ₋ₖ) dτ.
    func coefficient(order: Int, index i: Int, current j: Int) -> Double {
        var polynomial: [Double] = [1]  // coefficients, lowest power first
        for k in 0..<order where k != j {
            let root = Double(sigmas[i - k])
            let scale = 1 / (Double(sigmas[i - j]) - root)
            var next = [Double](repeating: 0, count: polynomial.count + 1)
            for (power, c) in polynomial.enumerated() {
                next[power + 1] += c * scale
                next[power] -= c * scale * root
            }
            polynomial = next
        }
        let a = Double(sigmas[i]), b = Double(sigmas[i + 1])
        var integral = 0.0
        for (power, c) in polynomial.enumerated() {
            let n = Double(power + 1)
            integral += c * (Foundation.pow(b, n) - Foundation.pow(a, n)) / n
        }
        return integral
    }

    public mutating func step(modelOutput: Tensor, stepIndex: Int, sample: Tensor, generator: inout TorchGenerator) -> Tensor {
        let derivative = schedule.derivative(sample: sample, modelOutput: modelOutput, stepIndex: stepIndex)
        derivatives.append(derivative)
        if derivatives.count > Self.order { derivatives.removeFirst() }
        let order = min(stepIndex + 1, Self.order)
        let coefficients = (0..<order).map { Float(coefficient(order: order, index: stepIndex, current: $0)) }
        // Python's sum(): ((c₀d₀ + c₁d₁) + …), then x + that.
        var total: Tensor?
        for (c, d) in zip(coefficients, derivatives.reversed()) {
            let term = d * c
            total = total.map { $0 + term } ?? term
        }
        guard let total else { return sample }
        return sample + total
    }
}
