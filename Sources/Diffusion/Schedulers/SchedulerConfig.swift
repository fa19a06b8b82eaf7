public import Foundation

/// A diffusers `scheduler_config.json`, with the keys the file leaves out kept distinguishable where
/// the scheduler classes' defaults differ.
///
/// Follows diffusers' `ConfigMixin.from_config` (configuration_utils.py, diffusers 0.42): a key absent
/// from the file, or listed in `_use_default_values`, takes the default of the class being built.
/// The defaults below are those every implemented class shares; `timestepSpacing` is nil when absent
/// because DDIM defaults to `leading` and the Euler family to `linspace`. Enumerated values are decoded
/// once, here; a value of `solver_type`, `final_sigmas_type` or `interpolation_type` this library does
/// not know is kept in `unsupportedValues`, so only the sampler that reads the key rejects it.
public struct SchedulerConfig: Sendable, Equatable, Decodable {
    /// `_class_name` of the file (e.g. `PNDMScheduler`), informational.
    public var className: String?
    public var numTrainTimesteps: Int = 1000
    public var betaStart: Double = 0.0001
    public var betaEnd: Double = 0.02
    /// Ignored when `trainedBetas` is given (as is an unknown `beta_schedule` then).
    public var betaSchedule: BetaSchedule = .linear
    /// Explicit betas, overriding the schedule.
    public var trainedBetas: [Double]?
    public var stepsOffset: Int = 0
    /// nil = absent from the file → the class default.
    public var timestepSpacing: TimestepSpacing?
    public var predictionType: PredictionType = .epsilon
    /// DDIM/PNDM: ᾱ before the first step is 1 (true) or ᾱ₀ (false); nil = absent → the class
    /// default (DDIM true, PNDM false).
    public var setAlphaToOne: Bool?
    /// DDIM: clamp the predicted x₀ to ±`clipSampleRange`. DDIM's default is true.
    public var clipSample: Bool = true
    public var clipSampleRange: Double = 1.0
    /// `clip_sample` as the file states it (nil: absent), for classes whose default differs from DDIM's (LCM: false).
    public var clipSampleStated: Bool?
    /// LCM: the distillation schedule's length (`original_inference_steps`, default 50).
    public var originalInferenceSteps: Int = 50
    /// LCM: the factor on t in the consistency boundary conditions (`timestep_scaling`, default 10).
    public var timestepScaling: Double = 10
    /// Euler: how sigmas are read between training timesteps.
    public var interpolationType: InterpolationType = .linear
    public var useKarrasSigmas: Bool = false
    /// DPM-Solver++: the second-order update.
    public var solverType: SolverType = .midpoint
    /// DPM-Solver++: first-order final steps below 15 steps.
    public var lowerOrderFinal: Bool = true
    /// DPM-Solver++: Euler (first order) on the last step.
    public var eulerAtFinal: Bool = false
    /// DPM-Solver++: the σ after the last step.
    public var finalSigmasType: FinalSigmasType = .zero
    /// DPM-Solver++: dynamic thresholding of x̂₀ (not supported; must stay false).
    public var thresholding: Bool = false
    public var rescaleBetasZeroSNR: Bool = false
    /// Config key → the file's value, for values of `solver_type`, `final_sigmas_type` and
    /// `interpolation_type` this library does not implement, and an unknown `beta_schedule` beside
    /// `trained_betas` (unused); the property keeps its default.
    public var unsupportedValues: [String: String] = [:]

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
        config.betaSchedule = .scaledLinear
        config.numTrainTimesteps = 1000
        config.setAlphaToOne = false
        config.stepsOffset = 1
        config.clipSample = false
        return config
    }()

    /// SD 2.1's `scheduler/scheduler_config.json` (DDIMScheduler, v-prediction), for single-file SD 2.x checkpoints
    /// (OpenCLIP text tower), as diffusers' `from_single_file` takes it for them: SD 1.5's betas and offsets with
    /// `prediction_type` v_prediction.
    public static let stableDiffusion21: SchedulerConfig = {
        var config = stableDiffusion15
        config.className = "DDIMScheduler"
        config.predictionType = .vPrediction
        config.clipSampleStated = false
        return config
    }()

    /// Reads a `scheduler_config.json`.
    /// - Throws: `SchedulerError` naming the file (and the key) when the file is unreadable or a value
    ///   is malformed.
    public static func load(path: String) throws -> SchedulerConfig {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw SchedulerError(.unreadable, context: ErrorContext(file: path),
                                 message: "cannot read the scheduler config (\(error.localizedDescription)); check the model folder's scheduler/ subfolder",
                                 underlying: error)
        }
        do { return try SchedulerConfig(json: data) } catch let error as SchedulerError {
            throw error.located(in: path)
        }
    }

    /// A configuration from the bytes of a `scheduler_config.json`.
    /// - Throws: `SchedulerError.Code.invalidConfig` naming the key whose value is malformed.
    public init(json data: Data) throws {
        do {
            self = try ConfigReader.decoder(path: nil).decode(SchedulerConfig.self, from: data)
        } catch let error as DecodingError {
            // Keys report their own errors; only the top level fails here: the bytes are not JSON.
            throw ConfigReader.Errors.scheduler.notAnObject(path: nil, underlying: error)
        }
    }

    /// Decodes the keys of a `scheduler_config.json`; absent keys keep the defaults above.
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try ConfigReader(decoder, errors: .scheduler)
        /// The stated value of a string-valued key as `Value`; nil when absent or (→ `unsupportedValues`) unknown.
        func choice<Value: RawRepresentable & CaseIterable>(_ key: String, _ type: Value.Type, strict: Bool) throws -> Value? where Value.RawValue == String {
            guard let raw = try c.optional(key, as: String.self) else { return nil }
            if let value = Value(rawValue: raw) { return value }
            guard strict else { unsupportedValues[key] = raw; return nil }
            throw SchedulerError(.invalidConfig, context: ErrorContext(file: c.file, item: key), message: "\(key) '\(raw)' is not supported; use \(Value.spelledChoices)")
        }
        className = try c.optional("_class_name")
        numTrainTimesteps = try c("num_train_timesteps", default: numTrainTimesteps)
        betaStart = try c("beta_start", default: betaStart)
        betaEnd = try c("beta_end", default: betaEnd)
        trainedBetas = try c.optional("trained_betas")
        // diffusers ignores beta_schedule when trained_betas is given.
        betaSchedule = try choice("beta_schedule", BetaSchedule.self, strict: trainedBetas == nil) ?? betaSchedule
        stepsOffset = try c("steps_offset", default: stepsOffset)
        timestepSpacing = try choice("timestep_spacing", TimestepSpacing.self, strict: true)
        predictionType = try choice("prediction_type", PredictionType.self, strict: true) ?? predictionType
        setAlphaToOne = try c.optional("set_alpha_to_one")
        clipSample = try c("clip_sample", default: clipSample)
        clipSampleRange = try c("clip_sample_range", default: clipSampleRange)
        clipSampleStated = try c.optional("clip_sample")
        originalInferenceSteps = try c("original_inference_steps", default: originalInferenceSteps)
        timestepScaling = try c("timestep_scaling", default: timestepScaling)
        interpolationType = try choice("interpolation_type", InterpolationType.self, strict: false) ?? interpolationType
        useKarrasSigmas = try c("use_karras_sigmas", default: useKarrasSigmas)
        rescaleBetasZeroSNR = try c("rescale_betas_zero_snr", default: rescaleBetasZeroSNR)
        solverType = try choice("solver_type", SolverType.self, strict: false) ?? solverType
        lowerOrderFinal = try c("lower_order_final", default: lowerOrderFinal)
        eulerAtFinal = try c("euler_at_final", default: eulerAtFinal)
        finalSigmasType = try choice("final_sigmas_type", FinalSigmasType.self, strict: false) ?? finalSigmasType
        thresholding = try c("thresholding", default: thresholding)
        try validate()
    }

    /// The error for a key whose value in the file (`unsupportedValues`) the sampler being built cannot use.
    func unsupported<Value: RawRepresentable & CaseIterable>(_ key: String, _ type: Value.Type) -> SchedulerError? where Value.RawValue == String {
        guard let raw = unsupportedValues[key] else { return nil }
        return SchedulerError(.invalidConfig, context: key, message: "\(key) '\(raw)' is not supported; use \(Value.spelledChoices)")
    }

    /// Checks the values every scheduler relies on.
    func validate() throws {
        guard numTrainTimesteps >= 1 else {
            throw SchedulerError(.invalidConfig, context: "num_train_timesteps", message: "num_train_timesteps is \(numTrainTimesteps); it must be at least 1")
        }
        if let betas = trainedBetas, betas.count != numTrainTimesteps {
            throw SchedulerError(.invalidConfig, context: "trained_betas", message: "trained_betas has \(betas.count) values but num_train_timesteps is \(numTrainTimesteps)")
        }
    }
}
