import Foundation

/// A diffusers `scheduler_config.json`, with the keys the file leaves out kept distinguishable where
/// the scheduler classes' defaults differ.
///
/// Follows diffusers' `ConfigMixin.from_config` (configuration_utils.py, diffusers 0.42): a key absent
/// from the file, or listed in `_use_default_values`, takes the default of the class being built.
/// The defaults below are those every implemented class shares; `timestepSpacing` is nil when absent
/// because DDIM defaults to `leading` and the Euler family to `linspace`.
public struct SchedulerConfig: Sendable, Equatable {
    /// `_class_name` of the file (e.g. `PNDMScheduler`), informational.
    public var className: String?
    public var numTrainTimesteps: Int = 1000
    public var betaStart: Double = 0.0001
    public var betaEnd: Double = 0.02
    /// `linear`, `scaled_linear` or `squaredcos_cap_v2`.
    public var betaSchedule: String = "linear"
    /// Explicit betas, overriding the schedule.
    public var trainedBetas: [Double]?
    public var stepsOffset: Int = 0
    /// `leading`, `linspace` or `trailing`; nil = absent from the file → the class default.
    public var timestepSpacing: String?
    /// `epsilon`, `v_prediction` or `sample`.
    public var predictionType: String = "epsilon"
    /// DDIM/PNDM: ᾱ before the first step is 1 (true) or ᾱ₀ (false); nil = absent → the class
    /// default (DDIM true, PNDM false).
    public var setAlphaToOne: Bool?
    /// DDIM: clamp the predicted x₀ to ±`clipSampleRange`. DDIM's default is true.
    public var clipSample: Bool = true
    public var clipSampleRange: Double = 1.0
    /// Euler: how sigmas are read between training timesteps (`linear` only).
    public var interpolationType: String = "linear"
    public var useKarrasSigmas: Bool = false
    /// DPM-Solver++: `midpoint` or `heun` second-order update.
    public var solverType: String = "midpoint"
    /// DPM-Solver++: first-order final steps below 15 steps.
    public var lowerOrderFinal: Bool = true
    /// DPM-Solver++: Euler (first order) on the last step.
    public var eulerAtFinal: Bool = false
    /// DPM-Solver++: the σ after the last step, `zero` or `sigma_min`.
    public var finalSigmasType: String = "zero"
    /// DPM-Solver++: dynamic thresholding of x̂₀ (not supported; must stay false).
    public var thresholding: Bool = false
    public var rescaleBetasZeroSNR: Bool = false

    /// A configuration with every key absent.
    public init() {}

    /// SD 1.5's `scheduler/scheduler_config.json` (PNDMScheduler), for single-file checkpoints that
    /// carry none: scaled_linear betas 0.00085…0.012, 1000 steps, steps_offset 1, set_alpha_to_one
    /// false, clip_sample false, and no timestep_spacing key.
    public static let stableDiffusion15: SchedulerConfig = {
        var config = SchedulerConfig()
        config.className = "PNDMScheduler"
        config.betaStart = 0.00085
        config.betaEnd = 0.012
        config.betaSchedule = "scaled_linear"
        config.numTrainTimesteps = 1000
        config.setAlphaToOne = false
        config.stepsOffset = 1
        config.clipSample = false
        return config
    }()

    /// Reads a `scheduler_config.json`.
    /// - Throws: `SchedulerError` when the file is unreadable or a value is malformed.
    public static func load(path: String) throws -> SchedulerConfig {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw SchedulerError(.unreadable, context: path, message: "cannot read the scheduler config (\(error.localizedDescription)); check the model folder's scheduler/ subfolder")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let json = object as? [String: Any] else {
            throw SchedulerError(.invalidConfig, context: path, message: "not a JSON object; download scheduler_config.json again")
        }
        do { return try SchedulerConfig(json: json) } catch let error as SchedulerError {
            throw SchedulerError(error.code, context: "\(path): \(error.context ?? "")", message: error.message)
        }
    }

