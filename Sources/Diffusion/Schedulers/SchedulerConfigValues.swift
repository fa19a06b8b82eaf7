// The enumerated values of a diffusers `scheduler_config.json`, raw values spelled as diffusers spells them.

/// `beta_schedule`: how the training betas run from `beta_start` to `beta_end`.
public enum BetaSchedule: String, CaseIterable, Sendable {
    case linear
    /// Linear in √β (Stable Diffusion's schedule).
    case scaledLinear = "scaled_linear"
    /// The cosine ᾱ schedule (`betas_for_alpha_bar`), β capped at 0.999.
    case squaredcosCapV2 = "squaredcos_cap_v2"
}

/// `timestep_spacing`: how the inference timesteps are spread over the training timesteps.
public enum TimestepSpacing: String, CaseIterable, Sendable {
    case leading
    case linspace
    case trailing
}

/// `prediction_type`: what the UNet predicts.
public enum PredictionType: String, CaseIterable, Sendable {
    /// The noise ε.
    case epsilon
    /// v = √ᾱ·ε − √(1−ᾱ)·x₀.
    case vPrediction = "v_prediction"
    /// The clean sample x₀.
    case sample
}

/// `interpolation_type` (Euler): how σs are read between training timesteps.
public enum InterpolationType: String, CaseIterable, Sendable {
    case linear
}

/// `solver_type` (DPM-Solver++): the second-order update.
public enum SolverType: String, CaseIterable, Sendable {
    case midpoint
    case heun
}

/// `final_sigmas_type` (DPM-Solver++): the σ after the last step.
public enum FinalSigmasType: String, CaseIterable, Sendable {
    case zero
    /// The smallest σ of the training table.
    case sigmaMin = "sigma_min"
}

extension RawRepresentable where Self: CaseIterable, RawValue == String {
    /// The raw values as a message lists them: `a, b or c`.
    static var spelledChoices: String {
        let names = allCases.map(\.rawValue)
        return names.count < 2 ? names.joined() : names.dropLast().joined(separator: ", ") + " or " + names.last!
    }
}
