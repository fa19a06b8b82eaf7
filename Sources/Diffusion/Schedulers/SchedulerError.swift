/// A sampler could not be set up from its name, configuration or step count.
public typealias SchedulerError = DiffusionError<SchedulerErrorCode>

/// What went wrong setting up a sampler; an extensible set of `static let`s.
public struct SchedulerErrorCode: DiffusionErrorCode {
    public let name: String
    public init(_ name: String) { self.name = name }

    /// The sampler name is not one this library implements.
    public static let unknownSampler = Self("unknown sampler")
    /// The step count is 0 or more than the training timesteps.
    public static let invalidSteps = Self("invalid steps")
    /// A configuration value is missing, of the wrong type or unsupported.
    public static let invalidConfig = Self("invalid config")
    /// The configuration file cannot be read.
    public static let unreadable = Self("unreadable")
}

extension DiffusionError where Domain == SchedulerErrorCode {
    /// An error about the key or value `item` (a sampler name, a step count, a config key).
    public init(_ code: Code, context item: String? = nil, message: String, underlying: (any Error)? = nil) {
        self.init(code, context: ErrorContext(item: item), message: message, underlying: underlying)
    }

    /// The same error, located in the config file `path`.
    func located(in path: String) -> SchedulerError {
        SchedulerError(code, context: ErrorContext(file: path, item: context.item), message: message, underlying: underlying)
    }
}