    /// A configuration from the parsed JSON object of a `scheduler_config.json`.
    /// - Throws: `SchedulerError.Code.invalidConfig` naming the key whose value is malformed.
    public init(json: [String: Any]) throws {
        var json = json
        for case let key as String in json["_use_default_values"] as? [Any] ?? [] { json[key] = nil }
        func value<T>(_ key: String, _ convert: (Any) -> T?) throws -> T? {
            guard let raw = json[key], !(raw is NSNull) else { return nil }
            guard let converted = convert(raw) else {
                throw SchedulerError(.invalidConfig, context: key, message: "'\(key)' has the unexpected value \(raw); fix scheduler_config.json")
            }
            return converted
        }
        let int: (Any) -> Int? = { raw in
            guard let n = raw as? NSNumber else { return nil }
            let d = n.doubleValue
            return d.rounded() == d && abs(d) < 1e15 ? Int(d) : nil
        }
        let double: (Any) -> Double? = { ($0 as? NSNumber)?.doubleValue }
        let bool: (Any) -> Bool? = { $0 as? Bool }
        let string: (Any) -> String? = { $0 as? String }

        className = try value("_class_name", string)
        if let v = try value("num_train_timesteps", int) { numTrainTimesteps = v }
        if let v = try value("beta_start", double) { betaStart = v }
        if let v = try value("beta_end", double) { betaEnd = v }
        if let v = try value("beta_schedule", string) { betaSchedule = v }
        trainedBetas = try value("trained_betas") { raw in
            guard let list = raw as? [Any] else { return nil }
            let values = list.compactMap { ($0 as? NSNumber)?.doubleValue }
            return values.count == list.count ? values : nil
        }
        if let v = try value("steps_offset", int) { stepsOffset = v }
        timestepSpacing = try value("timestep_spacing", string)
        if let v = try value("prediction_type", string) { predictionType = v }
        if let v = try value("set_alpha_to_one", bool) { setAlphaToOne = v }
        if let v = try value("clip_sample", bool) { clipSample = v }
        if let v = try value("clip_sample_range", double) { clipSampleRange = v }
        if let v = try value("interpolation_type", string) { interpolationType = v }
        if let v = try value("use_karras_sigmas", bool) { useKarrasSigmas = v }
        if let v = try value("rescale_betas_zero_snr", bool) { rescaleBetasZeroSNR = v }
        if let v = try value("solver_type", string) { solverType = v }
        if let v = try value("lower_order_final", bool) { lowerOrderFinal = v }
        if let v = try value("euler_at_final", bool) { eulerAtFinal = v }
        if let v = try value("final_sigmas_type", string) { finalSigmasType = v }
        if let v = try value("thresholding", bool) { thresholding = v }
        try validate()
    }

    /// Checks the values every scheduler relies on.
    func validate() throws {
        guard numTrainTimesteps >= 1 else {
            throw SchedulerError(.invalidConfig, context: "num_train_timesteps", message: "num_train_timesteps is \(numTrainTimesteps); it must be at least 1")
        }
        guard ["linear", "scaled_linear", "squaredcos_cap_v2"].contains(betaSchedule) || trainedBetas != nil else {
            throw SchedulerError(.invalidConfig, context: "beta_schedule", message: "beta_schedule '\(betaSchedule)' is not supported; use linear, scaled_linear or squaredcos_cap_v2")
        }
        if let betas = trainedBetas, betas.count != numTrainTimesteps {
            throw SchedulerError(.invalidConfig, context: "trained_betas", message: "trained_betas has \(betas.count) values but num_train_timesteps is \(numTrainTimesteps)")
        }
        guard ["epsilon", "v_prediction", "sample"].contains(predictionType) else {
            throw SchedulerError(.invalidConfig, context: "prediction_type", message: "prediction_type '\(predictionType)' is not supported; use epsilon, v_prediction or sample")
        }
        if let spacing = timestepSpacing, !["leading", "linspace", "trailing"].contains(spacing) {
            throw SchedulerError(.invalidConfig, context: "timestep_spacing", message: "timestep_spacing '\(spacing)' is not supported; use leading, linspace or trailing")
        }
    }
}
