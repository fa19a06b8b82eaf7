/// A sampler could not be set up from its name, configuration or step count.
public struct SchedulerError: Error, CustomStringConvertible, Sendable {
    /// What went wrong; an extensible set of `static let`s.
    public struct Code: DiffusionErrorCode {
        public let name: String
        public init(_ name: String) { self.name = name }

        /// The sampler name is not one this library implements.
        public static let unknownSampler = Code("unknown sampler")
        /// The step count is 0 or more than the training timesteps.
        public static let invalidSteps = Code("invalid steps")
        /// A configuration value is missing, of the wrong type or unsupported.
        public static let invalidConfig = Code("invalid config")
        /// The configuration file cannot be read.
        public static let unreadable = Code("unreadable")
    }

    public let code: Code
    /// The config file (`file`) and the key or value (`item`) involved.
    public let context: ErrorContext
    /// What was wrong and what to do.
    public let message: String
    /// The error that caused this one (a file-system or JSON decoding error), when there is one.
    public let underlying: (any Error)?

    public init(_ code: Code, context: ErrorContext, message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.context = context
        self.message = message
        self.underlying = underlying
    }

    /// An error about the key or value `item` (a sampler name, a step count, a config key).
    public init(_ code: Code, context item: String? = nil, message: String, underlying: (any Error)? = nil) {
        self.init(code, context: ErrorContext(item: item), message: message, underlying: underlying)
    }

    /// The same error, located in the config file `path`.
    func located(in path: String) -> SchedulerError {
        SchedulerError(code, context: ErrorContext(file: path, item: context.item), message: message, underlying: underlying)
    }

    public var description: String {
        let location = context.description
        return location.isEmpty ? message : "\(location): \(message)"
    }
}
