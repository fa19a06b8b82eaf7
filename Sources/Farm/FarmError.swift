/// A farm operation could not be done: bad input, a missing batch or job, a missing file.
public struct FarmError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure, extensible.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// A value the user typed is malformed or out of range.
        public static let invalidInput = Code(name: "invalid input")
        /// A batch or job id that does not exist.
        public static let notFound = Code(name: "not found")
        /// Migrations are missing or inconsistent.
        public static let migration = Code(name: "migration")
        /// A file could not be read or written.
        public static let io = Code(name: "i/o")
        /// The renderer is not available.
        public static let renderer = Code(name: "renderer")
    }

    public let code: Code
    /// The complete, user-facing message: what was wrong, the offending value, what to do.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
