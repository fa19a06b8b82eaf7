/// A sampler could not be set up from its name, configuration or step count.
public struct SchedulerError: Error, CustomStringConvertible, Sendable {
    /// What went wrong; an extensible set of `static let`s.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

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
    /// The file, key or value involved.
    public let context: String?
    /// What was wrong and what to do.
    public let message: String

    public init(_ code: Code, context: String? = nil, message: String) {
        self.code = code
        self.context = context
        self.message = message
    }

    public var description: String { context.map { "\($0): \(message)" } ?? message }
}
